import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { ServiceBusClient } from '@azure/service-bus';
import { afterEach, describe, expect, it } from 'vitest';
import { startServiceBusPeer, testClientRetryOptions as retryOptions, type ServiceBusPeer } from '../lab/servicebus/peer.js';
import {
  BusError,
  BusPublisher,
  createServiceBusClient,
  subscribeToCallSession,
  type CallSessionSubscription,
  type ReceivedBusMessage,
} from './bus.js';

const fastRetry = { retryDelayMs: 20, maxRetryDelayMs: 100, attemptTimeoutMs: 500 };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(): Promise<{ peer: ServiceBusPeer; client: ServiceBusClient }> {
  const peer = await startServiceBusPeer();
  cleanups.push(() => peer.close());
  const client = createServiceBusClient({ connectionString: peer.connectionString }, { retryOptions });
  cleanups.push(() => client.close());
  return { peer, client };
}

function publisher(client: ServiceBusClient, queue: string, options: ConstructorParameters<typeof BusPublisher>[2] = {}): BusPublisher {
  const p = new BusPublisher(client, queue, { ...fastRetry, ...options });
  cleanups.push(() => p.close());
  return p;
}

function subscribe(client: ServiceBusClient, callId: string, handler: (m: ReceivedBusMessage) => Promise<void> | void, onError?: (e: Error) => void): CallSessionSubscription {
  const subscription = subscribeToCallSession(client, 'call-events', callId, handler, { retryDelayMs: 30, ...(onError ? { onError } : {}) });
  cleanups.push(() => subscription.close());
  return subscription;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function rejection(promise: Promise<unknown>): Promise<BusError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BusError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

const event = (callId: string, n: number) => ({ body: { callId, n }, messageId: `${callId}-${n}`, sessionId: callId });

describe('createServiceBusClient', () => {
  const credential: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: 't', expiresOnTimestamp: Date.now() + 60_000 }) };

  it('uses managed identity when a credential and a namespace are given', async () => {
    const client = createServiceBusClient({ credential, fullyQualifiedNamespace: 'myns.servicebus.windows.net', connectionString: 'ignored' });
    expect(client.fullyQualifiedNamespace).toBe('myns.servicebus.windows.net');
    await client.close();
  });

  it('falls back to a connection string', async () => {
    const client = createServiceBusClient({
      connectionString: 'Endpoint=sb://127.0.0.1:5672/;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true',
    });
    expect(client.fullyQualifiedNamespace).toBe('127.0.0.1');
    await client.close();
  });

  it('refuses settings with neither, or a credential without a namespace, naming what is missing', () => {
    expect(() => createServiceBusClient({})).toThrow(expect.objectContaining({ code: 'BUS_CONFIG', message: expect.stringMatching(/connection string/) }));
    expect(() => createServiceBusClient({ credential })).toThrow(/fullyQualifiedNamespace/);
  });
});

describe('BusPublisher', () => {
  it('publishes one message or a batch with every field where Service Bus keeps it', async () => {
    const { peer, client } = await setup();
    const p = publisher(client, 'call-events');
    await p.publish({ ...event('call-1', 1), subject: 'CallConnected', applicationProperties: { schemaVersion: 1 }, correlationId: 'c', timeToLiveMs: 60_000 });
    await p.publish([event('call-1', 2), event('call-2', 1)]);
    expect(peer.messages('call-events')).toMatchObject([
      { messageId: 'call-1-1', sessionId: 'call-1', body: { callId: 'call-1', n: 1 }, applicationProperties: { schemaVersion: 1 } },
      { messageId: 'call-1-2', sessionId: 'call-1' },
      { messageId: 'call-2-1', sessionId: 'call-2' },
    ]);
  });

  it('rejects a message without a usable messageId before sending anything', async () => {
    const { peer, client } = await setup();
    const error = await rejection(publisher(client, 'call-records').publish({ body: 1, messageId: '' }));
    expect(error.code).toBe('BUS_INVALID_MESSAGE');
    expect(peer.messages('call-records')).toEqual([]);
  });

  it('succeeds when Service Bus comes back within the deadline', async () => {
    const { peer, client } = await setup();
    const p = publisher(client, 'call-records', { deadlineMs: 5000 });
    await p.publish({ body: 'before', messageId: 'before' });
    await peer.stop();
    const restarted = new Promise((resolve) => setTimeout(resolve, 300)).then(() => peer.restart());
    await p.publish({ body: 'during', messageId: 'during' });
    await restarted;
    expect(peer.messages('call-records').map((m) => m.messageId)).toEqual(['before', 'during']);
  });

  it('rejects with BUS_UNAVAILABLE once the deadline passes with Service Bus still down', async () => {
    const { peer, client } = await setup();
    const p = publisher(client, 'call-records', { deadlineMs: 10_000 });
    await peer.stop();
    const error = await rejection(p.publish({ body: 'lost', messageId: 'lost' }, { deadlineMs: 300 }));
    expect(error.code).toBe('BUS_UNAVAILABLE');
    expect(error.cause).toBeDefined();
    await peer.restart();
    expect(peer.messages('call-records')).toEqual([]);
  });

  it('fails at once with BUS_REJECTED when retrying cannot help (unknown queue)', async () => {
    const { client } = await setup();
    const error = await rejection(publisher(client, 'no-such-queue', { deadlineMs: 60_000 }).publish({ body: 1, messageId: 'x' }));
    expect(error.code).toBe('BUS_REJECTED');
    expect(error.message).toMatch(/MessagingEntityNotFound/);
  });

  it('stops retrying when the caller aborts', async () => {
    const { peer, client } = await setup();
    await peer.stop();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await rejection(publisher(client, 'call-records', { deadlineMs: 60_000 }).publish({ body: 1, messageId: 'x' }, { abortSignal: controller.signal }));
    expect(error.code).toBe('ABORTED');
  });
});

