import type { TokenCredential } from '@azure/core-auth';
import type { WebSocket, RawData } from 'ws';
import { StreamingResampler } from '../shared/audio/resampler.js';
import { base64DecodedLength, base64ToInt16, frameBytes, int16ToBase64, int16ToBytes } from '../shared/audio/pcm.js';
import type { WorkerConfig } from '../shared/config/worker.js';
import type { Logger } from '../shared/log.js';
import { boundText, closeFrameReason, MAX_TRANSCRIPT_ENTRY_CHARS } from '../shared/bounded-text.js';
import { maskPhoneNumbersIn } from '../shared/privacy.js';
import { STOP_AUDIO_MESSAGE, encodeAudioFrame, parseAcsMessage } from './acs-media.js';
import { BadInputReporter } from './bad-input.js';
import { CallerSoundWatch } from './caller-sound.js';
import type { WorkerMetrics } from './metrics.js';
import { Playout, type PlayoutTimers, systemTimers } from './playout.js';
import { UnmixedMixer } from './unmixed-mixer.js';
import type { VoiceLiveClient, VoiceLiveClientOptions } from './voice-live/client.js';
import { responseEnd, type ResponseEnd, type ResponseObject, type ServerEvent } from './voice-live/events.js';
import type { VoiceLiveSessionSettings } from './voice-live/session-config.js';
import { callSessionSettings, voiceLiveAuth } from './voice-live/call-settings.js';

export type CallState = 'awaiting-metadata' | 'live' | 'ended';

/** What extensions (tools, DTMF, the bus: issue 5) may do with a live call. */
export interface CallControl {
  readonly callId: string;
  readonly callConnectionId: string | undefined;
  /** Undefined until AudioMetadata has arrived and the Voice Live session was created. */
  readonly voiceLive: VoiceLiveClient | undefined;
  /** Agent audio queued here or still playing at ACS. */
  isAgentAudible(): boolean;
  /** A response nobody should hear (the model answering a voicemail greeting): its audio is dropped and it is cancelled. */
  discardResponse(responseId: string): void;
  /** Starts timing the caller side's sounds (one watch per call; stop it when done). */
  watchCallerSound(): CallerSoundWatch;
  end(reason: string): void;
}

export interface CallSummary {
  callId: string;
  callConnectionId: string | undefined;
  reason: string;
  durationMs: number;
  framesIn: number;
  framesOut: number;
  bargeIns: number;
  /** The close code when ACS closed the media socket (1006: the connection dropped without a closing handshake). */
  acsCloseCode?: number;
  /** The close code the worker ended the call with (1000 on purpose, 1001 going away, 1011 a failure). */
  closeCode: number;
}

/** Extension points, so call control can plug in without touching the relay. All optional, all synchronous. */
export interface CallSessionHooks {
  /** Extra session settings (tools, metadata) before the Voice Live session opens. */
  sessionSettings?(settings: VoiceLiveSessionSettings, call: CallControl): VoiceLiveSessionSettings;
  onStart?(call: CallControl): void;
  /**
   * The Voice Live greeting waits for this (at most RESUME_WAIT_MS) and is skipped if it resolves false: a call
   * carried over from another worker is not greeted again. The session opens meanwhile. The only hook that may
   * return a promise.
   */
  greetingAllowed?(call: CallControl): Promise<boolean> | undefined;
  onVoiceLiveEvent?(event: ServerEvent, call: CallControl): void;
  onDtmf?(tone: string, call: CallControl): void;
  onBargeIn?(info: { itemId: string; heardMs: number }, call: CallControl): void;
  onEnd?(summary: CallSummary): void;
}

