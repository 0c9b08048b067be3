import { app } from '@azure/functions';
import { setupTelemetry } from '../shared/telemetry.js';
import { createMisconfiguredRoutes, createRoutes, type RouteDefinition } from './routes.js';
import { startFunctionsApp } from './startup.js';

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
registerRoutes(app, startup.ok ? createRoutes(startup.dependencies) : createMisconfiguredRoutes(startup.problems));
