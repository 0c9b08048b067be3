import { z } from 'zod';

// Server events we act on, parsed at the boundary. Objects are loose: the service adds fields often and
// we keep them. `response.audio.delta` is checked by hand (it is the hot path), everything else by zod.

const id = z.string();
const nullableId = z.string().nullish();

const contentPart = z.looseObject({
  type: z.string(),
  text: z.string().nullish(),
  transcript: z.string().nullish(),
});

export const conversationItemSchema = z.looseObject({
  id: z.string().optional(),
  type: z.string(),
  role: z.string().nullish(),
  status: z.string().nullish(),
  content: z.array(contentPart).nullish(),
  name: z.string().nullish(),
  call_id: z.string().nullish(),
  arguments: z.string().nullish(),
  output: z.string().nullish(),
});
export type ConversationItem = z.infer<typeof conversationItemSchema>;

const sessionObject = z.looseObject({
  id: z.string().optional(),
  model: z.string().nullish(),
  /** Unix time in seconds (2026-07-15 and later). */
  expires_at: z.number().nullish(),
});

const errorDetail = z.looseObject({
  type: z.string().nullish(),
  code: z.string().nullish(),
  message: z.string().nullish(),
  param: z.string().nullish(),
  event_id: z.string().nullish(),
});

const usage = z.looseObject({
  total_tokens: z.number().optional(),
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
});

const responseObject = z.looseObject({
  id,
  status: z.string().optional(),
  // The SDK (@azure/ai-voicelive 1.1.0): cancelled/incomplete carry `reason: string`, failed carries `error: any`.
  // `error` is read by hand (responseEnd) so an unexpected shape cannot make a whole response.done malformed.
  status_details: z.looseObject({ type: z.string().nullish(), reason: z.string().nullish(), error: z.unknown().optional() }).nullish(),
  output: z.array(conversationItemSchema).nullish(),
  usage: usage.nullish(),
});

const ev = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.looseObject({ type: z.literal(type), event_id: z.string().optional(), ...shape });

const responseContent = { response_id: id, item_id: id, output_index: z.number(), content_index: z.number() };

export const serverEventSchemas = {
  'session.created': ev('session.created', { session: sessionObject }),
  'session.updated': ev('session.updated', { session: sessionObject }),
  error: ev('error', { error: errorDetail }),
  warning: ev('warning', { warning: z.looseObject({ message: z.string().nullish(), code: z.string().nullish() }) }),
  'input_audio_buffer.speech_started': ev('input_audio_buffer.speech_started', { audio_start_ms: z.number(), item_id: id }),
  'input_audio_buffer.speech_stopped': ev('input_audio_buffer.speech_stopped', { audio_end_ms: z.number(), item_id: id }),
  'input_audio_buffer.committed': ev('input_audio_buffer.committed', { item_id: id, previous_item_id: nullableId }),
  'input_audio_buffer.cleared': ev('input_audio_buffer.cleared', {}),
  'conversation.item.created': ev('conversation.item.created', { previous_item_id: nullableId, item: conversationItemSchema }),
  'conversation.item.truncated': ev('conversation.item.truncated', {
    item_id: id,
    content_index: z.number(),
    audio_end_ms: z.number(),
  }),
  'conversation.item.deleted': ev('conversation.item.deleted', { item_id: id }),
  'conversation.item.input_audio_transcription.delta': ev('conversation.item.input_audio_transcription.delta', {
    item_id: id,
    content_index: z.number().optional(),
    delta: z.string(),
  }),
  'conversation.item.input_audio_transcription.completed': ev('conversation.item.input_audio_transcription.completed', {
    item_id: id,
    content_index: z.number().optional(),
    transcript: z.string(),
  }),
  'conversation.item.input_audio_transcription.failed': ev('conversation.item.input_audio_transcription.failed', {
    item_id: id,
    content_index: z.number().optional(),
    error: errorDetail,
  }),
  'response.created': ev('response.created', { response: responseObject }),
  'response.done': ev('response.done', { response: responseObject }),
  'response.output_item.added': ev('response.output_item.added', {
    response_id: id,
    output_index: z.number(),
    item: conversationItemSchema,
  }),
  'response.output_item.done': ev('response.output_item.done', {
    response_id: id,
    output_index: z.number(),
    item: conversationItemSchema,
  }),
  'response.content_part.added': ev('response.content_part.added', { ...responseContent, part: contentPart }),
  'response.content_part.done': ev('response.content_part.done', { ...responseContent, part: contentPart }),
  'response.audio.done': ev('response.audio.done', responseContent),
  'response.audio_transcript.delta': ev('response.audio_transcript.delta', { ...responseContent, delta: z.string() }),
  'response.audio_transcript.done': ev('response.audio_transcript.done', { ...responseContent, transcript: z.string() }),
  'response.text.delta': ev('response.text.delta', { ...responseContent, delta: z.string() }),
  'response.text.done': ev('response.text.done', { ...responseContent, text: z.string() }),
  'response.function_call_arguments.delta': ev('response.function_call_arguments.delta', {
    response_id: id,
    item_id: id,
    output_index: z.number(),
    call_id: id,
    delta: z.string(),
  }),
  'response.function_call_arguments.done': ev('response.function_call_arguments.done', {
    response_id: id,
    item_id: id,
    output_index: z.number(),
    call_id: id,
    name: z.string().optional(),
    arguments: z.string(),
  }),
  'rate_limits.updated': ev('rate_limits.updated', {
    rate_limits: z.array(
      z.looseObject({ name: z.string(), limit: z.number(), remaining: z.number(), reset_seconds: z.number() }),
    ),
  }),
} as const;

