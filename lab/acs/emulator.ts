import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AcsTokenIssuer } from '../acs-token-issuer.js';
import { type Logger, silentLogger } from '../../shared/log.js';
import { maskPhoneNumber } from '../../shared/privacy.js';
import { DTMF_KEYS, MediaLeg, type DtmfKey } from './media-leg.js';
import { createPhoneNumbersPeer, type PhoneNumbersPeer } from './phone-numbers.js';
import { acsError, startAcsRestPeer, type AcsRestPeer, type PeerExchange, type PeerRecording, type PeerResponse, type RecordedRequest } from './rest-peer.js';
import { Timeline, type TimelineEntry } from './timeline.js';
import { EventGridDelivery, type DeliveryAttempt } from './event-grid-delivery.js';
import type { WireJudge } from './wire-judge.js';
import { createOutboundCalls, type OutboundCalls, type OutboundCallsOptions } from './outbound.js';
import { WebSocketServer } from 'ws';
import { serveCalleeSocket } from './callee-link.js';

/**
 * The ACS emulator: the Call Automation REST endpoints our code calls (the REST peer of `rest-peer.ts`,
 * reached by the real `CallAutomationClient` through `connectionString`), Event Grid delivery of IncomingCall to the webhook
 * (validation handshake first), the mid-call callbacks in ACS's order as signed CloudEvents, and the
 * media WebSocket to the transportUrl it was given. A small control API (`/lab/calls`) places and ends calls, and
 * a WebSocket (`/lab/callee`, callee-link.ts) lets a process outside the lab be the callee of outbound calls.
 */
export interface AcsEmulatorOptions {
  /** The Event Grid subscription's endpoint: where IncomingCall is delivered (with any `?code=` key). A function is read at each delivery. */
  eventGridWebhookUrl: string | (() => string);
  /** Signs callbacks and media upgrades; its audience is the emulated ACS resource id. */
  tokenIssuer: AcsTokenIssuer;
  eventGridSubscriptionName?: string;
  port?: number;
  /** Base64 access key of the connection string; random when omitted. */
  accessKey?: string;
  /** How long an unanswered call rings before it is dropped (ACS's own limit is undocumented). */
  ringTimeoutInMs?: number;
  /** Decides each transfer; default: accepted unless the target number ends in 0000. */
  transferOutcome?: (target: { rawId: string; phoneNumber?: string }) => 'accepted' | 'failed';
  /** The number callers dial unless a call says otherwise. */
  defaultTo?: string;
  /**
   * Scales Event Grid's retry schedule (10 s, 30 s, 1 min, ...) and event time to live: 0.01 makes the first
   * redelivery of a failed IncomingCall come after about 100 ms. Default 1.
   */
  eventGridTimeScale?: number;
  /** Event Grid's per-subscription limit on delivery attempts; default 30. */
  eventGridMaxDeliveryAttempts?: number;
  /** Sees every payload before it is sent (Event Grid, callbacks, media): the official SDK parsers in tests. */
  judge?: WireJudge;
  /** Callees of calls the app places with createCall (see outbound.ts). */
  outbound?: OutboundCallsOptions;
  logger?: Logger;
}

export type CallState = 'ringing' | 'connecting' | 'connected' | 'transferring' | 'disconnected' | 'rejected' | 'redirected' | 'unanswered';

export interface PlaceCallOptions {
  /** E.164 of the caller; default +15550100001. */
  from?: string;
  /** E.164 dialled; default the emulator's number. */
  to?: string;
  callerDisplayName?: string;
  sipHeaders?: Record<string, string>;
}

export class AcsEmulatorError extends Error {
  constructor(
    readonly code: 'validation_failed' | 'delivery_failed' | 'bad_request' | 'not_found' | 'closed',
    message: string,
  ) {
    super(message);
    this.name = 'AcsEmulatorError';
  }
}

export interface Identifier {
  kind: string;
  rawId: string;
  phoneNumber?: { value: string };
  communicationUser?: { id: string };
}

const phoneIdentifier = (number: string): Identifier => ({ kind: 'phoneNumber', rawId: `4:${number}`, phoneNumber: { value: number } });
const API_VERSION = '2026-03-12';
const e164 = z.string().regex(/^\+\d{6,15}$/, 'must be an E.164 number such as +15551234567');

const placeCallBody = z
  .object({ from: e164.optional(), to: e164.optional(), callerDisplayName: z.string().max(256).optional(), sipHeaders: z.record(z.string(), z.string()).optional() })
  .strict();

const pressKeyBody = z.object({ key: z.enum(DTMF_KEYS, { message: `must be one of ${DTMF_KEYS.join(' ')}` }) }).strict();

/** The parts of `mediaStreamingOptions` the emulator acts on (the REST peer has checked them). */
interface MediaStreamingRequest {
  transportUrl: string;
  audioFormat?: string;
  audioChannelType?: string;
  startMediaStreaming?: boolean;
  enableBidirectional?: boolean;
  enableDtmfTones?: boolean;
}

