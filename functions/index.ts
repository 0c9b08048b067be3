import { app } from '@azure/functions';
import { setupTelemetry } from '../shared/telemetry.js';
import { createMisconfiguredRoutes, createRoutes, type RouteDefinition } from './routes.js';
import { startFunctionsApp } from './startup.js';
import { createOutboundCallHandler } from './outbound/place-call.js';

/**
 * The `outbound-calls` queue trigger. Its connection is the app setting prefix SERVICEBUS (SERVICEBUS__fullyQualifiedNamespace
 * with the managed identity in Azure); the queue name is the OUTBOUND_CALLS_QUEUE setting. Registered whatever the
 * settings: with invalid ones each message fails (and is delivered again, then dead-lettered) naming the problem.
 */
export const OUTBOUND_QUEUE_TRIGGER = { name: 'outboundCalls', connection: 'SERVICEBUS', queueName: '%OUTBOUND_CALLS_QUEUE%' } as const;

/** Registers every route of the table with the Functions host; nothing else is registered. */
export function registerRoutes(target: Pick<typeof app, 'http'>, routes: readonly RouteDefinition[]): void {
  for (const route of routes) {
    target.http(route.name, { route: route.route, methods: route.methods, authLevel: route.authLevel, handler: route.handler });
  }
}

// Entry point of the Functions app (package.json "main"). Settings are parsed once, at load; a bad one never
// throws here (that would hide every function): the same functions register and report it (functions/startup.ts).
const startup = startFunctionsApp();
if (startup.ok) {
  const { config, logger } = startup.dependencies;
  void setupTelemetry({
    connectionString: config.APPLICATIONINSIGHTS_CONNECTION_STRING,
    authenticationString: config.APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
    roleName: 'functions',
    logger,
  }).catch((error: unknown) => logger.error({ error: (error as Error).message }, 'Application Insights set-up failed; continuing without it'));
}
registerRoutes(
  app,
  startup.ok
    ? createRoutes(startup.dependencies)
    : createMisconfiguredRoutes(startup.problems, { outboundEntra: Boolean(process.env.OUTBOUND_AUTH_ENTRA_TENANT_ID?.trim()) }),
);
const placeOutboundCall = startup.ok ? createOutboundCallHandler(startup.dependencies) : undefined;
app.serviceBusQueue(OUTBOUND_QUEUE_TRIGGER.name, {
  connection: OUTBOUND_QUEUE_TRIGGER.connection,
  queueName: OUTBOUND_QUEUE_TRIGGER.queueName,
  handler: async (message, context) => {
    if (!placeOutboundCall) throw new Error(`settings invalid: ${startup.ok ? '' : startup.problems.map((p) => p.variable).join(', ')}`);
    await placeOutboundCall(message, context);
  },
});
