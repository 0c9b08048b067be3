import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { HttpHandler, HttpMethod } from '@azure/functions';
import type { FunctionsRuntime, HostedRoute } from './functions-host.js';

/** A function as the app registered it through `@azure/functions-core`, the Functions Node.js worker's API. */
export interface RegisteredFunction {
  name: string;
  bindings: Record<string, { type: string; direction: string; route?: string; methods?: string[]; authLevel?: string }>;
}

export interface LoadedFunctionsApp {
  /** The entry file the host loaded (package.json `main`, resolved in the app's folder). */
  entry: string;
  functions: RegisteredFunction[];
  /** The HTTP-triggered functions as a route table the lab's Functions host serves. */
  routes: HostedRoute[];
  /** The app's own copy of `@azure/functions`: requests and contexts are made of its classes. */
  runtime: FunctionsRuntime;
}

type ModuleWithRequire = { prototype: { require: (this: unknown, id: string) => unknown } };

/**
 * Loads a built Functions app from its folder as the Functions Node.js worker does: it reads `main` from the
 * app's package.json and requires it, while answering `require('@azure/functions-core')` with the worker's API,
 * through which `app.http(...)` registers each function. As the worker does, a function registered after the
 * entry has loaded, or a name registered twice, is refused. Call once per process (the app keeps module state).
 */
export function loadFunctionsApp(appRoot: string): LoadedFunctionsApp {
  const root = resolve(appRoot);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main?: string };
  if (!manifest.main) throw new Error(`${join(root, 'package.json')} has no "main": the Functions host would find no entry point`);
  const entry = join(root, manifest.main);
  const functions: RegisteredFunction[] = [];
  const handlers = new Map<string, HttpHandler>();
  let loading = true;
  let programmingModel: unknown;

  const coreApi = {
    version: '3.10.1',
    hostVersion: '4.1040.0',
    setProgrammingModel(model: unknown) {
      programmingModel = model;
    },
    getProgrammingModel: () => programmingModel,
    registerHook: () => ({ dispose: () => undefined }),
    log: () => undefined,
    registerFunction(metadata: RegisteredFunction, callback: HttpHandler) {
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
    routes.push({
      name: fn.name,
      route: trigger.route ?? fn.name,
      methods: (trigger.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()) as HttpMethod[],
      authLevel: (trigger.authLevel ?? 'function') as HostedRoute['authLevel'],
      handler: handlers.get(fn.name)!,
    });
  }
  return { entry, functions, routes, runtime };
}
