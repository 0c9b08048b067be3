import { z } from 'zod';
import { CALL_ID_RULE, isValidCallId } from './call-id.js';
import { AGENT_PROFILE_NAME } from './config/env.js';

/**
 * The `call-events` queue's message schema: facts about one call, published by the Functions app and
 * consumed by the worker that holds the call (its Service Bus session is the call id).
 *
 * Rules: `schemaVersion` changes only when an existing field changes meaning or disappears (new types and
 * new optional fields keep version 1; consumers ignore types they don't know). `messageId` on the bus is
 * `eventId`: the source event's id (Event Grid or ACS callback), suffixed with `:<what>` for messages we
 * derive from a source event, so every redelivery of that event yields the same ids.
 */
export const CALL_EVENT_SCHEMA_VERSION = 1 as const;

/** A party as ACS identifies it. Phone numbers are kept in full: the agent needs them; logs mask them. */
export const partySchema = z.object({
  kind: z.string().min(1),
  rawId: z.string().min(1),
  phoneNumber: z.string().optional(),
});
export type Party = z.infer<typeof partySchema>;

export const resultInformationSchema = z.object({
  code: z.number().int().optional(),
  subCode: z.number().int().optional(),
  message: z.string().optional(),
});
export type ResultInformation = z.infer<typeof resultInformationSchema>;

export const mediaStreamingUpdateSchema = z.object({
  contentType: z.string().optional(),
  status: z.string().optional(),
  statusDetails: z.string().optional(),
});

const envelope = {
  schemaVersion: z.literal(CALL_EVENT_SCHEMA_VERSION),
  /** ACS's correlation id for the call: the same id in the callback URL, the media URL and every message. */
  callId: z.string().refine(isValidCallId, `must be ${CALL_ID_RULE}`),
  callConnectionId: z.string().min(1).optional(),
  serverCallId: z.string().min(1).optional(),
  /** Source event id (see the rules above); also the Service Bus messageId. */
  eventId: z.string().min(1).max(128),
  /** When the source event happened (ISO 8601). */
  occurredAt: z.iso.datetime({ offset: true }),
};

const resultData = z.object({ resultInformation: resultInformationSchema.optional(), operationContext: z.string().optional() });
const mediaData = resultData.extend({ mediaStreamingUpdate: mediaStreamingUpdateSchema.optional() });
/** RecordingStateChanged: ACS documents the states `active` and `inactive` (stopped or paused); others pass through. */
const recordingStateData = resultData.extend({
  recordingId: z.string().min(1),
  state: z.string().min(1),
  recordingKind: z.string().optional(),
  /** When ACS says the recording started (ISO 8601). */
  startedAt: z.iso.datetime({ offset: true }).optional(),
});

const outboundFailure = z.object({ attempt: z.number().int().min(1), resultInformation: resultInformationSchema.optional() });

