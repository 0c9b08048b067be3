import { z } from 'zod';
import { callRecordSchema, type CallRecord } from '../../shared/call-record.js';
import type { ConversationEntry } from '../voice-live/conversation-log.js';

/**
 * What a call carries from one worker to the next when its media moves (a replica died, or drained at a
 * deploy): kept in the call's Service Bus session state, which whichever replica accepts the session can read.
 */
export const CARRIED_STATE_VERSION = 1 as const;

/**
 * Largest state written. Service Bus keeps session state up to the tier's message size (256 KB on Standard);
 * beyond this the oldest conversation entries are left out (the record snapshot keeps its own transcript cap).
 */
export const MAX_CARRIED_STATE_BYTES = 192 * 1024;

const roles = z.enum(['user', 'assistant', 'system']);
const entrySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('message'), role: roles, itemId: z.string().optional(), text: z.string().optional(), audioMs: z.number().optional(), heardMs: z.number().optional() }),
  z.object({ kind: z.literal('function_call'), itemId: z.string().optional(), name: z.string().optional(), callId: z.string().optional(), arguments: z.string().optional() }),
  z.object({ kind: z.literal('function_call_output'), itemId: z.string().optional(), callId: z.string().optional(), output: z.string().optional() }),
]);

export const carriedStateSchema = z.object({
  v: z.literal(CARRIED_STATE_VERSION),
  callId: z.string().min(1),
  /** The greeting was spoken (or asked for): a continuation never greets again. */
  greeted: z.boolean(),
  /** From call.incoming, which the first worker consumed: the next one never sees it. Phone numbers in full, as on the bus. */
  caller: z.object({ from: z.string().optional(), to: z.string().optional(), displayName: z.string().optional() }),
  /** The conversation as the caller heard it (ConversationLog.snapshot()), oldest first. */
  conversation: z.array(entrySchema),
  /** The call record so far (built as if the call ended now), continued by the next worker. */
  record: callRecordSchema.optional(),
  /** A call the agent placed: the request's context (its voicemail message's placeholders), from `call.outbound.requested`, which the first worker consumed. */
  outbound: z.object({ context: z.record(z.string(), z.unknown()) }).optional(),
  /** How many workers have held the call before this state was written (0 on the first). */
  handovers: z.number().int().min(0),
  savedAt: z.string(),
});

export type CarriedState = z.infer<typeof carriedStateSchema>;

export type ParsedCarriedState = { kind: 'none' } | { kind: 'state'; state: CarriedState } | { kind: 'unreadable'; reason: string };

/** Reads what `getSessionState()` returned: nothing (a new call), a state, or something unreadable (ignored). */
export function parseCarriedState(value: unknown, callId: string): ParsedCarriedState {
  if (value === null || value === undefined || value === '') return { kind: 'none' };
  const result = carriedStateSchema.safeParse(value);
  if (!result.success) return { kind: 'unreadable', reason: result.error.issues[0]?.message ?? 'invalid' };
  if (result.data.callId !== callId) return { kind: 'unreadable', reason: 'state of another call' };
  return { kind: 'state', state: result.data };
}

/**
 * The state as written, within MAX_CARRIED_STATE_BYTES: the oldest conversation entries go first, then the
 * record's transcript. Returns the JSON text's byte length with it, for the cost figures.
 */
export function fitCarriedState(state: CarriedState, maxBytes = MAX_CARRIED_STATE_BYTES): { state: CarriedState; bytes: number } {
  let fitted = state;
  let bytes = Buffer.byteLength(JSON.stringify(fitted), 'utf8');
  if (bytes <= maxBytes) return { state: fitted, bytes };
  let conversation: ConversationEntry[] = [...state.conversation];
  while (bytes > maxBytes && conversation.length > 0) {
    conversation = conversation.slice(Math.max(1, Math.floor(conversation.length / 8)));
    fitted = { ...state, conversation };
    bytes = Buffer.byteLength(JSON.stringify(fitted), 'utf8');
  }
  if (bytes > maxBytes && fitted.record?.transcript) {
    const record: CallRecord = { ...fitted.record, transcript: null };
    fitted = { ...fitted, record };
    bytes = Buffer.byteLength(JSON.stringify(fitted), 'utf8');
  }
  return { state: fitted, bytes };
}
