import type { HttpHandler, HttpResponseInit } from '@azure/functions';
import { CachedCheck } from '../shared/cached-check.js';
import type { FunctionsConfig } from '../shared/config/functions.js';
import { systemClock, type Clock } from './context.js';
import type { StartupProblem } from './startup.js';

type HealthDeps =
  | { config: FunctionsConfig; clock?: Clock; checkServiceBus?: () => Promise<void> }
  | { problems: readonly StartupProblem[]; clock?: Clock };

/**
 * How POST /api/calls is set up, without the settings' values: the authentication it asks for, whether the kill switch
 * is on, and how many destination prefixes are allowed (none: every call is refused).
 */
export function outboundCallsReport(config: FunctionsConfig): { auth: 'function-key' | 'entra'; killSwitch: 'on' | 'off'; allowedPrefixes: number } {
  return {
    auth: config.OUTBOUND_AUTH_ENTRA_TENANT_ID ? 'entra' : 'function-key',
    killSwitch: config.OUTBOUND_KILL_SWITCH,
    allowedPrefixes: config.OUTBOUND_ALLOWED_PREFIXES.length,
  };
}

/**
 * GET /api/health: 200 `{status: "ok"}` when the app loaded with valid settings and Service Bus took a link with
 * its identity; 503 `{status: "misconfigured", problems}` naming each bad variable, or `{status: "degraded"}` when
 * Service Bus refused; `outboundCalls` says how the outbound API is set up. The Service Bus check runs at most once a minute, whoever asks (the route is anonymous).
 */
export function createHealthHandler(deps: HealthDeps): HttpHandler {
  const clock = deps.clock ?? systemClock;
  const startedAt = clock.now().toISOString();
  const headers = { 'Cache-Control': 'no-store' };
  if ('problems' in deps) {
    const body = { status: 'misconfigured', component: 'functions', startedAt, problems: deps.problems };
    return async (): Promise<HttpResponseInit> => ({ status: 503, headers, jsonBody: body });
  }
  const serviceBus = deps.checkServiceBus ? new CachedCheck({ run: deps.checkServiceBus }) : undefined;
  const base = { component: 'functions', startedAt, audioFormat: deps.config.MEDIA_AUDIO_FORMAT, callEventsQueue: deps.config.CALL_EVENTS_QUEUE, outboundCalls: outboundCallsReport(deps.config) };
  return async (): Promise<HttpResponseInit> => {
    const bus = serviceBus ? await serviceBus.check() : undefined;
    const ok = bus === undefined || bus.ok;
    return {
      status: ok ? 200 : 503,
      headers,
      jsonBody: { status: ok ? 'ok' : 'degraded', ...base, ...(bus ? { checks: { serviceBus: { status: bus.ok ? 'ok' : 'failed', ...bus } } } : {}) },
    };
  };
}