const variants = {
  /** IncomingCall accepted for answering (published whether this instance or an earlier delivery answered it). */
  'call.incoming': z.object({ from: partySchema, to: partySchema, callerDisplayName: z.string() }),
  /** This app's answerCall succeeded. */
  'call.answered': z.object({
    callbackUrl: z.string().url(),
    mediaTransportUrl: z.string().url(),
    audioFormat: z.enum(['pcm16KMono', 'pcm24KMono']),
    /** The agent profile the called number chose (AGENT_PROFILE_BY_NUMBER), also the transport URL's last segment; absent = the default agent. Added within version 1. */
    profile: z.string().regex(AGENT_PROFILE_NAME).optional(),
  }),
  /**
   * ACS refused this app's answerCall for good (already answered by an earlier delivery, or no longer ringing):
   * `call.incoming` went out while the answer was pending, and this says why no `call.answered` follows. Added within version 1.
   */
  'call.answerRefused': z.object({ status: z.number().int(), code: z.string().optional() }),
  'answer.failed': resultData,
  'call.connected': resultData,
  'call.disconnected': resultData,
  'media.started': mediaData,
  'media.stopped': mediaData,
  'media.failed': mediaData,
  /** Media streaming stopped while the call was connected: we asked ACS to start it again. */
  'media.restartRequested': z.object({ attempt: z.number().int().min(1), maxAttempts: z.number().int().min(0), trigger: z.string() }),
  /** We hung up (for everyone) on purpose. */
  'call.hangUpRequested': z.object({
    reason: z.enum(['mediaRestartsExhausted']),
    attempts: z.number().int().min(0),
    /** How long media was being restarted before giving up (first restart request to the hang-up). Added within version 1. */
    windowMs: z.number().int().min(0).optional(),
  }),
  'participants.updated': z.object({
    sequenceNumber: z.number().int().optional(),
    participants: z.array(z.object({ identifier: partySchema, isMuted: z.boolean().optional(), isOnHold: z.boolean().optional() })),
  }),
  'transfer.accepted': resultData.extend({ transferee: partySchema.optional(), transferTarget: partySchema.optional() }),
  'transfer.failed': resultData,
  /** ACS accepted our start-recording request (CALL_RECORDING=audio); `recording.started` follows from ACS. */
  'recording.requested': z.object({
    recordingId: z.string().min(1),
    recordingState: z.string().optional(),
    channel: z.enum(['mixed', 'unmixed']),
    format: z.enum(['wav', 'mp3']),
    storage: z.enum(['azureCommunicationServices', 'azureBlobStorage']),
  }),
  /** RecordingStateChanged to `active`. */
  'recording.started': recordingStateData,
  /** RecordingStateChanged to any other state (`inactive`: stopped, paused, or the call ended). */
  'recording.stopped': recordingStateData,
  /**
   * The recording did not start: ACS's StartRecordingFailed callback (`resultInformation`), or our start request
   * refused or unanswered (`error`, with the HTTP status and ACS error code when there was one). The call goes on.
   */
  'recording.failed': resultData.extend({
    recordingId: z.string().min(1).optional(),
    error: z.object({ status: z.number().int().optional(), code: z.string().optional(), message: z.string() }).optional(),
  }),
  /**
   * Outbound calls (added within version 1). `requested`: createCall was accepted for this attempt; the context is
   * for the agent (the worker reads it from the call's session) and is never logged.
   */
  'call.outbound.requested': z.object({
    to: partySchema,
    from: z.string().optional(),
    attempt: z.number().int().min(1),
    profile: z.string().regex(AGENT_PROFILE_NAME).optional(),
    context: z.record(z.string(), z.unknown()).optional(),
    mediaTransportUrl: z.string().url(),
    /** The Entra caller that requested the call (ids only), when the API required an Entra token. */
    requestedBy: z.object({ appId: z.string().optional(), objectId: z.string().optional(), tenantId: z.string() }).optional(),
  }),
  /** The callee picked up (a person or a machine: ACS does not tell them apart). */
  'call.outbound.answered': z.object({ attempt: z.number().int().min(1) }),
  /** CreateCallFailed read as busy / not answered / failed, with ACS's resultInformation as given. */
  'call.outbound.busy': outboundFailure,
  'call.outbound.no_answer': outboundFailure,
  'call.outbound.failed': outboundFailure,
} as const;

export type CallEventType = keyof typeof variants;
export const callEventTypes = Object.keys(variants) as CallEventType[];

type VariantSchema<T extends CallEventType> = z.ZodObject<{
  type: z.ZodLiteral<T>;
  data: (typeof variants)[T];
} & typeof envelope>;

const variantSchemas = Object.fromEntries(
  callEventTypes.map((type) => [type, z.object({ ...envelope, type: z.literal(type), data: variants[type] })]),
) as { [T in CallEventType]: VariantSchema<T> };

export const callEventMessageSchema = z.discriminatedUnion(
  'type',
  Object.values(variantSchemas) as unknown as [VariantSchema<CallEventType>, ...VariantSchema<CallEventType>[]],
);

export type CallEventMessageOf<T extends CallEventType> = z.infer<VariantSchema<T>>;
export type CallEventMessage = { [T in CallEventType]: CallEventMessageOf<T> }[CallEventType];
export type CallEventData<T extends CallEventType> = z.input<(typeof variants)[T]>;

/** What every message says about its source; `eventId` and `occurredAt` come from the source event. */
export interface CallEventSource {
  callId: string;
  eventId: string;
  occurredAt: string | Date;
  callConnectionId?: string | undefined;
  serverCallId?: string | undefined;
}