export interface EmulatedCallEvents {
  /** Agent audio the caller heard, one 20 ms frame at a time (at `sampleRateHz`). */
  heard: [frame: Int16Array];
  /** A frame of what the caller said (`say`) left for the app; `offsetSamples` is where it starts in all they said. */
  callerFrameSent: [offsetSamples: number];
  timeline: [entry: TimelineEntry];
  ended: [state: CallState];
}

/** One call through the emulator, as the caller and ACS see it. */
export class EmulatedCall extends EventEmitter<EmulatedCallEvents> {
  readonly callConnectionId: string;
  readonly serverCallId: string;
  /** `outbound`: placed by the app with createCall; `from` is then our number and `to` the callee. */
  readonly direction: 'inbound' | 'outbound';
  /** Set by the emulator from the REST peer, which answers it. */
  incomingCallContext = '';
  readonly timeline = new Timeline();
  state: CallState = 'ringing';
  sampleRateHz: 16000 | 24000 | undefined;
  callbackUri: string | undefined;
  media: MediaLeg | undefined;
  mediaOptions: MediaStreamingRequest | undefined;
  droppedCallerSamples = 0;
  /** @internal set by the emulator */
  clock = { startedAtMs: 0, ticks: 0 };
  private callbackChain: Promise<unknown> = Promise.resolve();
  private readonly endedPromise: Promise<CallState>;
  private callbackSequence = 0;

  constructor(
    readonly callId: string,
    readonly from: string,
    readonly to: string,
    private readonly hooks: { hangUpByCaller(call: EmulatedCall): Promise<void> },
    placed?: { callConnectionId: string; serverCallId: string; remote: Identifier },
  ) {
    super();
    this.callConnectionId = placed?.callConnectionId ?? randomUUID();
    this.serverCallId = placed?.serverCallId ?? Buffer.from(`lab:${randomUUID()}`).toString('base64url');
    this.direction = placed ? 'outbound' : 'inbound';
    this.remote = placed?.remote;
    this.timeline.subscribe((entry) => this.emit('timeline', entry));
    this.endedPromise = new Promise((resolve) => this.once('ended', resolve));
  }

  private readonly remote: Identifier | undefined;

  /** The person on the line: the caller of an inbound call, the callee of an outbound one. */
  get callerIdentifier(): Identifier {
    return this.remote ?? phoneIdentifier(this.from);
  }

  /**
   * Caller audio at the call's rate, any chunk size; sent in 20 ms frames. Dropped (and counted) while no media flows.
   * `participantRawId` makes it another participant's voice: mixed into the caller's frames, or in frames of its own
   * when the app asked for unmixed audio.
   */
  say(samples: Int16Array, options: { participantRawId?: string } = {}): void {
    if (!this.media?.isOpen) {
      this.droppedCallerSamples += samples.length;
      return;
    }
    this.media.say(samples, options.participantRawId);
  }

  /**
   * The caller presses a key (0-9, *, #): ACS sends a DtmfData frame on the media socket when the call was answered
   * with `enableDtmfTones`, and nothing otherwise. Returns whether a frame was sent.
   */
  pressKey(key: string): boolean {
    if (!(DTMF_KEYS as readonly string[]).includes(key)) throw new AcsEmulatorError('bad_request', `key must be one of ${DTMF_KEYS.join(' ')}, not ${JSON.stringify(key).slice(0, 20)}`);
    this.timeline.add('caller', 'pressed-key', { key });
    const sent = this.media?.isOpen ? this.media.pressKey(key as DtmfKey) : false;
    if (!sent) this.timeline.add('media', 'dtmf-not-sent', { key, reason: this.media?.isOpen ? 'answered without enableDtmfTones' : 'no media stream' });
    return sent;
  }

  /** The caller hangs up: ACS stops the media stream and posts MediaStreamingStopped then CallDisconnected. */
  hangUp(): Promise<void> {
    return this.hooks.hangUpByCaller(this);
  }

  /** Resolves with the final state once the call is over (disconnected, rejected, redirected or unanswered). */
  ended(): Promise<CallState> {
    return this.endedPromise;
  }

  waitFor(type: string, timeoutMs = 10_000): Promise<TimelineEntry> {
    return this.timeline.waitFor((e) => e.type === type, timeoutMs, type);
  }

  get isOver(): boolean {
    return ['disconnected', 'rejected', 'redirected', 'unanswered'].includes(this.state);
  }

  /** @internal Serialises this call's callbacks so they arrive in the order ACS sends them. */
  enqueueCallback(task: () => Promise<void>): Promise<void> {
    const next = this.callbackChain.then(task, task);
    this.callbackChain = next.catch(() => undefined);
    return next;
  }

  /** @internal */
  nextSequence(): number {
    return ++this.callbackSequence;
  }
}

