import {
  outboundAnswered,
  outboundBusy,
  outboundFailed,
  outboundNoAnswer,
  type CallEventMessage,
  type CallEventSource,
  type ResultInformation,
} from '../../shared/call-metadata.js';
import { attemptOfOperationContext, failureOutcomeOf, isOutboundCallId, type OutboundCallStatus } from '../../shared/outbound-call.js';
import type { CallLog, FunctionsDependencies } from '../context.js';
import { releaseCallSlot } from './concurrency.js';
import { statusChangeMessage } from './status-change-message.js';
import { unansweredCallRecord } from './unanswered-record.js';

/** The callback data the outbound steps read. */
export interface OutboundCallbackData {
  operationContext?: string | undefined;
  /** Names the attempt a CallDisconnected ends (it carries no operationContext of createCall). */
  callConnectionId?: string | undefined;
  resultInformation?: ResultInformation | undefined;
}

/** CreateCallFailed as call.outbound.busy / .no_answer / .failed, by ACS's result code. */
export function createCallFailedMessage(source: CallEventSource, data: OutboundCallbackData): CallEventMessage {
  const attempt = attemptOfOperationContext(data.operationContext) ?? 1;
  const payload = { attempt, ...(data.resultInformation ? { resultInformation: data.resultInformation } : {}) };
  const outcome = failureOutcomeOf(data.resultInformation);
  if (outcome === 'busy') return outboundBusy(source, payload);
  if (outcome === 'no_answer') return outboundNoAnswer(source, payload);
  return outboundFailed(source, payload);
}

/** CallConnected of an outbound call also yields call.outbound.answered. */
export function answeredMessages(callId: string, source: CallEventSource, data: OutboundCallbackData): CallEventMessage[] {
  if (!isOutboundCallId(callId)) return [];
  return [outboundAnswered({ ...source, eventId: `${source.eventId}:outbound` }, { attempt: attemptOfOperationContext(data.operationContext) ?? 1 })];
}

export type OutboundCallbackKind = 'connected' | 'createCallFailed' | 'disconnected';

/**
 * Moves the call's status on (answered, ended, busy...) and, when the call is over, gives its concurrency slot back.
 * A change that cannot be written now (the status locked by the trigger still placing the call, the bus failing) is
 * sent to the `outbound-calls` queue and applied there, where Service Bus delivers it again until it is
 * (functions/outbound/status-change.ts). Only if that send fails too is the change lost: reported, and the slot lapses.
 */
export async function recordOutboundStatus(deps: FunctionsDependencies, callId: string, kind: OutboundCallbackKind, data: OutboundCallbackData, log: CallLog): Promise<void> {
  if (!deps.outbound || !isOutboundCallId(callId)) return;
  try {
    await applyOutboundStatus(deps, callId, kind, data, log);
  } catch (error) {
    try {
      await deps.outbound.sendStatusChange(statusChangeMessage(callId, kind, data));
      log.warn('outbound status not written now: the change goes through the outbound-calls queue', { kind, error: (error as Error).message });
    } catch (sendError) {
      log.error('outbound status change lost: neither written nor queued; a held concurrency slot lapses after OUTBOUND_CONCURRENCY_SLOT_MAX_MS', {
        kind,
        error: (error as Error).message,
        sendError: (sendError as Error).message,
      });
    }
  }
}

/**
 * The call's last attempt failed: its record goes to `call-records` before the status is written, so a send that
 * fails leaves the change to be applied again (the record's messageId makes a second send harmless).
 */
export async function recordUnanswered(deps: FunctionsDependencies, final: OutboundCallStatus, log: CallLog): Promise<OutboundCallStatus> {
  const record = unansweredCallRecord(deps.config, final, deps.clock?.now() ?? new Date());
  await deps.outbound!.sendRecord(record);
  log.info('outbound call not answered on any attempt: record sent', { outcome: record.outbound?.outcome ?? null, attempt: final.attempt });
  return final;
}

/** The change itself; throws when the status or the slot could not be written. Applying it twice changes nothing more. */
export async function applyOutboundStatus(deps: FunctionsDependencies, callId: string, kind: OutboundCallbackKind, data: OutboundCallbackData, log: CallLog): Promise<void> {
  const outbound = deps.outbound;
  if (!outbound) return;
  const now = (deps.clock?.now() ?? new Date()).toISOString();
  await outbound.status.update(callId, async (current): Promise<OutboundCallStatus | undefined> => {
    if (!current) return undefined;
    // ACS posts CallConnected before CallDisconnected, but either may reach the store late (queued behind a lock),
    // so the two are merged whatever their order: a disconnect seen while ringing is kept until the connect comes.
    // The call stays `ringing` meanwhile, so a CreateCallFailed of the same attempt is still read as a failure.
    if (kind === 'connected') {
      if (current.state !== 'ringing') return undefined;
      if (current.disconnectedAt) return { ...current, state: 'ended', outcome: current.outcome ?? 'human', updatedAt: now };
      return { ...current, state: 'answered', updatedAt: now };
    }
    if (kind === 'disconnected') {
      if (current.state === 'answered') return { ...current, state: 'ended', outcome: current.outcome ?? 'human', updatedAt: now };
      const sameAttempt = data.callConnectionId !== undefined && data.callConnectionId === current.callConnectionId;
      if (current.state !== 'ringing' || !sameAttempt || current.disconnectedAt) return undefined;
      return { ...current, disconnectedAt: now, updatedAt: now };
    }
    const outcome = failureOutcomeOf(data.resultInformation);
    const { disconnectedAt: _disconnectedAt, ...attemptOver } = current;
    const failed = { ...attemptOver, outcome, ...(data.resultInformation ? { resultInformation: data.resultInformation } : {}), updatedAt: now };
    const attempt = attemptOfOperationContext(data.operationContext) ?? current.attempt;
    // A redelivered CreateCallFailed of an attempt already retried (or ended) changes nothing.
    if (attempt !== current.attempt || current.state !== 'ringing') return undefined;
    if (!current.request || current.attempt >= deps.config.OUTBOUND_MAX_ATTEMPTS) return recordUnanswered(deps, { ...failed, state: 'failed' }, log);
    const retryAt = new Date(Date.parse(now) + deps.config.OUTBOUND_RETRY_DELAY_MS).toISOString();
    await outbound.enqueue({ ...current.request, attempt: current.attempt + 1, notBefore: retryAt });
    log.info('outbound attempt failed; next attempt scheduled', { attempt: current.attempt, outcome, retryAt });
    return { ...failed, state: 'queued', attempt: current.attempt + 1, retryAt, request: { ...current.request, attempt: current.attempt + 1, notBefore: retryAt } };
  });
  if (kind === 'connected') return;
  // The call is over (or never started): its concurrency slot goes back.
  await releaseCallSlot(outbound.status, callId, attemptOfOperationContext(data.operationContext));
}
