import type { HttpHandler, HttpResponseInit } from '@azure/functions';
import type { StartupProblem } from './startup.js';

/**
 * What every function answers while the settings are invalid: 503 with the problems (variable names and what is
 * wrong, never values). The IncomingCall route answers Event Grid's validation handshake the same way, so creating
 * the subscription fails at deploy time with the reason, rather than Event Grid delivering calls to an app that
 * cannot answer them.
 */
export function misconfiguredBody(problems: readonly StartupProblem[]) {
  return {
    error: 'configuration_invalid',
    message: 'The Functions app cannot serve calls until these settings are fixed and the app restarts.',
    problems,
  };
}

export function createMisconfiguredHandler(problems: readonly StartupProblem[]): HttpHandler {
  return async (): Promise<HttpResponseInit> => ({
    status: 503,
    headers: { 'Cache-Control': 'no-store' },
    jsonBody: misconfiguredBody(problems),
  });
}
