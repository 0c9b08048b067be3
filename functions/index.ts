import { app } from '@azure/functions';
import { loadFunctionsConfig } from '../shared/config/functions.js';
import { setupTelemetry } from '../shared/telemetry.js';
import { createFunctionsDependencies } from './dependencies.js';
import { createRoutes, type RouteDefinition } from './routes.js';

/** Registers every route of the table with the Functions host; nothing else is registered. */
export function registerRoutes(target: Pick<typeof app, 'http'>, routes: readonly RouteDefinition[]): void {
  for (const route of routes) {
    target.http(route.name, { route: route.route, methods: route.methods, authLevel: route.authLevel, handler: route.handler });
  }
}

// Entry point of the Functions app (package.json "main"): configuration is parsed once, at load, and a bad
// setting stops the app here with a message naming it.
const config = loadFunctionsConfig();
const dependencies = createFunctionsDependencies(config);
void setupTelemetry({
  connectionString: config.APPLICATIONINSIGHTS_CONNECTION_STRING,
  authenticationString: config.APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
  roleName: 'functions',
  logger: dependencies.logger,
}).catch(
  (error: unknown) => dependencies.logger.error({ error: (error as Error).message }, 'Application Insights set-up failed; continuing without it'),
);
registerRoutes(app, createRoutes(dependencies));
