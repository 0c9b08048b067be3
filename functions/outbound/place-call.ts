import type { CallInvite } from '@azure/communication-call-automation';
import type { InvocationContext } from '@azure/functions';
import { outboundFailed, outboundRequested, toBusMessage, type CallEventMessage } from '../../shared/call-metadata.js';
import { maskPhoneNumber } from '../../shared/privacy.js';
import { FINAL_OUTBOUND_STATES, isE164, outboundCallMessageSchema, outboundOperationContext, type OutboundCallMessage, type OutboundCallStatus } from '../../shared/outbound-call.js';
import { callLog, isFinalRefusal, restErrorOf, systemClock, type CallLog, type FunctionsDependencies } from '../context.js';
import { callbackUrlFor, mediaStreamingOptionsFor, mediaTransportUrlFor } from '../incoming-call.js';
import { checkOutboundPolicy } from './policy.js';
import { checkCallingHours } from './calling-hours.js';
import { releaseCallSlot, takeCallSlot } from './concurrency.js';
import { runStatusChange } from './status-change.js';
import { recordUnanswered } from './callbacks.js';
import { statusChangeMessageSchema } from './status-change-message.js';
import { cleanupMessageSchema, counterCleanupAt, runCleanup, statusCleanupAt } from './cleanup.js';
import type { OutboundStatusStore } from '../../shared/outbound-status-store.js';
import { createHash } from 'node:crypto';

/** A transient failure: the trigger abandons the message and Service Bus delivers it again. */
export class RetryLaterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

/**
 * The `outbound-calls` queue trigger: one message = one attempt to place one call. The message meets the same
 * checks as the API request (a message put on the queue directly gets no further), and the call is placed under
 * the call's status lock, at most once per attempt: a redelivered message finds the attempt already placed.
 */
