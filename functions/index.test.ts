import * as functions from '@azure/functions';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startAcsRestPeer } from '../lab/acs/rest-peer.js';
import { startServiceBusPeer } from '../lab/servicebus/peer.js';

describe('functions/index.ts', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('registers exactly the routes of the table with app.http, with their methods and auth levels', async () => {
    const [acs, bus] = await Promise.all([startAcsRestPeer(), startServiceBusPeer()]);
    try {
      const env = {
        ACS_CONNECTION_STRING: acs.connectionString,
        ACS_RESOURCE_ID: '6f1b3d2a-9c4e-4b7a-8e21-5d0c7a9f4b13',
        CALLBACK_BASE_URL: 'https://func.example.net',
        WORKER_MEDIA_URL: 'wss://worker.example.net/ws',
        SERVICEBUS_CONNECTION_STRING: bus.connectionString,
        LOG_LEVEL: 'silent',
      };
      for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
      const http = vi.spyOn(functions.app, 'http').mockImplementation(() => undefined);
      const serviceBusQueue = vi.spyOn(functions.app, 'serviceBusQueue').mockImplementation(() => undefined);

      await import('./index.js');

      const registered = http.mock.calls.map(([name, options]) => ({ name, route: options.route, methods: options.methods, authLevel: options.authLevel, handler: typeof options.handler }));
      expect(registered).toEqual([
        { name: 'incomingCall', route: 'incomingCall', methods: ['POST', 'OPTIONS'], authLevel: 'function', handler: 'function' },
        { name: 'callbacks', route: 'callbacks/{callId}', methods: ['POST'], authLevel: 'anonymous', handler: 'function' },
        { name: 'health', route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: 'function' },
        { name: 'placeCall', route: 'calls', methods: ['POST'], authLevel: 'function', handler: 'function' },
        { name: 'callStatus', route: 'calls/{callId}', methods: ['GET'], authLevel: 'function', handler: 'function' },
        { name: 'cancelCall', route: 'calls/{callId}', methods: ['DELETE'], authLevel: 'function', handler: 'function' },
      ]);
      expect(serviceBusQueue.mock.calls.map(([name, options]) => ({ name, connection: options.connection, queueName: options.queueName }))).toEqual([
        { name: 'outboundCalls', connection: 'SERVICEBUS', queueName: '%OUTBOUND_CALLS_QUEUE%' },
      ]);
    } finally {
      await Promise.all([acs.close(), bus.close()]);
    }
  });

  it('with Entra settings, registers the outbound routes anonymous (the handler requires the token); with a bad one, they answer 503 naming it', async () => {
    const [acs, bus] = await Promise.all([startAcsRestPeer(), startServiceBusPeer()]);
    try {
      const base = {
        ACS_CONNECTION_STRING: acs.connectionString,
        ACS_RESOURCE_ID: '6f1b3d2a-9c4e-4b7a-8e21-5d0c7a9f4b13',
        CALLBACK_BASE_URL: 'https://func.example.net',
        WORKER_MEDIA_URL: 'wss://worker.example.net/ws',
        SERVICEBUS_CONNECTION_STRING: bus.connectionString,
        LOG_LEVEL: 'silent',
        OUTBOUND_AUTH_ENTRA_AUDIENCE: 'api://voice-agent-calls',
      };
      const register = async (tenant: string) => {
        vi.resetModules();
        vi.restoreAllMocks();
        for (const [name, value] of Object.entries({ ...base, OUTBOUND_AUTH_ENTRA_TENANT_ID: tenant })) vi.stubEnv(name, value);
        const http = vi.spyOn(functions.app, 'http').mockImplementation(() => undefined);
        vi.spyOn(functions.app, 'serviceBusQueue').mockImplementation(() => undefined);
        await import('./index.js');
        return new Map(http.mock.calls.map(([name, options]) => [name, options]));
      };

      const valid = await register('72f988bf-86f1-41af-91ab-2d7cd011db47');
      expect([...valid].map(([name, o]) => [name, o.authLevel])).toEqual([
        ['incomingCall', 'function'],
        ['callbacks', 'anonymous'],
        ['health', 'anonymous'],
        ['placeCall', 'anonymous'],
        ['callStatus', 'anonymous'],
        ['cancelCall', 'anonymous'],
      ]);
      const request = new functions.HttpRequest({ method: 'POST', url: 'https://func.example.net/api/calls', body: { string: '{"to":"+15550100123"}' } });
      const refused = await valid.get('placeCall')!.handler(request, new functions.InvocationContext({ functionName: 'placeCall' }));
      expect(refused).toMatchObject({ status: 401, headers: { 'WWW-Authenticate': 'Bearer' } });

      const invalid = await register('contoso');
      expect(invalid.get('placeCall')!.authLevel).toBe('anonymous');
      const answer = await invalid.get('placeCall')!.handler(request, new functions.InvocationContext({ functionName: 'placeCall' }));
      expect(answer).toMatchObject({ status: 503, jsonBody: { problems: [expect.objectContaining({ variable: 'OUTBOUND_AUTH_ENTRA_TENANT_ID' })] } });
      const health = await invalid.get('health')!.handler(new functions.HttpRequest({ method: 'GET', url: 'https://func.example.net/api/health' }), new functions.InvocationContext());
      expect(health).toMatchObject({ status: 503, jsonBody: { status: 'misconfigured', problems: [expect.objectContaining({ variable: 'OUTBOUND_AUTH_ENTRA_TENANT_ID' })] } });
    } finally {
      await Promise.all([acs.close(), bus.close()]);
    }
  });

  it('registerRoutes registers each table entry once and nothing else', async () => {
    const { registerRoutes } = await import('./index.js');
    const handler = async () => ({ status: 204 });
    const calls: [string, unknown][] = [];
    registerRoutes({ http: (name: string, options: unknown) => void calls.push([name, options]) } as never, [
      { name: 'a', route: 'a/{x}', methods: ['GET'], authLevel: 'anonymous', handler },
    ]);
    expect(calls).toEqual([['a', { route: 'a/{x}', methods: ['GET'], authLevel: 'anonymous', handler }]]);
  });
});
