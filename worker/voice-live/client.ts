import { randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import { z } from 'zod';
import { silentLogger, type Logger } from '../../shared/log.js';
import { VoiceLiveConnection, type ConnectionCallbacks } from './connection.js';
import { ConversationLog, type ConversationEntry, type ReplayPlan } from './conversation-log.js';
import { VoiceLiveError, backoffDelayMs, isFatalCloseCode } from './errors.js';
import { ACTIVE_RESPONSE_ERROR_CODE, BENIGN_ERROR_CODES, type ServerEvent } from './events.js';
import { buildSessionUpdate, voiceLiveSessionSettingsSchema, type VoiceLiveSessionSettings } from './session-config.js';
import { buildVoiceLiveUrl, redactVoiceLiveUrl, type VoiceLiveTarget } from './url.js';

export { VoiceLiveError } from './errors.js';
export type { VoiceLiveTarget } from './url.js';

/** Entra scope for Voice Live (the legacy cognitiveservices scope also works). */
export const VOICE_LIVE_SCOPE = 'https://ai.azure.com/.default';

export interface VoiceLiveClientOptions {
  /** http(s) base URL of the resource; ws(s) is derived and any path is replaced by /voice-live/realtime. */
  endpoint: string;
  /** e.g. 2026-07-15 */
  apiVersion: string;
  target: VoiceLiveTarget;
  /**
   * A model: the `api-key` header, else `Authorization: Bearer` for VOICE_LIVE_SCOPE. An agent: always the Bearer
   * token from `credential` (Voice Live does not support key authentication for agents); a classic agent
   * (`agent-classic`) also gets it as its agent access token. Never put in the URL.
   */
  auth: { apiKey: string; credential?: TokenCredential } | { credential: TokenCredential };
  session: VoiceLiveSessionSettings;
  /** Spoken once, after the first `session.updated` (not again after a reconnect or renewal). */
  greeting?: { kind: 'text'; text: string } | { kind: 'generated'; instruction: string };
  callId: string;
  logger?: Logger;
  reconnect?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number };
  /** How long before the session's expiry a replacement is prepared. Default 5 min. */
  renewBeforeExpiryMs?: number;
  /** The session lifetime assumed when the service reports no `expires_at`. Default 60 min. */
  assumedSessionMs?: number;
  connectTimeoutInMs?: number;
  /** Largest server message accepted. Default 8 MiB. */
  maxPayloadBytes?: number;
  /** Socket ping interval; a socket silent for two intervals is treated as dropped. Default 15 s. */
  heartbeatIntervalMs?: number;
  /** How long close() waits for the closing handshake before terminating. Default 1 s. */
  closeTimeoutInMs?: number;
  /** Caller audio is dropped (and counted) while more than this is queued on the socket. Default 1 MiB. */
  maxBufferedBytes?: number;
  /**
   * Caller audio that arrives before the first session is open is held, up to this much (the newest kept), and
   * sent in order once it opens. Default 3000 ms.
   */
  maxHeldAudioMs?: number;
}

export interface VoiceLiveClientEvents {
  event: (event: ServerEvent) => void;
  audio: (delta: { responseId: string; itemId: string; base64: string }) => void;
  'session-replaced': (info: { reason: 'reconnect' | 'renewal' }) => void;
  /** `authFailed`: the credential gave no token, or Voice Live refused it (401/403): settings to fix, not a blip. */
  closed: (info: { reason: string; code?: number; fatal: boolean; authFailed?: boolean }) => void;
  warning: (warning: { code: string; message: string }) => void;
}

type State = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';
/** What a session that ends owes the caller; `turnKnown`: the unanswered turn's transcript is in (the new session learns it). */
interface OwedWork {
  pending: 'reply-cut' | 'turn-unanswered' | 'none';
  turnKnown: boolean;
}
const NOTHING_OWED: OwedWork = { pending: 'none', turnKnown: false };

const tokenCredential = z.custom<TokenCredential>((c) => typeof (c as TokenCredential | null)?.getToken === 'function', 'must have getToken()');

const optionsSchema = z.object({
  endpoint: z.string().refine((value) => {
    try {
      return ['http:', 'https:', 'ws:', 'wss:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, 'must be an http(s) URL'),
  apiVersion: z.string().regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'must look like 2026-07-15 or 2026-06-01-preview'),
  target: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('model'), model: z.string().min(1) }),
    z.object({
      kind: z.literal('agent'),
      agentName: z.string().min(1),
      projectName: z.string().min(1),
      agentVersion: z.string().min(1).optional(),
      conversationId: z.string().min(1).optional(),
    }),
    z.object({ kind: z.literal('agent-classic'), agentId: z.string().min(1), projectName: z.string().min(1) }),
  ]),
  auth: z.union([
    z.object({ apiKey: z.string().min(1, 'must not be empty'), credential: tokenCredential.optional() }),
    z.object({ credential: tokenCredential }),
  ]),
  session: voiceLiveSessionSettingsSchema,
  greeting: z
    .discriminatedUnion('kind', [
      z.object({ kind: z.literal('text'), text: z.string().min(1) }),
      z.object({ kind: z.literal('generated'), instruction: z.string().min(1) }),
    ])
    .optional(),
  callId: z.string().min(1),
  reconnect: z
    .object({
      maxAttempts: z.number().int().min(0).max(100).optional(),
      initialDelayMs: z.number().int().min(0).optional(),
      maxDelayMs: z.number().int().min(0).optional(),
    })
    .optional(),
  renewBeforeExpiryMs: z.number().int().min(0).optional(),
  assumedSessionMs: z.number().int().positive().optional(),
  connectTimeoutInMs: z.number().int().positive().optional(),
  maxPayloadBytes: z.number().int().min(1024).optional(),
  heartbeatIntervalMs: z.number().int().min(0).optional(),
  closeTimeoutInMs: z.number().int().positive().optional(),
  maxBufferedBytes: z.number().int().positive().optional(),
  maxHeldAudioMs: z.number().int().min(0).max(10_000).optional(),
}).refine((o) => o.target.kind === 'model' || o.auth.credential !== undefined, {
  message: 'an agent needs a Microsoft Entra credential: Voice Live does not support key authentication for agents',
  path: ['auth', 'credential'],
});

