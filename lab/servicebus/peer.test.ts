import { connect } from 'node:net';
import { isServiceBusError, ServiceBusClient, type ServiceBusClientOptions } from '@azure/service-bus';
import { afterEach, describe, expect, it } from 'vitest';
import { startServiceBusPeer, testClientRetryOptions, type ServiceBusPeer, type ServiceBusPeerOptions } from './peer.js';

// Fast failure in tests: the client's defaults wait 30 s between retries (reference §10).
const clientOptions: ServiceBusClientOptions = { retryOptions: testClientRetryOptions };
const noRenewal = { maxAutoLockRenewalDurationInMs: 0 };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(options?: ServiceBusPeerOptions): Promise<{ peer: ServiceBusPeer; client: ServiceBusClient }> {
  const peer = await startServiceBusPeer(options);
  cleanups.push(() => peer.close());
  const client = new ServiceBusClient(peer.connectionString, clientOptions);
  cleanups.push(() => client.close());
  return { peer, client };
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('Service Bus test peer with the real @azure/service-bus client', () => {
  it('leaves no socket, server or timer behind after the client and the peer are closed', async () => {
    const counts = () => {
      const info = process.getActiveResourcesInfo();
      return ['TCPServerWrap', 'TCPSocketWrap', 'Timeout'].map((kind) => info.filter((k) => k === kind).length);
    };
    await new Promise((resolve) => setTimeout(resolve, 50)); // sockets of earlier files' tests finish closing
    const before = counts();
    const peer = await startServiceBusPeer({ queues: [{ name: 'q', requiresSession: true, lockDurationMs: 60_000 }] });
    const client = new ServiceBusClient(peer.connectionString, clientOptions);
    await client.createSender('q').sendMessages({ body: 'x', messageId: 'x', sessionId: 's' });
    const receiver = await client.acceptSession('q', 's');
    await receiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    expect(counts()[1]).toBeGreaterThan(before[1]!);
    await client.close();
    await peer.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Never more than before (the runner's own timers may come and go).
    counts().forEach((count, i) => expect(count).toBeLessThanOrEqual(before[i]!));
  });

  it('accepts single and batch sends and delivers them in order with id, subject, properties and body intact', async () => {
    const { peer, client } = await setup();
    const sender = client.createSender('call-records');
    await sender.sendMessages({ body: { n: 1 }, messageId: 'm1', subject: 'first', applicationProperties: { kind: 'a', n: 1 } });
    await sender.sendMessages([
      { body: 'two', messageId: 'm2' },
      { body: Buffer.from('three'), messageId: 'm3' },
    ]);
    expect(peer.messages('call-records').map((m) => [m.messageId, m.state])).toEqual([
      ['m1', 'active'],
      ['m2', 'active'],
      ['m3', 'active'],
    ]);

    const receiver = client.createReceiver('call-records', noRenewal);
    const received = await receiver.receiveMessages(3, { maxWaitTimeInMs: 2000 });
    expect(received.map((m) => [m.messageId, m.body, m.deliveryCount, Number(m.sequenceNumber)])).toEqual([
      ['m1', { n: 1 }, 0, 1],
      ['m2', 'two', 0, 2],
      ['m3', Buffer.from('three'), 0, 3],
    ]);
    expect(received[0]).toMatchObject({ subject: 'first', applicationProperties: { kind: 'a', n: 1 } });
    expect(received[0]!.lockedUntilUtc!.getTime()).toBeGreaterThan(Date.now());
    for (const m of received) await receiver.completeMessage(m);
    expect(peer.messages('call-records').map((m) => m.state)).toEqual(['completed', 'completed', 'completed']);
    expect(peer.activeMessages('call-records')).toEqual([]);
  });

  it('reports a duplicate messageId as sent but drops it within the duplicate detection window', async () => {
    const { peer, client } = await setup();
    const sender = client.createSender('call-events');
    await sender.sendMessages({ body: 'one', messageId: 'evt-1', sessionId: 'call-1' });
    await sender.sendMessages([
      { body: 'one again', messageId: 'evt-1', sessionId: 'call-1' },
      { body: 'two', messageId: 'evt-2', sessionId: 'call-1' },
    ]);
    expect(peer.messages('call-events').map((m) => [m.messageId, m.body])).toEqual([
      ['evt-1', 'one'],
      ['evt-2', 'two'],
    ]);
  });

  it('redelivers an abandoned message with a higher delivery count and dead-letters it after maxDeliveryCount', async () => {
    const { peer, client } = await setup({ queues: [{ name: 'jobs', maxDeliveryCount: 2 }] });
    await client.createSender('jobs').sendMessages({ body: 'poison', messageId: 'p' });
    const receiver = client.createReceiver('jobs', noRenewal);
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    expect(first!.deliveryCount).toBe(0);
    await receiver.abandonMessage(first!);
    const [second] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    expect(second).toMatchObject({ messageId: 'p', deliveryCount: 1 });
    await receiver.abandonMessage(second!);

    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 100 })).toEqual([]);
    expect(peer.deadLetters('jobs')).toMatchObject([{ messageId: 'p', state: 'deadLettered', deliveryCount: 2 }]);
    const deadLetterReceiver = client.createReceiver('jobs', { subQueueType: 'deadLetter', ...noRenewal });
    const [dead] = await deadLetterReceiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    expect(dead).toMatchObject({ messageId: 'p', body: 'poison', deadLetterReason: 'MaxDeliveryCountExceeded', deadLetterSource: 'jobs' });
    await deadLetterReceiver.completeMessage(dead!);
  });

  it('dead-letters on request with the reason and description the receiver gave', async () => {
    const { peer, client } = await setup();
    await client.createSender('call-records').sendMessages({ body: 'bad', messageId: 'b' });
    const receiver = client.createReceiver('call-records', noRenewal);
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    await receiver.deadLetterMessage(message!, { deadLetterReason: 'SchemaInvalid', deadLetterErrorDescription: 'no callId' });
    expect(peer.deadLetters('call-records')).toMatchObject([
      { messageId: 'b', applicationProperties: { DeadLetterReason: 'SchemaInvalid', DeadLetterErrorDescription: 'no callId' } },
    ]);
  });

  it('moves a message whose time to live passed to the dead-letter sub-queue with reason TTLExpiredException, on a queue provisioned with deadLetteringOnMessageExpiration', async () => {
    const { peer, client } = await setup();
    const sender = client.createSender('call-records');
    await sender.sendMessages([
      { body: 'short', messageId: 'short', timeToLive: 40 },
      { body: 'long', messageId: 'long' },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const receiver = client.createReceiver('call-records', noRenewal);
    const received = await receiver.receiveMessages(2, { maxWaitTimeInMs: 300 });
    expect(received.map((m) => m.messageId)).toEqual(['long']);
    expect(peer.messages('call-records').map((m) => [m.messageId, m.state])).toEqual([
      ['short', 'deadLettered'],
      ['long', 'locked'],
    ]);
    const deadLetterReceiver = client.createReceiver('call-records', { subQueueType: 'deadLetter', ...noRenewal });
    const [dead] = await deadLetterReceiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    expect(dead).toMatchObject({
      messageId: 'short',
      body: 'short',
      deadLetterReason: 'TTLExpiredException',
      deadLetterErrorDescription: 'The message expired and was dead lettered.',
      deadLetterSource: 'call-records',
    });
    await deadLetterReceiver.completeMessage(dead!);
  });

  it('drops an expired message on a queue without deadLetteringOnMessageExpiration', async () => {
    const { peer, client } = await setup({ queues: [{ name: 'plain', defaultTimeToLiveMs: 60_000 }] });
    await client.createSender('plain').sendMessages({ body: 'short', messageId: 'short', timeToLive: 40 });
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await client.createReceiver('plain', noRenewal).receiveMessages(1, { maxWaitTimeInMs: 200 })).toEqual([]);
    expect(peer.messages('plain').map((m) => m.state)).toEqual(['expired']);
    expect(await client.createReceiver('plain', { subQueueType: 'deadLetter', ...noRenewal }).receiveMessages(1, { maxWaitTimeInMs: 200 })).toEqual([]);
  });

  it('runs the queues with the settings infra provisions (one source: infra/modules/servicebus-queues.json)', async () => {
    const { client } = await setup();
    // maxDeliveryCount 10: nine abandons leave the message in the queue, the tenth dead-letters it.
    await client.createSender('call-events').sendMessages({ body: 'x', messageId: 'x', sessionId: 'call-1' });
    const receiver = await client.acceptSession('call-events', 'call-1', noRenewal);
    for (let delivery = 1; delivery <= 10; delivery++) {
      const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
      expect(message?.deliveryCount, `delivery ${delivery}`).toBe(delivery - 1);
      await receiver.abandonMessage(message!);
    }
    const deadLetters = client.createReceiver('call-events', { subQueueType: 'deadLetter', ...noRenewal });
    const [dead] = await deadLetters.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    expect(dead).toMatchObject({ messageId: 'x', deadLetterReason: 'MaxDeliveryCountExceeded' });
  });

  it('locks a session to one receiver at a time, in order, and releases it when that receiver closes', async () => {
    const { client } = await setup();
    await client.createSender('call-events').sendMessages([
      { body: 1, messageId: 'a1', sessionId: 'call-a' },
      { body: 1, messageId: 'b1', sessionId: 'call-b' },
      { body: 2, messageId: 'a2', sessionId: 'call-a' },
    ]);
    const holder = await client.acceptSession('call-events', 'call-a', noRenewal);
    expect(holder.sessionId).toBe('call-a');
    expect(holder.sessionLockedUntilUtc!.getTime()).toBeGreaterThan(Date.now());

    const refused = await errorOf(client.acceptSession('call-events', 'call-a', noRenewal));
    expect(isServiceBusError(refused) && refused.code).toBe('SessionCannotBeLocked');

    const messages = await holder.receiveMessages(2, { maxWaitTimeInMs: 1000 });
    expect(messages.map((m) => [m.messageId, m.sessionId])).toEqual([
      ['a1', 'call-a'],
      ['a2', 'call-a'],
    ]);
    await holder.completeMessage(messages[0]!);
    await holder.close();

    const again = await client.acceptSession('call-events', 'call-a', noRenewal);
    const [redelivered] = await again.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    expect(redelivered).toMatchObject({ messageId: 'a2', deliveryCount: 1 });
    await again.close();

    // call-b now holds the oldest waiting message (b1 was enqueued before a2).
    const next = await client.acceptNextSession('call-events', noRenewal);
    expect(next.sessionId).toBe('call-b');
    await next.close();
  });

  it('gives acceptNextSession a ServiceTimeout at once when no unlocked session has messages', async () => {
    const { client } = await setup();
    const error = await errorOf(client.acceptNextSession('call-events', noRenewal));
    expect(isServiceBusError(error) && error.code).toBe('ServiceTimeout');
  });

  it('keeps session state, renews the session lock and peeks over the management node', async () => {
    const { client } = await setup();
    await client.createSender('call-events').sendMessages({ body: 'x', messageId: 'x', sessionId: 'call-s' });
    const receiver = await client.acceptSession('call-events', 'call-s', noRenewal);
    await receiver.setSessionState({ greeted: true });
    expect(await receiver.getSessionState()).toEqual({ greeted: true });
    const before = receiver.sessionLockedUntilUtc!.getTime();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const renewed = await receiver.renewSessionLock();
    expect(renewed.getTime()).toBeGreaterThan(before);
    expect((await receiver.peekMessages(5)).map((m) => m.messageId)).toEqual(['x']);
    await receiver.close();
  });

  it('detaches a session receiver whose lock expired and makes its messages available again', async () => {
    const { peer, client } = await setup({ queues: [{ name: 'q', requiresSession: true, lockDurationMs: 150 }] });
    await client.createSender('q').sendMessages({ body: 'x', messageId: 'x', sessionId: 's' });
    const receiver = await client.acceptSession('q', 's', noRenewal);
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 250));
    const error = await errorOf(receiver.completeMessage(message!));
    expect(isServiceBusError(error) && error.code).toBe('SessionLockLost');
    expect(peer.activeMessages('q')).toMatchObject([{ messageId: 'x', deliveryCount: 1 }]);
  });

  it('keeps a session lock alive while the client renews it automatically', async () => {
    const { client } = await setup({ queues: [{ name: 'q', requiresSession: true, lockDurationMs: 200 }] });
    await client.createSender('q').sendMessages({ body: 'x', messageId: 'x', sessionId: 's' });
    const receiver = await client.acceptSession('q', 's', { maxAutoLockRenewalDurationInMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 450));
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1000 });
    await receiver.completeMessage(message!);
    await receiver.close();
  });

  it('refuses a message without a session id on a session queue, without retrying', async () => {
    const { client } = await setup();
    const error = await errorOf(client.createSender('call-events').sendMessages({ body: 'x', messageId: 'x' }));
    expect(isServiceBusError(error) && error.code).toBe('GeneralError');
    expect((error as Error).message).toMatch(/SessionId was not set/);
  });

  it('refuses a client whose SAS key is wrong with UnauthorizedAccess', async () => {
    const { peer } = await setup();
    const wrong = peer.connectionString.replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=not-the-key');
    const client = new ServiceBusClient(wrong, clientOptions);
    cleanups.push(() => client.close());
    const error = await errorOf(client.createSender('call-records').sendMessages({ body: 'x', messageId: 'x' }));
    expect(isServiceBusError(error) && error.code).toBe('UnauthorizedAccess');
    expect(peer.messages('call-records')).toEqual([]);
  });

  it('answers an unknown queue with MessagingEntityNotFound naming the queue', async () => {
    const { client } = await setup();
    const error = await errorOf(client.createSender('no-such-queue').sendMessages({ body: 'x', messageId: 'x' }));
    expect(isServiceBusError(error) && error.code).toBe('MessagingEntityNotFound');
    expect((error as Error).message).toContain("'no-such-queue'");
  });

  it('goes down on stop (connections dropped, port closed, data kept) and comes back on the same port', async () => {
    const { peer, client } = await setup();
    await client.createSender('call-records').sendMessages({ body: 'kept', messageId: 'k' });
    await peer.stop();
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(peer.port, '127.0.0.1');
      socket.on('connect', () => (socket.destroy(), resolve('connected')));
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(peer.messages('call-records').map((m) => m.messageId)).toEqual(['k']);

    await peer.restart();
    const later = new ServiceBusClient(peer.connectionString, clientOptions);
    cleanups.push(() => later.close());
    const [message] = await later.createReceiver('call-records', noRenewal).receiveMessages(1, { maxWaitTimeInMs: 1000 });
    expect(message).toMatchObject({ messageId: 'k', body: 'kept' });
  });

});
