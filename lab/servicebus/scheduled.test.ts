import { ServiceBusClient } from '@azure/service-bus';
import { afterEach, describe, expect, it } from 'vitest';
import { startServiceBusPeer, testClientRetryOptions, type ServiceBusPeer } from './peer.js';

describe('Service Bus peer: scheduled messages', () => {
  let peer: ServiceBusPeer;
  let client: ServiceBusClient;
  afterEach(async () => {
    await client.close();
    await peer.close();
  });

  it('keeps a message sent with scheduledEnqueueTimeUtc from receivers until its time, then delivers it', async () => {
    peer = await startServiceBusPeer({ queues: [{ name: 'q' }] });
    client = new ServiceBusClient(peer.connectionString, { retryOptions: testClientRetryOptions });
    const sender = client.createSender('q');
    const at = new Date(Date.now() + 700);
    await sender.sendMessages([{ body: 'later', messageId: 'later', scheduledEnqueueTimeUtc: at }, { body: 'now', messageId: 'now' }]);
    const receiver = client.createReceiver('q');
    const first = await receiver.receiveMessages(5, { maxWaitTimeInMs: 300 });
    expect(first.map((m) => m.body)).toEqual(['now']);
    await receiver.completeMessage(first[0]!);
    const second = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
    expect(second.map((m) => m.body)).toEqual(['later']);
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime() - 5);
    await receiver.close();
    await sender.close();
  });
});