/**
 * Caller audio held while the first session opens. Opening normally takes well under a second; 3 s also covers a
 * retried connect and a caller's "Hello? ... Hello?", while older audio would only be stale by the time it is
 * heard. Measured (bench/held-audio-memory.ts): about 217 KiB per call at 24 kHz, 155 KiB at 16 kHz, for those seconds only.
 */
const DEFAULT_MAX_HELD_AUDIO_MS = 3_000;
const WARNING_BURST = 5;
const CONTINUE_CUT_REPLY =
  'Your last reply was cut off mid-sentence by a technical switch; the caller heard it up to where it stops above. Continue it from exactly there and finish it, without repeating what was already said and without mentioning the interruption.';
const ASK_TO_REPEAT = "The caller's last words were lost in a technical switch. Apologise in a few words and ask them to repeat what they just said.";
const WARNING_WINDOW_MS = 10_000;
/** With no quiet moment, the switch is forced this long before expiry (at most a fifth of the renewal lead). */
const FORCE_SWITCH_BEFORE_EXPIRY_MS = 5_000;

/**
 * A Voice Live realtime session for one call, over `ws`: one connect loop, retryable vs fatal errors,
 * reconnect with the conversation replayed, and renewal before the 60-minute limit, switched at a quiet
 * moment. Events are dispatched synchronously in arrival order.
 */
export class VoiceLiveClient {
  /** `droppedAudioChunks` includes held audio that overflowed (`heldAudioOverflow`) or was never sent. */
  readonly stats = { reconnects: 0, renewals: 0, malformedEvents: 0, droppedAudioChunks: 0, heldAudioChunks: 0, heldAudioOverflow: 0 };

  private readonly options: VoiceLiveClientOptions;
  private readonly log: Logger;
  private readonly listeners: { [K in keyof VoiceLiveClientEvents]: VoiceLiveClientEvents[K][] } = {
    event: [],
    audio: [],
    'session-replaced': [],
    closed: [],
    warning: [],
  };
  private readonly conversation: ConversationLog;
  private readonly sessionUpdate: { type: 'session.update'; session: Record<string, unknown> };
  private readonly maxAttempts: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly renewBeforeExpiryMs: number;
  private readonly assumedSessionMs: number;

  private state: State = 'idle';
  private primary: VoiceLiveConnection | undefined;
  private standby:
    | { connection: VoiceLiveConnection; replayed: Set<ConversationEntry>; replayIds: ReplayIds; seeded: Map<string, string>; ready: boolean }
    | undefined;
  private connectPromise: Promise<void> | undefined;
  private closePromise: Promise<void> | undefined;
  private closedEmitted = false;
  private greeted = false;
  private greetingHold: Promise<boolean> | undefined;
  private readonly lifetime = new AbortController();
  private renewalTimer: NodeJS.Timeout | undefined;
  private forceSwitchTimer: NodeJS.Timeout | undefined;
  private readonly activeResponses = new Set<string>();
  private callerSpeaking = false;
  /**
   * Caller turns whose transcript has not come yet (transcription completes asynchronously, often after the
   * reply started): a renewal waits for them, or the new session and the record would miss the caller's words.
   */
  private readonly awaitedTranscripts = new Set<string>();
  /** The caller finished a turn on this session and no response to it has started yet. */
  private turnAwaitingAnswer = false;
  /** Items this session created itself (so a truncate of one is sent as is). */
  private readonly liveItemIds = new Set<string>();
  /** Items of earlier sessions replayed into this one: the id each has here, by the id it had where it was said. */
  private replayIds: ReplayIds = emptyReplayIds();
  private readonly pendingCancelEventIds = new Set<string>();
  /** Recent `response.create` event ids: their refusal for an active response is expected, not a failure. */
  private readonly pendingCreateEventIds = new Set<string>();
  private readonly warningCounts = new Map<string, { windowStart: number; count: number; suppressed: number }>();
  private readonly callbacks: ConnectionCallbacks;
  /** Caller audio (base64) that arrived while the first session was being opened, oldest first. */
  private heldAudio: string[] = [];
  private heldAudioBytes = 0;
  private readonly maxHeldAudioBytes: number;

