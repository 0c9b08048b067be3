import type { CallAutomationClient, MediaStreamingOptions } from '@azure/communication-call-automation';
import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { CALL_ID_RULE, isValidCallId } from '../shared/call-id.js';
import { callAnswered, callAnswerRefused, callIncoming, toBusMessage, type CallEventMessage, type Party } from '../shared/call-metadata.js';
import type { FunctionsConfig } from '../shared/config/functions.js';
import { maskPhoneNumber } from '../shared/privacy.js';
import { identifierModelSchema, toParty } from './acs-identifiers.js';
import {
  callLog,
  createFunctionsState,
  isFinalRefusal,
  restErrorOf,
  systemClock,
  type CallLog,
  type FunctionsDependencies,
  type IncomingCallState,
} from './context.js';
import { cloudEventsHandshake, DeliveryError, describe, parseDelivery, readBody, type DeliveredEvent, type RejectedEvent } from './event-grid.js';
import { runExclusively } from './dedup.js';
import { agentProfileFor, screenCall } from './screening.js';

export const INCOMING_CALL_EVENT = 'Microsoft.Communication.IncomingCall';
export const ANSWER_OPERATION_CONTEXT = 'answer';
/**
 * Events one delivery may carry. Event Grid batches only when the subscription opts in (maxEventsPerBatch, up
 * to 5,000); the IncomingCall subscription is created with 1 (infra/hooks/postdeploy.*), and an IncomingCall
 * must be answered within seconds, so a batch is never worth waiting for. A larger delivery is not from our
 * subscription: it is refused whole, before any answer or publish (a partial 200 would drop the rest unseen).
 */
export const MAX_EVENTS_PER_DELIVERY = 1;

export const incomingCallDataSchema = z.object({
  to: identifierModelSchema,
  from: identifierModelSchema,
  serverCallId: z.string().min(1).optional(),
  callerDisplayName: z.string().optional(),
  incomingCallContext: z.string().min(1),
  correlationId: z.string().refine(isValidCallId, `must be ${CALL_ID_RULE} (it becomes the callId)`),
});

/** Where ACS posts this call's mid-call events. */
export const callbackUrlFor = (config: Pick<FunctionsConfig, 'CALLBACK_BASE_URL'>, callId: string) =>
  `${config.CALLBACK_BASE_URL}/api/callbacks/${encodeURIComponent(callId)}`;

/**
 * Where ACS opens this call's media WebSocket: the worker names the call, and picks the agent profile, from the
 * path. A media restart (`startMediaStreaming`) carries no URL: ACS reconnects to this one.
 */
export const mediaTransportUrlFor = (config: Pick<FunctionsConfig, 'WORKER_MEDIA_URL'>, callId: string, profile?: string) =>
  `${config.WORKER_MEDIA_URL}/${encodeURIComponent(callId)}${profile ? `/${profile}` : ''}`;

export function mediaStreamingOptionsFor(
  config: Pick<FunctionsConfig, 'WORKER_MEDIA_URL' | 'MEDIA_AUDIO_FORMAT' | 'MEDIA_AUDIO_CHANNEL'>,
  callId: string,
  profile?: string,
): MediaStreamingOptions {
  return {
    transportType: 'websocket',
    transportUrl: mediaTransportUrlFor(config, callId, profile),
    contentType: 'audio',
    audioChannelType: config.MEDIA_AUDIO_CHANNEL,
    startMediaStreaming: true,
    enableBidirectional: true,
    audioFormat: config.MEDIA_AUDIO_FORMAT,
    enableDtmfTones: true,
  };
}

type CallOutcome =
  | { kind: 'answered' | 'alreadyHandled' | 'declined' | 'answerRefused' }
  | { kind: 'retry'; reason: string };

interface IncomingCall {
  event: DeliveredEvent;
  callId: string;
  incomingCallContext: string;
  serverCallId?: string | undefined;
  from: Party;
  to: Party;
  callerDisplayName: string;
}