export class CallEventMessageError extends Error {
  readonly code = 'INVALID_CALL_EVENT_MESSAGE';
  constructor(readonly issues: readonly string[]) {
    super(`invalid call event message: ${issues.join('; ')}`);
    this.name = 'CallEventMessageError';
  }
}

const describe = (error: z.ZodError) => error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`);

/** Builds and validates one message; throws `CallEventMessageError` rather than publish a bad one. */
export function buildCallEvent<T extends CallEventType>(type: T, source: CallEventSource, data: CallEventData<T>): CallEventMessageOf<T> {
  const candidate = {
    schemaVersion: CALL_EVENT_SCHEMA_VERSION,
    type,
    callId: source.callId,
    ...(source.callConnectionId ? { callConnectionId: source.callConnectionId } : {}),
    ...(source.serverCallId ? { serverCallId: source.serverCallId } : {}),
    eventId: source.eventId,
    occurredAt: typeof source.occurredAt === 'string' ? source.occurredAt : source.occurredAt.toISOString(),
    data,
  };
  const result = variantSchemas[type].safeParse(candidate);
  if (!result.success) throw new CallEventMessageError(describe(result.error));
  return result.data as CallEventMessageOf<T>;
}

const builder =
  <T extends CallEventType>(type: T) =>
  (source: CallEventSource, data: CallEventData<T>) =>
    buildCallEvent(type, source, data);

export const callIncoming = builder('call.incoming');
export const callAnswered = builder('call.answered');
export const callAnswerRefused = builder('call.answerRefused');
export const answerFailed = builder('answer.failed');
export const callConnected = builder('call.connected');
export const callDisconnected = builder('call.disconnected');
export const mediaStarted = builder('media.started');
export const mediaStopped = builder('media.stopped');
export const mediaFailed = builder('media.failed');
export const mediaRestartRequested = builder('media.restartRequested');
export const callHangUpRequested = builder('call.hangUpRequested');
export const participantsUpdated = builder('participants.updated');
export const transferAccepted = builder('transfer.accepted');
export const transferFailed = builder('transfer.failed');
export const recordingRequested = builder('recording.requested');
export const recordingStarted = builder('recording.started');
export const recordingStopped = builder('recording.stopped');
export const recordingFailed = builder('recording.failed');
export const outboundRequested = builder('call.outbound.requested');
export const outboundAnswered = builder('call.outbound.answered');
export const outboundBusy = builder('call.outbound.busy');
export const outboundNoAnswer = builder('call.outbound.no_answer');
export const outboundFailed = builder('call.outbound.failed');

export type ParseCallEventResult =
  | { ok: true; message: CallEventMessage }
  | { ok: false; reason: string; unknownType?: string; schemaVersion?: unknown };

/**
 * Parses a `call-events` message body (an object or its JSON text). A newer schema version or an unknown
 * type is reported as such, so a consumer can skip it instead of treating it as corrupt.
 */
export function parseCallEventMessage(body: unknown): ParseCallEventResult {
  let value = body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
    } catch {
      return { ok: false, reason: 'body is not JSON' };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'body is not a JSON object' };
  const record = value as Record<string, unknown>;
  if (record.schemaVersion !== CALL_EVENT_SCHEMA_VERSION) {
    return { ok: false, reason: `unsupported schemaVersion ${JSON.stringify(record.schemaVersion)}`, schemaVersion: record.schemaVersion };
  }
  if (typeof record.type === 'string' && !(record.type in variants)) {
    return { ok: false, reason: `unknown type ${record.type}`, unknownType: record.type };
  }
  const result = callEventMessageSchema.safeParse(value);
  if (!result.success) return { ok: false, reason: describe(result.error).join('; ') };
  return { ok: true, message: result.data as CallEventMessage };
}

/** The Service Bus message for a call event: ordered per call (session) and de-duplicated by source event. */
export function toBusMessage(message: CallEventMessage): {
  body: CallEventMessage;
  messageId: string;
  sessionId: string;
  subject: string;
  applicationProperties: Record<string, string | number | boolean>;
} {
  return {
    body: message,
    messageId: message.eventId,
    sessionId: message.callId,
    subject: message.type,
    applicationProperties: { schemaVersion: message.schemaVersion, type: message.type },
  };
}
