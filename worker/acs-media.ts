import { z } from 'zod';
import { base64DecodedLength } from '../shared/audio/pcm.js';

/**
 * The ACS media-streaming wire format, both ways. Pure: knows nothing of calls, Voice Live or timing.
 * Inbound casing varies between ACS, its SDKs and samples (`kind`/`Kind`, `audioData`/`AudioData`,
 * `data`/`Data`), so keys are compared with their first letter lower-cased.
 */

export type AcsInbound =
  | { kind: 'metadata'; sampleRateHz: number; channels: number; encoding: string; frameBytes?: number; subscriptionId?: string }
  /** `base64` is absent only for a silent frame that carried no data. */
  | { kind: 'audio'; base64: string | undefined; byteLength: number; silent: boolean; timestamp?: string; participantRawId?: string }
  | { kind: 'dtmf'; tone: string };

export type BadInputReason =
  | 'not_json'
  | 'binary_not_json'
  | 'wrong_shape'
  | 'unknown_kind'
  | 'invalid_base64'
  | 'odd_byte_count'
  | 'empty_audio'
  | 'audio_before_metadata'
  | 'metadata_repeated'
  /** Unmixed audio from a speaker beyond the 4 ACS sends at once. */
  | 'too_many_participants';

export type AcsParseResult = { ok: true; message: AcsInbound } | { ok: false; reason: BadInputReason; detail?: string };

const metadataSchema = z.object({
  sampleRate: z.number().int().positive(),
  channels: z.number().int().positive().optional(),
  encoding: z.string().optional(),
  length: z.number().int().nonnegative().optional(),
  subscriptionId: z.string().optional(),
});

const audioSchema = z.object({
  data: z.string().optional(),
  silent: z.boolean().optional(),
  isSilent: z.boolean().optional(),
  timestamp: z.string().optional(),
  participantRawID: z.string().optional(),
});

const dtmfSchema = z.object({ data: z.string().min(1).max(16) });

const envelopeSchema = z.object({ kind: z.string() }).loose();

const bad = (reason: BadInputReason, detail?: string): AcsParseResult => (detail ? { ok: false, reason, detail } : { ok: false, reason });

/** Parses one inbound WebSocket message (text, or bytes holding JSON text). */
export function parseAcsMessage(text: string, isBinary = false): AcsParseResult {
  return parseAudioDataFast(text) ?? parseAcsJson(text, isBinary);
}

/** The same through JSON.parse alone: any key order and casing, escapes, whitespace. */
export function parseAcsJson(text: string, isBinary = false): AcsParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return bad(isBinary ? 'binary_not_json' : 'not_json');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('wrong_shape', 'not a JSON object');
  return parseSlow(lowerFirstKeys(raw as Record<string, unknown>));
}

/**
 * The 50-per-second message exactly as ACS writes it: `{"kind":"AudioData","audioData":{"timestamp":"…",
 * "participantRawID":"…","data":"…","silent":false}}`. The head and the tail are matched by two anchored
 * patterns that accept only that JSON (no escapes, no other keys or order, no whitespace but at the end), so the
 * message is proven well-formed without JSON.parse building an object 50 times a second per call; anything else,
 * valid or not, goes to the full parser. Undefined = not this exact shape.
 */
