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

  it('holds a message scheduled 30 days ahead (an outbound status cleanup) without a timer Node cannot keep, and still delivers one due soon', async () => {
    const overflows: string[] = [];
    const onWarning = (warning: Error) => {
      if (warning.name === 'TimeoutOverflowWarning') overflows.push(warning.message);
    };
    process.on('warning', onWarning);
    try {
      peer = await startServiceBusPeer({ queues: [{ name: 'q' }] });
      client = new ServiceBusClient(peer.connectionString, { retryOptions: testClientRetryOptions });
      const sender = client.createSender('q');
      await sender.sendMessages({ body: 'in 30 days', messageId: 'far', scheduledEnqueueTimeUtc: new Date(Date.now() + 30 * 86_400_000) });
      await sender.sendMessages({ body: 'soon', messageId: 'soon', scheduledEnqueueTimeUtc: new Date(Date.now() + 300) });
      const receiver = client.createReceiver('q');
      const received = await receiver.receiveMessages(5, { maxWaitTimeInMs: 3000 });
      expect(received.map((m) => m.body)).toEqual(['soon']);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(overflows).toEqual([]);
      await receiver.close();
      await sender.close();
    } finally {
      process.off('warning', onWarning);
    }
  });
});
