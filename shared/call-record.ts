import { z } from 'zod';
import { AGENT_PROFILE_NAME } from './config/env.js';

/**
 * The `call-records` queue's message: one per call, published by the worker when the call ends, or by the Functions
 * app for an outbound call no attempt of which was answered (the worker never had it).
 *
 * Rules as for `call-events`: `schemaVersion` changes only when a field changes meaning or disappears; new
 * optional fields keep version 1. Phone numbers are masked (`shared/privacy.ts`); the transcript is personal
 * data and is `null` when RECORD_TRANSCRIPTS=false. `messageId` on the bus is `<callId>:record`, so a record
 * retried after a bus outage is stored once.
 */
export const CALL_RECORD_SCHEMA_VERSION = 1 as const;

/** `not_connected`: an outbound call none of whose attempts was answered (`outbound.outcome` says busy, no_answer or failed). */
export const callOutcomeKinds = ['completed', 'transferred', 'caller_hung_up', 'failed', 'not_connected'] as const;
export type CallOutcomeKind = (typeof callOutcomeKinds)[number];

const isoTime = z.iso.datetime({ offset: true });
const count = z.number().int().min(0);
const money = z.number().min(0);

export const transcriptEntrySchema = z.object({
  role: z.enum(['caller', 'agent']),
  text: z.string(),
  /** When the words were spoken (caller: speech started; agent: first audio of the item). */
  at: isoTime,
  /** The agent was interrupted: `text` may include words the caller did not hear. */
  interrupted: z.boolean().optional(),
  /** With `interrupted`: how much of this turn's audio the caller heard before they spoke over it (the playout clock). */
  heardMs: z.number().int().min(0).optional(),
});
export type TranscriptEntry = z.infer<typeof transcriptEntrySchema>;

export const turnSchema = z.object({
  /** When the caller stopped speaking (Voice Live's end of speech). */
  callerStoppedAt: isoTime,
  /** From the end of the caller's speech to the first agent audio of the answer; null when the agent did not answer. */
  timeToFirstAgentAudioMs: z.number().int().min(0).nullable(),
});

export const toolUseSchema = z.object({
  name: z.string(),
  at: isoTime,
  durationMs: count,
  status: z.enum(['ok', 'failed', 'timeout', 'invalid_arguments', 'unknown_tool']),
});

/** At most this many failed/incomplete responses are listed (all are counted). */
export const MAX_LISTED_FAILED_RESPONSES = 20;

export const failedResponseSchema = z.object({
  at: isoTime,
  status: z.enum(['failed', 'incomplete']),
  /** As the service gave it: `status_details.reason` (e.g. `content_filter`, `max_output_tokens`), else the error's code or type; `unknown` when none. */
  reason: z.string().max(100),
});

export const failedResponsesSchema = z.object({
  count,
  /** The first MAX_LISTED_FAILED_RESPONSES, in time order. */
  list: z.array(failedResponseSchema).max(MAX_LISTED_FAILED_RESPONSES),
});
export type FailedResponses = z.infer<typeof failedResponsesSchema>;

/** How far the call's ACS recording got; a later step outranks an earlier one, whatever order the events came in. */
export const RECORDING_STATES = ['requested', 'active', 'stopped', 'failed'] as const;
export const recordingSchema = z.object({
  /** ACS's id of the recording: how its file is found. */
  recordingId: z.string().min(1).optional(),
  state: z.enum(RECORDING_STATES),
  /** Why it failed (ACS's result message or our request's error), without phone numbers. */
  reason: z.string().max(300).optional(),
});
export type CallRecording = z.infer<typeof recordingSchema>;

/**
 * What was left out of a record to fit one Service Bus message: that many entries from the middle of each list
 * (the start and the end of the call are kept). Added within version 1: absent when nothing was left out.
 */
export const trimmedSchema = z.object({ transcriptEntries: count, turns: count, tools: count });
export type CallRecordTrimmed = z.infer<typeof trimmedSchema>;

/** What the agent handed over with a transfer to a human (a warm hand-off). */
export const handoffSchema = z.object({
  reason: z.string().max(500),
  /** The agent's summary for the colleague: what was said, so absent when transcripts are off (RECORD_TRANSCRIPTS). */
  summary: z.string().max(2000).optional(),
});

/**
 * An outbound call's answer side (docs/outbound.md): who answered as the worker judged it, and how long the voicemail
 * steps took. Times are ms from when the worker got the call's media (the callee had answered).
 */