export function createOutboundCallHandler(deps: FunctionsDependencies): (message: unknown, context: InvocationContext) => Promise<void> {
  const { config, callAutomation, publisher } = deps;
  const clock = deps.clock ?? systemClock;

  return async (body: unknown, context: InvocationContext): Promise<void> => {
    const json = typeof body === 'string' ? safeJson(body) : body;
    const baseLog = callLog(deps.logger, context, {});
    const cleanup = cleanupMessageSchema.safeParse(json);
    if (cleanup.success) {
      if (!deps.outbound) throw new RetryLaterError('outbound calling is not configured on this app');
      const outbound = deps.outbound;
      await runCleanup({ config, status: outbound.status, schedule: (m, at) => outbound.scheduleCleanup(m, at) }, cleanup.data, clock.now().getTime(), baseLog);
      return;
    }
    const statusChange = statusChangeMessageSchema.safeParse(json);
    if (statusChange.success) {
      // Thrown failures come back: Service Bus delivers the change again (up to the queue's maxDeliveryCount).
      await runStatusChange(deps, statusChange.data, callLog(deps.logger, context, { callId: statusChange.data.callId }));
      return;
    }
    const parsed = outboundCallMessageSchema.safeParse(json);
    if (!parsed.success) {
      // Completed without effect: a malformed request is not made right by redelivery.
      baseLog.error('outbound call message refused', { reason: parsed.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ') });
      return;
    }
    const message = parsed.data;
    const log = callLog(deps.logger, context, { callId: message.callId });
    const outbound = deps.outbound;
    if (!outbound) throw new RetryLaterError('outbound calling is not configured on this app');
    const now = clock.now();

    if (message.notBefore && Date.parse(message.notBefore) > now.getTime() + 1000) {
      // Delivered early (put on the queue without scheduling): scheduled again for its time, this copy completed.
      await outbound.enqueue(message, { messageIdSuffix: ':notBefore' });
      log.warn('outbound request delivered before its notBefore: scheduled again', { notBefore: message.notBefore });
      return;
    }

    await outbound.status.update(message.callId, async (current) => {
      if (current && (FINAL_OUTBOUND_STATES.has(current.state) || current.attempt > message.attempt || (current.attempt === message.attempt && current.state !== 'queued'))) {
        log.info('outbound attempt already handled: nothing placed', { attempt: message.attempt, state: current.state });
        return undefined;
      }
      // A status first written here (a message put on the queue past the API) gets its cleanup like one from the API.
      if (!current) await outbound.scheduleCleanup({ schemaVersion: 1, cleanup: 'status', session: message.callId }, statusCleanupAt(config, now.getTime()));
      const base: OutboundCallStatus = {
        callId: message.callId,
        state: 'queued',
        attempt: message.attempt,
        to: maskPhoneNumber(message.to),
        ...(message.profile ? { profile: message.profile } : {}),
        updatedAt: now.toISOString(),
        request: message,
      };
      const verdict = checkOutboundPolicy(config, message.to);
      if (!verdict.ok) {
        log.warn('outbound call refused at placing time', { reason: verdict.reason, to: maskPhoneNumber(message.to) });
        return { ...base, state: 'refused', reason: verdict.reason };
      }
      if (message.from && !config.OUTBOUND_CALLER_NUMBERS.includes(message.from)) {
        log.warn('outbound call refused: from is not one of our numbers', { from: maskPhoneNumber(message.from) });
        return { ...base, state: 'refused', reason: 'from is not in OUTBOUND_CALLER_NUMBERS' };
      }
      if (isE164(message.to) && !message.from) return { ...base, state: 'refused', reason: 'no caller number for a phone call' };
      const hours = await checkCallingHours(config, message.to, now.getTime());
      if (hours.kind === 'never') {
        log.warn('outbound call refused: never inside the calling hours', { reason: hours.reason });
        return { ...base, state: 'refused', reason: hours.reason };
      }
      if (hours.kind === 'later') {
        // Not refused: the same attempt comes back at the window's opening (the queue cannot bypass the hours).
        const until = hours.at.toISOString();
        await outbound.enqueue({ ...message, notBefore: until }, { messageIdSuffix: `:hours:${now.getTime()}` });
        log.info('outbound attempt deferred to the calling hours', { attempt: message.attempt, until, reason: hours.reason });
        return { ...base, deferredUntil: until, deferredBecause: hours.reason };
      }
      if (!(await takeCallSlot(outbound.status, config, message.callId, message.attempt, now.getTime()))) {
        // Not spun on: the attempt comes back a little later, and meets every check again then.
        const until = new Date(now.getTime() + config.OUTBOUND_CONCURRENCY_WAIT_MS).toISOString();
        await outbound.enqueue({ ...message, notBefore: until }, { messageIdSuffix: `:slot:${now.getTime()}` });
        const reason = `OUTBOUND_MAX_CONCURRENT (${config.OUTBOUND_MAX_CONCURRENT}) calls in progress`;
        log.info('outbound attempt waits for a concurrency slot', { attempt: message.attempt, until });
        return { ...base, deferredUntil: until, deferredBecause: reason };
      }
      try {
        const capped = await takeCaps(outbound.status, message.to, now, log);
        if (capped) {
          await releaseCallSlot(outbound.status, message.callId, message.attempt);
          log.warn('outbound call refused: cap reached', { reason: capped, to: maskPhoneNumber(message.to) });
          return { ...base, state: 'refused', reason: capped };
        }
        const placed = await place(message, base, log);
        if (placed.state !== 'ringing') await releaseCallSlot(outbound.status, message.callId, message.attempt);
        return placed;
      } catch (error) {
        // Nothing is in progress (createCall failed, or the caps could not be read): the slot goes back now.
        await releaseCallSlot(outbound.status, message.callId, message.attempt).catch(() => undefined);
        throw error;
      }
    });
  };

  async function place(message: OutboundCallMessage, base: OutboundCallStatus, log: CallLog): Promise<OutboundCallStatus> {
    const invite: CallInvite = isE164(message.to)
      ? { targetParticipant: { phoneNumber: message.to }, sourceCallIdNumber: { phoneNumber: message.from! } }
      : { targetParticipant: { communicationUserId: message.to } };
    let callConnectionId: string | undefined;
    try {
      const result = await callAutomation.createCall(invite, callbackUrlFor(config, message.callId), {
        mediaStreamingOptions: mediaStreamingOptionsFor(config, message.callId, message.profile),
        operationContext: outboundOperationContext(message.attempt),
      });
      callConnectionId = result.callConnectionProperties.callConnectionId;
    } catch (error) {
      const rest = restErrorOf(error);
      if (!isFinalRefusal(rest.status)) {
        log.error('createCall failed; the message will be delivered again', { status: rest.status ?? null, code: rest.code ?? null });
        throw new RetryLaterError(`createCall failed: ${rest.status ?? rest.message}`);
      }
      log.error('ACS refused createCall', { status: rest.status ?? null, code: rest.code ?? null, to: maskPhoneNumber(message.to) });
      await publish([outboundFailed(source(message, 'failed'), { attempt: message.attempt, resultInformation: { code: rest.status ?? 0, message: (rest.code ?? rest.message).slice(0, 200) } })], log);
      return recordUnanswered(deps, { ...base, state: 'failed', outcome: 'failed', resultInformation: { code: rest.status ?? 0, message: (rest.code ?? 'refused').slice(0, 200) } }, log);
    }
    log.info('outbound call placed', { attempt: message.attempt, to: maskPhoneNumber(message.to), callConnectionId: callConnectionId ?? null, ...(message.profile ? { profile: message.profile } : {}) });
    await publish(
      [
        outboundRequested(
          { ...source(message, 'requested'), ...(callConnectionId ? { callConnectionId } : {}) },
          {
            to: isE164(message.to) ? { kind: 'phoneNumber', rawId: `4:${message.to}`, phoneNumber: message.to } : { kind: 'communicationUser', rawId: message.to },
            ...(message.from ? { from: message.from } : {}),
            attempt: message.attempt,
            ...(message.profile ? { profile: message.profile } : {}),
            ...(message.context ? { context: message.context } : {}),
            mediaTransportUrl: mediaTransportUrlFor(config, message.callId, message.profile),
            ...(message.requestedBy ? { requestedBy: message.requestedBy } : {}),
          },
        ),
      ],
      log,
    );
    return { ...base, state: 'ringing', ...(callConnectionId ? { callConnectionId } : {}) };
  }

  /** Counts this attempt against the day's caps; the reason when one is reached (nothing is counted then). */
  async function takeCaps(store: OutboundStatusStore, to: string, now: Date, log: CallLog): Promise<string | undefined> {
    const day = now.toISOString().slice(0, 10);
    // The destination's key is a hash: session ids show up in Service Bus metrics and tools.
    const destination = createHash('sha256').update(to).digest('hex').slice(0, 32);
    const destinationKey = `cap-destination:${day}:${destination}`;
    const forDestination = await store.take(destinationKey, config.OUTBOUND_MAX_CALLS_PER_DESTINATION_PER_DAY);
    if (forDestination === false) {
      return `OUTBOUND_MAX_CALLS_PER_DESTINATION_PER_DAY (${config.OUTBOUND_MAX_CALLS_PER_DESTINATION_PER_DAY}) reached for this number today (UTC)`;
    }
    if (forDestination === 1) await scheduleCounterCleanup(destinationKey, day, log);
    const forDay = await store.take(`cap-day:${day}`, config.OUTBOUND_MAX_CALLS_PER_DAY);
    if (forDay === false) return `OUTBOUND_MAX_CALLS_PER_DAY (${config.OUTBOUND_MAX_CALLS_PER_DAY}) reached today (UTC)`;
    if (forDay === 1) await scheduleCounterCleanup(`cap-day:${day}`, day, log);
    return undefined;
  }

  /** A day's counter is cleared once the day is over; a cleanup not sent leaves one small session behind, reported. */
  async function scheduleCounterCleanup(key: string, day: string, log: CallLog): Promise<void> {
    try {
      await deps.outbound!.scheduleCleanup({ schemaVersion: 1, cleanup: 'counter', session: key }, counterCleanupAt(day));
    } catch (error) {
      log.error('cleanup of a cap counter not scheduled: its session state stays', { error: restErrorOf(error).message });
    }
  }

  function source(message: OutboundCallMessage, what: string) {
    return { callId: message.callId, eventId: `outbound:${message.callId}:${message.attempt}:${what}`, occurredAt: clock.now() };
  }

  /** The call is placed whatever happens here: a publish failure is logged, not retried (that would place it again). */
  async function publish(messages: CallEventMessage[], log: CallLog): Promise<void> {
    try {
      await publisher.publish(messages.map(toBusMessage), { deadlineMs: config.PUBLISH_DEADLINE_MS });
    } catch (error) {
      log.error('publishing outbound call events failed', { types: messages.map((m) => m.type), error: restErrorOf(error).message });
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
