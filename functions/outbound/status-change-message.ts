import { z } from 'zod';
import { resultInformationSchema } from '../../shared/call-metadata.js';
import { isOutboundCallId } from '../../shared/outbound-call.js';

/**
 * A callback's status change that could not be written when the callback came (the call's status was locked by
 * the trigger still placing it, or the bus failed): sent to the `outbound-calls` queue and applied by the trigger,
 * which Service Bus delivers again while it fails. Without it a CreateCallFailed that lands during the placing
 * would leave the call `ringing` for good, with no retry and its concurrency slot held until it lapses.
 */
export const statusChangeMessageSchema = z
  .object({
    schemaVersion: z.literal(1),
    statusChange: z.enum(['connected', 'createCallFailed', 'disconnected']),
    callId: z.string().refine(isOutboundCallId, 'must be an outbound callId'),
    operationContext: z.string().max(256).optional(),
    callConnectionId: z.string().min(1).max(256).optional(),
    resultInformation: resultInformationSchema.optional(),
  })
  .strict();
export type StatusChangeMessage = z.infer<typeof statusChangeMessageSchema>;

export function statusChangeMessage(callId: string, kind: StatusChangeMessage['statusChange'], data: { operationContext?: string | undefined; callConnectionId?: string | undefined; resultInformation?: StatusChangeMessage['resultInformation'] }): StatusChangeMessage {
  return {
    schemaVersion: 1,
    statusChange: kind,
    callId,
    ...(data.operationContext !== undefined ? { operationContext: data.operationContext.slice(0, 256) } : {}),
    ...(data.callConnectionId !== undefined ? { callConnectionId: data.callConnectionId.slice(0, 256) } : {}),
    ...(data.resultInformation ? { resultInformation: data.resultInformation } : {}),
  };
}