describe('subscribeToCallSession', () => {
  it('gives two concurrent subscribers only their own call, each strictly in order, completing every message', async () => {
    const { peer, client } = await setup();
    const got: Record<string, number[]> = { 'call-a': [], 'call-b': [] };
    for (const callId of ['call-a', 'call-b']) {
      subscribe(client, callId, async (m) => {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
        got[callId]!.push((m.body as { n: number }).n);
        expect((m.body as { callId: string }).callId).toBe(callId);
      });
    }
    const p = publisher(client, 'call-events');
    for (let n = 1; n <= 4; n++) await p.publish([event('call-a', n), event('call-b', n)]);
    await waitFor(() => got['call-a']!.length === 4 && got['call-b']!.length === 4, 'both calls');
    expect(got).toEqual({ 'call-a': [1, 2, 3, 4], 'call-b': [1, 2, 3, 4] });
    await waitFor(() => peer.messages('call-events').every((m) => m.state === 'completed'), 'completion');
  });

  it('makes a second subscriber for the same call wait until the first releases the session', async () => {
    const { client } = await setup();
    const first: string[] = [];
    const second: string[] = [];
    const holder = subscribe(client, 'call-x', (m) => void first.push(m.messageId!));
    const p = publisher(client, 'call-events');
    await p.publish(event('call-x', 1));
    await waitFor(() => first.length === 1, 'first subscriber');
    subscribe(client, 'call-x', (m) => void second.push(m.messageId!));
    await new Promise((resolve) => setTimeout(resolve, 150)); // several accept attempts
    await p.publish(event('call-x', 2));
    await waitFor(() => first.length === 2, 'first subscriber again');
    await holder.close();
    await p.publish(event('call-x', 3));
    await waitFor(() => second.length === 1, 'second subscriber');
    expect(first).toEqual(['call-x-1', 'call-x-2']);
    expect(second).toEqual(['call-x-3']);
  });

  it('abandons a message whose handler fails and gets it again before the next one', async () => {
    const { peer, client } = await setup();
    const seen: string[] = [];
    const errors: Error[] = [];
    let failures = 1;
    subscribe(
      client,
      'call-f',
      (m) => {
        seen.push(m.messageId!);
        if (m.messageId === 'call-f-1' && failures-- > 0) throw new Error('handler broke');
      },
      (e) => errors.push(e),
    );
    await publisher(client, 'call-events').publish([event('call-f', 1), event('call-f', 2)]);
    await waitFor(() => seen.length === 3, 'redelivery');
    expect(seen).toEqual(['call-f-1', 'call-f-1', 'call-f-2']);
    expect(errors.map((e) => e.message)).toEqual(['handler broke']);
    await waitFor(() => peer.messages('call-events').every((m) => m.state === 'completed'), 'completion');
    expect(peer.messages('call-events')[0]!.deliveryCount).toBe(1);
  });

  it('keeps receiving its call after Service Bus goes down and comes back', async () => {
    const { peer, client } = await setup();
    const seen: string[] = [];
    const errors: Error[] = [];
    const subscription = subscribe(client, 'call-r', (m) => void seen.push(m.messageId!), (e) => errors.push(e));
    const p = publisher(client, 'call-events', { deadlineMs: 5000 });
    await p.publish(event('call-r', 1));
    await waitFor(() => peer.messages('call-events')[0]?.state === 'completed', 'first message completed');
    await peer.stop();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await peer.restart();
    await p.publish(event('call-r', 2));
    await waitFor(() => seen.length === 2, 'message after restart');
    expect(seen).toEqual(['call-r-1', 'call-r-2']);
    expect(errors.length).toBeGreaterThan(0); // the outage was seen, reported, and survived
    await subscription.close();
    await subscription.closed;
  });

  it('stops when its abort signal fires and releases the session', async () => {
    const { client } = await setup();
    const controller = new AbortController();
    const subscription = subscribeToCallSession(client, 'call-events', 'call-z', () => undefined, { abortSignal: controller.signal, retryDelayMs: 30 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    await subscription.closed;
    const seen: string[] = [];
    subscribe(client, 'call-z', (m) => void seen.push(m.messageId!));
    await publisher(client, 'call-events').publish(event('call-z', 1));
    await waitFor(() => seen.length === 1, 'next holder');
  });
});
