import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import type { ServiceBusClient } from '@azure/service-bus';
import type { Logger } from '../shared/log.js';

/**
 * The lab's stand-in for the Functions host's Service Bus trigger (the local Functions host serves HTTP only):
 * receives each message of the queue with the real `@azure/service-bus` receiver and invokes the same handler the
 * app registers with `app.serviceBusQueue`. As the trigger: completed when the handler resolves, abandoned (and
 * delivered again, up to the queue's maxDeliveryCount) when it throws.
 */
export function startQueueTriggerConsumer(options: {
  client: ServiceBusClient;
  queueName: string;
  functionName: string;
  handler: (message: unknown, context: InvocationContext) => Promise<void>;
  maxConcurrentCalls?: number;
  logger: Logger;
}): { close(): Promise<void> } {
  const receiver = options.client.createReceiver(options.queueName);
  const subscription = receiver.subscribe(
    {
      processMessage: async (message) => {
        const context = new InvocationContext({ functionName: options.functionName, invocationId: randomUUID() });
        await options.handler(message.body, context);
      },
      processError: async (args) => {
        options.logger.warn({ queue: options.queueName, source: args.errorSource, error: args.error.message }, 'queue trigger: message not completed');
      },
    },
    { autoCompleteMessages: true, maxConcurrentCalls: options.maxConcurrentCalls ?? 4 },
  );
  return {
    async close() {
      // Bounded: while the bus is down the receiver is reconnecting, and its close would wait for that.
      const closing = subscription.close().then(() => receiver.close());
      await Promise.race([closing.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    },
  };
}
