import { randomUUID } from 'node:crypto';
import type WebSocket from 'ws';
import { beeps, bufferToInt16, int16ToBuffer, resampleLinear, rms } from './audio.js';
import { refuseSessionUpdate } from './session-validation.js';
import { UsageMeter } from './usage.js';

export interface ClientEventRecord {
  type: string;
  /** The event as received; `input_audio_buffer.append` is summarised as `{ type, audioBytes }`. */
  event: Record<string, unknown>;
  audioBytes?: number;
  atMs: number;
}

export interface RespondOptions {
  transcript?: string;
  /** Audio per `response.audio.delta`; the peer's `audioChunkMs` by default. */
  chunkMs?: number;
  /** Pace deltas at real time; by default they go as fast as the socket takes them (as the service does). */
  realTime?: boolean;
}

export interface PeerSession {
  readonly id: string;
  readonly query: URLSearchParams;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly received: ClientEventRecord[];
  /** The effective session configuration (defaults merged with every `session.update`). */
  readonly session: Record<string, unknown>;
  readonly closed: boolean;
  receivedAudioBytes(): number;
  waitFor(type: string, predicate?: (event: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  send(event: object): void;
  speechStarted(): void;
  /**
   * Ends the caller's turn at the audio appended so far. The transcript ('' if none is given) is sent only if
   * the session has `input_audio_transcription` (as the service does), `transcriptDelayMs` later (default: at once).
   */
  speechStopped(options?: { transcript?: string; transcriptDelayMs?: number }): void;
  /** How many events of each type this session has sent (to check a client parsed them all). */
  sentEventCounts(): Record<string, number>;
  respondWithAudio(pcm16: Int16Array | Buffer, options?: RespondOptions): Promise<{ responseId: string; itemId: string }>;
  callFunction(name: string, args: object): Promise<{ callId: string }>;
  drop(code?: number, reason?: string): void;
}

/** What the echo agent says to a `response.create` with no input: PCM at the session's output rate, or at `sampleRateHz` (resampled). */
export type EchoGreeting = Int16Array | { samples: Int16Array; sampleRateHz?: number; transcript?: string };

/** The echo agent's stand-in for a model recognising a voicemail greeting: see VoiceLivePeerOptions.voicemailRule. */
export interface VoicemailRule {
  toolName: string;
  minFirstTurnMs: number;
}

export interface PeerSessionOptions {
  mode: 'scripted' | 'echo-agent';
  /** Echo agent: the greeting, or a function of the session's output rate returning it. */
  greeting?: EchoGreeting | ((outputRateHz: number) => EchoGreeting) | undefined;
  expiresAtMs: number;
  audioChunkMs: number;
  /** Echo agent: RMS level above which a 20 ms frame counts as speech. */
  vadThreshold: number;
  /** Echo agent: share of caller turns (0..1) whose transcript completes after `response.created`. */
  lateTranscriptFraction: number;
  /** Seeds the echo agent's choices (which transcripts are late, and by how much): same seed, same call. */
  seed: number;
  /** Echo agent: call this tool instead of echoing a long first turn, when the session offers it. */
  voicemailRule?: VoicemailRule | undefined;
}

interface ActiveResponse {
  responseId: string;
  cancelled: boolean;
  reason?: string;
  /** Ends a real-time pause between deltas at once (the response was cancelled). */
  wake?: () => void;
  /** Settles when its `response.done` has been sent. */
  done: Promise<void>;
  settle: () => void;
}

function newResponse(responseId: string): ActiveResponse {
  let settle!: () => void;
  const done = new Promise<void>((resolve) => (settle = resolve));
  return { responseId, cancelled: false, done, settle };
}

const MAX_ECHO_MS = 15_000;
const ECHO_GREETING = 'Hello, this is the local echo agent. Say something and I will play it back to you.';

let counter = 0;
const newId = (prefix: string): string => `${prefix}_${(++counter).toString(36)}${randomUUID().slice(0, 6)}`;

/** mulberry32: a small deterministic generator of numbers in [0, 1). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Documented defaults of `prefix_padding_ms` per VAD type (2026-04-10 and later; 300 before). */
function defaultPrefixPaddingMs(type: unknown, apiVersion: string | null): number {
  if (apiVersion !== null && apiVersion < '2026-04-10') return 300;
  return type === 'server_vad' ? 400 : 420;
}

export function outputRateOf(session: Record<string, unknown>): number {
  switch (session.output_audio_format) {
    case 'pcm16_16000hz':
      return 16000;
    case 'pcm16_8000hz':
      return 8000;
    default:
      return 24000;
  }
}

/** One accepted Voice Live socket: the realtime protocol, scripted by a test or driven by the echo agent. */
export class PeerSessionImpl implements PeerSession {
  readonly id = newId('sess');
  readonly received: ClientEventRecord[] = [];
  session: Record<string, unknown>;
  closed = false;
  private audioBytes = 0;
  private readonly sentCounts = new Map<string, number>();
  private readonly usage = new UsageMeter();
  private voiceUsed = false;
  /** Audio position (ms) of the end of the last committed caller turn: the next turn's audio starts here. */
  private committedAudioMs = 0;
  private readonly random: () => number;
  private readonly items = new Map<string, { role: string; audioMs: number }>();
  private lastItemId: string | null = null;
  private active: ActiveResponse | undefined;
  private userItemId: string | undefined;
  private waiters: { type: string; predicate?: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] = [];
  private readonly expiryTimer: NodeJS.Timeout;
  // echo agent state
  private vadRemainder = new Int16Array(0);
  private vadLoudFrames = 0;
  private vadQuietMs = 0;
  private vadSpeaking = false;
  private vadProcessedMs = 0;
  private vadLastLoudEndMs = 0;
  private captured: Int16Array[] = [];
  private capturedSamples = 0;
  private pendingEcho: Int16Array | undefined;
  private callerTurns = 0;

  constructor(
    private readonly ws: WebSocket,
    readonly query: URLSearchParams,
    readonly headers: Record<string, string | string[] | undefined>,
    private readonly options: PeerSessionOptions,
  ) {
    this.session = {
      id: this.id,
      object: 'realtime.session',
      model: query.get('model'),
      modalities: ['text', 'audio'],
      instructions: '',
      voice: { type: 'openai', name: 'alloy' },
      input_audio_format: 'pcm16',
      input_audio_sampling_rate: 24000,
      output_audio_format: 'pcm16',
      turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 400, silence_duration_ms: 500, create_response: true, interrupt_response: true },
      tools: [],
      tool_choice: 'auto',
      // Off unless configured (2026-07-15 reference: null for realtime models).
      input_audio_transcription: null,
      expires_at: options.expiresAtMs / 1000,
      agent: query.has('agent-name') ? { name: query.get('agent-name'), project_name: query.get('agent-project-name') } : null,
    };
    this.random = seededRandom(options.seed);
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', () => {
      this.closed = true;
      clearTimeout(this.expiryTimer);
      if (this.active) this.active.cancelled = true;
    });
    ws.on('error', () => undefined);
    this.send({ type: 'session.created', session: this.session });
    this.expiryTimer = setTimeout(() => this.drop(1000, 'session expired'), Math.max(0, options.expiresAtMs - Date.now()));
    this.expiryTimer.unref();
  }

  receivedAudioBytes(): number {
    return this.audioBytes;
  }

  sentEventCounts(): Record<string, number> {
    return Object.fromEntries(this.sentCounts);
  }

  private get transcriptionOn(): boolean {
    const transcription = this.session.input_audio_transcription;
    return typeof transcription === 'object' && transcription !== null;
  }

  /** `prefix_padding_ms` of the session's turn detection, or its type's documented default. */
  private get prefixPaddingMs(): number {
    const configured = this.turnDetection.prefix_padding_ms;
    return typeof configured === 'number' ? configured : defaultPrefixPaddingMs(this.turnDetection.type, this.query.get('api-version'));
  }

  private get inputRateHz(): number {
    const rate = this.session.input_audio_sampling_rate;
    return typeof rate === 'number' && rate > 0 ? rate : 24000;
  }

  private get audioMs(): number {
    return Math.floor(this.audioBytes / 2 / (this.inputRateHz / 1000));
  }

  private get turnDetection(): Record<string, unknown> {
    const td = this.session.turn_detection;
    return typeof td === 'object' && td !== null ? (td as Record<string, unknown>) : {};
  }

  waitFor(type: string, predicate?: (event: Record<string, unknown>) => boolean, timeoutMs = 5_000): Promise<Record<string, unknown>> {
    const found = this.received.find((r) => r.type === type && (!predicate || predicate(r.event)));
    if (found) return Promise.resolve(found.event);
    return new Promise((resolve, reject) => {
      const waiter = {
        type,
        ...(predicate ? { predicate } : {}),
        resolve: (event: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(event);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`peer: no ${type} within ${timeoutMs} ms; received: ${this.received.map((r) => r.type).join(', ') || 'nothing'}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  send(event: object): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    const type = String((event as { type?: unknown }).type);
    this.sentCounts.set(type, (this.sentCounts.get(type) ?? 0) + 1);
    this.ws.send(JSON.stringify({ event_id: newId('event'), ...event }));
  }

  drop(code?: number, reason?: string): void {
    if (this.closed) return;
    if (code === undefined || code === 1006) this.ws.terminate();
    else this.ws.close(code, reason);
  }

  speechStarted(): void {
    this.userItemId = newId('item');
    // Like the service: the start includes the prefix padding (never before the session's first audio).
    this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.max(0, this.audioMs - this.prefixPaddingMs), item_id: this.userItemId });
    if (this.active && !this.active.cancelled && this.turnDetection.interrupt_response !== false) this.cancelActive('turn_detected');
  }

  speechStopped(options: { transcript?: string; transcriptDelayMs?: number } = {}): void {
    this.stopSpeech(this.audioMs, options.transcript, options.transcriptDelayMs ?? 0);
  }

  /** Ends a caller turn at `audioEndMs`; its transcript (if transcription is on) follows `transcriptDelayMs` later (0: at once). */
  private stopSpeech(audioEndMs: number, transcript: string | undefined, transcriptDelayMs: number): void {
    const itemId = this.userItemId ?? newId('item');
    this.userItemId = undefined;
    this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: audioEndMs, item_id: itemId });
    this.send({ type: 'input_audio_buffer.committed', previous_item_id: this.lastItemId, item_id: itemId });
    this.addItem(itemId, 'user');
    this.send({
      type: 'conversation.item.created',
      previous_item_id: this.previousOf(itemId),
      item: { id: itemId, object: 'realtime.item', type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_audio', transcript: null }] },
    });
    this.usage.addInputAudio(audioEndMs - this.committedAudioMs);
    this.committedAudioMs = audioEndMs;
    // With transcription on, every committed turn gets its transcript (an empty one if the test gave none).
    if (!this.transcriptionOn) return;
    const text = transcript ?? '';
    const complete = (): void => {
      this.usage.addText(text);
      this.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: itemId, content_index: 0, transcript: text });
    };
    if (transcriptDelayMs <= 0) return complete();
    setTimeout(complete, transcriptDelayMs).unref();
  }

  async respondWithAudio(pcm16: Int16Array | Buffer, options: RespondOptions = {}): Promise<{ responseId: string; itemId: string }> {
    const bytes = pcm16 instanceof Int16Array ? int16ToBuffer(pcm16) : pcm16;
    const responseId = newId('resp');
    const itemId = newId('item');
    const response = newResponse(responseId);
    if (this.active) this.cancelActive('superseded');
    this.active = response;
    const transcript = options.transcript ?? '';
    const outputRateHz = outputRateOf(this.session);
    const chunkMs = options.chunkMs ?? this.options.audioChunkMs;
    const chunkBytes = Math.max(2, Math.round((outputRateHz * 2 * chunkMs) / 1000 / 2) * 2);
    const bytesPerMs = (outputRateHz * 2) / 1000;
    const ids = { response_id: responseId, item_id: itemId, output_index: 0, content_index: 0 };

    this.send({ type: 'response.created', response: { id: responseId, object: 'realtime.response', status: 'in_progress', output: [] } });
    const item = { id: itemId, object: 'realtime.item', type: 'message', role: 'assistant', status: 'in_progress', content: [] };
    this.send({ type: 'response.output_item.added', response_id: responseId, output_index: 0, item });
    this.addItem(itemId, 'assistant');
    this.send({ type: 'conversation.item.created', previous_item_id: this.previousOf(itemId), item });
    this.send({ type: 'response.content_part.added', ...ids, part: { type: 'audio', transcript: '' } });

    const words = transcript.length > 0 ? transcript.split(' ') : [];
    const chunks = Math.max(1, Math.ceil(bytes.length / chunkBytes));
    let wordsSent = 0;
    let sentBytes = 0;
    const startedAt = performance.now();
    for (let i = 0; i < chunks && !response.cancelled && !this.closed; i++) {
      const wordsDue = Math.ceil(((i + 1) / chunks) * words.length);
      if (wordsDue > wordsSent) {
        const delta = (wordsSent > 0 ? ' ' : '') + words.slice(wordsSent, wordsDue).join(' ');
        wordsSent = wordsDue;
        this.send({ type: 'response.audio_transcript.delta', ...ids, delta });
      }
      const chunk = bytes.subarray(i * chunkBytes, Math.min(bytes.length, (i + 1) * chunkBytes));
      if (chunk.length > 0) {
        this.send({ type: 'response.audio.delta', ...ids, delta: chunk.toString('base64') });
        this.voiceUsed = true;
        sentBytes += chunk.length;
        const entry = this.items.get(itemId);
        if (entry) entry.audioMs = Math.floor(sentBytes / bytesPerMs);
      }
      if (options.realTime) {
        const dueMs = sentBytes / bytesPerMs - (performance.now() - startedAt);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, dueMs));
          response.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        response.wake = undefined;
      } else {
        // Let client events (cancel, barge-in) in between deltas, as a real socket would.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (this.closed) {
      response.settle();
      return { responseId, itemId };
    }
    const cancelled = response.cancelled;
    const spoken = cancelled ? words.slice(0, wordsSent).join(' ') : transcript;
    const status = cancelled ? 'cancelled' : 'completed';
    this.send({ type: 'response.audio.done', ...ids });
    this.send({ type: 'response.audio_transcript.done', ...ids, transcript: spoken });
    this.send({ type: 'response.content_part.done', ...ids, part: { type: 'audio', transcript: spoken } });
    const doneItem = { ...item, status: cancelled ? 'incomplete' : 'completed', content: [{ type: 'audio', transcript: spoken }] };
    this.send({ type: 'response.output_item.done', response_id: responseId, output_index: 0, item: doneItem });
    this.send({
      type: 'response.done',
      response: {
        id: responseId,
        object: 'realtime.response',
        status,
        status_details: cancelled ? { type: 'cancelled', reason: response.reason ?? 'client_cancelled' } : null,
        output: [doneItem],
        usage: this.usage.respond({ audioMs: sentBytes / bytesPerMs, text: spoken }),
      },
    });
    if (this.active === response) this.active = undefined;
    response.settle();
    return { responseId, itemId };
  }

  async callFunction(name: string, args: object): Promise<{ callId: string }> {
    const responseId = newId('resp');
    const itemId = newId('item');
    const callId = newId('call');
    const argumentsJson = JSON.stringify(args);
    const response = newResponse(responseId);
    this.active = response;
    this.send({ type: 'response.created', response: { id: responseId, object: 'realtime.response', status: 'in_progress', output: [] } });
    const item = { id: itemId, object: 'realtime.item', type: 'function_call', status: 'in_progress', name, call_id: callId, arguments: '' };
    this.send({ type: 'response.output_item.added', response_id: responseId, output_index: 0, item });
    this.addItem(itemId, 'function_call');
    this.send({ type: 'conversation.item.created', previous_item_id: this.previousOf(itemId), item });
    await new Promise((resolve) => setImmediate(resolve));
    const ids = { response_id: responseId, item_id: itemId, output_index: 0, call_id: callId };
    this.send({ type: 'response.function_call_arguments.delta', ...ids, delta: argumentsJson });
    this.send({ type: 'response.function_call_arguments.done', ...ids, name, arguments: argumentsJson });
    const doneItem = { ...item, status: 'completed', arguments: argumentsJson };
    this.send({ type: 'response.output_item.done', response_id: responseId, output_index: 0, item: doneItem });
    this.send({
      type: 'response.done',
      response: {
        id: responseId,
        object: 'realtime.response',
        status: 'completed',
        status_details: null,
        output: [doneItem],
        usage: this.usage.respond({ audioMs: 0, text: name + argumentsJson }),
      },
    });
    if (this.active === response) this.active = undefined;
    response.settle();
    return { callId };
  }

  // ---- client events -------------------------------------------------------------------------

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) return this.sendError('invalid_request_error', 'binary_not_supported', 'Binary frames are not supported.');
    let event: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(data.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      event = parsed as Record<string, unknown>;
    } catch {
      return this.sendError('invalid_request_error', 'invalid_json', 'The message is not a JSON object.');
    }
    const type = typeof event.type === 'string' ? event.type : '';
    const eventId = typeof event.event_id === 'string' ? event.event_id : undefined;
    if (type === 'input_audio_buffer.append') {
      const audio = typeof event.audio === 'string' ? event.audio : '';
      const byteCount = Buffer.byteLength(audio, 'base64');
      this.audioBytes += byteCount;
      this.record({ type, event: { type, audioBytes: byteCount }, audioBytes: byteCount, atMs: Date.now() });
      if (this.options.mode === 'echo-agent') this.runVad(Buffer.from(audio, 'base64'));
      return;
    }
    this.record({ type, event, atMs: Date.now() });
    switch (type) {
      case 'session.update': {
        const update = event.session;
        if (typeof update !== 'object' || update === null) return this.sendError('invalid_request_error', 'missing_required_parameter', 'session is required', 'session', eventId);
        const refusal = refuseSessionUpdate(this.session, update as Record<string, unknown>, { audioAppended: this.audioBytes > 0, voiceUsed: this.voiceUsed });
        // Refused as a whole: the session keeps every previous setting.
        if (refusal) return this.sendError('invalid_request_error', refusal.code, refusal.message, refusal.param, eventId);
        this.session = { ...this.session, ...(update as Record<string, unknown>), id: this.id, expires_at: this.session.expires_at };
        this.usage.setPrompt(this.session);
        this.send({ type: 'session.updated', session: this.session });
        return;
      }
      case 'input_audio_buffer.commit':
        if (this.audioBytes === 0) return this.sendError('invalid_request_error', 'input_audio_buffer_commit_empty', 'Buffer is empty.', null, eventId);
        return this.stopSpeech(this.audioMs, undefined, 0);
      case 'input_audio_buffer.clear':
        return this.send({ type: 'input_audio_buffer.cleared' });
      case 'conversation.item.create': {
        const item = event.item;
        if (typeof item !== 'object' || item === null) return this.sendError('invalid_request_error', 'missing_required_parameter', 'item is required', 'item', eventId);
        const record = item as Record<string, unknown>;
        const itemId = typeof record.id === 'string' ? record.id : newId('item');
        const role = typeof record.role === 'string' ? record.role : String(record.type);
        this.addItem(itemId, role);
        this.usage.addText(itemText(record));
        this.send({ type: 'conversation.item.created', previous_item_id: this.previousOf(itemId), item: { ...record, id: itemId, object: 'realtime.item', status: 'completed' } });
        return;
      }
      case 'conversation.item.truncate':
        return this.truncate(event, eventId);
      case 'conversation.item.delete': {
        const itemId = String(event.item_id);
        if (!this.items.delete(itemId)) return this.sendError('invalid_request_error', 'item_not_found', `Item ${itemId} not found.`, 'item_id', eventId);
        return this.send({ type: 'conversation.item.deleted', item_id: itemId });
      }
      case 'response.create':
        // One response at a time: the service refuses a second one and the first one goes on.
        if (this.active) {
          return this.sendError(
            'invalid_request_error',
            'conversation_already_has_active_response',
            `Conversation already has an active response in progress: ${this.active.responseId}. Wait until the response is finished before creating a new one.`,
            null,
            eventId,
          );
        }
        if (this.options.mode === 'echo-agent') void this.echoResponse(event);
        return;
      case 'response.cancel':
        if (!this.active || this.active.cancelled) {
          return this.sendError('invalid_request_error', 'response_cancel_not_active', 'Cancellation failed: no active response found', null, eventId);
        }
        return this.cancelActive('client_cancelled');
      default:
        return this.sendError('invalid_request_error', 'unknown_event_type', `Unknown event type: '${type}'.`, 'type', eventId);
    }
  }

  private truncate(event: Record<string, unknown>, eventId: string | undefined): void {
    const itemId = String(event.item_id);
    const audioEndMs = Number(event.audio_end_ms);
    const item = this.items.get(itemId);
    if (!item) return this.sendError('invalid_request_error', 'item_not_found', `Item ${itemId} not found.`, 'item_id', eventId);
    if (item.role !== 'assistant') return this.sendError('invalid_request_error', 'invalid_value', 'Only assistant messages can be truncated.', 'item_id', eventId);
    if (!Number.isFinite(audioEndMs) || audioEndMs < 0 || audioEndMs > item.audioMs) {
      return this.sendError(
        'invalid_request_error',
        'invalid_value',
        `Audio content of ${item.audioMs}ms is already shorter than ${audioEndMs}ms`,
        'audio_end_ms',
        eventId,
      );
    }
    item.audioMs = audioEndMs;
    this.send({ type: 'conversation.item.truncated', item_id: itemId, content_index: Number(event.content_index ?? 0), audio_end_ms: audioEndMs });
  }

  private cancelActive(reason: string): void {
    if (this.active && !this.active.cancelled) {
      this.active.cancelled = true;
      this.active.reason = reason;
      this.active.wake?.();
    }
  }

  private sendError(type: string, code: string, message: string, param: string | null = null, eventId?: string): void {
    this.send({ type: 'error', error: { type, code, message, param, event_id: eventId ?? null } });
  }

  private record(record: ClientEventRecord): void {
    this.received.push(record);
    if (this.waiters.length === 0) return;
    for (const waiter of [...this.waiters]) {
      if (waiter.type === record.type && (!waiter.predicate || waiter.predicate(record.event))) {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.resolve(record.event);
      }
    }
  }

  private addItem(itemId: string, role: string): void {
    this.items.set(itemId, { role, audioMs: 0 });
  }

  /** The id before `itemId` in the conversation, and makes `itemId` the latest. */
  private previousOf(itemId: string): string | null {
    const previous = this.lastItemId;
    this.lastItemId = itemId;
    return previous;
  }

  // ---- echo agent --------------------------------------------------------------------------------

  private runVad(bytes: Buffer): void {
    const rateHz = this.inputRateHz;
    const frame = Math.round(rateHz * 0.02);
    let samples = bufferToInt16(bytes);
    if (this.vadRemainder.length > 0) {
      const joined = new Int16Array(this.vadRemainder.length + samples.length);
      joined.set(this.vadRemainder);
      joined.set(samples, this.vadRemainder.length);
      samples = joined;
    }
    let offset = 0;
    const silenceMs = Number(this.turnDetection.silence_duration_ms ?? 500);
    for (; offset + frame <= samples.length; offset += frame) {
      const frameStartMs = this.vadProcessedMs;
      this.vadProcessedMs += 20;
      const loud = rms(samples, offset, offset + frame) >= this.options.vadThreshold;
      if (this.vadSpeaking) this.capture(samples.subarray(offset, offset + frame));
      if (loud) {
        this.vadQuietMs = 0;
        this.vadLoudFrames++;
        this.vadLastLoudEndMs = frameStartMs + 20;
        if (!this.vadSpeaking && this.vadLoudFrames >= 2) {
          this.vadSpeaking = true;
          this.captured = [];
          this.capturedSamples = 0;
          this.capture(samples.subarray(Math.max(0, offset - frame), offset + frame));
          this.userItemId = newId('item');
          // Speech began with the previous (first loud) frame; the reported start includes the prefix padding.
          const speechStartMs = frameStartMs - 20;
          this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.max(0, speechStartMs - this.prefixPaddingMs), item_id: this.userItemId });
          if (this.active && !this.active.cancelled && this.turnDetection.interrupt_response !== false) this.cancelActive('turn_detected');
        }
      } else {
        this.vadLoudFrames = 0;
        if (this.vadSpeaking) {
          this.vadQuietMs += 20;
          if (this.vadQuietMs >= silenceMs) this.endTurn();
        }
      }
    }
    this.vadRemainder = samples.slice(offset);
  }

  private capture(frame: Int16Array): void {
    if ((this.capturedSamples / this.inputRateHz) * 1000 >= MAX_ECHO_MS) return;
    this.captured.push(frame.slice());
    this.capturedSamples += frame.length;
  }

  private endTurn(): void {
    this.vadSpeaking = false;
    this.vadQuietMs = 0;
    // Keep the speech, not the trailing silence that ended it.
    const speechSamples = Math.max(0, this.capturedSamples - Math.round((this.inputRateHz * (this.vadProcessedMs - this.vadLastLoudEndMs)) / 1000));
    const joined = new Int16Array(this.capturedSamples);
    let at = 0;
    for (const part of this.captured) {
      joined.set(part, at);
      at += part.length;
    }
    this.captured = [];
    this.capturedSamples = 0;
    const speech = joined.subarray(0, speechSamples);
    const spokenMs = Math.round((speech.length / this.inputRateHz) * 1000);
    // audio_end_ms is the end of the silence that closed the turn (speech end + silence_duration_ms), as documented.
    const late = this.random() < this.options.lateTranscriptFraction;
    const transcriptDelayMs = late ? 150 + Math.round(this.random() * 450) : 0;
    this.stopSpeech(this.vadProcessedMs, `(${(spokenMs / 1000).toFixed(1)} s of speech)`, transcriptDelayMs);
    const firstTurn = ++this.callerTurns === 1;
    const rule = this.options.voicemailRule;
    if (rule && firstTurn && spokenMs >= rule.minFirstTurnMs && this.offersTool(rule.toolName)) {
      // Not the model's judgement: a long opening monologue is taken for a mailbox greeting (docs/fidelity/voice-live.md).
      if (this.turnDetection.create_response !== false) void this.reportVoicemail(rule.toolName, spokenMs);
      return;
    }
    this.pendingEcho = speech;
    if (this.turnDetection.create_response !== false) void this.playEcho();
  }

  private offersTool(name: string): boolean {
    const tools = this.session.tools;
    return Array.isArray(tools) && tools.some((tool) => typeof tool === 'object' && tool !== null && (tool as { name?: unknown }).name === name);
  }

  private async reportVoicemail(toolName: string, spokenMs: number): Promise<void> {
    if (this.active) await this.active.done;
    await this.callFunction(toolName, { reason: `lab rule: the first turn was a ${(spokenMs / 1000).toFixed(1)} s monologue` });
  }

  private async playEcho(): Promise<void> {
    // A response the caller's speech cancelled ends (response.done) before the reply to that speech starts.
    if (this.active) await this.active.done;
    const speech = this.pendingEcho;
    this.pendingEcho = undefined;
    if (!speech || speech.length === 0) return;
    const audio = resampleLinear(speech, this.inputRateHz, outputRateOf(this.session));
    await this.respondWithAudio(audio, { transcript: `You said this, and I am playing it back to you.` });
  }

  private async echoResponse(event: Record<string, unknown>): Promise<void> {
    const response = (typeof event.response === 'object' && event.response !== null ? event.response : {}) as Record<string, unknown>;
    const pre = response.pre_generated_assistant_message as { content?: { text?: string }[] } | undefined;
    if (!pre && this.pendingEcho) return this.playEcho();
    const outputRateHz = outputRateOf(this.session);
    if (!pre && this.options.greeting) {
      const greeting = typeof this.options.greeting === 'function' ? this.options.greeting(outputRateHz) : this.options.greeting;
      const { samples, sampleRateHz = outputRateHz, transcript = ECHO_GREETING } = greeting instanceof Int16Array ? { samples: greeting } : greeting;
      await this.respondWithAudio(sampleRateHz === outputRateHz ? samples : resampleLinear(samples, sampleRateHz, outputRateHz), { transcript });
      return;
    }
    const text = pre?.content?.[0]?.text ?? ECHO_GREETING;
    await this.respondWithAudio(beeps(outputRateHz), { transcript: text });
  }
}

/** The text a client-created item adds to the conversation (message text, function arguments or output). */
function itemText(item: Record<string, unknown>): string {
  const parts = Array.isArray(item.content) ? (item.content as Record<string, unknown>[]) : [];
  const text = parts.map((part) => (typeof part.text === 'string' ? part.text : typeof part.transcript === 'string' ? part.transcript : '')).join(' ');
  const extra = [item.arguments, item.output, item.name].filter((v): v is string => typeof v === 'string').join(' ');
  return `${text} ${extra}`.trim();
}
