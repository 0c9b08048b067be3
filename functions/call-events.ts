import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { AcsAuthError } from '../shared/acs-auth.js';
import { CALL_ID_RULE, isValidCallId } from '../shared/call-id.js';
import {
  answerFailed,
  callConnected,
  callDisconnected,
  callHangUpRequested,
  mediaFailed,
  mediaRestartRequested,
  mediaStarted,
  mediaStopped,
  participantsUpdated,
  recordingFailed,
  recordingRequested,
  recordingStarted,
  recordingStopped,
  toBusMessage,
  transferAccepted,
  transferFailed,
  type CallEventMessage,
  type CallEventSource,
} from '../shared/call-metadata.js';
import { callRecordingFormat } from '../shared/config/functions.js';
import { identifierModelSchema, toParty } from './acs-identifiers.js';
import { callLog, createFunctionsState, restErrorOf, systemClock, type CallbackEventState, type CallLog, type FunctionsDependencies } from './context.js';
import { runExclusively } from './dedup.js';
import { DeliveryError, describe, parseDelivery, readBody, type DeliveredEvent, type RejectedEvent } from './event-grid.js';
import { attemptFromOperationContext, executeMediaRestart, planMediaRestart } from './media-restart.js';
import { startCallRecording, startRecordingOptionsFor } from './recording.js';
import { answeredMessages, createCallFailedMessage, recordOutboundStatus } from './outbound/callbacks.js';

const resultInformation = z
  .object({ code: z.number().int().optional(), subCode: z.number().int().optional(), message: z.string().optional() })
  .optional();

const commonData = z.object({
  callConnectionId: z.string().min(1),
  serverCallId: z.string().optional(),
  correlationId: z.string().optional(),
  operationContext: z.string().optional(),
  resultInformation,
});

const mediaData = commonData.extend({
  mediaStreamingUpdate: z
    .object({
      contentType: z.string().optional(),
      mediaStreamingStatus: z.string().optional(),
      mediaStreamingStatusDetails: z.string().optional(),
    })
    .optional(),
});

const participantsData = commonData.extend({
  sequenceNumber: z.number().int().optional(),
  participants: z.array(z.object({ identifier: identifierModelSchema, isMuted: z.boolean().optional(), isOnHold: z.boolean().optional() })),
});

const transferData = commonData.extend({ transferee: identifierModelSchema.optional(), transferTarget: identifierModelSchema.optional() });

const recordingStateData = commonData.extend({
  recordingId: z.string().min(1),
  state: z.string().min(1),
  recordingKind: z.string().optional(),
  startDateTime: z.string().optional(),
});
const startRecordingFailedData = commonData.extend({ recordingId: z.string().min(1).optional() });
type RecordingStateData = z.infer<typeof recordingStateData>;

/** ACS's timestamps may carry 7 fractional digits; messages carry `toISOString()`'s. */
const isoOrNothing = (value: string | undefined) => {
  const ms = value ? Date.parse(value) : Number.NaN;
  return Number.isNaN(ms) ? {} : { startedAt: new Date(ms).toISOString() };
};
const recordingState = (d: RecordingStateData) => ({
  ...result(d),
  recordingId: d.recordingId,
  state: d.state,
  ...(d.recordingKind ? { recordingKind: d.recordingKind } : {}),
  ...isoOrNothing(d.startDateTime),
});

type CommonData = z.infer<typeof commonData>;
type MediaData = z.infer<typeof mediaData>;

const result = (d: CommonData) => ({
  ...(d.resultInformation ? { resultInformation: d.resultInformation } : {}),
  ...(d.operationContext ? { operationContext: d.operationContext } : {}),
});
const media = (d: MediaData) => ({
  ...result(d),
  ...(d.mediaStreamingUpdate
    ? {
        mediaStreamingUpdate: {
          contentType: d.mediaStreamingUpdate.contentType,
          status: d.mediaStreamingUpdate.mediaStreamingStatus,
          statusDetails: d.mediaStreamingUpdate.mediaStreamingStatusDetails,
        },
      }
    : {}),
});

