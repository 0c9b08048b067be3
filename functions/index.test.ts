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
      ]);
      expect(serviceBusQueue.mock.calls.map(([name, options]) => ({ name, connection: options.connection, queueName: options.queueName }))).toEqual([
        { name: 'outboundCalls', connection: 'SERVICEBUS', queueName: '%OUTBOUND_CALLS_QUEUE%' },
      ]);
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