/**
 * POST (and OPTIONS) /api/incomingCall: the Event Grid webhook. Answers each IncomingCall of the batch with
 * media streaming to the worker while publishing call.incoming, then publishes call.answered. Nothing slow
 * stands before answerCall. The response tells Event Grid whether to redeliver (503) or not (200/4xx).
 */
export function createIncomingCallHandler(deps: FunctionsDependencies): HttpHandler {
  const { config, callAutomation, publisher } = deps;
  const clock = deps.clock ?? systemClock;
  const state = deps.state ?? createFunctionsState();
  const allowedSubscriptions = new Set(config.EVENTGRID_SUBSCRIPTION_NAMES.map((n) => n.toLowerCase()));

  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    if (request.method === 'OPTIONS') return cloudEventsHandshake(request);
    const requestLog = callLog(deps.logger, context, {});

    if (allowedSubscriptions.size > 0) {
      const subscription = request.headers.get('aeg-subscription-name')?.toLowerCase();
      if (!subscription || !allowedSubscriptions.has(subscription)) {
        requestLog.warn('delivery from an unexpected Event Grid subscription refused', { subscription: subscription ?? null });
        return { status: 403, jsonBody: { error: 'unexpected or missing aeg-subscription-name' } };
      }
    }
    if (request.headers.get('aeg-event-type') === 'SubscriptionDeletion') return { status: 200 };

    let delivery;
    try {
      delivery = parseDelivery(await readBody(request), clock.now);
    } catch (error) {
      if (!(error instanceof DeliveryError)) throw error;
      requestLog.warn('malformed Event Grid delivery refused', { reason: error.message });
      return { status: 400, jsonBody: { error: error.message } };
    }
    if (delivery.kind === 'validation') {
      requestLog.info('Event Grid subscription validation answered');
      return { status: 200, jsonBody: { validationResponse: delivery.validationCode } };
    }

    const eventCount = delivery.events.length + delivery.rejected.length;
    if (eventCount > MAX_EVENTS_PER_DELIVERY) {
      requestLog.warn('delivery with more events than the subscription sends refused', { events: eventCount, max: MAX_EVENTS_PER_DELIVERY });
      return {
        status: 413,
        jsonBody: {
          error: `delivery holds ${eventCount} events; this endpoint takes at most ${MAX_EVENTS_PER_DELIVERY} per delivery (the IncomingCall subscription is created with maxEventsPerBatch ${MAX_EVENTS_PER_DELIVERY}); nothing was answered or published`,
        },
      };
    }

    const rejected: RejectedEvent[] = [...delivery.rejected];
    const calls: IncomingCall[] = [];
    delivery.events.forEach((event, index) => {
      if (event.type !== INCOMING_CALL_EVENT) {
        rejected.push({ index, id: event.id, reason: `wrong event type ${event.type}: this endpoint takes ${INCOMING_CALL_EVENT} only` });
        return;
      }
      const data = incomingCallDataSchema.safeParse(event.data);
      if (!data.success) {
        rejected.push({ index, id: event.id, reason: `IncomingCall data ${describe(data.error)}` });
        return;
      }
      calls.push({
        event,
        callId: data.data.correlationId,
        incomingCallContext: data.data.incomingCallContext,
        serverCallId: data.data.serverCallId,
        from: toParty(data.data.from),
        to: toParty(data.data.to),
        callerDisplayName: data.data.callerDisplayName ?? '',
      });
    });
    for (const r of rejected) requestLog.warn('event refused', { eventId: r.id ?? null, index: r.index, reason: r.reason });
    if (calls.length === 0) {
      return { status: 400, jsonBody: { error: 'no usable IncomingCall event in the delivery', rejected } };
    }

    const outcomes = await Promise.all(calls.map((call) => handleOnce(call, context)));
    const retry = outcomes.filter((o): o is { kind: 'retry'; reason: string } => o.kind === 'retry');
    const results = calls.map((c, i) => ({ eventId: c.event.id, callId: c.callId, outcome: outcomes[i]?.kind }));
    if (retry.length > 0) {
      return { status: 503, headers: { 'Retry-After': '10' }, jsonBody: { error: 'some calls need redelivery', reasons: retry.map((r) => r.reason), results } };
    }
    return { status: 200, jsonBody: { results, ...(rejected.length ? { rejected } : {}) } };
  };

  /** A concurrent duplicate of a call being handled waits for that handling rather than answering again. */
  function handleOnce(call: IncomingCall, context: InvocationContext): Promise<CallOutcome> {
    return runExclusively(state.inFlight, `incomingCall:${call.callId}`, () =>
      handle(call, callLog(deps.logger, context, { callId: call.callId, eventId: call.event.id })),
    );
  }

  async function handle(call: IncomingCall, log: CallLog): Promise<CallOutcome> {
    const known = state.incomingCalls.get(call.callId);
    if (known?.published) {
      log.info('duplicate IncomingCall ignored: already handled on this instance');
      return { kind: 'alreadyHandled' };
    }
    const callers = { from: maskPhoneNumber(call.from.phoneNumber ?? call.from.rawId), to: maskPhoneNumber(call.to.phoneNumber ?? call.to.rawId) };

    const screening = screenCall(config, call);
    if (!screening.forUs) return decline(call, screening.reason, callers, log);
    const profile = agentProfileFor(config, call.to);

    const record: IncomingCallState = known ?? { published: false };
    const source = { callId: call.callId, eventId: call.event.id, occurredAt: call.event.time, serverCallId: call.serverCallId };
    const incoming = callIncoming(source, { from: call.from, to: call.to, callerDisplayName: call.callerDisplayName });
    if (!known) {
      // call.incoming goes out while ACS answers (never before: the answer waits for nothing), so the call's
      // session reads incoming -> answered -> connected even when CallConnected comes back quickly.
      const incomingPublished = publish([incoming], log);
      try {
        const result = await answer(callAutomation, config, call, profile);
        record.answered = result;
        log.info('call answered', {
          ...callers,
          callConnectionId: result.callConnectionId,
          audioFormat: config.MEDIA_AUDIO_FORMAT,
          audioChannel: config.MEDIA_AUDIO_CHANNEL,
          ...(profile ? { profile } : {}),
        });
      } catch (error) {
        const rest = restErrorOf(error);
        if (!isFinalRefusal(rest.status)) {
          log.error('answerCall failed; asking Event Grid to redeliver', { status: rest.status ?? null, code: rest.code ?? null, error: rest.message });
          // The redelivery publishes call.incoming again; duplicate detection drops it if this one went out.
          await incomingPublished;
          return { kind: 'retry', reason: `answerCall failed: ${rest.status ?? rest.message}` };
        }
        // ACS will not take this context again: an earlier delivery answered it, or the call is gone.
        record.answerRefused = { status: rest.status ?? 0, code: rest.code };
        log.warn('ACS refused the answer (already answered or no longer ringing)', { status: rest.status ?? null, code: rest.code ?? null });
      }
      state.incomingCalls.set(call.callId, record);
      // Sent right behind call.incoming on the same sender (not after it is confirmed): a CallConnected
      // callback arriving meanwhile queues its message behind both, even while the first link still opens.
      // A refused answer is published as such, so the session does not read as a call waiting for its worker.
      const answeredPublished = publish([outcomeMessage(source, record, profile)], log);
      const failed = (await incomingPublished) ?? (await answeredPublished);
      if (failed) {
        await answeredPublished;
        return failed;
      }
    } else {
      log.info('redelivered IncomingCall: not answering again, publishing only');
      // What went out before is dropped by duplicate detection (same messageIds).
      const failed = await publish([incoming, outcomeMessage(source, record, profile)], log);
      if (failed) return failed;
    }
    record.published = true;
    state.incomingCalls.set(call.callId, record);
    return { kind: record.answered ? 'answered' : 'answerRefused' };
  }

  /** call.answered, or call.answerRefused when ACS refused the answer for good. */
  function outcomeMessage(
    source: { callId: string; eventId: string; occurredAt: Date | string; serverCallId?: string | undefined },
    record: IncomingCallState,
    profile: string | undefined,
  ): CallEventMessage {
    if (record.answered) return answeredMessage(source, record.answered, profile);
    const refused = record.answerRefused ?? { status: 0 };
    return callAnswerRefused({ ...source, eventId: `${source.eventId}:answerRefused` }, { status: refused.status, ...(refused.code ? { code: refused.code } : {}) });
  }

  function answeredMessage(
    source: { callId: string; eventId: string; occurredAt: Date | string; serverCallId?: string | undefined },
    answered: NonNullable<IncomingCallState['answered']>,
    profile: string | undefined,
  ): CallEventMessage {
    return callAnswered(
      { ...source, eventId: `${source.eventId}:answered`, serverCallId: answered.serverCallId ?? source.serverCallId, callConnectionId: answered.callConnectionId },
      {
        callbackUrl: callbackUrlFor(config, source.callId),
        mediaTransportUrl: mediaTransportUrlFor(config, source.callId, profile),
        audioFormat: config.MEDIA_AUDIO_FORMAT,
        ...(profile ? { profile } : {}),
      },
    );
  }

  /** Publishes within PUBLISH_DEADLINE_MS; resolves with the retry outcome when the bus stayed unavailable, never rejects. */
  async function publish(messages: CallEventMessage[], log: CallLog): Promise<CallOutcome | undefined> {
    try {
      await publisher.publish(messages.map(toBusMessage), { deadlineMs: config.PUBLISH_DEADLINE_MS });
      log.info('call metadata published', { types: messages.map((m) => m.type) });
      return undefined;
    } catch (error) {
      const rest = restErrorOf(error);
      log.error('publishing call metadata failed within the deadline; asking Event Grid to redeliver', { code: rest.code ?? null, error: rest.message });
      return { kind: 'retry', reason: `publish failed: ${rest.code ?? rest.message}` };
    }
  }

  async function decline(call: IncomingCall, reason: string, callers: Record<string, string>, log: CallLog): Promise<CallOutcome> {
    const action = config.NOT_FOR_US_ACTION;
    try {
      if (action === 'redirect' && config.NOT_FOR_US_REDIRECT_TO) {
        await callAutomation.redirectCall(call.incomingCallContext, { targetParticipant: { phoneNumber: config.NOT_FOR_US_REDIRECT_TO } });
      } else {
        await callAutomation.rejectCall(call.incomingCallContext, { callRejectReason: config.CALL_REJECT_REASON });
      }
    } catch (error) {
      const rest = restErrorOf(error);
      if (!isFinalRefusal(rest.status)) {
        log.error(`${action} failed; asking Event Grid to redeliver`, { status: rest.status ?? null, error: rest.message });
        return { kind: 'retry', reason: `${action} failed: ${rest.status ?? rest.message}` };
      }
      log.warn(`ACS refused the ${action} (call already handled or gone)`, { status: rest.status ?? null, code: rest.code ?? null });
    }
    state.incomingCalls.set(call.callId, { declined: action, published: true });
    log.info(`call not for us: ${action === 'redirect' ? 'redirected' : 'rejected'}`, { ...callers, reason });
    return { kind: 'declined' };
  }
}

async function answer(
  callAutomation: CallAutomationClient,
  config: FunctionsConfig,
  call: IncomingCall,
  profile: string | undefined,
): Promise<{ callConnectionId: string; serverCallId?: string | undefined }> {
  const result = await callAutomation.answerCall(call.incomingCallContext, callbackUrlFor(config, call.callId), {
    mediaStreamingOptions: mediaStreamingOptionsFor(config, call.callId, profile),
    operationContext: ANSWER_OPERATION_CONTEXT,
  });
  const properties = result.callConnectionProperties;
  return { callConnectionId: properties.callConnectionId as string, serverCallId: properties.serverCallId };
}
