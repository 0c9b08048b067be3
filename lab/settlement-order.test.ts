import { afterEach, describe, expect, it } from 'vitest';
import { ServiceBusClient } from '@azure/service-bus';
import { silentLogger } from '../shared/log.js';
import { startServiceBusListener } from './outbound-consumer.js';
import { startServiceBusPeer, type ServiceBusPeer } from './servicebus/peer.js';

/**
 * Why the lab's queue-trigger listener settles one message at a time: rhea 3.0.5 (under @azure/service-bus) writes the
 * pending dispositions of consecutive deliveries as one range carrying the first one's outcome, so an abandon settled
 * in the same tick as the complete before it becomes a complete, and the message is lost. The peer acts on the frame
 * as Service Bus would.
 */
describe('settling messages of one receiver', () => {
  let peer: ServiceBusPeer | undefined;
  let client: ServiceBusClient | undefined;
  afterEach(async () => {
    await client?.close();
    await peer?.close();
  });

  const start = async () => {
    peer = await startServiceBusPeer({ queues: [{ name: 'jobs', maxDeliveryCount: 5 }] });
    client = new ServiceBusClient(peer.connectionString);
    const sender = client.createSender('jobs');
    await sender.sendMessages([{ body: 'good', messageId: 'good' }, { body: 'bad', messageId: 'bad' }]);
    await sender.close();
    return { peer, client };
  };

  it('rhea 3.0.5: a complete and an abandon of consecutive deliveries settled in one tick both arrive as the complete', async () => {
    const { peer, client } = await start();
    const receiver = client.createReceiver('jobs');
    const [good, bad] = await receiver.receiveMessages(2, { maxWaitTimeInMs: 5000 });
    expect([good?.messageId, bad?.messageId]).toEqual(['good', 'bad']);
    await Promise.all([receiver.completeMessage(good!), receiver.abandonMessage(bad!)]);
    // If this starts failing, rhea compares the outcomes of a range now, and the listener's one-at-a-time settling can go.
    expect(peer.messages('jobs').map((m) => [m.messageId, m.state])).toEqual([
      ['good', 'completed'],
      ['bad', 'completed'],
    ]);
  });

  it("the lab's listener handles messages concurrently and settles each as its handler ended: the failed one comes again", async () => {
    const { peer, client } = await start();
    const deliveries: string[] = [];
    let arrived!: () => void;
    const bothArrived = new Promise<void>((resolve) => (arrived = resolve));
    const listener = startServiceBusListener({
      client,
      queueName: 'jobs',
      maxConcurrentCalls: 4,
      logger: silentLogger,
      invoke: async (message) => {
        deliveries.push(`${String(message.messageId)}#${message.deliveryCount}`);
        if (deliveries.length === 2) arrived();
        // Both handlers end in the same tick: without settling in turn, the abandon would ride on the complete.
        await bothArrived;
        if (message.messageId === 'bad' && message.deliveryCount === 0) throw new Error('fails on its first delivery');
      },
    });
    try {
      await expect.poll(() => peer.messages('jobs').map((m) => m.state), { timeout: 10_000 }).toEqual(['completed', 'completed']);
      expect(deliveries).toEqual(['good#0', 'bad#0', 'bad#1']);
    } finally {
      await listener.close();
    }
  });
});
