import type { HttpHandler, HttpMethod } from '@azure/functions';
import { createCallEventsHandler } from './call-events.js';
import { createFunctionsState, type FunctionsDependencies } from './context.js';
import { createHealthHandler } from './health.js';
import { createIncomingCallHandler } from './incoming-call.js';

export interface RouteDefinition {
  /** Function name in the Functions host. */
  name: string;
  /** Route under `/api`, in the Functions syntax (`callbacks/{callId}`). */
  route: string;
  methods: HttpMethod[];
  /** `function`: the caller must present a function key (`?code=`); `anonymous`: the handler authenticates. */
  authLevel: 'anonymous' | 'function' | 'admin';
  handler: HttpHandler;
}

/**
 * The app's one route table: `index.ts` registers it with the Functions host, and the local lab serves the
 * same table over plain HTTP. Handlers share one per-instance memory (de-duplication, restart counts).
 */
export function createRoutes(deps: FunctionsDependencies): RouteDefinition[] {
  const shared = { ...deps, state: deps.state ?? createFunctionsState() };
  return [
    { name: 'incomingCall', route: 'incomingCall', methods: ['POST', 'OPTIONS'], authLevel: 'function', handler: createIncomingCallHandler(shared) },
    { name: 'callbacks', route: 'callbacks/{callId}', methods: ['POST'], authLevel: 'anonymous', handler: createCallEventsHandler(shared) },
    { name: 'health', route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: createHealthHandler(shared) },
  ];
}
