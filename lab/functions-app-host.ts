/**
 * A built Functions app in its own process, as Azure runs it: `node --import tsx lab/functions-app-host.ts <appRoot>`
 * with the app's settings in the environment. It loads the app from its folder (package.json `main`, the app's
 * own node_modules) through the Functions worker's registration API, serves its HTTP functions like `func start`,
 * runs its Service Bus queue triggers as the host's Service Bus extension does (lab/functions-service-bus-trigger.ts),
 * and prints one JSON line when ready:
 *   `{"url", "functionKey", "functions": [{name, route, methods, authLevel}],
 *     "triggers": [{name, type, queueName, connection, connectionSetting, connectionKind, listening}],
 *     "errors": [{function, message}]}`.
 * A function the host could not index or listen for is in `errors` and the rest run on, as in Azure.
 * LAB_FUNCTIONS_PORT, LAB_FUNCTIONS_HOST and LAB_FUNCTIONS_KEY set where it listens and its function key.
 */
import { availableParallelism } from 'node:os';
import { ServiceBusClient } from '@azure/service-bus';
import { createLogger } from '../shared/log.js';
import { loadFunctionsApp, type LoadedFunctionsApp } from './functions-app.js';
import { startFunctionsHost } from './functions-host.js';
import { FunctionInError, resolveServiceBusTrigger, serviceBusInvocationRequest, type ServiceBusQueueTrigger } from './functions-service-bus-trigger.js';
import { startServiceBusListener } from './outbound-consumer.js';

export interface TriggerShape {
  name: string;
  type: string;
  queueName: string;
  /** The binding's `connection` as written. */
  connection: string;
  /** The app setting the host took the connection from (`SERVICEBUS`, `SERVICEBUS__fullyQualifiedNamespace`, ...). */
  connectionSetting: string;
  connectionKind: 'connectionString' | 'identity';
  /** False with an identity-based connection: the lab has no managed identity to connect with. */
  listening: boolean;
}

export interface FunctionError {
  function: string;
  message: string;
}

/** The host's default Service Bus options (host.json `extensions.serviceBus` may change them). */
function serviceBusOptions(hostJson: unknown): { maxConcurrentCalls: number; maxAutoLockRenewalDurationInMs: number } {
  const options = ((hostJson as { extensions?: { serviceBus?: Record<string, unknown> } } | undefined)?.extensions?.serviceBus ?? {}) as Record<string, unknown>;
  const calls = typeof options.maxConcurrentCalls === 'number' ? options.maxConcurrentCalls : 16 * availableParallelism();
  const renewal = typeof options.maxAutoLockRenewalDuration === 'string' ? timeSpanMs(options.maxAutoLockRenewalDuration) : 5 * 60_000;
  return { maxConcurrentCalls: calls, maxAutoLockRenewalDurationInMs: renewal };
}

/** `hh:mm:ss` (a .NET TimeSpan as host.json writes it) in milliseconds. */
function timeSpanMs(value: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(value);
  if (!match) throw new Error(`host.json extensions.serviceBus.maxAutoLockRenewalDuration: '${value}' is not hh:mm:ss`);
  const [, days, h, m, s] = match;
  return (((Number(days ?? 0) * 24 + Number(h)) * 60 + Number(m)) * 60 + Number(s)) * 1000;
}

async function startTriggers(app: LoadedFunctionsApp, hostJson: unknown): Promise<{ triggers: TriggerShape[]; errors: FunctionError[]; close(): Promise<void> }> {
  const logger = createLogger({ component: 'lab.functions-app-host', level: process.env.LOG_LEVEL === 'silent' ? 'silent' : 'warn' });
  const triggers: TriggerShape[] = [];
  const errors: FunctionError[] = [];
  const closers: (() => Promise<void>)[] = [];
  const options = serviceBusOptions(hostJson);
  for (const fn of app.functions) {
    const entry = Object.entries(fn.bindings).find(([, b]) => b.direction === 'in' && /trigger$/i.test(b.type));
    if (!entry) {
      errors.push({ function: fn.name, message: `The '${fn.name}' function is in error: it has no trigger binding` });
      continue;
    }
    const [bindingName, binding] = entry;
    if (binding.type.toLowerCase() === 'httptrigger') continue;
    if (binding.type.toLowerCase() !== 'servicebustrigger') {
      errors.push({ function: fn.name, message: `The '${fn.name}' function is in error: the lab's Functions host runs HTTP and Service Bus queue triggers only, not ${binding.type}` });
      continue;
    }
    let trigger: ServiceBusQueueTrigger;
    try {
      trigger = resolveServiceBusTrigger(fn.name, bindingName, binding, process.env);
    } catch (error) {
      if (!(error instanceof FunctionInError)) throw error;
      errors.push({ function: fn.name, message: error.message });
      continue;
    }
    const { connection } = trigger;
    const listening = connection.kind === 'connectionString';
    triggers.push({ name: fn.name, type: binding.type, queueName: trigger.queueName, connection: trigger.connectionName, connectionSetting: connection.setting, connectionKind: connection.kind, listening });
    if (connection.kind !== 'connectionString') continue;
    const client = new ServiceBusClient(connection.connectionString);
    const listener = startServiceBusListener({
      client,
      queueName: trigger.queueName,
      skipParsingBodyAsJson: true,
      ...options,
      logger,
      invoke: async (message) => {
        await app.invoke(fn.name, serviceBusInvocationRequest(trigger, message), (level, category, text) => {
          if (level === 'error' || level === 'critical') logger.error({ function: fn.name, category }, text);
        });
      },
    });
    closers.push(async () => {
      await listener.close();
      await client.close();
    });
  }
  return { triggers, errors, close: async () => void (await Promise.all(closers.map((c) => c().catch(() => undefined)))) };
}

async function main(): Promise<void> {
  const appRoot = process.argv[2];
  if (!appRoot) throw new Error('usage: functions-app-host <folder of the built app>');
  const app = loadFunctionsApp(appRoot);
  const host = await startFunctionsHost({
    routes: app.routes,
    runtime: app.runtime,
    port: Number(process.env.LAB_FUNCTIONS_PORT ?? 0),
    host: process.env.LAB_FUNCTIONS_HOST ?? '127.0.0.1',
    ...(process.env.LAB_FUNCTIONS_KEY ? { functionKey: process.env.LAB_FUNCTIONS_KEY } : {}),
  });
  const running = await startTriggers(app, app.hostJson);
  const functions = app.routes.map(({ name, route, methods, authLevel }) => ({ name, route, methods, authLevel }));
  for (const error of running.errors) process.stderr.write(`${error.message}\n`);
  process.stdout.write(`${JSON.stringify({ url: host.url, functionKey: host.functionKey, functions, triggers: running.triggers, errors: running.errors })}\n`);
  const stop = () => void Promise.all([running.close(), host.close()]).then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`functions-app-host: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
