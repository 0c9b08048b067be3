import type { ServiceBusClient, ServiceBusSender } from '@azure/service-bus';
import type { OutboundCallMessage } from '../../shared/outbound-call.js';
import type { CleanupMessage } from './cleanup.js';
import type { StatusChangeMessage } from './status-change-message.js';

/**
 * Sends outbound call attempts to the `outbound-calls` queue. messageId = `<callId>:<attempt>`, so duplicate
 * detection drops a second send of the same attempt; `notBefore` ahead makes it a scheduled message. `now` is the
 * app's clock (`deps.clock`): the schedule keeps the distance from it, so a shifted clock (the lab's tests of
 * calling hours) still waits the right time on the queue; in Azure both are the system clock.
 */
export function createOutboundQueueSender(client: ServiceBusClient, queueName: string, now: () => number = Date.now): {
  enqueue(message: OutboundCallMessage, options?: { messageIdSuffix?: string }): Promise<void>;
  scheduleCleanup(message: CleanupMessage, at: Date): Promise<void>;
  sendStatusChange(message: StatusChangeMessage): Promise<void>;
  close(): Promise<void>;
} {
  let sender: ServiceBusSender | undefined;
  return {
    async enqueue(message, options = {}) {
      sender ??= client.createSender(queueName);
      const aheadMs = message.notBefore ? Date.parse(message.notBefore) - now() : 0;
      const at = aheadMs > 0 ? new Date(Date.now() + aheadMs) : undefined;
      await sender.sendMessages({
        body: message,
        contentType: 'application/json',
        messageId: `${message.callId}:${message.attempt}${options.messageIdSuffix ?? ''}`,
        subject: 'outbound-call',
        ...(at ? { scheduledEnqueueTimeUtc: at } : {}),
      });
    },
    async scheduleCleanup(message, at) {
      sender ??= client.createSender(queueName);
      const aheadMs = at.getTime() - now();
      await sender.sendMessages({
        body: message,
        contentType: 'application/json',
        messageId: `cleanup:${message.session}:${at.getTime()}`,
        subject: 'outbound-cleanup',
        ...(aheadMs > 0 ? { scheduledEnqueueTimeUtc: new Date(Date.now() + aheadMs) } : {}),
      });
    },
    async sendStatusChange(message) {
      sender ??= client.createSender(queueName);
      // One message per change of an attempt: duplicate detection drops a second send of the same callback.
      await sender.sendMessages({
        body: message,
        contentType: 'application/json',
        messageId: `status:${message.callId}:${message.statusChange}:${message.operationContext ?? ''}`.slice(0, 128),
        subject: 'outbound-status-change',
      });
    },
    async close() {
      await sender?.close();
    },
  };
}