/** Each ACS callback type we publish, with its data schema and its message. */
const handlers = {
  'Microsoft.Communication.CallConnected': { schema: commonData, build: (s: CallEventSource, d: CommonData) => callConnected(s, result(d)) },
  'Microsoft.Communication.CallDisconnected': { schema: commonData, build: (s: CallEventSource, d: CommonData) => callDisconnected(s, result(d)) },
  'Microsoft.Communication.CreateCallFailed': { schema: commonData, build: (s: CallEventSource, d: CommonData) => createCallFailedMessage(s, d) },
  'Microsoft.Communication.AnswerFailed': { schema: commonData, build: (s: CallEventSource, d: CommonData) => answerFailed(s, result(d)) },
  'Microsoft.Communication.MediaStreamingStarted': { schema: mediaData, build: (s: CallEventSource, d: MediaData) => mediaStarted(s, media(d)) },
  'Microsoft.Communication.MediaStreamingStopped': { schema: mediaData, build: (s: CallEventSource, d: MediaData) => mediaStopped(s, media(d)) },
  'Microsoft.Communication.MediaStreamingFailed': { schema: mediaData, build: (s: CallEventSource, d: MediaData) => mediaFailed(s, media(d)) },
  'Microsoft.Communication.ParticipantsUpdated': {
    schema: participantsData,
    build: (s: CallEventSource, d: z.infer<typeof participantsData>) =>
      participantsUpdated(s, {
        ...(d.sequenceNumber !== undefined ? { sequenceNumber: d.sequenceNumber } : {}),
        participants: d.participants.map((p) => ({
          identifier: toParty(p.identifier),
          ...(p.isMuted !== undefined ? { isMuted: p.isMuted } : {}),
          ...(p.isOnHold !== undefined ? { isOnHold: p.isOnHold } : {}),
        })),
      }),
  },
  'Microsoft.Communication.CallTransferAccepted': {
    schema: transferData,
    build: (s: CallEventSource, d: z.infer<typeof transferData>) =>
      transferAccepted(s, {
        ...result(d),
        ...(d.transferee ? { transferee: toParty(d.transferee) } : {}),
        ...(d.transferTarget ? { transferTarget: toParty(d.transferTarget) } : {}),
      }),
  },
  'Microsoft.Communication.CallTransferFailed': { schema: commonData, build: (s: CallEventSource, d: CommonData) => transferFailed(s, result(d)) },
  'Microsoft.Communication.RecordingStateChanged': {
    schema: recordingStateData,
    build: (s: CallEventSource, d: RecordingStateData) => (d.state === 'active' ? recordingStarted(s, recordingState(d)) : recordingStopped(s, recordingState(d))),
  },
  'Microsoft.Communication.StartRecordingFailed': {
    schema: startRecordingFailedData,
    build: (s: CallEventSource, d: z.infer<typeof startRecordingFailedData>) => recordingFailed(s, { ...result(d), ...(d.recordingId ? { recordingId: d.recordingId } : {}) }),
  },
} as const;

type HandledType = keyof typeof handlers;
const isHandled = (type: string): type is HandledType => type in handlers;
const MEDIA_ENDED = new Set<string>(['Microsoft.Communication.MediaStreamingStopped', 'Microsoft.Communication.MediaStreamingFailed']);
const DISCONNECTED = 'Microsoft.Communication.CallDisconnected';
const CONNECTED = 'Microsoft.Communication.CallConnected';
const STARTED = 'Microsoft.Communication.MediaStreamingStarted';
const CREATE_CALL_FAILED = 'Microsoft.Communication.CreateCallFailed';

interface CallbackEvent {
  event: DeliveredEvent;
  type: HandledType;
  data: CommonData;
  message: CallEventMessage;
}

/**
 * POST /api/callbacks/{callId}: ACS mid-call events. Authenticated by the JWT ACS signs (audience = the ACS
 * resource's immutable id); each event of the batch becomes a call-metadata message, media streaming
 * that ends while the call is connected is started again, a bounded number of times, and with
 * CALL_RECORDING=audio a connected call is recorded (RecordingStateChanged comes back to this same URL).
 */