export interface AcsEmulator {
  /** `endpoint=http://127.0.0.1:<port>/;accesskey=<key>`: give it to the Functions app. */
  readonly connectionString: string;
  /** Base URL of the emulator (REST and control API). */
  readonly url: string;
  /** The emulated ACS resource's immutable id: the audience of every token it signs. */
  readonly resourceId: string;
  readonly calls: ReadonlyMap<string, EmulatedCall>;
  /** Every REST request our code made, in order (method, path, body, status, ...), for assertions. */
  readonly requests: readonly RecordedRequest[];
  /** The REST peer behind the emulator: script failures and latency (`failNext`, `delayNext`), add hooks. */
  readonly rest: AcsRestPeer;
  /** The Phone Numbers operations (search, purchase, list, release) on the same endpoint: `npm run number` in tests. */
  readonly phoneNumbers: PhoneNumbersPeer;
  placeCall(options?: PlaceCallOptions): Promise<EmulatedCall>;
  /**
   * Calls the app places with createCall ring a scripted callee (`script`, one per number or ACS id) or a live one
   * (`addCallee`: the softphone, `npm run call -- --answer` through `/lab/callee`).
   */
  readonly outbound: Pick<OutboundCalls, 'script' | 'addCallee'>;
  close(): Promise<void>;
}

type Reply = PeerResponse;