  constructor(options: VoiceLiveClientOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = ['options', ...(issue?.path ?? [])].join('.');
      throw new VoiceLiveError('INVALID_OPTIONS', `${path}: ${issue?.message ?? 'invalid'}`);
    }
    this.options = options;
    this.log = (options.logger ?? silentLogger).child({ callId: options.callId, component: 'voice-live' });
    this.conversation = new ConversationLog({ outputRateHz: options.session.outputRateHz });
    this.sessionUpdate = buildSessionUpdate({
      ...options.session,
      metadata: { callId: options.callId, ...(options.session.metadata ?? {}) },
    });
    this.maxAttempts = options.reconnect?.maxAttempts ?? 5;
    this.initialDelayMs = options.reconnect?.initialDelayMs ?? 250;
    this.maxDelayMs = Math.max(this.initialDelayMs, options.reconnect?.maxDelayMs ?? 5_000);
    this.renewBeforeExpiryMs = options.renewBeforeExpiryMs ?? 5 * 60_000;
    this.maxHeldAudioBytes = Math.round((options.session.inputRateHz * 2 * (options.maxHeldAudioMs ?? DEFAULT_MAX_HELD_AUDIO_MS)) / 1000);
    this.assumedSessionMs = options.assumedSessionMs ?? 60 * 60_000;
    this.callbacks = {
      onEvent: (connection, event) => this.onConnectionEvent(connection, event),
      onMalformed: (_connection, reason) => {
        this.stats.malformedEvents++;
        this.warn('malformed_event', `malformed Voice Live event dropped: ${reason}`);
      },
      onSetupWarning: (_connection, message) => this.warn('setup_error', message),
      onDropped: (connection, info) => this.onConnectionDropped(connection, info),
    };
  }

  on<K extends keyof VoiceLiveClientEvents>(name: K, listener: VoiceLiveClientEvents[K]): this {
    this.listeners[name].push(listener);
    return this;
  }

  off<K extends keyof VoiceLiveClientEvents>(name: K, listener: VoiceLiveClientEvents[K]): this {
    const list = this.listeners[name] as VoiceLiveClientEvents[K][];
    const index = list.indexOf(listener);
    if (index >= 0) list.splice(index, 1);
    return this;
  }

  /** The conversation so far, as it would be replayed into a new session. */
  get conversationEntries(): ConversationEntry[] {
    return this.conversation.snapshot();
  }

  /**
   * Before `connect()`: the greeting waits until `until` settles, and is skipped if it resolves false (a call
   * carried over from another replica is not greeted again). The session itself opens meanwhile.
   */
  holdGreetingUntil(until: Promise<boolean>): void {
    this.greetingHold = until;
  }

  /**
   * Continues a conversation held elsewhere (a call moved here from another replica): the entries go first in
   * the conversation, are given to the open session at once (or with the session being set up, as a reconnect
   * replays), and the greeting is not spoken.
   */
  resumeConversation(entries: readonly ConversationEntry[]): void {
    if (this.state === 'closed') return;
    this.greeted = true;
    const items = this.conversation.seed(entries);
    // Idle or still connecting: the connect loop replays the whole log, seeded entries included.
    if (this.state === 'open' && this.primary && items.length > 0) this.primary.sendReplay(items);
  }

  /** Between the service's speech_started and speech_stopped on the current session. */
  get callerIsSpeaking(): boolean {
    return this.callerSpeaking;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Resolves once `session.update` was sent and `session.updated` seen; rejects with a VoiceLiveError. */
  connect(options: { abortSignal?: AbortSignal } = {}): Promise<void> {
    if (this.connectPromise) return this.connectPromise;
    if (this.state === 'closed') return Promise.reject(new VoiceLiveError('CLIENT_CLOSED', 'client is closed'));
    const signal = options.abortSignal;
    const onAbort = (): void => void this.close('connect aborted');
    if (signal?.aborted) {
      void this.close('connect aborted');
      return Promise.reject(new VoiceLiveError('ABORTED', 'connect aborted'));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    this.state = 'connecting';
    this.connectPromise = this.connectLoop('initial').finally(() => signal?.removeEventListener('abort', onAbort));
    return this.connectPromise;
  }

  /**
   * `input_audio_buffer.append`. Never throws. Before the first session is open the audio is held (bounded) and
   * sent in order once it is; later, audio no session can take (reconnecting) is counted as dropped.
   */
  appendAudio(base64Pcm16: string): void {
    if (this.state === 'connecting' || this.state === 'idle') return this.holdAudio(base64Pcm16);
    const connection = this.primary;
    if (
      this.state !== 'open' ||
      !connection ||
      connection.bufferedAmount > (this.options.maxBufferedBytes ?? 1 << 20) ||
      // Caller audio can hold no JSON-special characters only if it is base64; anything else is not ours to send.
      !connection.sendText('{"type":"input_audio_buffer.append","audio":"' + base64Pcm16 + '"}')
    ) {
      this.stats.droppedAudioChunks++;
    }
  }

  /** Keeps the newest `maxHeldAudioMs` of caller audio: the part that joins up with what follows once the session opens. */
  private holdAudio(base64Pcm16: string): void {
    this.heldAudio.push(base64Pcm16);
    this.heldAudioBytes += pcmBytesOf(base64Pcm16);
    this.stats.heldAudioChunks++;
    while (this.heldAudioBytes > this.maxHeldAudioBytes && this.heldAudio.length > 0) {
      this.heldAudioBytes -= pcmBytesOf(this.heldAudio.shift()!);
      this.stats.heldAudioOverflow++;
      this.stats.droppedAudioChunks++;
    }
  }

  /** The first session is open: what the caller said meanwhile goes first, in order. */
  private sendHeldAudio(): void {
    const held = this.heldAudio;
    this.heldAudio = [];
    this.heldAudioBytes = 0;
    if (held.length > 0) this.log.debug({ chunks: held.length, overflowed: this.stats.heldAudioOverflow }, 'sending caller audio held while Voice Live was opening');
    for (const chunk of held) this.appendAudio(chunk);
  }

  /** Held audio that will never be sent (the client closed first) counts as dropped. */
  private discardHeldAudio(): void {
    this.stats.droppedAudioChunks += this.heldAudio.length;
    this.heldAudio = [];
    this.heldAudioBytes = 0;
  }

  /**
   * `response.create`, with an event id the service's refusal names (`conversation_already_has_active_response`
   * when a response is already in progress): returned if sent, so the caller can ask again.
   */
  createResponse(response?: Record<string, unknown>): string | undefined {
    const eventId = `create_${randomUUID().slice(0, 12)}`;
    if (!this.sendOrDrop({ type: 'response.create', ...(response ? { response } : {}), event_id: eventId })) return undefined;
    this.pendingCreateEventIds.add(eventId);
    if (this.pendingCreateEventIds.size > 32) this.pendingCreateEventIds.delete(this.pendingCreateEventIds.values().next().value!);
    return eventId;
  }

  /** `response.cancel`; the "nothing to cancel" error it may provoke is expected and not reported. */
  cancelResponse(responseId?: string): void {
    const eventId = `cancel_${randomUUID().slice(0, 12)}`;
    if (this.sendOrDrop({ type: 'response.cancel', ...(responseId ? { response_id: responseId } : {}), event_id: eventId })) {
      this.pendingCancelEventIds.add(eventId);
      if (this.pendingCancelEventIds.size > 32) this.pendingCancelEventIds.delete(this.pendingCancelEventIds.values().next().value!);
    }
  }

  /**
   * Keeps only the first `audioEndMs` of an assistant item's audio in the model's context. An item said on an earlier
   * session (renewal, reconnect) lives here as replayed text, which cannot be truncated: it is replaced, in its place,
   * by the text that was heard (or deleted when nothing was).
   */
  truncate(itemId: string, audioEndMs: number): void {
    const replayedAs = this.replayIds.byItemId.get(itemId);
    if (replayedAs !== undefined) return this.replaceReplayed(itemId, replayedAs, audioEndMs);
    if (this.stats.renewals + this.stats.reconnects > 0 && !this.liveItemIds.has(itemId)) {
      // Said on an earlier session and not carried over (nothing to replay): nothing here to cut.
      this.log.debug({ itemId }, 'truncate of an item this session does not have skipped');
      return;
    }
    this.sendOrDrop({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: Math.max(0, Math.floor(audioEndMs)) });
  }

  private replaceReplayed(itemId: string, replayedAs: string, audioEndMs: number): void {
    const connection = this.primary;
    if (this.state !== 'open' || !connection) return;
    const heard = this.conversation.truncateReplayed(itemId, audioEndMs);
    this.swapReplayed(connection, itemId, replayedAs, heard);
    this.log.debug({ itemId, replayedAs, heardMs: Math.floor(audioEndMs), kept: heard !== undefined }, 'replayed item cut to what the caller heard');
  }

  /** Puts `item` in place of a replayed item on `connection` (deletes it when `item` is undefined). */
  private swapReplayed(connection: VoiceLiveConnection, itemId: string, replayedAs: string, item: Record<string, unknown> | undefined): void {
    const previous = this.replayIds.previous.get(replayedAs);
    connection.sendJson({ type: 'conversation.item.delete', item_id: replayedAs });
    this.replayIds.byItemId.delete(itemId);
    if (!item) return;
    const id = newReplayId();
    connection.sendReplay([{ ...item, id }], previous);
    this.replayIds.byItemId.set(itemId, id);
    this.replayIds.previous.set(id, previous);
    for (const [later, before] of this.replayIds.previous) if (before === replayedAs) this.replayIds.previous.set(later, id);
  }

  /**
   * Items given to the standby when it was prepared that have changed since (a barge-in on the old session cut a
   * reply to what was heard): the new session gets them as they now read, in their place.
   */
  private refreshSeeded(connection: VoiceLiveConnection, seeded: ReadonlyMap<string, string>): void {
    for (const [itemId, sent] of seeded) {
      const replayedAs = this.replayIds.byItemId.get(itemId);
      const now = this.conversation.currentItem(itemId);
      if (replayedAs === undefined || (now !== undefined && JSON.stringify(now) === sent)) continue;
      this.swapReplayed(connection, itemId, replayedAs, now);
      this.log.debug({ itemId, replayedAs }, 'item changed since the new session was prepared: replaced there');
    }
  }

  /** Adds an item; it is also kept for replay, so a tool result survives a reconnect. */
  createConversationItem(item: Record<string, unknown>, previousItemId?: string): void {
    this.conversation.recordClientItem(item);
    this.sendOrDrop({ type: 'conversation.item.create', item, ...(previousItemId ? { previous_item_id: previousItemId } : {}) });
  }

  send(event: { type: string } & Record<string, unknown>): void {
    this.sendOrDrop(event);
  }

  /** Idempotent; the socket is closed within `closeTimeoutInMs`; never throws. */
  close(reason = 'client closed'): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.state = 'closed';
    this.discardHeldAudio();
    this.lifetime.abort();
    this.clearRenewalTimers();
    const sockets = [this.primary, this.standby?.connection].filter((c): c is VoiceLiveConnection => c !== undefined);
    this.standby = undefined;
    this.closePromise = Promise.all(sockets.map((c) => c.close(reason)))
      .catch(() => undefined)
      .then(() => {
        this.log.info({ reason }, 'Voice Live client closed');
        this.emitClosed({ reason, code: 1000, fatal: false });
      });
    return this.closePromise;
  }

  // ---- connect loop --------------------------------------------------------------------------

  /** `owed`: on a reconnect, what the dropped session owed the caller (a reply it was cutting, a turn it had not answered). */
  private async connectLoop(kind: 'initial' | 'reconnect', owed: OwedWork = NOTHING_OWED): Promise<void> {
    let lastError: VoiceLiveError | undefined;
    for (let attempt = 0; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 0) {
        const delayMs = backoffDelayMs(attempt, { initialDelayMs: this.initialDelayMs, maxDelayMs: this.maxDelayMs });
        this.log.info({ attempt, delayMs, maxAttempts: this.maxAttempts }, 'retrying Voice Live connection');
        await sleep(delayMs, this.lifetime.signal);
      }
      if (this.isClosed()) throw new VoiceLiveError('CLIENT_CLOSED', 'client closed while connecting');
      try {
        const replay = withReplayIds(this.conversation.replayItems(undefined, { includeStreaming: true }));
        const connection = await this.openConnection(replay.items);
        if (this.isClosed()) {
          void connection.close('client closed');
          throw new VoiceLiveError('CLIENT_CLOSED', 'client closed while connecting');
        }
        this.adopt(connection, replay.ids);
        // Items created while this session was being set up (e.g. a tool result) were not in its replay.
        this.sendLateReplay(connection, replay.entries);
        this.log.info({ attempt, sessionId: connection.sessionId, kind }, 'Voice Live session configured');
        if (kind === 'initial') {
          this.sendHeldAudio();
          this.sendGreeting();
        }
        else {
          this.stats.reconnects++;
          this.emit('session-replaced', { reason: 'reconnect' });
        }
        connection.release();
        if (kind === 'reconnect') this.carryOn(owed.pending, owed.turnKnown);
        return;
      } catch (error) {
        const failure = toVoiceLiveError(error);
        lastError = failure;
        if (this.isClosed() || failure.code === 'CLIENT_CLOSED' || failure.code === 'ABORTED') {
          throw new VoiceLiveError('CLIENT_CLOSED', 'client closed while connecting', { cause: failure });
        }
        this.log.warn(
          { attempt, code: failure.code, statusCode: failure.statusCode, closeCode: failure.closeCode, retryable: failure.retryable },
          `Voice Live connection failed: ${failure.message}`,
        );
        if (!failure.retryable) break;
      }
    }
    const fatal = lastError ?? new VoiceLiveError('CONNECTION_FAILED', 'no attempt made');
    const authFailed = isAuthFailure(fatal);
    const reason = authFailed
      ? `Voice Live authentication failed (not retried): ${fatal.message}`
      : fatal.retryable
        ? `Voice Live unreachable after ${this.maxAttempts + 1} attempts: ${fatal.message}`
        : `Voice Live refused the session: ${fatal.message}`;
    this.log.error({ code: fatal.code, statusCode: fatal.statusCode, closeCode: fatal.closeCode, ...(authFailed ? { authFailed } : {}) }, reason);
    this.state = 'closed';
    this.discardHeldAudio();
    this.lifetime.abort();
    this.clearRenewalTimers();
    this.emitClosed({ reason, ...(fatal.statusCode ?? fatal.closeCode ? { code: fatal.statusCode ?? fatal.closeCode } : {}), fatal: true, ...(authFailed ? { authFailed } : {}) });
    throw fatal;
  }

  private async entraToken(credential: TokenCredential): Promise<string> {
    let token: string | undefined;
    try {
      token = (await credential.getToken(VOICE_LIVE_SCOPE, { abortSignal: this.lifetime.signal }))?.token;
    } catch (error) {
      const name = (error as Error)?.name ?? 'Error';
      throw new VoiceLiveError('AUTH_TOKEN_FAILED', `could not get a Microsoft Entra token (${name}): ${(error as Error)?.message ?? String(error)}`, {
        retryable: isTransientCredentialError(error),
        cause: error,
      });
    }
    if (!token) throw new VoiceLiveError('AUTH_TOKEN_FAILED', 'credential returned no token', { retryable: true });
    return token;
  }

  private async openConnection(replay: Record<string, unknown>[]): Promise<VoiceLiveConnection> {
    const headers: Record<string, string> = {
      'x-ms-client-request-id': randomUUID(),
      'user-agent': 'acs-voice-live-agent (node)',
    };
    let agentAccessToken: string | undefined;
    const auth = this.options.auth;
    // Agents take only Microsoft Entra tokens (no key authentication); a model takes the key when there is one.
    if ('apiKey' in auth && this.options.target.kind === 'model') {
      headers['api-key'] = auth.apiKey;
    } else {
      const token = await this.entraToken(auth.credential!);
      headers.authorization = `Bearer ${token}`;
      if (this.options.target.kind === 'agent-classic') agentAccessToken = token;
    }
    const url = buildVoiceLiveUrl({
      endpoint: this.options.endpoint,
      apiVersion: this.options.apiVersion,
      target: this.options.target,
      ...(agentAccessToken ? { agentAccessToken } : {}),
    });
    this.log.debug({ url: redactVoiceLiveUrl(url), replayItems: replay.length }, 'opening Voice Live session');
    const connection = new VoiceLiveConnection({
      url,
      headers,
      maxPayloadBytes: this.options.maxPayloadBytes ?? 8 * 1024 * 1024,
      connectTimeoutInMs: this.options.connectTimeoutInMs ?? 10_000,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? 15_000,
      closeTimeoutInMs: this.options.closeTimeoutInMs ?? 1_000,
      sessionUpdate: this.sessionUpdate,
      replay,
      callbacks: this.callbacks,
      assumedSessionMs: this.assumedSessionMs,
    });
    await connection.open(this.lifetime.signal);
    return connection;
  }

  /** Makes a configured connection the one that carries the call. */
  private adopt(connection: VoiceLiveConnection, replayIds: ReplayIds): void {
    this.primary = connection;
    this.state = 'open';
    this.activeResponses.clear();
    this.callerSpeaking = false;
    this.awaitedTranscripts.clear();
    this.turnAwaitingAnswer = false;
    this.liveItemIds.clear();
    this.replayIds = replayIds;
    this.scheduleRenewal(connection);
  }

  /** What was said since `alreadyReplayed` was taken, onto the new session (ids recorded for later truncation). */
  private sendLateReplay(connection: VoiceLiveConnection, alreadyReplayed: ReadonlySet<ConversationEntry>): void {
    const late = withReplayIds(this.conversation.replayItems(alreadyReplayed, { includeStreaming: true }), this.lastReplayId());
    if (late.items.length === 0) return;
    connection.sendReplay(late.items);
    for (const [source, id] of late.ids.byItemId) this.replayIds.byItemId.set(source, id);
    for (const [id, previous] of late.ids.previous) this.replayIds.previous.set(id, previous);
  }

  private lastReplayId(): string | undefined {
    return [...this.replayIds.previous.keys()].at(-1);
  }

  private onConnectionDropped(connection: VoiceLiveConnection, info: { code: number; reason: string }): void {
    if (this.isClosed()) return;
    if (this.standby?.connection === connection) {
      this.log.warn({ code: info.code }, 'standby Voice Live session dropped before the switch');
      this.standby = undefined;
      this.scheduleRenewalRetry();
      return;
    }
    if (connection !== this.primary) return;
    this.log.warn({ code: info.code, reason: info.reason, sessionId: connection.sessionId }, 'Voice Live session dropped');
    if (this.standby?.ready) {
      this.switchToStandby({ forced: true });
      return;
    }
    if (this.standby) {
      void this.standby.connection.close('abandoned');
      this.standby = undefined;
    }
    // Read before the new session resets it: the new session finishes a reply the drop cut, or answers a turn left waiting.
    const pending = this.pendingWork();
    const owed: OwedWork = { pending, turnKnown: pending === 'turn-unanswered' && this.awaitedTranscripts.size === 0 };
    this.clearRenewalTimers();
    this.primary = undefined;
    if (isFatalCloseCode(info.code)) {
      const reason = `Voice Live closed the session with ${info.code}${info.reason ? ` (${info.reason})` : ''}; not retrying`;
      this.log.error({ code: info.code }, reason);
      this.state = 'closed';
      this.lifetime.abort();
      this.emitClosed({ reason, code: info.code, fatal: true });
      return;
    }
    this.state = 'reconnecting';
    this.connectLoop('reconnect', owed).catch(() => undefined);
  }

  // ---- events ----------------------------------------------------------------------------------

  private onConnectionEvent(connection: VoiceLiveConnection, event: ServerEvent): void {
    if (connection !== this.primary) {
      if (event.type === 'error') this.warn('standby_error', `standby session: ${event.error.message ?? event.error.code ?? 'error'}`);
      return;
    }
    switch (event.type) {
      case 'response.audio.delta':
        this.conversation.addAudio(event.item_id, event.delta.length);
        this.emit('audio', { responseId: event.response_id, itemId: event.item_id, base64: event.delta });
        break;
      case 'response.created':
        this.activeResponses.add(event.response.id);
        this.turnAwaitingAnswer = false;
        break;
      case 'response.done':
        this.activeResponses.delete(event.response.id);
        break;
      case 'input_audio_buffer.speech_started':
        this.callerSpeaking = true;
        break;
      case 'input_audio_buffer.speech_stopped':
        this.callerSpeaking = false;
        this.turnAwaitingAnswer = true;
        if (this.options.session.transcription) {
          this.awaitedTranscripts.add(event.item_id);
          // A transcript that never comes must not hold renewal forever (the forced switch is the backstop).
          if (this.awaitedTranscripts.size > 8) this.awaitedTranscripts.delete(this.awaitedTranscripts.values().next().value!);
        }
        break;
      case 'conversation.item.created':
        if (event.item.id !== undefined) this.liveItemIds.add(event.item.id);
        break;
      case 'conversation.item.input_audio_transcription.completed':
      case 'conversation.item.input_audio_transcription.failed':
        this.awaitedTranscripts.delete(event.item_id);
        break;
      case 'error': {
        const eventId = event.error.event_id ?? undefined;
        if (event.error.code && BENIGN_ERROR_CODES.has(event.error.code) && eventId && this.pendingCancelEventIds.delete(eventId)) {
          this.log.debug({ code: event.error.code }, 'benign Voice Live error');
          return;
        }
        // A race with a response the service started by itself (server VAD): passed on, so whoever asked can ask again.
        if (event.error.code === ACTIVE_RESPONSE_ERROR_CODE && (eventId === undefined || this.pendingCreateEventIds.delete(eventId))) {
          this.log.debug({ code: event.error.code }, 'response.create refused: a response is already in progress');
          break;
        }
        this.log.warn({ error: { type: event.error.type, code: event.error.code, param: event.error.param } }, `Voice Live error: ${event.error.message ?? ''}`);
        break;
      }
      default:
        break;
    }
    this.conversation.onServerEvent(event);
    this.emit('event', event);
    if (this.standby?.ready && this.isQuiet()) this.switchToStandby({ forced: false });
  }

  // ---- renewal -----------------------------------------------------------------------------------

  private scheduleRenewal(connection: VoiceLiveConnection): void {
    this.clearRenewalTimers();
    const expiresAtMs = connection.expiresAtMs ?? Date.now() + this.assumedSessionMs;
    const delayMs = Math.max(0, expiresAtMs - this.renewBeforeExpiryMs - Date.now());
    this.renewalTimer = setTimeout(() => void this.prepareStandby(connection), delayMs);
    this.renewalTimer.unref();
  }

  private scheduleRenewalRetry(): void {
    const primary = this.primary;
    if (!primary || this.isClosed()) return;
    const remainingMs = (primary.expiresAtMs ?? Infinity) - Date.now();
    if (remainingMs < 1_000) return; // too late: the drop will be handled as a reconnect
    this.renewalTimer = setTimeout(() => void this.prepareStandby(primary), Math.min(this.maxDelayMs, remainingMs / 4));
    this.renewalTimer.unref();
  }

  private async prepareStandby(forPrimary: VoiceLiveConnection): Promise<void> {
    if (this.isClosed() || this.primary !== forPrimary || this.standby) return;
    const plan = this.conversation.replayItems();
    const { items, entries, ids } = withReplayIds(plan);
    // What each item said when given to the standby, to catch a change before the switch.
    const seeded = new Map<string, string>();
    plan.items.forEach((item, index) => {
      const source = plan.sourceItemIds[index];
      if (source !== undefined) seeded.set(source, JSON.stringify(item));
    });
    this.log.info({ replayItems: items.length }, 'preparing a new Voice Live session before expiry');
    let connection: VoiceLiveConnection;
    try {
      connection = await this.openConnection(items);
    } catch (error) {
      if (this.isClosed()) return;
      this.warn('renewal_failed', `could not open the replacement session: ${toVoiceLiveError(error).message}`);
      this.scheduleRenewalRetry();
      return;
    }
    if (this.isClosed() || this.primary !== forPrimary) {
      void connection.close('not needed');
      return;
    }
    this.standby = { connection, replayed: entries, replayIds: ids, seeded, ready: true };
    if (this.isQuiet()) {
      this.switchToStandby({ forced: false });
      return;
    }
    const forceInMs = Math.max(0, (forPrimary.expiresAtMs ?? Date.now()) - Math.min(FORCE_SWITCH_BEFORE_EXPIRY_MS, this.renewBeforeExpiryMs / 5) - Date.now());
    this.forceSwitchTimer = setTimeout(() => {
      if (this.standby?.ready && this.primary === forPrimary) {
        this.log.warn({ pending: this.pendingWork() }, 'no quiet moment before expiry; switching Voice Live sessions now');
        this.switchToStandby({ forced: true });
      }
    }, forceInMs);
    this.forceSwitchTimer.unref();
  }

  /**
   * Nothing would be lost by switching now: no reply is being spoken, the caller is not speaking, no caller turn is
   * waiting for its answer, and every caller turn's transcript is in (the new session learns the turn from it).
   */
  private isQuiet(): boolean {
    return this.activeResponses.size === 0 && !this.callerSpeaking && !this.turnAwaitingAnswer && this.awaitedTranscripts.size === 0;
  }

  /** What the old session owes the caller at a switch that could not wait for a quiet moment. */
  private pendingWork(): OwedWork['pending'] {
    if (this.activeResponses.size > 0) return 'reply-cut';
    if (this.turnAwaitingAnswer) return 'turn-unanswered';
    return 'none';
  }

  private switchToStandby({ forced }: { forced: boolean }): void {
    const standby = this.standby;
    if (!standby) return;
    this.standby = undefined;
    const pending = this.pendingWork();
    const unansweredTurnKnown = pending === 'turn-unanswered' && this.awaitedTranscripts.size === 0;
    const previous = this.primary;
    this.adopt(standby.connection, standby.replayIds);
    this.refreshSeeded(standby.connection, standby.seeded);
    // Whatever was said since the standby was seeded goes over before it takes the call, a reply being cut included.
    this.sendLateReplay(standby.connection, standby.replayed);
    this.stats.renewals++;
    this.log.info(
      { sessionId: standby.connection.sessionId, previousSessionId: previous?.sessionId, ...(forced ? { forced, pending } : {}) },
      'switched to the renewed Voice Live session',
    );
    if (previous) void previous.close('session renewed');
    this.emit('session-replaced', { reason: 'renewal' });
    standby.connection.release();
    this.carryOn(pending, unansweredTurnKnown);
  }

  /**
   * The new session picks up what the old one left: a reply cut mid-sentence is finished (it was replayed as far
   * as it had come), a caller turn that got no answer is answered. The caller never hears a sentence stop with
   * nothing after it.
   */
  private carryOn(pending: OwedWork['pending'], turnKnown: boolean): void {
    if (pending === 'none') return;
    if (pending === 'reply-cut') {
      this.createConversationItem(systemItem(CONTINUE_CUT_REPLY));
    } else if (!turnKnown) {
      this.createConversationItem(systemItem(ASK_TO_REPEAT));
    }
    this.createResponse();
  }

  private clearRenewalTimers(): void {
    if (this.renewalTimer) clearTimeout(this.renewalTimer);
    if (this.forceSwitchTimer) clearTimeout(this.forceSwitchTimer);
    this.renewalTimer = undefined;
    this.forceSwitchTimer = undefined;
  }

  // ---- helpers -----------------------------------------------------------------------------------

  private sendGreeting(): void {
    const greeting = this.options.greeting;
    if (!greeting || this.greeted) return;
    const hold = this.greetingHold;
    if (hold) {
      this.greetingHold = undefined;
      void hold.then(
        (allowed) => (allowed ? this.sendGreeting() : void (this.greeted = true)),
        () => this.sendGreeting(),
      );
      return;
    }
    this.greeted = true;
    if (greeting.kind === 'text') {
      this.createResponse({
        pre_generated_assistant_message: { type: 'message', role: 'assistant', content: [{ type: 'text', text: greeting.text }] },
      });
    } else {
      this.sendOrDrop({
        type: 'conversation.item.create',
        item: { type: 'message', role: 'system', content: [{ type: 'input_text', text: greeting.instruction }] },
      });
      this.createResponse();
    }
  }

  private sendOrDrop(event: { type: string } & Record<string, unknown>): boolean {
    if (this.state === 'open' && this.primary?.sendJson(event)) return true;
    this.log.debug({ type: event.type, state: this.state }, 'Voice Live event not sent: no open session');
    return false;
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Reports a problem; bursts are summarised so a misbehaving peer cannot flood the logs. */
  private warn(code: string, message: string): void {
    const now = Date.now();
    let counter = this.warningCounts.get(code);
    if (!counter || now - counter.windowStart > WARNING_WINDOW_MS) {
      if (counter && counter.suppressed > 0) message = `${message} (${counter.suppressed} similar suppressed)`;
      counter = { windowStart: now, count: 0, suppressed: 0 };
      this.warningCounts.set(code, counter);
    }
    counter.count++;
    if (counter.count > WARNING_BURST) {
      counter.suppressed++;
      return;
    }
    this.log.warn({ code }, message);
    this.emit('warning', { code, message });
  }

  private emitClosed(info: { reason: string; code?: number; fatal: boolean }): void {
    if (this.closedEmitted) return;
    this.closedEmitted = true;
    this.emit('closed', info);
  }

  private emit<K extends keyof VoiceLiveClientEvents>(name: K, ...args: Parameters<VoiceLiveClientEvents[K]>): void {
    const list = this.listeners[name];
    for (let i = 0; i < list.length; i++) {
      try {
        (list[i] as (...a: Parameters<VoiceLiveClientEvents[K]>) => void)(...args);
      } catch (error) {
        // A listener's bug must not break the socket's event loop or other listeners.
        this.log.error({ err: { message: (error as Error).message }, listener: name }, 'Voice Live listener threw');
      }
    }
  }
}