export const outboundRecordSchema = z.object({
  /** From `call.outbound.requested`; absent when that event never reached the worker. */
  attempt: z.number().int().min(1).optional(),
  /** `human` / `voicemail` from the worker; `busy` / `no_answer` / `failed` (the last attempt's) when no attempt was answered. */
  outcome: z.enum(['human', 'voicemail', 'busy', 'no_answer', 'failed']),
  /** Who spoke first: the callee, or the agent after OUTBOUND_LISTEN_FIRST_SILENCE_MS of silence. Absent when neither did. */
  firstWords: z.enum(['callee', 'agent_after_silence']).optional(),
  /** With `voicemail`: `left` (played out), `none` (no message configured), `cut` (the call ended before it had played). */
  voicemailMessage: z.enum(['left', 'none', 'cut']).optional(),
  /** The model reported the voicemail greeting (its `report_voicemail` call). */
  recognisedMs: count.optional(),
  /** The message that was left began to play (the greeting and its beep had ended; a message cut by the greeting is said again). */
  messageStartedMs: count.optional(),
  /** The worker hung up. */
  hungUpMs: count.optional(),
});
export type OutboundRecord = z.infer<typeof outboundRecordSchema>;

export const usageSchema = z.object({
  responses: count,
  audioTokensIn: count,
  textTokensIn: count,
  cachedTokensIn: count,
  /** The audio share of cachedTokensIn, where Voice Live said (`cached_tokens_details`); records before it lack it. */
  cachedAudioTokensIn: count.optional(),
  audioTokensOut: count,
  textTokensOut: count,
  totalTokens: count,
});
export type Usage = z.infer<typeof usageSchema>;

export const costSchema = z.object({
  currency: z.string().length(3),
  tokens: money,
  callMinutes: z.number().min(0),
  minutes: money,
  total: money,
  /** The rates used, so a record can be re-priced or audited later. */
  rates: z.object({
    audioInputPer1M: money,
    audioOutputPer1M: money,
    textInputPer1M: money,
    textOutputPer1M: money,
    cachedInputPer1M: money,
    callPerMinute: money,
  }),
});

export const callRecordSchema = z.object({
  schemaVersion: z.literal(CALL_RECORD_SCHEMA_VERSION),
  callId: z.string().min(1),
  /** The agent profile of the line called (AGENT_PROFILES), to count calls per line; absent = the default agent. Added within version 1. */
  profile: z.string().regex(AGENT_PROFILE_NAME).optional(),
  callConnectionId: z.string().min(1).optional(),
  /** Masked: `+4420******34`. */
  from: z.string().optional(),
  to: z.string().optional(),
  startedAt: isoTime,
  endedAt: isoTime,
  durationMs: count,
  outcome: z.object({ kind: z.enum(callOutcomeKinds), reason: z.string() }),
  /** Null when transcripts are switched off. */
  transcript: z.array(transcriptEntrySchema).nullable(),
  turns: z.array(turnSchema),
  tools: z.array(toolUseSchema),
  bargeIns: count,
  voiceLiveReconnects: count,
  framesIn: count,
  framesOut: count,
  /** Caller audio dropped while Voice Live was (re)connecting. */
  framesDropped: count,
  usage: usageSchema,
  cost: costSchema,
  /** Which per-call cap was reached, if any. */
  capReached: z.enum(['minutes', 'tokens']).optional(),
  /**
   * Agent responses that ended `failed` or `incomplete` (the caller heard nothing, or part of an answer). Added
   * within version 1: absent in records from workers that predate it; cancelled responses (barge-in) are normal
   * and not counted.
   */
  failedResponses: failedResponsesSchema.optional(),
  /** The call's ACS recording (CALL_RECORDING on the Functions app). Added within version 1: absent when not recorded. */
  recording: recordingSchema.optional(),
  /** Set when the call was transferred to a human. Added within version 1. */
  handoff: handoffSchema.optional(),
  /** Set when the record was too large for one queue message and lists were cut in the middle (CALL_RECORD_MAX_BYTES). */
  trimmed: trimmedSchema.optional(),
  /** Set for a call the agent placed (POST /api/calls). Added within version 1. */
  outbound: outboundRecordSchema.optional(),
});
export type CallRecord = z.infer<typeof callRecordSchema>;
export type CallRecordInput = Omit<CallRecord, 'schemaVersion'>;

export class CallRecordError extends Error {
  readonly code = 'INVALID_CALL_RECORD';
  constructor(readonly issues: readonly string[]) {
    super(`invalid call record: ${issues.join('; ')}`);
    this.name = 'CallRecordError';
  }
}