export interface CallSessionOptions {
  callId: string;
  callConnectionId?: string;
  socket: WebSocket;
  voiceLive: WorkerConfig['voiceLive'];
  /** Used when no API key is configured. */
  credential?: TokenCredential;
  playoutLeadMs: number;
  metrics: WorkerMetrics;
  logger: Logger;
  createVoiceLiveClient: (options: VoiceLiveClientOptions) => VoiceLiveClient;
  hooks?: CallSessionHooks;
  timers?: PlayoutTimers;
  /** A socket that has not sent AudioMetadata by then is closed. Default 10 s. */
  metadataTimeoutMs?: number;
  /**
   * The call was answered with unmixed audio (MEDIA_AUDIO_CHANNEL=unmixed): frames of different participants
   * are mixed. Otherwise every frame is the call's one stream, whatever participant it names.
   */
  unmixedAudio?: boolean;
  onEnded?: (session: CallSession) => void;
}

const ACS_CLOSE_TIMEOUT_MS = 1000;
/** Longest wait for `greetingAllowed` (reading a carried-over call's state): after it the greeting is spoken. */
export const RESUME_WAIT_MS = 3000;
/** Failed responses asked for again in one call. */
const MAX_RESPONSE_RETRIES = 3;
/** Failures that asking again cannot fix: it would fail the same way, and load a throttled service further. */
const NOT_RETRIED_REASONS: ReadonlySet<string> = new Set(['rate_limit_exceeded', 'insufficient_quota', 'invalid_request_error']);
const KEPT_DISCARDED_RESPONSES = 16;
/** Relay latency is observed for one frame in 32: a prom-client observation (label hashing, validation) costs about
 * as much as the rest of a frame's bookkeeping, and 32 still gives each replica thousands of samples a minute. */
const LATENCY_SAMPLE_MASK = 31;
/** Equal to no participantRawID: once the call's frames are mixed, none passes straight through. */
const MIXING: unique symbol = Symbol('mixing');

/**
 * One phone call: the ACS media socket, its Voice Live session, one resampler per direction (only when
 * the rates differ), the playout clock, and barge-in. Codecs and clients do the rest.
 */
export class CallSession implements CallControl {
  readonly callId: string;
  readonly callConnectionId: string | undefined;
  private state: CallState = 'awaiting-metadata';
  private readonly socket: WebSocket;
  private readonly log: Logger;
  private readonly metrics: WorkerMetrics;
  private readonly badInput: BadInputReporter;
  private readonly abort = new AbortController();
  private readonly startedAt = performance.now();
  private client: VoiceLiveClient | undefined;
  private playout: Playout | undefined;
  private inboundResampler: StreamingResampler | undefined;
  private outboundResampler: StreamingResampler | undefined;
  private silentFrameBase64 = '';
  /** The participantRawID of every caller frame so far (null before the first): while it holds, frames pass straight through. */
  private soleSpeaker: string | undefined | null | typeof MIXING = null;
  private readonly unmixedAudio: boolean;
  /** Made when a second speaker's frames arrive (unmixed media streaming). */
  private mixer: UnmixedMixer | undefined;
  private callRateHz = 0;
  private voiceLiveRateHz = 0;
  private soundWatch: CallerSoundWatch | undefined;

  // Per-response state, reset when a new Voice Live session takes over.
  private activeResponseId: string | undefined;
  private responseRetries = 0;
  /** The response in progress was asked for again after a failure: if it fails too, it is not asked for a third time. */
  private retryOutstanding = false;
  /** Which response each recent item of agent audio belongs to. */
  private readonly responseOfItem = new Map<string, string>();
  private readonly discardedResponses = new Set<string>();
  /** Items whose audio has started and not had `response.audio.done`, with their response. */
  private readonly unfinishedItems = new Map<string, string>();
  /** Agent audio accepted for the current response: summarised once at `response.done`, never logged per delta. */
  private responseAudioBytes = 0;
  private responseAudioDeltas = 0;

  private metadataTimer: NodeJS.Timeout | undefined;
  /** When ACS last showed it is there (a message or a pong), on the `performance.now()` clock. */
  private lastHeardFromAcsMs = performance.now();
  private framesIn = 0;
  private framesOut = 0;
  private bargeIns = 0;
  private endReason = '';
  private acsCloseCode: number | undefined;