type Schemas = typeof serverEventSchemas;
export type KnownServerEventType = keyof Schemas | 'response.audio.delta';

/** The hot event: only the fields the relay needs are checked. */
export interface ResponseAudioDeltaEvent {
  type: 'response.audio.delta';
  response_id: string;
  item_id: string;
  output_index?: number;
  content_index?: number;
  /** base64 PCM16 at the session's output rate. */
  delta: string;
  event_id?: string;
}

/** An event type this client has no schema for, passed through untouched. */
export interface OtherServerEvent {
  type: 'other';
  /** The event's own `type` on the wire. */
  eventType: string;
  event: Record<string, unknown>;
}

export type KnownServerEvent = { [K in keyof Schemas]: z.infer<Schemas[K]> }[keyof Schemas] | ResponseAudioDeltaEvent;
export type ServerEvent = KnownServerEvent | OtherServerEvent;
export type ServerEventOf<T extends ServerEvent['type']> = Extract<ServerEvent, { type: T }>;
export type ErrorEvent = ServerEventOf<'error'>;

export type ParseResult = { ok: true; event: ServerEvent } | { ok: false; reason: string; eventType?: string };

/** Parses one text frame. Never throws. */
export function parseServerEvent(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'not a JSON object' };
  const record = raw as Record<string, unknown>;
  const type = record.type;
  if (typeof type !== 'string') return { ok: false, reason: 'no string "type"' };
  if (type === 'response.audio.delta') {
    if (typeof record.response_id === 'string' && typeof record.item_id === 'string' && typeof record.delta === 'string') {
      return { ok: true, event: record as unknown as ResponseAudioDeltaEvent };
    }
    return { ok: false, reason: 'response.audio.delta needs string response_id, item_id and delta', eventType: type };
  }
  const schema = (serverEventSchemas as Record<string, z.ZodType | undefined>)[type];
  if (schema === undefined) return { ok: true, event: { type: 'other', eventType: type, event: record } };
  const parsed = schema.safeParse(record);
  if (parsed.success) return { ok: true, event: parsed.data as KnownServerEvent };
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(event)';
  return { ok: false, reason: `${type}: ${where}: ${issue?.message ?? 'invalid'}`, eventType: type };
}

export type ResponseObject = z.infer<typeof responseObject>;