const describe = (error: z.ZodError) => error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`);

/** Builds and validates a record; throws `CallRecordError` rather than publish a bad one. */
export function buildCallRecord(input: CallRecordInput): CallRecord {
  const result = callRecordSchema.safeParse({ schemaVersion: CALL_RECORD_SCHEMA_VERSION, ...input });
  if (!result.success) throw new CallRecordError(describe(result.error));
  return result.data;
}

/**
 * Service Bus Standard refuses a message over 256 KiB, body, properties and AMQP framing together: a record body
 * is kept under 240 KiB (the properties are a few dozen bytes), or the queue would refuse the whole record.
 */
export const CALL_RECORD_MAX_BYTES = 240 * 1024;

const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

/** The first and last items of `items` that fit `budgetBytes` (a third for the start), in order, and how many were left out. */
function keepEnds<T>(items: readonly T[], budgetBytes: number): { kept: T[]; dropped: number } {
  const sizes = items.map((item) => jsonBytes(item) + 1);
  if (sizes.reduce((sum, size) => sum + size, 0) <= budgetBytes) return { kept: [...items], dropped: 0 };
  let head = 0;
  let used = 0;
  while (head < items.length && used + sizes[head]! <= budgetBytes / 3) used += sizes[head++]!;
  let tail = items.length;
  while (tail > head && used + sizes[tail - 1]! <= budgetBytes) used += sizes[--tail]!;
  return { kept: [...items.slice(0, head), ...items.slice(tail)], dropped: tail - head };
}

/**
 * A record that fits one queue message: as it is when it does; otherwise its transcript (and, for a very long
 * call, its turns and tool uses) lose entries from the middle, the start and end of the call kept, and `trimmed`
 * says how many. Every other field is small and bounded.
 */
export function fitCallRecord(record: CallRecord, maxBytes = CALL_RECORD_MAX_BYTES): CallRecord {
  if (jsonBytes(record) <= maxBytes) return record;
  const earlier = record.trimmed ?? { transcriptEntries: 0, turns: 0, tools: 0 };
  const skeleton = { ...record, transcript: record.transcript === null ? null : [], turns: [], tools: [], trimmed: { transcriptEntries: 1e9, turns: 1e9, tools: 1e9 } };
  const budget = maxBytes - jsonBytes(skeleton);
  const turns = keepEnds(record.turns, budget / 4);
  const tools = keepEnds(record.tools, budget / 4);
  const transcript = record.transcript === null ? null : keepEnds(record.transcript, budget - jsonBytes(turns.kept) - jsonBytes(tools.kept));
  return {
    ...record,
    transcript: transcript?.kept ?? null,
    turns: turns.kept,
    tools: tools.kept,
    trimmed: {
      transcriptEntries: earlier.transcriptEntries + (transcript?.dropped ?? 0),
      turns: earlier.turns + turns.dropped,
      tools: earlier.tools + tools.dropped,
    },
  };
}

export type ParseCallRecordResult = { ok: true; record: CallRecord } | { ok: false; reason: string };

/** Parses a `call-records` message body (object or JSON text) for consumers. */
export function parseCallRecord(body: unknown): ParseCallRecordResult {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return { ok: false, reason: 'body is not JSON' };
    }
  }
  if (typeof value === 'object' && value !== null && (value as Record<string, unknown>).schemaVersion !== CALL_RECORD_SCHEMA_VERSION) {
    return { ok: false, reason: `unsupported schemaVersion ${JSON.stringify((value as Record<string, unknown>).schemaVersion)}` };
  }
  const result = callRecordSchema.safeParse(value);
  return result.success ? { ok: true, record: result.data } : { ok: false, reason: describe(result.error).join('; ') };
}

/** The Service Bus message: one per call, de-duplicated by `<callId>:record`. */
export function toCallRecordBusMessage(record: CallRecord): {
  body: CallRecord;
  messageId: string;
  subject: string;
  applicationProperties: Record<string, string | number | boolean>;
} {
  return {
    body: record,
    messageId: `${record.callId}:record`.slice(0, 128),
    subject: 'call.record',
    applicationProperties: {
      schemaVersion: record.schemaVersion,
      outcome: record.outcome.kind,
      ...(record.profile ? { profile: record.profile } : {}),
      ...(record.outbound ? { outboundOutcome: record.outbound.outcome } : {}),
    },
  };
}
