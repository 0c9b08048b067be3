import type { ServiceBusClient, ServiceBusSender } from '@azure/service-bus';
import { toCallRecordBusMessage } from '../../shared/call-record.js';
import type { FunctionsConfig } from '../../shared/config/functions.js';
import { ServiceBusStatusStore } from '../../shared/outbound-status-store.js';
import type { OutboundDependencies } from '../context.js';
import { createOutboundQueueSender } from './request-queue.js';

/**
 * The outbound path's Service Bus parts: the status store, the `outbound-calls` queue, and `call-records` for the
 * record of a call no attempt of which was answered. `now` is the app's clock (a shifted one in the lab's tests).
 */
export function createOutboundDependencies(
  client: ServiceBusClient,
  config: Pick<FunctionsConfig, 'OUTBOUND_STATUS_QUEUE' | 'OUTBOUND_CALLS_QUEUE' | 'CALL_RECORDS_QUEUE'>,
  now?: () => number,
): OutboundDependencies & { close(): Promise<void> } {
  const queue = createOutboundQueueSender(client, config.OUTBOUND_CALLS_QUEUE, now);
  let records: ServiceBusSender | undefined;
  return {
    status: new ServiceBusStatusStore(client, config.OUTBOUND_STATUS_QUEUE),
    enqueue: (message, options) => queue.enqueue(message, options),
    scheduleCleanup: (message, at) => queue.scheduleCleanup(message, at),
    sendStatusChange: (message) => queue.sendStatusChange(message),
    async sendRecord(record) {
      records ??= client.createSender(config.CALL_RECORDS_QUEUE);
      // messageId `<callId>:record`: a record sent again (a change applied twice) is stored once.
      await records.sendMessages({ ...toCallRecordBusMessage(record), contentType: 'application/json' });
    },
    async close() {
      await Promise.all([queue.close(), records?.close()]);
    },
  };
}