  constructor(private readonly options: CallSessionOptions) {
    this.unmixedAudio = options.unmixedAudio === true;
    this.callId = options.callId;
    this.callConnectionId = options.callConnectionId;
    this.socket = options.socket;
    this.metrics = options.metrics;
    this.log = options.logger;
    this.badInput = new BadInputReporter(options.metrics, options.logger);
    this.socket.on('message', this.onAcsMessage);
    this.socket.on('pong', () => (this.lastHeardFromAcsMs = performance.now()));
    this.socket.on('close', (code, reason) => {
      if (this.state !== 'ended') this.acsCloseCode = code;
      this.end(`ACS socket closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`);
    });
    this.socket.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.metrics.dropped('oversized');
      this.log.warn({ err: { message: error.message, code: error.code } }, 'ACS socket error');
    });
    this.metrics.activeCalls.inc();
    this.metadataTimer = setTimeout(() => {
      this.log.warn('no AudioMetadata from ACS; closing the socket');
      this.end('no AudioMetadata', 1008);
    }, options.metadataTimeoutMs ?? 10_000);
    this.metadataTimer.unref();
    this.log.info({ callConnectionId: this.callConnectionId }, 'call started');
  }

  get voiceLive(): VoiceLiveClient | undefined {
    return this.client;
  }

  get currentState(): CallState {
    return this.state;
  }

  /**
   * Liveness of the ACS side, checked by the server's one timer for all calls: a socket quiet for `pingAfterMs`
   * is pinged (a live peer answers even when it has nothing to send); one that stays silent for `timeoutMs` is
   * a half-open connection, and the call is ended so its Voice Live session does not run on unheard.
   */
  checkLiveness(nowMs: number, pingAfterMs: number, timeoutMs: number): void {
    if (this.state === 'ended') return;
    const silentMs = nowMs - this.lastHeardFromAcsMs;
    if (silentMs >= timeoutMs) {
      this.log.warn({ silentMs: Math.round(silentMs) }, 'nothing from ACS (no media, no pong); ending the call');
      this.end(`ACS silent for ${Math.round(silentMs / 1000)} s`, 1001);
    } else if (silentMs >= pingAfterMs && this.socket.readyState === this.socket.OPEN) {
      this.socket.ping();
    }
  }

  isAgentAudible(): boolean {
    return this.playout?.isAudible() ?? false;
  }

  discardResponse(responseId: string): void {
    if (this.state !== 'live' || this.discardedResponses.has(responseId)) return;
    this.discard(responseId);
    this.client?.cancelResponse(responseId);
    if (this.activeResponseId === responseId) this.activeResponseId = undefined;
  }

  watchCallerSound(): CallerSoundWatch {
    this.soundWatch ??= new CallerSoundWatch((stopped) => {
      if (this.soundWatch === stopped) this.soundWatch = undefined;
    });
    return this.soundWatch;
  }

  // ---- caller -> Voice Live ------------------------------------------------------------------

  private readonly onAcsMessage = (data: RawData, isBinary: boolean): void => {
    if (this.state === 'ended') return;
    const receivedAt = performance.now();
    const previousMessageAt = this.lastHeardFromAcsMs;
    this.lastHeardFromAcsMs = receivedAt;
    const parsed = parseAcsMessage((data as Buffer).toString('utf8'), isBinary);
    if (!parsed.ok) return this.badInput.report(parsed.reason, parsed.detail);
    const message = parsed.message;
    if (message.kind === 'audio') {
      if (this.state !== 'live') return this.badInput.report('audio_before_metadata');
      this.framesIn++;
      this.metrics.framesIn.inc();
      if (!this.unmixedAudio || message.participantRawId === this.soleSpeaker) this.forwardCallerAudio(message.base64 ?? this.silentFrameBase64);
      else this.speakerChanged(message.participantRawId, message.base64, message.silent, receivedAt, previousMessageAt);
      if ((this.framesIn & LATENCY_SAMPLE_MASK) === 1) this.metrics.inboundLatency.observe((performance.now() - receivedAt) / 1000);
    } else if (message.kind === 'metadata') {
      if (this.log.isLevelEnabled('debug')) {
        this.log.debug({ sampleRateHz: message.sampleRateHz, channels: message.channels, encoding: message.encoding }, 'ACS audio metadata');
      }
      if (this.state !== 'awaiting-metadata') return this.badInput.report('metadata_repeated');
      this.start(message.sampleRateHz, message.channels, message.encoding);
    } else {
      if (this.log.isLevelEnabled('debug')) this.log.debug({ tone: message.tone }, 'ACS DTMF tone');
      this.runHook('onDtmf', () => this.options.hooks?.onDtmf?.(message.tone, this));
    }
  };

  /** Off the per-frame path: the first frame, then every frame once a second speaker has been heard. */
  private speakerChanged(speaker: string | undefined, base64: string | undefined, silent: boolean, receivedAt: number, previousMessageAt: number): void {
    if (this.soleSpeaker === null) {
      this.soleSpeaker = speaker;
      return this.forwardCallerAudio(base64 ?? this.silentFrameBase64);
    }
    if (!this.mixer) {
      this.mixer = new UnmixedMixer({
        silentFrameBase64: this.silentFrameBase64,
        emit: this.forwardCallerAudio,
        drop: (reason) => this.badInput.report(reason),
        ...(this.options.timers ? { timers: this.options.timers } : {}),
      });
      if (this.soleSpeaker !== MIXING) this.mixer.heard(this.soleSpeaker ?? '', previousMessageAt);
      this.soleSpeaker = MIXING;
      this.log.info('caller audio from more than one participant (unmixed media streaming): mixing it for Voice Live');
    }
    this.mixer.push(speaker ?? '', base64, silent, receivedAt);
  }

  private readonly forwardCallerAudio = (base64: string): void => {
    const client = this.client!;
    this.soundWatch?.push(base64);
    if (!this.inboundResampler) return client.appendAudio(base64);
    const resampled = this.inboundResampler.process(base64ToInt16(base64));
    if (resampled.length > 0) client.appendAudio(int16ToBase64(resampled));
  };

  private start(callRateHz: number, channels: number, encoding: string): void {
    clearTimeout(this.metadataTimer);
    if ((callRateHz !== 16000 && callRateHz !== 24000) || channels !== 1 || encoding.toUpperCase() !== 'PCM') {
      this.log.error({ callRateHz, channels, encoding }, 'unsupported ACS audio format (need PCM mono at 16000 or 24000 Hz)');
      return this.end('unsupported audio format', 1003);
    }
    const config = this.options.voiceLive;
    const voiceLiveRateHz = config.audioRateHz ?? callRateHz;
    this.callRateHz = callRateHz;
    this.voiceLiveRateHz = voiceLiveRateHz;
    this.silentFrameBase64 = Buffer.alloc(frameBytes(callRateHz)).toString('base64');
    if (voiceLiveRateHz !== callRateHz) {
      this.inboundResampler = new StreamingResampler(callRateHz, voiceLiveRateHz);
      this.outboundResampler = new StreamingResampler(voiceLiveRateHz, callRateHz);
    }
    this.playout = new Playout({
      frameBytes: frameBytes(callRateHz),
      maxLeadMs: this.options.playoutLeadMs,
      ...(this.options.timers ? { timers: this.options.timers } : {}),
      sendBase64: this.sendAgentFrame,
      batch: this.corkAcsSocket(),
    });

    let session: VoiceLiveSessionSettings = callSessionSettings(config, voiceLiveRateHz, { callId: this.callId });
    session = this.runHook('sessionSettings', () => this.options.hooks?.sessionSettings?.(session, this)) ?? session;
    const signIn = voiceLiveAuth(config, this.options.credential);
    if ('problem' in signIn) return this.end(signIn.problem, 1011);
    const { auth } = signIn;

    const client = this.options.createVoiceLiveClient({
      endpoint: config.endpoint,
      apiVersion: config.apiVersion,
      target: config.target,
      auth,
      session,
      ...(config.greeting ? { greeting: config.greeting } : {}),
      callId: this.callId,
      logger: this.log,
      ...(config.renewBeforeExpiryMs !== undefined ? { renewBeforeExpiryMs: config.renewBeforeExpiryMs } : {}),
      ...(config.assumedSessionMs !== undefined ? { assumedSessionMs: config.assumedSessionMs } : {}),
    });
    this.client = client;
    this.state = 'live';
    client.on('audio', this.onAgentAudio);
    client.on('event', this.onVoiceLiveEvent);
    client.on('session-replaced', ({ reason }) => {
      this.metrics.voiceLiveReconnects.labels(reason).inc();
      this.log.info({ reason }, 'Voice Live session replaced');
      this.resetResponseState();
    });
    client.on('warning', (warning) => this.log.warn({ warning }, 'Voice Live warning'));
    client.on('closed', ({ reason, code, fatal, authFailed }) => {
      if (this.state === 'ended') return;
      if (authFailed) this.metrics.voiceLiveAuthFailures.inc();
      this.log.error({ reason, code, fatal, ...(authFailed ? { authFailed } : {}) }, 'Voice Live session ended; ending the call');
      this.end(`Voice Live closed: ${reason}`, 1011);
    });
    const greetingAllowed = this.runHook('greetingAllowed', () => this.options.hooks?.greetingAllowed?.(this));
    if (greetingAllowed) {
      const waitMs = new Promise<boolean>((resolve) => setTimeout(() => resolve(true), RESUME_WAIT_MS).unref());
      client.holdGreetingUntil(Promise.race([greetingAllowed.catch(() => true), waitMs]));
    }
    this.log.info({ callRateHz, voiceLiveRateHz, resampling: voiceLiveRateHz !== callRateHz }, 'connecting to Voice Live');
    client.connect({ abortSignal: this.abort.signal }).then(
      () => this.log.info('Voice Live session ready'),
      (error: Error & { code?: string }) => {
        if (this.state === 'ended') return;
        this.log.error({ err: { message: error.message, code: error.code } }, 'could not connect to Voice Live; ending the call');
        this.end('Voice Live connect failed', 1011);
      },
    );
    this.runHook('onStart', () => this.options.hooks?.onStart?.(this));
  }

  // ---- Voice Live -> caller ------------------------------------------------------------------

  private readonly onAgentAudio = (delta: { responseId: string; itemId: string; base64: string }): void => {
    if (this.state !== 'live') return;
    if (this.discardedResponses.has(delta.responseId)) return this.metrics.dropped('discarded_response');
    // Checked natively without keeping the bytes: when no resampling is needed the text itself is queued.
    const byteLength = base64DecodedLength(delta.base64);
    if (byteLength < 0) return this.badInput.report('invalid_base64', 'Voice Live audio delta');
    if (byteLength % 2 !== 0) return this.badInput.report('odd_byte_count', 'Voice Live audio delta');
    this.responseAudioBytes += byteLength;
    this.responseAudioDeltas++;
    if (!this.responseOfItem.has(delta.itemId)) {
      this.responseOfItem.set(delta.itemId, delta.responseId);
      if (this.responseOfItem.size > KEPT_DISCARDED_RESPONSES) this.responseOfItem.delete(this.responseOfItem.keys().next().value!);
      this.unfinishedItems.set(delta.itemId, delta.responseId);
      if (this.unfinishedItems.size > KEPT_DISCARDED_RESPONSES) this.unfinishedItems.delete(this.unfinishedItems.keys().next().value!);
    }
    if (this.outboundResampler) {
      const resampled = this.outboundResampler.process(base64ToInt16(delta.base64));
      if (resampled.length > 0) this.playout!.enqueue(delta.itemId, int16ToBytes(resampled));
    } else {
      this.playout!.enqueueBase64(delta.itemId, delta.base64, byteLength);
    }
  };

  private readonly sendAgentFrame = (frameBase64: string, _itemId: string, queuedAt: number): void => {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(encodeAudioFrame(frameBase64));
    this.framesOut++;
    this.metrics.framesOut.inc();
    if ((this.framesOut & LATENCY_SAMPLE_MASK) === 1) this.metrics.outboundLatency.observe((performance.now() - queuedAt) / 1000);
  };

  /**
   * Frames sent in one run go out in one write: `ws` corks the TCP socket only around each message, so the
   * run is corked as a whole. `ws` does not expose its socket; without one (a stand-in socket) nothing is batched.
   */
  private corkAcsSocket(): { begin(): void; end(): void } | undefined {
    const raw = (this.socket as unknown as { _socket?: { cork?: unknown; uncork?: unknown } })._socket;
    if (typeof raw?.cork !== 'function' || typeof raw.uncork !== 'function') return undefined;
    const stream = raw as { cork(): void; uncork(): void };
    return { begin: () => stream.cork(), end: () => stream.uncork() };
  }

  private readonly onVoiceLiveEvent = (event: ServerEvent): void => {
    if (this.state !== 'live') return;
    // Audio deltas are the hot path: never logged one by one (response.done summarises them).
    if (event.type !== 'response.audio.delta' && this.log.isLevelEnabled('debug')) this.logEvent(event);
    switch (event.type) {
      case 'input_audio_buffer.speech_started':
        this.bargeIn();
        break;
      case 'response.created':
        this.activeResponseId = event.response.id;
        this.responseAudioBytes = 0;
        this.responseAudioDeltas = 0;
        break;
      case 'response.done':
        if (this.activeResponseId === event.response.id) this.activeResponseId = undefined;
        this.onResponseDone(event.response);
        break;
      case 'response.audio.done':
        this.unfinishedItems.delete(event.item_id);
        if (!this.discardedResponses.has(event.response_id)) this.finishItem(event.item_id);
        break;
      // `error` events are logged once, by the Voice Live client.
    }
    this.runHook('onVoiceLiveEvent', () => this.options.hooks?.onVoiceLiveEvent?.(event, this));
  };

  /**
   * Every response ends here, whatever its status. A failed or incomplete one (service error, content filter,
   * token limit) would otherwise leave the caller in silence with no trace: it is counted and logged as a
   * warning. Cancelled ones (a barge-in, a superseded response) are normal.
   */
  private onResponseDone(response: ResponseObject): void {
    const end = responseEnd(response);
    this.metrics.responseEnded(end);
    const bargedIn = this.discardedResponses.has(end.responseId);
    // An item that never got response.audio.done (the response failed mid-way) still plays out, its last frame padded.
    for (const [itemId, responseId] of this.unfinishedItems) {
      if (responseId !== end.responseId) continue;
      this.unfinishedItems.delete(itemId);
      if (!bargedIn) this.finishItem(itemId);
    }
    const audioMs = Math.round((this.responseAudioBytes / 2 / this.voiceLiveRateHz) * 1000);
    const wasRetry = this.retryOutstanding;
    this.retryOutstanding = false;
    if (end.status === 'failed' || end.status === 'incomplete') {
      this.log.warn(
        { responseId: end.responseId, status: end.status, reason: end.reason, ...(end.error ? { error: end.error } : {}), audioMs },
        `Voice Live response ${end.status}${end.reason ? ` (${end.reason})` : ''}${end.error?.message ? `: ${end.error.message}` : ''}`,
      );
      if (end.status === 'failed' && !wasRetry && !bargedIn) this.retryFailedResponse(end);
    } else if (this.log.isLevelEnabled('debug')) {
      this.log.debug(
        {
          responseId: end.responseId,
          status: response.status,
          ...(end.reason ? { reason: end.reason } : {}),
          ...(bargedIn ? { bargedIn } : {}),
          audioDeltas: this.responseAudioDeltas,
          audioMs,
        },
        'response done',
      );
    }
  }

  /**
   * A response that failed (a service error, not a throttle or a bad request) leaves the caller waiting in
   * silence for an answer that will not come: ask for it once more, unless the caller has moved on (speaking,
   * or another response already started). Bounded per call.
   */
  private retryFailedResponse(end: ResponseEnd): void {
    if (NOT_RETRIED_REASONS.has(end.reasonLabel) || this.client?.callerIsSpeaking || this.activeResponseId !== undefined) return;
    if (this.responseRetries >= MAX_RESPONSE_RETRIES || !this.client?.isOpen) return;
    this.responseRetries++;
    this.retryOutstanding = true;
    this.metrics.responseRetries.inc();
    this.log.info({ failedResponseId: end.responseId, attempt: this.responseRetries }, 'asking Voice Live again after a failed response');
    this.client.createResponse();
  }

  /** One debug line per Voice Live event (not per streaming delta); transcripts are masked and only ever logged here. */
  private logEvent(event: ServerEvent): void {
    switch (event.type) {
      case 'input_audio_buffer.speech_started':
        return this.log.debug({ itemId: event.item_id, audioStartMs: event.audio_start_ms }, 'caller speech started');
      case 'input_audio_buffer.speech_stopped':
        return this.log.debug({ itemId: event.item_id, audioEndMs: event.audio_end_ms }, 'caller speech stopped');
      case 'response.created':
        return this.log.debug({ responseId: event.response.id }, 'response created');
      case 'conversation.item.input_audio_transcription.completed':
        return this.log.debug({ itemId: event.item_id, transcript: maskPhoneNumbersIn(boundText(event.transcript, MAX_TRANSCRIPT_ENTRY_CHARS)) }, 'caller said');
      case 'response.audio_transcript.done':
        return this.log.debug(
          {
            responseId: event.response_id,
            itemId: event.item_id,
            transcript: maskPhoneNumbersIn(boundText(event.transcript, MAX_TRANSCRIPT_ENTRY_CHARS)),
            ...(this.discardedResponses.has(event.response_id) ? { interrupted: true } : {}),
          },
          'agent said',
        );
      case 'session.created':
      case 'session.updated':
        return this.log.debug({ eventType: event.type, sessionId: event.session.id }, 'Voice Live event');
      case 'response.done':
      case 'error':
        return; // lines of their own
      case 'other':
        if (!event.eventType.endsWith('.delta')) this.log.debug({ eventType: event.eventType }, 'Voice Live event');
        return;
      default:
        if (!event.type.endsWith('.delta')) this.log.debug({ eventType: event.type }, 'Voice Live event');
    }
  }

  private finishItem(itemId: string): void {
    if (this.outboundResampler) {
      const tail = this.outboundResampler.flush();
      if (tail.length > 0) this.playout!.enqueue(itemId, int16ToBytes(tail));
      this.outboundResampler.reset();
    }
    this.playout!.finishItem(itemId);
  }

  /**
   * The caller spoke over the agent. The order matters: what was heard is read before anything is
   * cleared, StopAudio goes out ahead of any further audio, and the model keeps only what was heard.
   */
  private bargeIn(): void {
    const playout = this.playout!;
    const client = this.client!;
    const audible = playout.isAudible();
    const active = this.activeResponseId;
    if (!audible && active === undefined) return;

    // Every item cut short keeps only what the caller heard (usually one; two when a new item was queued
    // behind one still playing). Read before anything is cleared.
    const cut = audible ? playout.unheardItems() : [];
    if (active !== undefined) this.discard(active);
    for (const item of cut) {
      const responseId = this.responseOfItem.get(item.itemId);
      if (responseId !== undefined) this.discard(responseId);
    }
    if (audible) this.socket.send(STOP_AUDIO_MESSAGE);
    playout.clear();
    if (active !== undefined) client.cancelResponse(active);
    for (const item of cut) client.truncate(item.itemId, Math.floor(Math.min(item.heardMs, item.receivedMs)));
    this.outboundResampler?.reset();
    this.activeResponseId = undefined;

    if (!audible) return;
    this.bargeIns++;
    this.metrics.bargeIns.inc();
    this.log.debug({ cut }, 'barge-in');
    for (const item of cut) this.runHook('onBargeIn', () => this.options.hooks?.onBargeIn?.({ itemId: item.itemId, heardMs: Math.floor(item.heardMs) }, this));
  }

  private discard(responseId: string): void {
    this.discardedResponses.add(responseId);
    if (this.discardedResponses.size > KEPT_DISCARDED_RESPONSES) {
      this.discardedResponses.delete(this.discardedResponses.values().next().value!);
    }
  }

  /**
   * A new Voice Live session took over. The old session's audio already here still plays out (the new session was
   * given it as replayed text and carries on after it): an item the old session left unfinished is finished, and
   * what the caller hears of each stays on record, so a barge-in still cuts it (the client replaces the replayed
   * item by what was heard).
   */
  private resetResponseState(): void {
    for (const [itemId, responseId] of this.unfinishedItems) if (!this.discardedResponses.has(responseId)) this.finishItem(itemId);
    this.activeResponseId = undefined;
    this.responseOfItem.clear();
    this.discardedResponses.clear();
    this.unfinishedItems.clear();
    this.responseAudioBytes = 0;
    this.responseAudioDeltas = 0;
    this.outboundResampler?.reset();
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Ends the call and frees everything it holds. Safe to call more than once; never throws. */
  end(reason: string, closeCode = 1000): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endReason = reason;
    this.abort.abort();
    clearTimeout(this.metadataTimer);
    this.playout?.dispose();
    this.mixer?.dispose();
    const client = this.client;
    if (client) {
      const { droppedAudioChunks, malformedEvents } = client.stats;
      if (droppedAudioChunks > 0) this.metrics.dropped('voice_live_not_ready', droppedAudioChunks);
      if (malformedEvents > 0) this.metrics.dropped('malformed_voice_live_event', malformedEvents);
      client.close(reason).catch((error: Error) => this.log.warn({ err: { message: error.message } }, 'closing Voice Live failed'));
    }
    this.socket.off('message', this.onAcsMessage);
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      try {
        // A close frame's reason holds at most 123 bytes; the whole reason is in the log line and the call record.
        this.socket.close(closeCode, closeFrameReason(reason));
      } catch {
        this.socket.terminate();
      }
      const timer = setTimeout(() => this.socket.terminate(), ACS_CLOSE_TIMEOUT_MS);
      timer.unref();
      this.socket.once('close', () => clearTimeout(timer));
    }
    this.metrics.activeCalls.dec();
    const outcome = reason.startsWith('ACS socket closed') ? 'hung_up' : closeCode === 1000 || closeCode === 1001 ? 'ended' : 'failed';
    this.metrics.callsTotal.labels(outcome).inc();
    const summary: CallSummary = {
      callId: this.callId,
      callConnectionId: this.callConnectionId,
      reason,
      durationMs: Math.round(performance.now() - this.startedAt),
      framesIn: this.framesIn,
      framesOut: this.framesOut,
      bargeIns: this.bargeIns,
      closeCode,
      ...(this.acsCloseCode !== undefined ? { acsCloseCode: this.acsCloseCode } : {}),
    };
    this.log.info({ ...summary, callRateHz: this.callRateHz }, 'call ended');
    this.runHook('onEnd', () => this.options.hooks?.onEnd?.(summary));
    this.options.onEnded?.(this);
  }

  /** An extension's failure is logged and contained: it never reaches the relay or another call. */
  private runHook<T>(name: string, hook: () => T): T | undefined {
    try {
      return hook();
    } catch (error) {
      this.log.error({ hook: name, err: { message: (error as Error).message } }, 'call hook failed');
      return undefined;
    }
  }

  get endedReason(): string {
    return this.endReason;
  }
}
