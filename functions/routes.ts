import type { HttpHandler, HttpMethod } from '@azure/functions';
import { createCallEventsHandler } from './call-events.js';
import { createFunctionsState, type FunctionsDependencies } from './context.js';
import { createHealthHandler } from './health.js';
import { createIncomingCallHandler } from './incoming-call.js';
import { createMisconfiguredHandler } from './misconfigured.js';
import { createCallStatusHandler, createPlaceCallHandler } from './outbound/api.js';
import type { StartupProblem } from './startup.js';

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

type RouteShape = Omit<RouteDefinition, 'handler'>;

/** The app's functions, the same whether the settings are valid or not (a bad setting must not hide a function). */
const ROUTE_SHAPES = {
  incomingCall: { name: 'incomingCall', route: 'incomingCall', methods: ['POST', 'OPTIONS'], authLevel: 'function' },
  callbacks: { name: 'callbacks', route: 'callbacks/{callId}', methods: ['POST'], authLevel: 'anonymous' },
  health: { name: 'health', route: 'health', methods: ['GET'], authLevel: 'anonymous' },
  placeCall: { name: 'placeCall', route: 'calls', methods: ['POST'], authLevel: 'function' },
  callStatus: { name: 'callStatus', route: 'calls/{callId}', methods: ['GET'], authLevel: 'function' },
} as const satisfies Record<string, RouteShape>;

type RouteName = keyof typeof ROUTE_SHAPES;

function table(handlers: Record<RouteName, HttpHandler>): RouteDefinition[] {
  return (Object.keys(ROUTE_SHAPES) as RouteName[]).map((name) => {
    const shape = ROUTE_SHAPES[name];
    return { name: shape.name, route: shape.route, methods: [...shape.methods], authLevel: shape.authLevel, handler: handlers[name] };
  });
}

/**
 * The app's one route table: `index.ts` registers it with the Functions host, and the local lab serves the
 * same table over plain HTTP. Handlers share one per-instance memory (de-duplication, restart counts).
 */
export function createRoutes(deps: FunctionsDependencies): RouteDefinition[] {
  const shared = { ...deps, state: deps.state ?? createFunctionsState() };
  return table({
    incomingCall: createIncomingCallHandler(shared),
    callbacks: createCallEventsHandler(shared),
    health: createHealthHandler(shared),
    placeCall: createPlaceCallHandler(shared),
    callStatus: createCallStatusHandler(shared),
  });
}

/** The same table while the settings are invalid: every function answers 503 naming the problems. */
export function createMisconfiguredRoutes(problems: readonly StartupProblem[]): RouteDefinition[] {
  const refuse = createMisconfiguredHandler(problems);
  return table({ incomingCall: refuse, callbacks: refuse, health: createHealthHandler({ problems }), placeCall: refuse, callStatus: refuse });
}
