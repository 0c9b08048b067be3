import type { HttpHandler, HttpResponseInit } from '@azure/functions';
import type { FunctionsConfig } from '../shared/config/functions.js';
import { systemClock, type Clock } from './context.js';

/** GET /api/health: the app is loaded and its configuration parsed. Cheap: no downstream calls. */
export function createHealthHandler(deps: { config: FunctionsConfig; clock?: Clock }): HttpHandler {
  const clock = deps.clock ?? systemClock;
  const startedAt = clock.now().toISOString();
  return async (): Promise<HttpResponseInit> => ({
    status: 200,
    headers: { 'Cache-Control': 'no-store' },
    jsonBody: {
      status: 'ok',
      component: 'functions',
      startedAt,
      audioFormat: deps.config.MEDIA_AUDIO_FORMAT,
      callEventsQueue: deps.config.CALL_EVENTS_QUEUE,
    },
  });
}