const AUDIO_HEAD = /^\{"kind":"AudioData","audioData":\{(?:"timestamp":"([^"\\\u0000-\u001f]{0,64})",)?(?:"participantRawID":"([^"\\\u0000-\u001f]{0,256})",)?"data":"/;
const AUDIO_TAIL = /"(?:,"silent":(?:true|false))?\}\}[ \t\n\r]*$/y;
const SILENT_TRUE = ',"silent":true';

function parseAudioDataFast(text: string): AcsParseResult | undefined {
  const head = AUDIO_HEAD.exec(text);
  if (head === null) return undefined;
  const dataStart = head[0].length;
  const dataEnd = text.indexOf('"', dataStart);
  if (dataEnd < 0) return undefined;
  AUDIO_TAIL.lastIndex = dataEnd;
  if (!AUDIO_TAIL.test(text)) return undefined;
  const result = audio(text.slice(dataStart, dataEnd), text.startsWith(SILENT_TRUE, dataEnd + 1), head[1], head[2]);
  // Audio that is not base64 as written may be JSON escapes (some serializers write `+` as \u002B) or may not be
  // JSON at all (a raw control character): rare, so the full parser decides which.
  if (!result.ok && result.reason === 'invalid_base64') return undefined;
  return result;
}

function parseSlow(message: Record<string, unknown>): AcsParseResult {
  const envelope = envelopeSchema.safeParse(message);
  if (!envelope.success) return bad('wrong_shape', 'no kind');
  const kind = envelope.data.kind.toLowerCase();
  if (kind === 'audiodata') {
    const body = audioSchema.safeParse(lowerFirstKeys(message['audioData']));
    if (!body.success) return bad('wrong_shape', `audioData: ${body.error.issues[0]?.message ?? 'invalid'}`);
    const silent = body.data.silent ?? body.data.isSilent ?? false;
    return audio(body.data.data ?? '', silent, body.data.timestamp, body.data.participantRawID);
  }
  if (kind === 'audiometadata') {
    const body = metadataSchema.safeParse(lowerFirstKeys(message['audioMetadata']));
    if (!body.success) return bad('wrong_shape', `audioMetadata: ${body.error.issues[0]?.message ?? 'invalid'}`);
    const m = body.data;
    return {
      ok: true,
      message: {
        kind: 'metadata',
        sampleRateHz: m.sampleRate,
        channels: m.channels ?? 1,
        encoding: m.encoding ?? 'PCM',
        ...(m.length !== undefined ? { frameBytes: m.length } : {}),
        ...(m.subscriptionId !== undefined ? { subscriptionId: m.subscriptionId } : {}),
      },
    };
  }
  if (kind === 'dtmfdata') {
    const body = dtmfSchema.safeParse(lowerFirstKeys(message['dtmfData']));
    if (!body.success) return bad('wrong_shape', 'dtmfData');
    return { ok: true, message: { kind: 'dtmf', tone: body.data.data } };
  }
  return bad('unknown_kind', envelope.data.kind.slice(0, 40));
}

function audio(base64: string, silent: boolean, timestamp: string | undefined, participantRawId: string | undefined): AcsParseResult {
  const byteLength = base64DecodedLength(base64);
  if (byteLength < 0) return bad('invalid_base64');
  if (byteLength === 0 && !silent) return bad('empty_audio');
  if (byteLength % 2 !== 0) return bad('odd_byte_count', String(byteLength));
  // A silent frame without data still names its speaker: in unmixed audio it is that speaker's frame of zeros.
  return {
    ok: true,
    message: {
      kind: 'audio',
      base64: byteLength === 0 ? undefined : base64,
      byteLength,
      silent,
      ...(timestamp !== undefined ? { timestamp } : {}),
      ...(participantRawId !== undefined ? { participantRawId } : {}),
    },
  };
}

function lowerFirstKeys(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const lowered = key.length > 0 ? key[0]!.toLowerCase() + key.slice(1) : key;
    if (!(lowered in out) || lowered === key) out[lowered] = v;
  }
  return out;
}

/**
 * Outbound: one frame of agent audio, byte for byte what the SDK's `createOutboundAudioData(base64)` writes (the
 * form the official JS sample sends). Built by concatenation (hot path); acs-media.test.ts holds it to the SDK.
 */
export function encodeAudioFrame(base64: string): string {
  return '{"kind":"audioData","audioData":{"data":"' + base64 + '","isSilent":false},"stopAudio":{}}';
}

/** Outbound: tells ACS to drop the audio it has queued for playback (barge-in); = `createOutboundStopAudioData()`. */
export const STOP_AUDIO_MESSAGE = '{"kind":"stopAudio","stopAudio":{}}';