/** Terminal statuses of a response (`in_progress` never ends one); anything else is counted as `other`. */
export const RESPONSE_STATUSES = ['completed', 'cancelled', 'failed', 'incomplete'] as const;
export type ResponseStatusLabel = (typeof RESPONSE_STATUSES)[number] | 'other';

/**
 * Reasons a response ends early that get their own metric label. Cancelled/incomplete reasons are the realtime
 * API's; for failed responses the error's code or type is matched. Anything else is `other`, so a service that
 * invents new reasons cannot grow the label set.
 */
export const RESPONSE_END_REASONS = [
  'turn_detected',
  'client_cancelled',
  'max_output_tokens',
  'content_filter',
  'server_error',
  'rate_limit_exceeded',
  'insufficient_quota',
  'invalid_request_error',
] as const;
export type ResponseReasonLabel = (typeof RESPONSE_END_REASONS)[number] | 'other' | 'none';

export interface ResponseEnd {
  responseId: string;
  /** For metric labels: a fixed set. */
  status: ResponseStatusLabel;
  reasonLabel: ResponseReasonLabel;
  /** As the service said it (at most 100 characters): the details' reason, else the error's code or type. */
  reason: string | undefined;
  error: { type?: string; code?: string; message?: string } | undefined;
}

const knownStatuses: ReadonlySet<string> = new Set(RESPONSE_STATUSES);
const knownReasons: ReadonlySet<string> = new Set(RESPONSE_END_REASONS);
const wireText = (value: unknown, max: number): string | undefined => (typeof value === 'string' && value.length > 0 ? value.slice(0, max) : undefined);

/** How a `response.done` ended, read from `status` and `status_details` (`reason`, or `error {type, code, message}`). */
export function responseEnd(response: ResponseObject): ResponseEnd {
  const status = response.status && knownStatuses.has(response.status) ? (response.status as ResponseStatusLabel) : 'other';
  const details = response.status_details ?? undefined;
  let error: ResponseEnd['error'];
  const rawError = details?.error;
  if (typeof rawError === 'object' && rawError !== null && !Array.isArray(rawError)) {
    const e = rawError as Record<string, unknown>;
    const type = wireText(e.type, 100);
    const code = wireText(e.code, 100);
    const message = wireText(e.message, 500);
    error = { ...(type ? { type } : {}), ...(code ? { code } : {}), ...(message ? { message } : {}) };
  } else if (typeof rawError === 'string' && rawError.length > 0) {
    error = { message: rawError.slice(0, 500) };
  }
  const candidates = [wireText(details?.reason, 100), error?.code, error?.type];
  const reason = candidates.find((c) => c !== undefined);
  const known = candidates.find((c) => c !== undefined && knownReasons.has(c)) as ResponseReasonLabel | undefined;
  return { responseId: response.id, status, reasonLabel: known ?? (reason !== undefined ? 'other' : 'none'), reason, error };
}

/** The `error` codes that mean a harmless race, not a fault. */
export const BENIGN_ERROR_CODES: ReadonlySet<string> = new Set(['response_cancel_not_active']);
/** The error Voice Live answers a `response.create` with while another response is in progress. */
export const ACTIVE_RESPONSE_ERROR_CODE = 'conversation_already_has_active_response';

// Client events we send (typed for callers; the wire form is snake_case).
export type ClientEvent =
  | { type: 'session.update'; session: Record<string, unknown>; event_id?: string }
  | { type: 'input_audio_buffer.append'; audio: string; event_id?: string }
  | { type: 'input_audio_buffer.commit'; event_id?: string }
  | { type: 'input_audio_buffer.clear'; event_id?: string }
  | { type: 'conversation.item.create'; item: Record<string, unknown>; previous_item_id?: string; event_id?: string }
  | { type: 'conversation.item.truncate'; item_id: string; content_index: number; audio_end_ms: number; event_id?: string }
  | { type: 'conversation.item.delete'; item_id: string; event_id?: string }
  | { type: 'response.create'; response?: Record<string, unknown>; event_id?: string }
  | { type: 'response.cancel'; response_id?: string; event_id?: string };
