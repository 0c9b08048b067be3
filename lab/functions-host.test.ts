import { afterEach, describe, expect, it } from 'vitest';
import { HttpResponse, type HttpRequest, type InvocationContext } from '@azure/functions';
import { startFunctionsHost, type FunctionsHost, type HostedRoute } from './functions-host.js';

describe('local Functions host', () => {
  let host: FunctionsHost | undefined;
  afterEach(async () => host?.close());

  const seen: { method: string; params: Record<string, string>; query: string | null; body: string; functionName: string }[] = [];
  const routes: HostedRoute[] = [
    {
      name: 'echo',
      route: 'echo/{callId}',
      methods: ['POST'],
      authLevel: 'anonymous',
      handler: async (request: HttpRequest, context: InvocationContext) => {
        seen.push({ method: request.method, params: { ...request.params }, query: request.query.get('x'), body: await request.text(), functionName: context.functionName });
        return { status: 202, jsonBody: { callId: request.params.callId }, headers: { 'x-lab': 'yes' } };
      },
    },
    { name: 'locked', route: 'locked', methods: ['POST', 'OPTIONS'], authLevel: 'function', handler: async () => new HttpResponse({ status: 200, body: 'in' }) },
    { name: 'boom', route: 'boom', methods: ['GET'], authLevel: 'anonymous', handler: async () => { throw new Error('kaput'); } },
  ];

  it('serves the route table under /api with route parameters, query and body as real HttpRequest objects', async () => {
    host = await startFunctionsHost({ routes, port: 0 });
    const response = await fetch(`${host.url}/api/echo/call%2F1?x=7`, { method: 'POST', body: '{"a":1}' });
    expect(response.status).toBe(202);
    expect(response.headers.get('x-lab')).toBe('yes');
    expect(await response.json()).toEqual({ callId: 'call/1' });
    expect(seen.at(-1)).toEqual({ method: 'POST', params: { callId: 'call/1' }, query: '7', body: '{"a":1}', functionName: 'echo' });
  });

  it('requires the function key on authLevel function routes, from ?code= or x-functions-key', async () => {
    host = await startFunctionsHost({ routes, port: 0, functionKey: 'k1' });
    expect((await fetch(`${host.url}/api/locked`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${host.url}/api/locked?code=nope`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(host.urlOf('locked'), { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${host.url}/api/locked`, { method: 'OPTIONS', headers: { 'x-functions-key': 'k1' } })).status).toBe(200);
  });

  it('answers unknown paths with 404, wrong methods with 405 and a throwing handler with 500, and keeps serving', async () => {
    host = await startFunctionsHost({ routes, port: 0 });
    expect((await fetch(`${host.url}/api/nothing`)).status).toBe(404);
    const wrong = await fetch(`${host.url}/api/echo/1`);
    expect(wrong.status).toBe(405);
    expect(((await wrong.json()) as { error: string }).error).toMatch(/allowed: POST/);
    expect((await fetch(`${host.url}/api/boom`)).status).toBe(500);
    expect((await fetch(`${host.url}/api/echo/2`, { method: 'POST' })).status).toBe(202);
  });

  it('answers a route parameter with a malformed %-escape with 400 and the reason, and keeps serving', async () => {
    host = await startFunctionsHost({ routes, port: 0 });
    const bad = await fetch(`${host.url}/api/echo/%E0%A4%A`, { method: 'POST' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/malformed %-escape/);
    expect((await fetch(`${host.url}/api/echo/2`, { method: 'POST' })).status).toBe(202);
  });
});
