import type { HttpHandler, HttpMethod } from '@azure/functions';
import { createCallEventsHandler } from './call-events.js';
import { createFunctionsState, type FunctionsDependencies } from './context.js';
import { createHealthHandler } from './health.js';
import { createIncomingCallHandler } from './incoming-call.js';
import { createMisconfiguredHandler } from './misconfigured.js';
import { createCallStatusHandler, createCancelCallHandler, createPlaceCallHandler } from './outbound/api.js';
import { createOutboundAuth } from './outbound/api-auth.js';
import type { StartupProblem } from './startup.js';

export interface RouteDefinition {
  /** Function name in the Functions host. */
  name: string;
  /** Route under `/api`, in the Functions syntax (`callbacks/{callId}`). */
  route: string;
  methods: HttpMethod[];
  /** `function`: the caller must present a function key (`?code=`); `anonymous`: the handler authenticates (or the route is public). */
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
  cancelCall: { name: 'cancelCall', route: 'calls/{callId}', methods: ['DELETE'], authLevel: 'function' },
} as const satisfies Record<string, RouteShape>;

type RouteName = keyof typeof ROUTE_SHAPES;

/** The outbound routes take an Entra token instead of the function key when the deployment enables it. */
const OUTBOUND_ROUTES: readonly RouteName[] = ['placeCall', 'callStatus', 'cancelCall'];

function table(handlers: Record<RouteName, HttpHandler>, options: { outboundEntra?: boolean } = {}): RouteDefinition[] {
  return (Object.keys(ROUTE_SHAPES) as RouteName[]).map((name) => {
    const shape = ROUTE_SHAPES[name];
    // Anonymous to the host only where the handler checks a token before anything else (functions/outbound/api-auth.ts).
    const authLevel = options.outboundEntra && OUTBOUND_ROUTES.includes(name) ? 'anonymous' : shape.authLevel;
    return { name: shape.name, route: shape.route, methods: [...shape.methods], authLevel, handler: handlers[name] };
  });
}

/**
 * The app's one route table: `index.ts` registers it with the Functions host, and the local lab serves the
 * same table over plain HTTP. Handlers share one per-instance memory (de-duplication, restart counts).
 */
export function createRoutes(deps: FunctionsDependencies): RouteDefinition[] {
  const shared = { ...deps, state: deps.state ?? createFunctionsState() };
  const outboundAuth = createOutboundAuth(deps.config, deps.logger);
  return table(
    {
      incomingCall: createIncomingCallHandler(shared),
      callbacks: createCallEventsHandler(shared),
      health: createHealthHandler(shared),
      placeCall: createPlaceCallHandler(shared, outboundAuth),
      callStatus: createCallStatusHandler(shared, outboundAuth),
      cancelCall: createCancelCallHandler(shared, outboundAuth),
    },
    { outboundEntra: outboundAuth !== undefined },
  );
}

/**
 * The same table while the settings are invalid: every function answers 503 naming the problems. `outboundEntra`
 * (the deployment set OUTBOUND_AUTH_ENTRA_TENANT_ID, valid or not) keeps the outbound routes anonymous, so a caller
 * holding a token but no key reads the problems instead of the host's bare 401; they run no handler logic.
 */
export function createMisconfiguredRoutes(problems: readonly StartupProblem[], options: { outboundEntra?: boolean } = {}): RouteDefinition[] {
  const refuse = createMisconfiguredHandler(problems);
  return table({ incomingCall: refuse, callbacks: refuse, health: createHealthHandler({ problems }), placeCall: refuse, callStatus: refuse, cancelCall: refuse }, options);
}
