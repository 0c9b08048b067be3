import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import type { ServiceBusClient, ServiceBusReceivedMessage } from '@azure/service-bus';
import type { Logger } from '../shared/log.js';

const SETTLE_TURN_MAX_MS = 2000;

/**
 * The Functions host's Service Bus queue listener, as the lab runs it: the real `@azure/service-bus` receiver in
 * peek-lock mode, each message completed when `invoke` resolves and abandoned when it throws (so Service Bus
 * delivers it again, up to the queue's maxDeliveryCount, then dead-letters it), as the extension's
 * autoCompleteMessages (its default) does. `skipParsingBodyAsJson` hands `invoke` the body's bytes, as the host gets them.
 *
 * Messages are handled concurrently (`maxConcurrentCalls`) but settled one at a time. rhea 3.0.5, under the SDK,
 * writes pending dispositions of consecutive deliveries as one range with the first one's outcome, without comparing
 * the second's (`write_dispositions` in rhea/lib/session.js): a message abandoned in the same tick as the one before it
 * was completed is completed too, and lost. The host's own (.NET) listener has no such flaw, so the lab must not
 * have it either: each settlement waits for the one before it (`settlement-order.test.ts`).
 */
export function startServiceBusListener(options: {
  client: ServiceBusClient;
  queueName: string;
  invoke: (message: ServiceBusReceivedMessage) => Promise<void>;
  maxConcurrentCalls?: number;
  maxAutoLockRenewalDurationInMs?: number;
  skipParsingBodyAsJson?: boolean;
  logger: Logger;
}): { close(): Promise<void> } {
  const receiver = options.client.createReceiver(options.queueName, {
    receiveMode: 'peekLock',
    ...(options.skipParsingBodyAsJson ? { skipParsingBodyAsJson: true } : {}),
    ...(options.maxAutoLockRenewalDurationInMs !== undefined ? { maxAutoLockRenewalDurationInMs: options.maxAutoLockRenewalDurationInMs } : {}),
  });
  let settled: Promise<void> = Promise.resolve();
  const settleInTurn = (message: ServiceBusReceivedMessage, handled: boolean): Promise<void> => {
    const settle = async () => {
      try {
        await (handled ? receiver.completeMessage(message) : receiver.abandonMessage(message));
      } catch (error) {
        options.logger.warn({ queue: options.queueName, source: handled ? 'complete' : 'abandon', error: (error as Error).message }, 'queue trigger: message not completed');
      }
    };
    // The turn passes on once the peer has answered, or after a while on a dead link (the SDK would wait 60 s).
    const turn = settled.then(() => Promise.race([settle(), new Promise<void>((resolve) => setTimeout(resolve, SETTLE_TURN_MAX_MS).unref())]));
    settled = turn;
    return turn;
  };
  const subscription = receiver.subscribe(
    {
      processMessage: async (message) => {
        let handled = true;
        try {
          await options.invoke(message);
        } catch (error) {
          handled = false;
          options.logger.warn({ queue: options.queueName, source: 'processMessage', error: (error as Error).message }, 'queue trigger: message not completed');
        }
        await settleInTurn(message, handled);
      },
      processError: async (args) => {
        options.logger.warn({ queue: options.queueName, source: args.errorSource, error: args.error.message }, 'queue trigger: message not completed');
      },
    },
    { autoCompleteMessages: false, maxConcurrentCalls: options.maxConcurrentCalls ?? 4 },
  );
  return {
    async close() {
      // Bounded: while the bus is down the receiver is reconnecting, and its close would wait for that.
      const closing = subscription.close().then(() => receiver.close());
      await Promise.race([closing.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    },
  };
}

/**
 * The in-process lab's stand-in for the Functions host's Service Bus trigger (the local Functions host serves HTTP
 * only): the same handler the app registers with `app.serviceBusQueue`, given the parsed body and a fresh
 * InvocationContext. The packaged app's own trigger is run by lab/functions-app-host.ts instead.
 */
export function startQueueTriggerConsumer(options: {
  client: ServiceBusClient;
  queueName: string;
  functionName: string;
  handler: (message: unknown, context: InvocationContext) => Promise<void>;
  maxConcurrentCalls?: number;
  logger: Logger;
}): { close(): Promise<void> } {
  return startServiceBusListener({
    client: options.client,
    queueName: options.queueName,
    logger: options.logger,
    ...(options.maxConcurrentCalls !== undefined ? { maxConcurrentCalls: options.maxConcurrentCalls } : {}),
    invoke: async (message) => {
      const context = new InvocationContext({ functionName: options.functionName, invocationId: randomUUID() });
      await options.handler(message.body, context);
    },
  });
}
