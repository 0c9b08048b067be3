import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { HttpHandler, HttpMethod } from '@azure/functions';
import type { FunctionsRuntime, HostedRoute } from './functions-host.js';
import type { RpcBinding, RpcTypedData } from './functions-service-bus-trigger.js';

/** A function as the app registered it through `@azure/functions-core`, the Functions Node.js worker's API. */
export interface RegisteredFunction {
  name: string;
  bindings: Record<string, RpcBinding>;
}

/** What the host sends the worker for one invocation (an InvocationRequest, the parts this lab fills). */
export interface InvocationRequest {
  inputData: { name: string; data: RpcTypedData }[];
  triggerMetadata?: Record<string, RpcTypedData>;
  retryContext?: { retryCount: number; maxRetryCount: number };
}

/** A log line the app wrote through its InvocationContext (`user`) or the library wrote about it (`system`). */
export type InvocationLog = (level: string, category: 'user' | 'system', message: string) => void;

/** The programming model `@azure/functions` sets on the worker (its ProgrammingModel / InvocationModel). */
interface ProgrammingModel {
  getInvocationModel(coreContext: unknown): {
    getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
    invokeFunction(context: unknown, inputs: unknown[], handler: FunctionCallback): Promise<unknown>;
    getResponse(context: unknown, result: unknown): Promise<unknown>;
  };
}
type FunctionCallback = (...args: unknown[]) => unknown;

export interface LoadedFunctionsApp {
  /** The entry file the host loaded (package.json `main`, resolved in the app's folder). */
  entry: string;
  /** The app's host.json, parsed (undefined when the folder has none). */
  hostJson: unknown;
  functions: RegisteredFunction[];
  /** The HTTP-triggered functions as a route table the lab's Functions host serves. */
  routes: HostedRoute[];
  /** The app's own copy of `@azure/functions`: requests and contexts are made of its classes. */
  runtime: FunctionsRuntime;
  /**
   * Invokes a registered function as the Node worker does: the programming model the app's `@azure/functions` set
   * turns the request's input data and trigger metadata into the handler's arguments and InvocationContext, calls the
   * callback the app registered, and converts its result. Rejects when the function throws.
   */
  invoke(name: string, request: InvocationRequest, log?: InvocationLog): Promise<unknown>;
}

type ModuleWithRequire = { prototype: { require: (this: unknown, id: string) => unknown } };

/**
 * Loads a built Functions app from its folder as the Functions Node.js worker does: it reads `main` from the
 * app's package.json and requires it, while answering `require('@azure/functions-core')` with the worker's API,
 * through which `app.http(...)`, `app.serviceBusQueue(...)` and the rest register each function with its bindings and
 * callback. As the worker does, a function registered after the entry has loaded, or a name registered twice, is
 * refused. Call once per process (the app keeps module state).
 */
export function loadFunctionsApp(appRoot: string): LoadedFunctionsApp {
  const root = resolve(appRoot);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main?: string };
  if (!manifest.main) throw new Error(`${join(root, 'package.json')} has no "main": the Functions host would find no entry point`);
  const entry = join(root, manifest.main);
  const functions: RegisteredFunction[] = [];
  const handlers = new Map<string, FunctionCallback>();
  let loading = true;
  let programmingModel: ProgrammingModel | undefined;

  const coreApi = {
    version: '3.10.1',
    hostVersion: '4.1040.0',
    setProgrammingModel(model: ProgrammingModel) {
      programmingModel = model;
    },
    getProgrammingModel: () => programmingModel,
    registerHook: () => ({ dispose: () => undefined }),
    log: () => undefined,
    registerFunction(metadata: RegisteredFunction, callback: FunctionCallback) {
      if (!loading) throw new Error('A function can only be registered during app startup.');
      if (handlers.has(metadata.name)) throw new Error(`A function with the name "${metadata.name}" has already been registered.`);
      functions.push(metadata);
      handlers.set(metadata.name, callback);
      return { dispose: () => undefined };
    },
  };

  const moduleApi = Module as unknown as ModuleWithRequire;
  const originalRequire = moduleApi.prototype.require;
  moduleApi.prototype.require = function (this: unknown, id: string) {
    return id === '@azure/functions-core' ? coreApi : originalRequire.call(this, id);
  };
  try {
    createRequire(join(root, 'package.json'))(entry);
  } finally {
    loading = false;
  }
  // The library asks for the core API lazily, once; later calls use its cached copy, so the hook can stay.
  const runtime = createRequire(join(root, 'package.json'))('@azure/functions') as FunctionsRuntime;

  const routes: HostedRoute[] = [];
  for (const fn of functions) {
    const trigger = Object.values(fn.bindings).find((b) => b.type === 'httpTrigger' && b.direction === 'in');
    if (!trigger) continue;
    const { route, methods, authLevel } = trigger as RpcBinding & { route?: string; methods?: string[]; authLevel?: string };
    routes.push({
      name: fn.name,
      route: route ?? fn.name,
      methods: (methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()) as HttpMethod[],
      authLevel: (authLevel ?? 'function') as HostedRoute['authLevel'],
      handler: handlers.get(fn.name)! as HttpHandler,
    });
  }

  async function invoke(name: string, request: InvocationRequest, log: InvocationLog = () => undefined): Promise<unknown> {
    const metadata = functions.find((fn) => fn.name === name);
    const callback = handlers.get(name);
    if (!metadata || !callback) throw new Error(`the app registered no function named ${name}`);
    if (!programmingModel) throw new Error('the app set no programming model: @azure/functions was not loaded through the worker API');
    const invocationId = randomUUID();
    const model = programmingModel.getInvocationModel({
      invocationId,
      request: { invocationId, functionId: name, ...request },
      metadata,
      log,
      state: undefined,
    });
    const { context, inputs } = await model.getArguments();
    const result = await model.invokeFunction(context, inputs, callback);
    return model.getResponse(context, result);
  }
  const hostJsonPath = join(root, 'host.json');
  const hostJson: unknown = existsSync(hostJsonPath) ? JSON.parse(readFileSync(hostJsonPath, 'utf8')) : undefined;
  return { entry, hostJson, functions, routes, runtime, invoke };
}
