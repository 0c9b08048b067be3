import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AGENT_PROFILE_NAME } from './config/env.js';

/**
 * Outbound calls: what `POST /api/calls` (and the campaign CLI) put on the `outbound-calls` queue, and what the
 * status store keeps per call. The request is validated where it enters (400 naming the field) and again where the
 * queue hands it over: a message put on the queue directly gets no further than one posted to the API.
 */
export const OUTBOUND_REQUEST_SCHEMA_VERSION = 1 as const;

/** The largest `context` accepted, as compact JSON: it travels on the bus and into the model's instructions. */
export const OUTBOUND_CONTEXT_MAX_BYTES = 2048;

const E164 = /^\+[1-9]\d{6,14}$/;
/** An ACS user id (`8:acs:<resource>_<id>`). */
const ACS_USER_ID = /^8:acs:[A-Za-z0-9-]+_[A-Za-z0-9_-]+$/;

export const isE164 = (value: string) => E164.test(value);

const contextSchema = z
  .record(z.string(), z.unknown())
  .refine((value) => Buffer.byteLength(JSON.stringify(value), 'utf8') <= OUTBOUND_CONTEXT_MAX_BYTES, `must be at most ${OUTBOUND_CONTEXT_MAX_BYTES} bytes as JSON`);

/** The body of `POST /api/calls`. Unknown fields are refused so a misspelt one is not silently ignored. */
export const placeCallRequestSchema = z
  .object({
    to: z.string().refine((v) => E164.test(v) || ACS_USER_ID.test(v), 'must be an E.164 number (+15551234567) or an ACS user id (8:acs:...)'),
    from: z.string().regex(E164, 'must be an E.164 number (+15551234567)').optional(),
    profile: z.string().regex(AGENT_PROFILE_NAME, 'must be an agent profile name').optional(),
    context: contextSchema.optional(),
    notBefore: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time with an offset, e.g. 2026-12-07T09:30:00Z' }).optional(),
    idempotencyKey: z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, 'must be 1 to 128 printable ASCII characters without spaces').optional(),
  })
  .strict();
export type PlaceCallRequest = z.infer<typeof placeCallRequestSchema>;

/** The Entra caller of POST /api/calls: its client application id, object id and tenant; never a name. */
export const requestedBySchema = z.object({
  appId: z.string().max(64).optional(),
  objectId: z.string().max(64).optional(),
  tenantId: z.string().max(64),
});
export type RequestedBy = z.infer<typeof requestedBySchema>;

/** One message of the `outbound-calls` queue: one attempt to place one call. */
export const outboundCallMessageSchema = z.object({
  schemaVersion: z.literal(OUTBOUND_REQUEST_SCHEMA_VERSION),
  callId: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID'),
  to: placeCallRequestSchema.shape.to,
  /** Absent for an ACS user callee when no caller number is set. */
  from: z.string().regex(E164).optional(),
  profile: placeCallRequestSchema.shape.profile,
  context: contextSchema.optional(),
  /** 1 for the first attempt; retries count up. */
  attempt: z.number().int().min(1).max(20),
  requestedAt: z.iso.datetime({ offset: true }),
  notBefore: z.iso.datetime({ offset: true }).optional(),
  /** Who asked for the call, where Microsoft Entra authenticated the request: ids only (docs/outbound.md, Authentication). */
  requestedBy: requestedBySchema.optional(),
});
export type OutboundCallMessage = z.infer<typeof outboundCallMessageSchema>;

/** The `resultInformation` ACS gives a failed createCall, read as an outcome (codes: lab/acs/outbound.ts, unconfirmed). */
export type OutboundFailureOutcome = 'busy' | 'no_answer' | 'failed';
export type OutboundOutcome = 'human' | 'voicemail' | OutboundFailureOutcome;

export function failureOutcomeOf(resultInformation: { code?: number | undefined; subCode?: number | undefined } | undefined): OutboundFailureOutcome {
  const code = resultInformation?.code;
  if (code === 486 || code === 600) return 'busy';
  if (code === 408 || code === 480 || code === 487) return 'no_answer';
  return 'failed';
}

/** States after which no attempt is placed, whatever message comes. */
export const FINAL_OUTBOUND_STATES: ReadonlySet<string> = new Set(['ended', 'failed', 'refused', 'cancelled']);

/** What the status store keeps per outbound call (`GET /api/calls/{callId}`). */
export const outboundCallStatusSchema = z.object({
  callId: z.string(),
  state: z.enum(['queued', 'ringing', 'answered', 'ended', 'failed', 'refused', 'cancelled']),
  outcome: z.enum(['human', 'voicemail', 'busy', 'no_answer', 'failed']).optional(),
  attempt: z.number().int().min(1),
  /** The callee, masked: the store is read by whoever holds the function key. */
  to: z.string(),
  profile: z.string().optional(),
  notBefore: z.string().optional(),
  callConnectionId: z.string().optional(),
  resultInformation: z.object({ code: z.number().optional(), subCode: z.number().optional(), message: z.string().optional() }).optional(),
  /** Why the call was refused before it was placed (kill switch, allow-list, caps). */
  reason: z.string().optional(),
  /** When the next attempt is due (a retry after busy / no answer / failed). */
  retryAt: z.string().optional(),
  /** A queued attempt waiting for calling hours or a free concurrency slot: when it is tried again, and why. */
  deferredUntil: z.string().optional(),
  deferredBecause: z.string().optional(),
  /** A CallDisconnected that reached the store before its CallConnected: the call ends when that comes. */
  disconnectedAt: z.string().optional(),
  /** The request as queued, for retries: full number and context, so never returned by GET /api/calls/{callId}. */
  request: outboundCallMessageSchema.optional(),
  updatedAt: z.string(),
});
export type OutboundCallStatus = z.infer<typeof outboundCallStatusSchema>;

/**
 * The callId of a request: derived from its idempotency key (so the same key always names the same call, on any
 * instance, with no memory), else new. A version-8 UUID either way (ACS's correlation ids are version 4), so a
 * callback can tell an outbound call by its id alone.
 */
export function callIdFor(idempotencyKey: string | undefined): string {
  const hex = createHash('sha256').update(`outbound-call:${idempotencyKey ?? randomUUID()}`).digest('hex');
  // RFC 4122 layout, version 8 (custom), variant 10.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

/** The operationContext of createCall: names the attempt in CallConnected and CreateCallFailed. */
export const OUTBOUND_OPERATION_PREFIX = 'outbound:';
export const outboundOperationContext = (attempt: number) => `${OUTBOUND_OPERATION_PREFIX}${attempt}`;
export function attemptOfOperationContext(operationContext: string | undefined): number | undefined {
  if (!operationContext?.startsWith(OUTBOUND_OPERATION_PREFIX)) return undefined;
  const attempt = Number(operationContext.slice(OUTBOUND_OPERATION_PREFIX.length));
  return Number.isInteger(attempt) && attempt >= 1 ? attempt : undefined;
}

/** Whether a callId is one `callIdFor` made (an outbound call). */
export const isOutboundCallId = (callId: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(callId);
