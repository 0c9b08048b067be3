import type { ServiceBusClient, ServiceBusSender } from '@azure/service-bus';
import type { OutboundCallMessage } from '../../shared/outbound-call.js';

/**
 * Sends outbound call attempts to the `outbound-calls` queue. messageId = `<callId>:<attempt>`, so duplicate
 * detection drops a second send of the same attempt; `notBefore` ahead makes it a scheduled message.
 */
export function createOutboundQueueSender(client: ServiceBusClient, queueName: string): { enqueue(message: OutboundCallMessage, options?: { messageIdSuffix?: string }): Promise<void>; close(): Promise<void> } {
  let sender: ServiceBusSender | undefined;
  return {
    async enqueue(message, options = {}) {
      sender ??= client.createSender(queueName);
      const at = message.notBefore ? new Date(message.notBefore) : undefined;
      await sender.sendMessages({
        body: message,
        contentType: 'application/json',
        messageId: `${message.callId}:${message.attempt}${options.messageIdSuffix ?? ''}`,
        subject: 'outbound-call',
        ...(at && at.getTime() > Date.now() ? { scheduledEnqueueTimeUtc: at } : {}),
      });
    },
    async close() {
      await sender?.close();
    },
  };
}