export function createCallEventsHandler(deps: FunctionsDependencies): HttpHandler {
  const { config, callAutomation, publisher, tokenVerifier } = deps;
  const clock = deps.clock ?? systemClock;
  const state = deps.state ?? createFunctionsState();

  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const callId = request.params.callId ?? '';
    // Refused before anything else: an unchecked id would reach logs, ACS requests and the Service Bus session id.
    if (!isValidCallId(callId)) return { status: 400, jsonBody: { error: `callbacks/{callId}: callId must be ${CALL_ID_RULE}` } };
    const log = callLog(deps.logger, context, { callId });

    try {
      await tokenVerifier.verifyAuthorizationHeader(request.headers.get('authorization'));
    } catch (error) {
      if (error instanceof AcsAuthError && error.code === 'keys_unavailable') {
        log.error('cannot verify the ACS token: signing keys unavailable', { error: error.message });
        return { status: 503, jsonBody: { error: 'token verification unavailable' } };
      }
      const code = error instanceof AcsAuthError ? error.code : 'invalid_token';
      log.warn('unauthenticated callback refused', { reason: code });
      return { status: 401, headers: { 'WWW-Authenticate': 'Bearer' }, jsonBody: { error: `unauthorized: ${code}` } };
    }

    let delivery;
    try {
      delivery = parseDelivery(await readBody(request), clock.now);
    } catch (error) {
      if (!(error instanceof DeliveryError)) throw error;
      log.warn('malformed callback refused', { reason: error.message });
      return { status: 400, jsonBody: { error: error.message } };
    }
    if (delivery.kind === 'validation') {
      return { status: 400, jsonBody: { error: 'subscription validation is not expected on the callback endpoint' } };
    }

    const rejected: RejectedEvent[] = [...delivery.rejected];
    const ignored: string[] = [];
    const events: CallbackEvent[] = [];
    delivery.events.forEach((event, index) => {
      if (!isHandled(event.type)) {
        if (event.type.startsWith('Microsoft.Communication.') && event.type !== 'Microsoft.Communication.IncomingCall') ignored.push(event.type);
        else rejected.push({ index, id: event.id, reason: `wrong event type ${event.type}: not an ACS Call Automation callback` });
        return;
      }
      const handler = handlers[event.type];
      const parsed = handler.schema.safeParse(event.data);
      if (!parsed.success) {
        rejected.push({ index, id: event.id, reason: `${event.type} data ${describe(parsed.error)}` });
        return;
      }
      const data = parsed.data as CommonData;
      if (data.correlationId && data.correlationId !== callId) {
        log.warn('callback correlationId differs from the callId in its URL; using the URL', { correlationId: data.correlationId });
      }
      const source: CallEventSource = {
        callId,
        eventId: event.id,
        occurredAt: event.time,
        callConnectionId: data.callConnectionId,
        serverCallId: data.serverCallId,
      };
      try {
        const message = (handler.build as (s: CallEventSource, d: unknown) => CallEventMessage)(source, parsed.data);
        events.push({ event, type: event.type, data, message });
      } catch (error) {
        rejected.push({ index, id: event.id, reason: (error as Error).message });
      }
    });
    for (const r of rejected) log.warn('callback event refused', { eventId: r.id ?? null, index: r.index, reason: r.reason });
    if (events.length === 0) {
      if (rejected.length > 0) return { status: 400, jsonBody: { error: 'no usable callback event in the request', rejected } };
      return { status: 200, jsonBody: { published: 0, ignored } };
    }

    // A disconnect anywhere in the batch means nothing of this call is restarted, whatever the order.
    if (events.some((e) => e.type === DISCONNECTED)) state.disconnectedCalls.set(callId, true);
    // Media is back: a later loss starts a new run of restarts, with its own attempts and window.
    if (events.some((e) => e.type === STARTED)) state.mediaRestarts.delete(callId);

    const outgoing: CallEventMessage[] = [];
    const pending: { id: string; record: CallbackEventState }[] = [];
    let retryReason: string | undefined;
    for (const item of events) {
      // A redelivery arriving while this event's actions (a media restart) are still running waits for them
      // and then finds their record, instead of restarting media a second time with the same attempt number.
      const step = await runExclusively(state.inFlight, `callback:${item.event.id}`, () => actOnce(item, callId, log));
      if (step.kind === 'published') continue;
      if (step.kind === 'retry') {
        retryReason = step.reason;
        break;
      }
      outgoing.push(...step.record.messages);
      pending.push({ id: item.event.id, record: step.record });
    }

    if (outgoing.length > 0) {
      try {
        await publisher.publish(outgoing.map(toBusMessage), { deadlineMs: config.PUBLISH_DEADLINE_MS });
      } catch (error) {
        const rest = restErrorOf(error);
        log.error('publishing call events failed within the deadline; asking ACS to redeliver', { code: rest.code ?? null, error: rest.message });
        return { status: 503, headers: { 'Retry-After': '5' }, jsonBody: { error: `publish failed: ${rest.code ?? rest.message}` } };
      }
      for (const p of pending) state.callbackEvents.set(p.id, { ...p.record, published: true });
      log.info('call events published', { types: outgoing.map((m) => m.type) });
    }
    if (retryReason) return { status: 503, headers: { 'Retry-After': '5' }, jsonBody: { error: retryReason } };
    return {
      status: 200,
      jsonBody: { published: outgoing.length, ...(ignored.length ? { ignored } : {}), ...(rejected.length ? { rejected } : {}) },
    };
  };

  /** The event's side effects, done once per event id on this instance; the record of what to publish. */
  async function actOnce(
    item: CallbackEvent,
    callId: string,
    log: CallLog,
  ): Promise<{ kind: 'published' } | { kind: 'retry'; reason: string } | { kind: 'act'; record: CallbackEventState }> {
    const known = state.callbackEvents.get(item.event.id);
    if (known?.published) return { kind: 'published' };
    if (known?.actionsDone) return { kind: 'act', record: known };
    const extra = MEDIA_ENDED.has(item.type)
      ? await restartMedia(item, callId, log)
      : item.type === CONNECTED
        ? { messages: [...answeredMessages(callId, item.message, item.data), ...(await startRecording(item, callId, log))] }
        : { messages: [] };
    const outboundKind = item.type === CONNECTED ? 'connected' : item.type === DISCONNECTED ? 'disconnected' : item.type === CREATE_CALL_FAILED ? 'createCallFailed' : undefined;
    if (outboundKind) await recordOutboundStatus(deps, callId, outboundKind, item.data, log);
    if ('retry' in extra) return { kind: 'retry', reason: extra.retry };
    const record = { actionsDone: true, published: false, messages: [item.message, ...extra.messages] } satisfies CallbackEventState;
    state.callbackEvents.set(item.event.id, record);
    return { kind: 'act', record };
  }

  /**
   * CALL_RECORDING=audio: one recording per call. A redelivered CallConnected is caught by the event record
   * (actOnce), another CallConnected of the call on this instance by `state.recordings`, and one on another
   * instance by ACS refusing a second recording (409, taken as done). A failure is published, never retried.
   */
  async function startRecording(item: CallbackEvent, callId: string, log: CallLog): Promise<CallEventMessage[]> {
    if (config.CALL_RECORDING === 'off' || state.disconnectedCalls.get(callId)) return [];
    return runExclusively(state.inFlight, `recording:${callId}`, async () => {
      if (state.recordings.get(callId)) {
        log.info('call recording already started on this instance: not starting another');
        return [];
      }
      const { callConnectionId, serverCallId } = item.data;
      const outcome = await startCallRecording(callAutomation, startRecordingOptionsFor(config, callId, callConnectionId));
      const source: CallEventSource = { callId, eventId: `${item.event.id}:recording`, occurredAt: clock.now(), callConnectionId, serverCallId };
      switch (outcome.kind) {
        case 'started': {
          state.recordings.set(callId, { recordingId: outcome.recordingId });
          const storage = config.CALL_RECORDING_STORAGE_URL ? 'azureBlobStorage' : 'azureCommunicationServices';
          log.info('call recording requested', { recordingId: outcome.recordingId, channel: config.CALL_RECORDING_CHANNEL, format: callRecordingFormat(config), storage });
          return [
            recordingRequested(source, {
              recordingId: outcome.recordingId,
              ...(outcome.recordingState ? { recordingState: outcome.recordingState } : {}),
              channel: config.CALL_RECORDING_CHANNEL,
              format: callRecordingFormat(config),
              storage,
            }),
          ];
        }
        case 'alreadyRecording':
          state.recordings.set(callId, {});
          log.info('ACS says the call is recording already: not starting another', { code: outcome.code ?? null });
          return [];
        case 'failed':
          log.error('starting the call recording failed; the call goes on without it', {
            status: outcome.error.status ?? null,
            code: outcome.error.code ?? null,
            error: outcome.error.message,
          });
          return [recordingFailed({ ...source, eventId: `${item.event.id}:recordingFailed` }, { error: outcome.error })];
      }
    });
  }

  async function restartMedia(item: CallbackEvent, callId: string, log: CallLog): Promise<{ messages: CallEventMessage[] } | { retry: string }> {
    if (state.disconnectedCalls.get(callId)) return { messages: [] };
    const echoed = attemptFromOperationContext(item.data.operationContext);
    const known = state.mediaRestarts.get(callId);
    const count = known && known.attempts > echoed.attempts ? known : echoed;
    const plan = planMediaRestart(count, config.MEDIA_RESTART_MAX_ATTEMPTS, clock.now().getTime());
    const outcome = await executeMediaRestart(callAutomation, item.data.callConnectionId, plan, log);
    const source: CallEventSource = {
      callId,
      eventId: item.event.id,
      occurredAt: clock.now(),
      callConnectionId: item.data.callConnectionId,
      serverCallId: item.data.serverCallId,
    };
    switch (outcome.kind) {
      case 'retry':
        return { retry: outcome.reason };
      case 'callGone':
        log.info('media streaming ended with the call: nothing to restart', { reason: outcome.reason });
        return { messages: [] };
      case 'restarted':
        state.mediaRestarts.set(callId, { attempts: outcome.attempt, firstAttemptAtMs: outcome.firstAttemptAtMs });
        return {
          messages: [
            mediaRestartRequested(
              { ...source, eventId: `${item.event.id}:restart` },
              { attempt: outcome.attempt, maxAttempts: config.MEDIA_RESTART_MAX_ATTEMPTS, trigger: item.type.replace('Microsoft.Communication.', '') },
            ),
          ],
        };
      case 'hungUp':
        return { messages: [callHangUpRequested({ ...source, eventId: `${item.event.id}:hangUp` }, { reason: 'mediaRestartsExhausted', attempts: outcome.attempts, ...(outcome.windowMs !== undefined ? { windowMs: outcome.windowMs } : {}) })] };
    }
  }
}