export async function startAcsEmulator(options: AcsEmulatorOptions): Promise<AcsEmulator> {
  const logger = (options.logger ?? silentLogger).child({ component: 'lab.acs' });
  const issuer = options.tokenIssuer;
  const ringTimeoutInMs = options.ringTimeoutInMs ?? 15_000;
  const transferOutcome = options.transferOutcome ?? ((t) => (t.phoneNumber?.endsWith('0000') ? 'failed' : 'accepted'));
  const calls = new Map<string, EmulatedCall>();
  const byConnection = new Map<string, EmulatedCall>();
  const byContext = new Map<string, EmulatedCall>();
  let validated: Promise<void> | undefined;
  const webhookUrl = () => (typeof options.eventGridWebhookUrl === 'function' ? options.eventGridWebhookUrl() : options.eventGridWebhookUrl);
  let closed = false;
  const endedLegs = new WeakSet<MediaLeg>();

  // One clock for every call's media: each call sends and plays one frame per 20 ms of its own time.
  const ticker = setInterval(() => {
    const now = performance.now();
    for (const call of byConnection.values()) {
      const leg = call.media;
      if (!leg?.isOpen) continue;
      const due = Math.floor((now - call.clock.startedAtMs) / 20);
      // After a stall, catch up at most 100 ms at once rather than bursting.
      if (due - call.clock.ticks > 5) call.clock.ticks = due - 5;
      while (call.clock.ticks < due) {
        call.clock.ticks++;
        leg.tick(new Date());
      }
    }
  }, 5);
  ticker.unref();

  // The Call Automation REST API is the REST peer's (HMAC, body checks, call state); the emulator adds what
  // the rest of ACS does around it: ringing calls, callbacks, the media leg, transfer outcomes.
  const rest = await startAcsRestPeer({
    port: options.port ?? 0,
    ...(options.accessKey ? { accessKey: options.accessKey } : {}),
    connectOnAnswer: false,
    resourceId: issuer.audience,
    otherRequests: (req, res, raw) => serveControl(req, res, raw),
    upgrade: (req, socket, head) => {
      // Local only, as the rest of the control API: whoever reaches the port may answer calls.
      if (new URL(req.url ?? '/', url).pathname !== '/lab/callee') return void socket.destroy();
      calleeSockets.handleUpgrade(req, socket, head, (ws) => serveCalleeSocket(ws, (ring, o) => outbound.addCallee(ring, o)));
    },
  });
  // A callee's recording (`--play`) arrives as one message: up to 10 min at 24 kHz.
  const calleeSockets = new WebSocketServer({ noServer: true, maxPayload: 32 * 1024 * 1024 });
  rest.beforeRespond((exchange, next) => react(exchange, next));
  const phoneNumbers = createPhoneNumbersPeer({ accessKey: rest.accessKey });
  const url = rest.endpoint.replace(/\/$/, '');

  function send(res: ServerResponse, reply: Reply): void {
    const body = reply.body === undefined ? '' : JSON.stringify(reply.body);
    res.writeHead(reply.status, body ? { 'content-type': 'application/json' } : {});
    res.end(body);
  }

  function parseJson<T>(schema: z.ZodType<T>, raw: Buffer): { ok: true; value: T } | { ok: false; reply: Reply } {
    let json: unknown;
    try {
      json = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch {
      return { ok: false, reply: acsError(400, 'BadRequest', 'body is not valid JSON') };
    }
    const result = schema.safeParse(json);
    if (!result.success) {
      const reason = result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
      return { ok: false, reply: acsError(400, 'BadRequest', reason) };
    }
    return { ok: true, value: result.data };
  }

  async function serveControl(req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const method = req.method ?? 'GET';
    const rawPath = new URL(req.url ?? '/', url).pathname;
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      return send(res, acsError(400, 'BadRequest', `malformed %-escape in the path: ${rawPath}`));
    }
    try {
      if (path.startsWith('/lab/')) return send(res, await control(method, path, raw));
      if (phoneNumbers.handles(path)) return phoneNumbers.serve(req, res, raw);
      if (path.startsWith('/eventgrid/validate')) return send(res, { status: 200, body: { validated: true } });
      send(res, acsError(404, 'NotFound', `no such endpoint: ${method} ${path}`));
    } catch (error) {
      logger.error({ err: error }, 'emulator request failed');
      if (!res.headersSent) send(res, acsError(500, 'InternalError', (error as Error).message));
    }
  }

  async function control(method: string, path: string, raw: Buffer): Promise<Reply> {
    if (path === '/lab/calls') {
      if (method === 'GET') return { status: 200, body: [...calls.values()].map(describeCall) };
      if (method !== 'POST') return acsError(405, 'MethodNotAllowed', `${method} /lab/calls: use POST to place a call or GET to list calls`);
      const parsed = parseJson(placeCallBody, raw);
      if (!parsed.ok) return parsed.reply;
      try {
        const call = await placeCall(parsed.value);
        return { status: 201, body: describeCall(call) };
      } catch (error) {
        return acsError(502, (error as AcsEmulatorError).code ?? 'delivery_failed', (error as Error).message);
      }
    }
    const keyMatch = path.match(/^\/lab\/calls\/([^/]+)\/keys$/);
    if (keyMatch) {
      const call = calls.get(keyMatch[1]!);
      if (!call) return acsError(404, 'NotFound', `no call with id ${keyMatch[1]}`);
      if (method !== 'POST') return acsError(405, 'MethodNotAllowed', `${method} ${path}: use POST {"key":"5"} to press a key`);
      const parsed = parseJson(pressKeyBody, raw);
      if (!parsed.ok) return parsed.reply;
      if (call.isOver) return acsError(409, 'CallOver', `call ${call.callId} is already ${call.state}`);
      const sent = call.pressKey(parsed.value.key);
      return { status: 202, body: { key: parsed.value.key, sent } };
    }
    const match = path.match(/^\/lab\/calls\/([^/]+)$/);
    if (match) {
      const call = calls.get(match[1]!);
      if (!call) return acsError(404, 'NotFound', `no call with id ${match[1]}`);
      if (method === 'GET') return { status: 200, body: { ...describeCall(call), timeline: call.timeline.entries } };
      if (method === 'DELETE') {
        if (call.isOver) return acsError(409, 'CallOver', `call ${call.callId} is already ${call.state}`);
        await call.hangUp();
        return { status: 202, body: describeCall(call) };
      }
      return acsError(405, 'MethodNotAllowed', `${method} ${path}: use GET or DELETE`);
    }
    return acsError(404, 'NotFound', `no such endpoint: ${method} ${path} (try POST /lab/calls)`);
  }

  function describeCall(call: EmulatedCall) {
    return {
      callId: call.callId,
      callConnectionId: call.callConnectionId,
      state: call.state,
      from: maskPhoneNumber(call.from),
      to: maskPhoneNumber(call.to),
      sampleRateHz: call.sampleRateHz ?? null,
    };
  }

  function participants(call: EmulatedCall) {
    return [
      { identifier: call.callerIdentifier, isMuted: false, isOnHold: false },
      { identifier: { kind: 'communicationUser', rawId: `8:acs:${issuer.audience}_app`, communicationUser: { id: `8:acs:${issuer.audience}_app` } }, isMuted: false, isOnHold: false },
    ];
  }

  /**
   * Around the REST peer's handling of each checked request: refuses what only the emulator knows to refuse
   * (a context it never issued, a call no longer ringing, media already flowing), and once the peer has
   * accepted a request, does what ACS does next, after the response: connect, stream, transfer, disconnect.
   */
  async function react(exchange: PeerExchange, next: () => Promise<PeerResponse>): Promise<PeerResponse> {
    const { request, body } = exchange;
    const { operation } = request;
    if (operation === 'createCall') return outbound.onCreateCall(exchange, next);
    if (operation === 'answer' || operation === 'reject' || operation === 'redirect') {
      const call = byContext.get(body.incomingCallContext as string);
      if (!call) return acsError(400, '8523', 'incomingCallContext is not one this emulator issued');
      if (call.state !== 'ringing') return acsError(400, '8501', `call cannot be ${operation === 'answer' ? 'answered' : `${operation}ed`}: it is ${call.state}`);
      const response = await next();
      if (response.status >= 300) return response;
      if (operation === 'answer') answered(call, body);
      else {
        const outcome = operation === 'reject' ? 'rejected' : 'redirected';
        call.timeline.add('acs', outcome);
        finish(call, outcome);
      }
      return response;
    }
    // Recording requests name the call in their body (start) or through the recording (stop).
    const callConnectionId = request.callConnectionId ?? (request.recordingId ? rest.recordings.get(request.recordingId)?.callConnectionId : undefined);
    const call = callConnectionId ? byConnection.get(callConnectionId) : undefined;
    if (!call || call.isOver) return next();
    if (operation === 'startMediaStreaming' && call.media && !endedLegs.has(call.media)) return acsError(400, '8501', 'media streaming is already active');
    if (operation === 'stopMediaStreaming' && (!call.media || endedLegs.has(call.media))) return acsError(400, '8501', 'media streaming is not active');
    const response = await next();
    if (response.status >= 300) return response;
    const operationContext = typeof body.operationContext === 'string' ? body.operationContext : undefined;
    switch (operation) {
      case 'hangUp':
        setImmediate(() => void disconnect(call, 'app hung up'));
        break;
      case 'terminate':
        setImmediate(() => void disconnect(call, 'app terminated the call'));
        break;
      case 'transferToParticipant':
        transfer(call, body);
        break;
      case 'startMediaStreaming':
        setImmediate(() => void startMedia(call, operationContext));
        break;
      case 'stopMediaStreaming':
        setImmediate(() => void stopMedia(call, operationContext, 'subscriptionStopped'));
        break;
      case 'startRecording': {
        const recordingId = (response.body as { recordingId?: string } | undefined)?.recordingId;
        const recording = recordingId ? rest.recordings.get(recordingId) : undefined;
        if (recording) setImmediate(() => void recordingStarted(call, recording));
        break;
      }
      case 'stopRecording': {
        const recording = request.recordingId ? rest.recordings.get(request.recordingId) : undefined;
        if (recording) setImmediate(() => void recordingChanged(call, recording));
        break;
      }
      default:
        break;
    }
    return response;
  }

  function answered(call: EmulatedCall, body: Record<string, unknown>): void {
    const media = body.mediaStreamingOptions as MediaStreamingRequest | undefined;
    call.state = 'connecting';
    call.callbackUri = body.callbackUri as string;
    call.mediaOptions = media;
    call.sampleRateHz = media?.audioFormat?.toLowerCase() === 'pcm24kmono' ? 24000 : 16000;
    call.timeline.add('acs', 'answered', {
      mediaStreaming: media ? { transportUrl: media.transportUrl, sampleRateHz: call.sampleRateHz, audioChannel: media.audioChannelType?.toLowerCase() ?? 'mixed' } : null,
    });
    byConnection.set(call.callConnectionId, call);
    // ACS answers the request first, then connects the call and reports it through callbacks.
    setImmediate(() => void connect(call, typeof body.operationContext === 'string' ? body.operationContext : undefined));
  }

  async function connect(call: EmulatedCall, operationContext: string | undefined): Promise<void> {
    if (call.isOver) return;
    call.state = 'connected';
    rest.setCallState(call.callConnectionId, 'connected');
    void postCallback(call, 'CallConnected', { ...(operationContext ? { operationContext } : {}) });
    void postCallback(call, 'ParticipantsUpdated', { participants: participants(call), sequenceNumber: call.nextSequence() });
    if (call.mediaOptions?.startMediaStreaming) await startMedia(call, operationContext);
  }

  async function startMedia(call: EmulatedCall, operationContext: string | undefined): Promise<void> {
    // The REST peer refuses startMediaStreaming for a call answered without media options.
    const mediaOptions = call.mediaOptions;
    if (!mediaOptions) return;
    const leg = new MediaLeg({
      transportUrl: mediaOptions.transportUrl,
      callConnectionId: call.callConnectionId,
      callId: call.callId,
      token: await issuer.issue({ expiresInSeconds: 24 * 3600 }),
      sampleRateHz: call.sampleRateHz ?? 16000,
      participantRawId: call.callerIdentifier.rawId,
      audioChannel: mediaOptions.audioChannelType?.toLowerCase() === 'unmixed' ? 'unmixed' : 'mixed',
      // Both default to off in the REST API (MediaStreamingOptions): only an explicit true turns them on.
      bidirectional: mediaOptions.enableBidirectional === true,
      dtmfTones: mediaOptions.enableDtmfTones === true,
      ...(options.judge ? { inspect: (text: string) => options.judge!.mediaFrame(text) } : {}),
    });
    leg.on('heard', (frame) => call.emit('heard', frame));
    leg.on('callerFrameSent', (offsetSamples) => call.emit('callerFrameSent', offsetSamples));
    leg.on('agentAudioStart', () => call.timeline.add('media', 'agent-audio'));
    leg.on('stopAudio', (droppedMs) => call.timeline.add('media', 'StopAudio', { droppedMs: Math.round(droppedMs) }));
    leg.on('invalidFrame', (reason) => call.timeline.add('media', 'invalid-frame', { reason }));
    leg.on('outboundIgnored', () => call.timeline.add('media', 'outbound-ignored', { reason: 'answered without enableBidirectional' }));
    leg.on('dtmfSent', (tone) => call.timeline.add('media', 'DtmfData', { tone }));
    // A connection that never opened is reported once, by the connect failure below (ws also emits close for it).
    let opened = false;
    leg.once('open', () => (opened = true));
    leg.on('closed', ({ code, reason, byUs }) => {
      endedLegs.add(leg);
      call.timeline.add('media', 'closed', { code, reason, by: byUs ? 'acs' : 'app' });
      if (!byUs && !call.isOver && opened) {
        setMediaStreaming(call, 'inactive');
        // The app dropped the stream: ACS reports it (it may reconnect in Azure; the emulator does not).
        void postCallback(call, 'MediaStreamingFailed', mediaUpdate('mediaStreamingFailed', 'streamConnectionInterrupted', undefined, { code: 500, subCode: 8603, message: `media WebSocket closed by the app (${code})` }));
      }
    });
    call.media = leg;
    try {
      await leg.connect();
    } catch (error) {
      call.media = undefined;
      setMediaStreaming(call, 'inactive');
      call.timeline.add('media', 'connect-failed', { reason: (error as Error).message });
      void postCallback(call, 'MediaStreamingFailed', mediaUpdate('mediaStreamingFailed', 'initialWebSocketConnectionFailed', operationContext, { code: 500, subCode: 8581, message: 'Transport url is not valid or web socket server is not operational.' }));
      return;
    }
    if (call.isOver) return leg.close();
    call.clock = { startedAtMs: performance.now(), ticks: 0 };
    call.timeline.add('media', 'connected', { sampleRateHz: call.sampleRateHz });
    void postCallback(call, 'MediaStreamingStarted', mediaUpdate('mediaStreamingStarted', 'subscriptionStarted', operationContext, ok('Action completed successfully.')));
  }

  async function stopMedia(call: EmulatedCall, operationContext: string | undefined, details: string): Promise<void> {
    const leg = call.media;
    if (!leg) return;
    call.media = undefined;
    leg.close(1000, 'media streaming stopped');
    await postCallback(call, 'MediaStreamingStopped', mediaUpdate('mediaStreamingStopped', details, operationContext, ok('Action completed successfully.')));
  }

  /** ACS has accepted the recording (202): it starts, and says so where the request asked (else the call's callback URI). */
  async function recordingStarted(call: EmulatedCall, recording: PeerRecording): Promise<void> {
    if (call.isOver || recording.stopped) return;
    recording.state = 'active';
    call.timeline.add('acs', 'recording-started', { channel: recording.options.recordingChannelType ?? 'mixed', format: recording.options.recordingFormatType ?? null });
    await recordingChanged(call, recording);
  }

  function recordingChanged(call: EmulatedCall, recording: PeerRecording): Promise<void> {
    const uri = typeof recording.options.recordingStateCallbackUri === 'string' ? recording.options.recordingStateCallbackUri : undefined;
    return postCallback(call, 'RecordingStateChanged', {
      recordingId: recording.recordingId,
      state: recording.state,
      recordingKind: 'azureCommunicationServices',
      ...(recording.state === 'active' ? { startDateTime: new Date().toISOString() } : {}),
      resultInformation: ok('Recording state changed.'),
    }, uri);
  }

  /** The call is over: its recordings stop, and ACS reports each as inactive. */
  async function stopRecordings(call: EmulatedCall): Promise<void> {
    for (const recording of rest.recordings.values()) {
      if (recording.callConnectionId !== call.callConnectionId || recording.stopped) continue;
      const wasActive = recording.state === 'active';
      recording.stopped = true;
      recording.state = 'inactive';
      if (wasActive) await recordingChanged(call, recording);
    }
  }

  function mediaUpdate(status: string, details: string, operationContext: string | undefined, resultInformation: object) {
    return {
      ...(operationContext ? { operationContext } : {}),
      mediaStreamingUpdate: { contentType: 'Audio', mediaStreamingStatus: status, mediaStreamingStatusDetails: details },
      resultInformation,
    };
  }

  const ok = (message: string) => ({ code: 200, subCode: 0, message });

  /** Keeps the REST peer's view of the media subscription (`GET` call properties) in step with the leg. */
  function setMediaStreaming(call: EmulatedCall, state: 'active' | 'inactive'): void {
    const peerCall = rest.calls.get(call.callConnectionId);
    if (peerCall) peerCall.mediaStreaming = state;
  }

  async function disconnect(call: EmulatedCall, reason: string): Promise<void> {
    if (call.isOver) return;
    call.state = 'disconnected';
    if (rest.calls.has(call.callConnectionId)) rest.setCallState(call.callConnectionId, 'disconnected');
    call.timeline.add('acs', 'disconnected', { reason });
    await stopMedia(call, undefined, 'subscriptionStopped');
    await stopRecordings(call);
    await postCallback(call, 'CallDisconnected', { resultInformation: ok(reason) });
    finish(call, 'disconnected');
  }

  /** The peer has accepted the transfer (202): ACS then reports whether the target took the call. */
  function transfer(call: EmulatedCall, body: Record<string, unknown>): void {
    const targetParticipant = body.targetParticipant as { rawId: string; phoneNumber?: { value: string } };
    const operationContext = typeof body.operationContext === 'string' ? body.operationContext : undefined;
    const operationCallbackUri = typeof body.operationCallbackUri === 'string' ? body.operationCallbackUri : undefined;
    const target = { rawId: targetParticipant.rawId, ...(targetParticipant.phoneNumber ? { phoneNumber: targetParticipant.phoneNumber.value } : {}) };
    call.state = 'transferring';
    call.timeline.add('acs', 'transfer-requested', { target: maskPhoneNumber(target.phoneNumber ?? target.rawId) });
    setImmediate(() => {
      if (call.isOver) return;
      const outcome = transferOutcome(target);
      if (outcome === 'accepted') {
        void postCallback(call, 'CallTransferAccepted', {
          ...(operationContext ? { operationContext } : {}),
          transferee: call.callerIdentifier,
          transferTarget: targetParticipant,
          resultInformation: { code: 202, subCode: 0, message: 'The transfer operation completed successfully.' },
        }, operationCallbackUri).then(() => disconnect(call, 'transferred'));
      } else {
        call.state = 'connected';
        rest.setCallState(call.callConnectionId, 'connected');
        void postCallback(call, 'CallTransferFailed', {
          ...(operationContext ? { operationContext } : {}),
          resultInformation: { code: 500, subCode: 7511, message: 'Transfer target did not answer (lab).' },
        }, operationCallbackUri);
      }
    });
  }

  function finish(call: EmulatedCall, state: CallState): void {
    call.state = state;
    // byContext keeps the call (as `calls` does): a late answer is refused as too late, not as unknown.
    byConnection.delete(call.callConnectionId);
    // ACS forgets an ended call: requests naming it get 404 (8522) from then on.
    rest.calls.delete(call.callConnectionId);
    call.media?.close();
    call.emit('ended', state);
  }

  /** `operationCallbackUri` (per action) overrides the call's callback URI for that action's events, as in ACS. */
  async function postCallback(call: EmulatedCall, name: string, extra: Record<string, unknown>, operationCallbackUri?: string): Promise<void> {
    const callbackUri = operationCallbackUri ?? call.callbackUri;
    if (!callbackUri) return;
    const event = {
      id: randomUUID(),
      source: `calling/callConnections/${call.callConnectionId}`,
      type: `Microsoft.Communication.${name}`,
      specversion: '1.0',
      datacontenttype: 'application/json',
      time: new Date().toISOString(),
      subject: `calling/callConnections/${call.callConnectionId}`,
      data: { version: API_VERSION, callConnectionId: call.callConnectionId, serverCallId: call.serverCallId, correlationId: call.callId, ...extra },
    };
    const body = JSON.stringify([event]);
    return call.enqueueCallback(async () => {
      if (closed) return;
      options.judge?.callback(body);
      const token = await issuer.issue();
      const started = performance.now();
      try {
        const response = await fetch(callbackUri, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body,
          signal: AbortSignal.timeout(30_000),
        });
        await response.arrayBuffer();
        call.timeline.add('callback', name, { status: response.status, tookMs: Math.round(performance.now() - started) });
      } catch (error) {
        call.timeline.add('callback', name, { error: (error as Error).message });
      }
    });
  }

  const outbound = createOutboundCalls(
    {
      resourceId: issuer.audience,
      register(init) {
        const call = new EmulatedCall(init.correlationId, init.from, init.to, { hangUpByCaller: (c) => callerHangUp(c) }, init);
        const media = init.mediaStreamingOptions as MediaStreamingRequest | undefined;
        call.callbackUri = init.callbackUri;
        call.mediaOptions = media;
        call.sampleRateHz = media?.audioFormat?.toLowerCase() === 'pcm24kmono' ? 24000 : 16000;
        calls.set(call.callId, call);
        byConnection.set(call.callConnectionId, call);
        call.timeline.add('acs', 'create-call', {
          mediaStreaming: media ? { transportUrl: media.transportUrl, sampleRateHz: call.sampleRateHz, audioChannel: media.audioChannelType?.toLowerCase() ?? 'mixed' } : null,
        });
        return call;
      },
      connect: (call, operationContext) => connect(call, operationContext),
      async fail(call, resultInformation, operationContext, state) {
        call.timeline.add('acs', 'create-call-failed', { code: resultInformation.code, subCode: resultInformation.subCode });
        await postCallback(call, 'CreateCallFailed', { ...(operationContext ? { operationContext } : {}), resultInformation });
        finish(call, state);
      },
    },
    options.outbound,
  );

  const subscriptionName = options.eventGridSubscriptionName ?? 'lab-incoming-call';
  const eventGrid = new EventGridDelivery({
    webhookUrl,
    subscriptionName,
    ...(options.eventGridTimeScale !== undefined ? { timeScale: options.eventGridTimeScale } : {}),
    ...(options.eventGridMaxDeliveryAttempts !== undefined ? { maxDeliveryAttempts: options.eventGridMaxDeliveryAttempts } : {}),
    ...(options.judge ? { inspect: (body: string, eventType: string) => options.judge!.eventGridDelivery(body, eventType) } : {}),
  });

  async function validateSubscription(): Promise<void> {
    const validationCode = randomUUID();
    // As the documented example (event-grid/webhook-event-delivery): metadataVersion "1", dataVersion "1".
    const body = JSON.stringify([
      {
        id: randomUUID(),
        topic: topic(),
        subject: '',
        eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        eventTime: new Date().toISOString(),
        metadataVersion: '1',
        dataVersion: '1',
        data: { validationCode, validationUrl: `${url}/eventgrid/validate?id=${validationCode}` },
      },
    ]);
    options.judge?.eventGridDelivery(body, 'Microsoft.EventGrid.SubscriptionValidationEvent');
    const response = await fetch(webhookUrl(), {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'aeg-event-type': 'SubscriptionValidation',
        'aeg-subscription-name': subscriptionName.toUpperCase(),
        'aeg-delivery-count': '0',
        'aeg-metadata-version': '1',
        'aeg-data-version': '1',
        'aeg-output-event-id': randomUUID(),
      },
      body,
      signal: AbortSignal.timeout(30_000),
    }).catch((error: Error) => {
      throw new AcsEmulatorError('validation_failed', `Event Grid validation: webhook ${redact(webhookUrl())} unreachable: ${error.message}`);
    });
    const text = await response.text();
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = undefined;
    }
    const code = (answer as { validationResponse?: unknown } | undefined)?.validationResponse;
    if (response.status !== 200 || code !== validationCode) {
      throw new AcsEmulatorError('validation_failed', `Event Grid validation handshake failed: HTTP ${response.status}, body ${text.slice(0, 200)}`);
    }
    logger.info('event grid subscription validated');
  }

  const topic = () => `/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/lab/providers/microsoft.communication/communicationservices/lab-acs`;

  async function placeCall(callOptions: PlaceCallOptions = {}): Promise<EmulatedCall> {
    if (closed) throw new AcsEmulatorError('closed', 'the ACS emulator is closed');
    const from = callOptions.from ?? '+15550100001';
    const to = callOptions.to ?? options.defaultTo ?? '+15550100100';
    for (const [name, value] of [['from', from], ['to', to]] as const) {
      if (!e164.safeParse(value).success) throw new AcsEmulatorError('bad_request', `${name}: must be an E.164 number such as +15551234567`);
    }
    validated ??= validateSubscription().catch((error: unknown) => {
      validated = undefined;
      throw error;
    });
    await validated;

    const call = new EmulatedCall(randomUUID(), from, to, { hangUpByCaller: (c) => callerHangUp(c) });
    call.incomingCallContext = rest.createIncomingCallContext({ correlationId: call.callId, serverCallId: call.serverCallId, callConnectionId: call.callConnectionId, from, to });
    calls.set(call.callId, call);
    byContext.set(call.incomingCallContext, call);
    call.timeline.add('caller', 'dialled', { from: maskPhoneNumber(from), to: maskPhoneNumber(to) });
    const ringTimer = setTimeout(() => {
      if (call.state === 'ringing') {
        call.timeline.add('acs', 'unanswered', { afterMs: ringTimeoutInMs });
        finish(call, 'unanswered');
      }
    }, ringTimeoutInMs);
    ringTimer.unref();
    call.once('ended', () => clearTimeout(ringTimer));

    const event = {
      id: randomUUID(),
      topic: topic(),
      subject: `/caller/4:${from}/recipient/4:${to}`,
      eventType: 'Microsoft.Communication.IncomingCall',
      eventTime: new Date().toISOString(),
      dataVersion: '1.0',
      metadataVersion: '1',
      data: {
        to: phoneIdentifier(to),
        from: phoneIdentifier(from),
        serverCallId: call.serverCallId,
        callerDisplayName: callOptions.callerDisplayName ?? '',
        incomingCallContext: call.incomingCallContext,
        correlationId: call.callId,
        // Always there, empty when the call carries no custom headers (AcsIncomingCallEventData.customContext).
        customContext: { sipHeaders: callOptions.sipHeaders ?? {}, voipHeaders: {} },
      },
    };
    // Event Grid redelivers a failed delivery on its schedule, whatever became of the call meanwhile.
    await eventGrid.deliver(event, (attempt) => call.timeline.add('eventgrid', 'IncomingCall', describeAttempt(attempt)));
    return call;
  }

  async function callerHangUp(call: EmulatedCall): Promise<void> {
    if (call.isOver) return;
    call.timeline.add('caller', 'hung-up');
    if (call.state === 'ringing') {
      finish(call, 'unanswered');
      return;
    }
    await disconnect(call, 'caller hung up');
  }

  return {
    connectionString: rest.connectionString,
    url,
    resourceId: issuer.audience,
    calls,
    requests: rest.requests,
    rest,
    phoneNumbers,
    placeCall,
    outbound: { script: (target, callee) => outbound.script(target, callee), addCallee: (ring, o) => outbound.addCallee(ring, o) },
    async close() {
      if (closed) return;
      closed = true;
      eventGrid.close();
      clearInterval(ticker);
      for (const client of calleeSockets.clients) client.terminate();
      calleeSockets.close();
      for (const call of calls.values()) if (!call.isOver) finish(call, 'disconnected');
      await rest.close();
    },
  };
}

function describeAttempt(attempt: DeliveryAttempt): Record<string, unknown> {
  return {
    ...(attempt.status !== undefined ? { status: attempt.status } : { error: attempt.error }),
    tookMs: attempt.tookMs,
    deliveryCount: attempt.deliveryCount,
    outcome: attempt.outcome,
    ...(attempt.nextInMs !== undefined ? { nextInMs: attempt.nextInMs } : {}),
  };
}

function redact(webhookUrl: string): string {
  return webhookUrl.replace(/([?&]code=)[^&]+/, '$1***');
}