/** Replayed items' ids in a session: by the id the item had where it was first said, and the item each follows. */
interface ReplayIds {
  byItemId: Map<string, string>;
  previous: Map<string, string | undefined>;
}

function emptyReplayIds(): ReplayIds {
  return { byItemId: new Map(), previous: new Map() };
}

/** Ids for replayed items are ours (the service takes a client's item id), so a barge-in can later replace one. */
function newReplayId(): string {
  return `rp_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}

function withReplayIds(plan: ReplayPlan, after?: string): ReplayPlan & { ids: ReplayIds } {
  const ids = emptyReplayIds();
  let previous = after;
  const items = plan.items.map((item, index) => {
    const id = newReplayId();
    const source = plan.sourceItemIds[index];
    if (source !== undefined) ids.byItemId.set(source, id);
    ids.previous.set(id, previous);
    previous = id;
    return { ...item, id };
  });
  return { ...plan, items, ids };
}

function systemItem(text: string): Record<string, unknown> {
  return { type: 'message', role: 'system', content: [{ type: 'input_text', text }] };
}

/**
 * A credential that cannot give a token (no identity, wrong client id, no role, bad secret) does not heal by
 * itself: @azure/identity's own errors for that are not retried (it has already retried the transport). An
 * authentication error the token service answered with a server fault or throttling may pass; anything else is
 * treated as a network problem and retried.
 */
function isTransientCredentialError(error: unknown): boolean {
  const { name, statusCode } = (error ?? {}) as { name?: unknown; statusCode?: unknown };
  if (name === 'CredentialUnavailableError' || name === 'AggregateAuthenticationError') return false;
  if (name === 'AuthenticationError') return typeof statusCode === 'number' && (statusCode === 429 || statusCode >= 500);
  return true;
}

/** No token to be had, or Voice Live refused the one given (401/403). */
function isAuthFailure(error: VoiceLiveError): boolean {
  return (error.code === 'AUTH_TOKEN_FAILED' && !error.retryable) || error.statusCode === 401 || error.statusCode === 403;
}

/** Bytes a base64 text decodes to (without decoding it). */
function pcmBytesOf(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return Math.floor((base64.length * 3) / 4) - padding;
}

function toVoiceLiveError(error: unknown): VoiceLiveError {
  if (error instanceof VoiceLiveError) return error;
  return new VoiceLiveError('CONNECTION_FAILED', (error as Error)?.message ?? String(error), { retryable: true, cause: error });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
