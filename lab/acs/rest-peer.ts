import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { z } from 'zod';

/**
 * A local stand-in for the ACS Call Automation REST API, reached by the real `CallAutomationClient` through a
 * connection string `endpoint=http://127.0.0.1:<port>/;accesskey=<base64>`. It verifies the HMAC-SHA256
 * signature exactly as `@azure/communication-common` computes it, checks request bodies (a 400 names the bad
 * field), keeps call state, records every request and lets tests script failures and latency. Callbacks and
 * the media socket are not its job: the local lab's ACS emulator (`emulator.ts`) adds them through
 * `beforeRespond`, and serves its own control routes through `otherRequests`.
 */

export type AcsOperation =
  | 'createCall'
  | 'answer'
  | 'reject'
  | 'redirect'
  | 'getCall'
  | 'terminate'
  | 'hangUp'
  | 'transferToParticipant'
  | 'startMediaStreaming'
  | 'stopMediaStreaming'
  | 'listParticipants'
  | 'startRecording'
  | 'getRecording'
  | 'stopRecording'
  | 'unknown';

export interface RecordedRequest {
  operation: AcsOperation;
  method: string;
  /** Path without the query (`/calling/callConnections:answer`). */
  path: string;
  query: Record<string, string>;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** Parsed JSON body, or undefined when empty. */
  body: unknown;
  rawBody: string;
  /** For call operations; for startRecording, the callConnectionId of its body. */
  callConnectionId?: string | undefined;
  /** For getRecording and stopRecording. */
  recordingId?: string | undefined;
  /** Whether the HMAC signature, content hash and date checked out. */
  authenticated: boolean;
  authFailure?: string | undefined;
  /** The status the peer answered with. */
  status: number;
  receivedAt: Date;
}

export interface ScriptedFailure {
  /** HTTP status to answer with, e.g. 400, 404, 500. */
  status: number;
  /** ACS error code (`error.code`), e.g. "8522". */
  code?: string;
  message?: string;
  /** Delay before answering, in ms. */
  delayMs?: number;
  /** How many matching requests fail; default 1. */
  times?: number;
}

export type CallConnectionState = 'connecting' | 'connected' | 'transferring' | 'disconnecting' | 'disconnected';

export interface PeerCall {
  callConnectionId: string;
  correlationId: string;
  serverCallId: string;
  incomingCallContext: string;
  callbackUri: string;
  state: CallConnectionState;
  mediaStreamingOptions?: Record<string, unknown> | undefined;
  mediaStreaming: 'active' | 'inactive';
  operationContext?: string | undefined;
  answeredAt: Date;
  /** For calls placed with createCall: the targets and the caller id as the request gave them. */
  targets?: Record<string, unknown>[] | undefined;
  sourceCallerIdNumber?: string | undefined;
}

/** A recording started through `POST /calling/recordings`. */
export interface PeerRecording {
  recordingId: string;
  callConnectionId: string;
  /** `inactive` until started (the emulator reports it active through RecordingStateChanged), `active`, then `inactive` when stopped. */
  state: 'active' | 'inactive';
  stopped: boolean;
  /** The request body as received (`recordingChannelType`, `recordingFormatType`, `externalStorage`, ...). */
  options: Record<string, unknown>;
}

export interface IncomingCallInit {
  correlationId?: string;
  serverCallId?: string;
  /** E.164 numbers of the caller and the number dialled; reported as the call's target and `answeredFor`. */
  from?: string;
  to?: string;
  /** The id the answered call gets; random by default. */
  callConnectionId?: string;
}

/** What the peer answers: a status and a JSON body (an ACS error body for a refusal). */
export interface PeerResponse {
  status: number;
  body?: unknown;
}

/** A request that passed the HMAC, api-version, scripted-failure and body checks, about to be handled. */
export interface PeerExchange {
  readonly request: RecordedRequest;
  /** The parsed, checked JSON body (`{}` when empty). */
  readonly body: Record<string, unknown>;
  /** The call the request names, as it is before handling; undefined for answer/reject/redirect and unknown ids. */
  readonly call: PeerCall | undefined;
}

/**
 * Runs before the peer responds. Return a response to refuse the request (nothing changes), or call `next()`
 * to let the peer handle it (state changes, the call is created) and return what it gave, possibly after
 * acting on it. Hooks nest in the order they were added.
 */
export type BeforeRespondHook = (exchange: PeerExchange, next: () => Promise<PeerResponse>) => PeerResponse | Promise<PeerResponse>;

/** An ACS error response (`{ error: { code, message } }`). */
export const acsError = (status: number, code: string, message: string): PeerResponse => ({ status, body: { error: { code, message } } });

export interface AcsRestPeerOptions {
  port?: number;
  host?: string;
  /** Base64 access key; random by default. */
  accessKey?: string;
  /** Latency added to every answer, in ms. */
  latencyMs?: number;
  /** New calls go straight to `connected` (default) or stay `connecting` until `setCallState`. */
  connectOnAnswer?: boolean;
  /** Allowed difference between `x-ms-date` and the peer's clock; default 15 minutes as ACS. */
  maxClockSkewMs?: number;
  /** The ACS resource id: names the app's participant (`8:acs:<id>_app`). */
  resourceId?: string;
  /** Serves requests outside `/calling/` (not signed, not recorded); without it they get 404. */
  otherRequests?: (request: IncomingMessage, response: ServerResponse, body: Buffer) => void | Promise<void>;
  /** Takes WebSocket upgrades (the emulator's control sockets); without it they are refused. */
  upgrade?: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

export interface AcsRestPeer {
  /** `http://127.0.0.1:<port>/` */
  readonly endpoint: string;
  readonly connectionString: string;
  readonly accessKey: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Calls by callConnectionId. */
  readonly calls: Map<string, PeerCall>;
  /** Recordings by recordingId. */
  readonly recordings: Map<string, PeerRecording>;
  /** Requests of one operation, in order. */
  requestsFor(operation: AcsOperation): RecordedRequest[];
  /** An incomingCallContext as Event Grid would carry it, tied to a correlation id the answer then reports. */
  createIncomingCallContext(init?: IncomingCallInit): string;
  /** The next `times` requests of `operation` fail with this status and ACS error body. */
  failNext(operation: AcsOperation, failure: ScriptedFailure): void;
  /** The next request of `operation` waits this long before being handled. */
  delayNext(operation: AcsOperation, delayMs: number): void;
  setCallState(callConnectionId: string, state: CallConnectionState): void;
  /** Runs before the peer responds to each checked request (see `BeforeRespondHook`); returns a remover. */
  beforeRespond(hook: BeforeRespondHook): () => void;
  /** Called after each request is answered. */
  onRequest(listener: (request: RecordedRequest, call: PeerCall | undefined) => void): () => void;
  close(): Promise<void>;
}

interface IncomingContextRecord {
  correlationId: string;
  serverCallId: string;
  from?: string | undefined;
  to?: string | undefined;
  callConnectionId?: string | undefined;
  /** Set once answered, rejected or redirected: ACS takes a context once. */
  consumedBy?: 'answer' | 'reject' | 'redirect';
}

const CALL_PATH = /^\/calling\/callConnections\/([^/:]+)(?::([A-Za-z]+)|(\/participants))?$/;
const RECORDING_PATH = /^\/calling\/recordings\/([^/:]+)$/;
const MAX_BODY_BYTES = 1024 * 1024;

function classify(method: string, path: string): { operation: AcsOperation; callConnectionId?: string; recordingId?: string } {
  if (method === 'POST' && path === '/calling/callConnections') return { operation: 'createCall' };
  if (method === 'POST' && path === '/calling/callConnections:answer') return { operation: 'answer' };
  if (method === 'POST' && path === '/calling/callConnections:reject') return { operation: 'reject' };
  if (method === 'POST' && path === '/calling/callConnections:redirect') return { operation: 'redirect' };
  if (method === 'POST' && path === '/calling/recordings') return { operation: 'startRecording' };
  const recording = RECORDING_PATH.exec(path);
  if (recording) {
    if (method === 'GET') return { operation: 'getRecording', recordingId: decodeURIComponent(recording[1] ?? '') };
    if (method === 'DELETE') return { operation: 'stopRecording', recordingId: decodeURIComponent(recording[1] ?? '') };
    return { operation: 'unknown' };
  }
  const match = CALL_PATH.exec(path);
  if (!match) return { operation: 'unknown' };
  const callConnectionId = decodeURIComponent(match[1] ?? '');
  const action = match[2];
  if (match[3]) return method === 'GET' ? { operation: 'listParticipants', callConnectionId } : { operation: 'unknown', callConnectionId };
  if (!action && method === 'GET') return { operation: 'getCall', callConnectionId };
  if (!action && method === 'DELETE') return { operation: 'hangUp', callConnectionId };
  if (method === 'POST' && action === 'terminate') return { operation: 'terminate', callConnectionId };
  if (method === 'POST' && action === 'transferToParticipant') return { operation: 'transferToParticipant', callConnectionId };
  if (method === 'POST' && action === 'startMediaStreaming') return { operation: 'startMediaStreaming', callConnectionId };
  if (method === 'POST' && action === 'stopMediaStreaming') return { operation: 'stopMediaStreaming', callConnectionId };
  return { operation: 'unknown', callConnectionId };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Request bodies as ACS checks them: unknown fields pass (the SDK sends more than the lab uses), bad ones are named.
const httpUrl = z.string().refine((v) => /^https?:\/\//.test(v), 'must be an http(s) URL');
const identifierBody = z.object({ rawId: z.string().min(1), kind: z.string().optional(), phoneNumber: z.object({ value: z.string() }).optional() }).passthrough();
const mediaStreamingOptionsBody = z
  .object({
    transportUrl: z.string().refine((v) => /^wss?:\/\//.test(v), 'must be a ws:// or wss:// URL'),
    transportType: z.string().refine((v) => v.toLowerCase() === 'websocket', 'must be websocket'),
    contentType: z.string().optional(),
    audioChannelType: z.string().refine((v) => ['mixed', 'unmixed'].includes(v.toLowerCase()), 'must be mixed or unmixed'),
    startMediaStreaming: z.boolean().optional(),
    enableBidirectional: z.boolean().optional(),
    audioFormat: z.string().refine((v) => ['pcm16kmono', 'pcm24kmono'].includes(v.toLowerCase()), 'must be pcm16KMono or pcm24KMono').optional(),
  })
  .passthrough();
/**
 * Custom calling context as ACS documents its limits (how-tos/call-automation/custom-context): at most 5 SIP
 * headers, keys of at most 64 characters with an `X-` prefix, values of at most 256 characters from letters, digits
 * and `=;.!%*_+~-` only (no spaces); VoIP keys of at most 64 characters.
 */
const customCallingContextBody = z
  .object({
    sipHeaders: z
      .record(
        z.string().max(64, 'SIP header keys are at most 64 characters').regex(/^X-[A-Za-z0-9.!%*_+~-]+$/i, 'SIP header keys start with X- and use letters, digits and .!%*_+~-'),
        z.string().max(256, 'SIP header values are at most 256 characters').regex(/^[A-Za-z0-9=;.!%*_+~-]*$/, 'SIP header values use letters, digits and =;.!%*_+~- only'),
      )
      .refine((headers) => Object.keys(headers).length <= 5, 'at most 5 custom SIP headers')
      .optional(),
    voipHeaders: z.record(z.string().max(64, 'VoIP header keys are at most 64 characters'), z.string()).optional(),
  })
  .passthrough();
const mediaActionBody = z.object({ operationContext: z.string().optional(), operationCallbackUri: httpUrl.optional() }).passthrough();
// ACS's combinations: audio is mp3 or wav when mixed, wav when unmixed; audioVideo is mixed mp4.
const startRecordingBody = z
  .object({
    callConnectionId: z.string().min(1).optional(),
    callLocator: z.object({ serverCallId: z.string().optional(), kind: z.string().optional() }).passthrough().optional(),
    recordingStateCallbackUri: httpUrl.optional(),
    recordingContentType: z.enum(['audio', 'audioVideo']).optional(),
    recordingChannelType: z.enum(['mixed', 'unmixed']).optional(),
    recordingFormatType: z.enum(['wav', 'mp3', 'mp4']).optional(),
    pauseOnStart: z.boolean().optional(),
    externalStorage: z
      .object({ recordingStorageKind: z.enum(['azureCommunicationServices', 'azureBlobStorage']), recordingDestinationContainerUrl: z.string().optional() })
      .passthrough()
      .refine((v) => v.recordingStorageKind !== 'azureBlobStorage' || /^https:\/\/[^/]+\/[^/?]+/.test(v.recordingDestinationContainerUrl ?? ''), {
        message: 'azureBlobStorage needs recordingDestinationContainerUrl, an https container URL',
        path: ['recordingDestinationContainerUrl'],
      })
      .optional(),
  })
  .passthrough()
  .superRefine((b, ctx) => {
    if (!b.callConnectionId === !b.callLocator) ctx.addIssue({ code: 'custom', path: ['callConnectionId'], message: 'give exactly one of callConnectionId and callLocator' });
    const content = b.recordingContentType ?? 'audio';
    const format = b.recordingFormatType;
    if (content === 'audio' && format === 'mp4') ctx.addIssue({ code: 'custom', path: ['recordingFormatType'], message: 'audio recordings are mp3 or wav' });
    if (content === 'audio' && b.recordingChannelType === 'unmixed' && format && format !== 'wav') {
      ctx.addIssue({ code: 'custom', path: ['recordingFormatType'], message: 'unmixed audio is recorded as wav only' });
    }
    if (content === 'audioVideo' && ((format && format !== 'mp4') || b.recordingChannelType === 'unmixed')) {
      ctx.addIssue({ code: 'custom', path: ['recordingFormatType'], message: 'audioVideo recordings are mixed mp4' });
    }
  });

/**
 * createCall as ACS documents it: one or more targets; a phone-number target needs `sourceCallerIdNumber`, a number
 * of the resource ("For CreateCall ... to phone numbers, you need to set the SourceCallerId": troubleshooting codes).
 */
const createCallBody = z
  .object({
    targets: z.array(identifierBody).min(1, 'at least one target'),
    callbackUri: httpUrl,
    source: z.object({ id: z.string().min(1) }).passthrough().optional(),
    sourceCallerIdNumber: z.object({ value: z.string().regex(/^\+\d{6,15}$/, 'must be an E.164 number') }).passthrough().optional(),
    sourceDisplayName: z.string().max(256).optional(),
    operationContext: z.string().optional(),
    mediaStreamingOptions: mediaStreamingOptionsBody.optional(),
  })
  .passthrough()
  .superRefine((b, ctx) => {
    const pstn = b.targets.some((t) => t.kind === 'phoneNumber' || t.rawId.startsWith('4:'));
    if (pstn && !b.sourceCallerIdNumber) ctx.addIssue({ code: 'custom', path: ['sourceCallerIdNumber'], message: 'required to call a phone number (a number of this resource)' });
  });

const bodySchemas: Partial<Record<AcsOperation, z.ZodType<Record<string, unknown>>>> = {
  createCall: createCallBody as z.ZodType<Record<string, unknown>>,
  answer: z
    .object({ incomingCallContext: z.string().min(1), callbackUri: httpUrl, operationContext: z.string().optional(), mediaStreamingOptions: mediaStreamingOptionsBody.optional() })
    .passthrough(),
  reject: z.object({ incomingCallContext: z.string().min(1), callRejectReason: z.string().optional() }).passthrough(),
  redirect: z.object({ incomingCallContext: z.string().min(1), target: identifierBody }).passthrough(),
  transferToParticipant: z
    .object({
      targetParticipant: identifierBody,
      operationContext: z.string().optional(),
      operationCallbackUri: httpUrl.optional(),
      customCallingContext: customCallingContextBody.optional(),
    })
    .passthrough(),
  startMediaStreaming: mediaActionBody,
  stopMediaStreaming: mediaActionBody,
  startRecording: startRecordingBody as z.ZodType<Record<string, unknown>>,
};

/** The reason a body is refused, naming each bad field (`mediaStreamingOptions.audioFormat: must be ...`). */
function bodyRefusal(operation: AcsOperation, body: unknown): string | undefined {
  const schema = bodySchemas[operation];
  if (!schema) return undefined;
  const result = schema.safeParse(body ?? {});
  if (result.success) return undefined;
  return result.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');
}

const phoneIdentifier = (number: string) => ({ kind: 'phoneNumber', rawId: `4:${number}`, phoneNumber: { value: number } });

export async function startAcsRestPeer(options: AcsRestPeerOptions = {}): Promise<AcsRestPeer> {
  const accessKey = options.accessKey ?? randomBytes(32).toString('base64');
  const key = Buffer.from(accessKey, 'base64');
  const maxSkewMs = options.maxClockSkewMs ?? 15 * 60_000;
  const requests: RecordedRequest[] = [];
  const calls = new Map<string, PeerCall>();
  const recordings = new Map<string, PeerRecording>();
  const contexts = new Map<string, IncomingContextRecord>();
  const failures = new Map<AcsOperation, ScriptedFailure[]>();
  const delays = new Map<AcsOperation, number[]>();
  const listeners = new Set<(request: RecordedRequest, call: PeerCall | undefined) => void>();
  const hooks: BeforeRespondHook[] = [];
  const appIdentifier = { kind: 'communicationUser', rawId: `8:acs:${options.resourceId ?? 'lab'}_app`, communicationUser: { id: `8:acs:${options.resourceId ?? 'lab'}_app` } };

  /** Mirrors communicationAccessKeyCredentialPolicy: VERB\npath?query\ndate;host;contentHash, HMAC-SHA256 with the decoded key. */
  function checkSignature(req: IncomingMessage, rawBody: string): string | undefined {
    const date = req.headers['x-ms-date'];
    const contentHash = req.headers['x-ms-content-sha256'];
    const host = req.headers.host;
    const authorization = req.headers.authorization;
    if (typeof authorization !== 'string') return 'request is not signed: no Authorization header';
    const match = /^HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=(.+)$/.exec(authorization);
    if (!match?.[1]) return 'Authorization is not HMAC-SHA256 with SignedHeaders=x-ms-date;host;x-ms-content-sha256';
    if (typeof date !== 'string' || typeof contentHash !== 'string' || !host) return 'request is not signed: x-ms-date, x-ms-content-sha256 or Host missing';
    const sentAt = Date.parse(date);
    if (Number.isNaN(sentAt) || Math.abs(Date.now() - sentAt) > maxSkewMs) return 'x-ms-date missing or outside the allowed clock skew';
    const actualHash = createHash('sha256').update(rawBody, 'utf8').digest('base64');
    if (actualHash !== contentHash) return 'x-ms-content-sha256 does not match the body';
    const url = new URL(req.url ?? '/', `http://${host}`);
    const query = url.searchParams.toString();
    const pathAndQuery = query ? `${url.pathname}?${query}` : url.pathname;
    const stringToSign = `${(req.method ?? 'GET').toUpperCase()}\n${pathAndQuery}\n${date};${host};${contentHash}`;
    const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest();
    const given = Buffer.from(match[1], 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature does not match';
    return undefined;
  }

  function properties(call: PeerCall): Record<string, unknown> {
    const context = contexts.get(call.incomingCallContext);
    return {
      callConnectionId: call.callConnectionId,
      serverCallId: call.serverCallId,
      correlationId: call.correlationId,
      callbackUri: call.callbackUri,
      callConnectionState: call.state,
      targets: call.targets ?? (context?.from ? [phoneIdentifier(context.from)] : []),
      ...(call.sourceCallerIdNumber ? { sourceCallerIdNumber: { value: call.sourceCallerIdNumber } } : {}),
      // These two are the bare models (`{ id }`, `{ value }`), not CommunicationIdentifierModels.
      answeredBy: appIdentifier.communicationUser,
      ...(context?.to ? { answeredFor: { value: context.to } } : {}),
      mediaStreamingSubscription: call.mediaStreamingOptions
        ? { id: `sub-${call.callConnectionId}`, state: call.mediaStreaming, subscribedContentTypes: ['audio'] }
        : undefined,
    };
  }

  function participants(call: PeerCall): Record<string, unknown>[] {
    const from = contexts.get(call.incomingCallContext)?.from;
    const remote = call.targets ?? (from ? [phoneIdentifier(from)] : []);
    return [...remote, appIdentifier].map((identifier) => ({ identifier, isMuted: false, isOnHold: false }));
  }

  const recordingState = (r: PeerRecording) => ({ recordingId: r.recordingId, recordingState: r.state, recordingKind: 'azureCommunicationServices' });

  function handleRecording(operation: 'startRecording' | 'getRecording' | 'stopRecording', recordingId: string | undefined, body: Record<string, unknown>): PeerResponse {
    if (operation === 'startRecording') {
      const serverCallId = (body.callLocator as { serverCallId?: string } | undefined)?.serverCallId;
      const call = typeof body.callConnectionId === 'string' ? calls.get(body.callConnectionId) : [...calls.values()].find((c) => c.serverCallId === serverCallId);
      if (!call || call.state === 'disconnected') return acsError(404, '8522', 'Call not found or already ended.');
      if (call.state !== 'connected') return acsError(400, '8501', `Action is not allowed while the call is ${call.state}.`);
      if ([...recordings.values()].some((r) => r.callConnectionId === call.callConnectionId && !r.stopped)) {
        return acsError(409, 'RecordingAlreadyInProgress', 'A recording is already in progress for this call.');
      }
      const recording: PeerRecording = { recordingId: Buffer.from(`lab-recording:${randomUUID()}`).toString('base64url'), callConnectionId: call.callConnectionId, state: 'inactive', stopped: false, options: body };
      recordings.set(recording.recordingId, recording);
      // Accepted, not yet recording: ACS then posts RecordingStateChanged (active) or StartRecordingFailed.
      return { status: 202, body: recordingState(recording) };
    }
    const recording = recordingId ? recordings.get(recordingId) : undefined;
    if (!recording || (recording.stopped && operation === 'stopRecording')) return acsError(404, '8522', 'Recording not found or already stopped.');
    if (operation === 'getRecording') return { status: 200, body: recordingState(recording) };
    recording.stopped = true;
    recording.state = 'inactive';
    return { status: 204 };
  }

  /** The peer's own handling: the state change and its response. */
  function handle(operation: AcsOperation, callConnectionId: string | undefined, body: Record<string, unknown>, recordingId?: string): PeerResponse {
    if (operation === 'startRecording' || operation === 'getRecording' || operation === 'stopRecording') return handleRecording(operation, recordingId, body);
    if (operation === 'createCall') {
      const mediaStreamingOptions = body.mediaStreamingOptions as Record<string, unknown> | undefined;
      const correlationId = randomUUID();
      const call: PeerCall = {
        callConnectionId: randomUUID(),
        correlationId,
        serverCallId: Buffer.from(`server-call-${correlationId}`).toString('base64url'),
        incomingCallContext: '',
        callbackUri: body.callbackUri as string,
        // The callee has not answered yet: ACS reports the outcome through CallConnected or CreateCallFailed.
        state: 'connecting',
        mediaStreamingOptions,
        mediaStreaming: 'inactive',
        operationContext: typeof body.operationContext === 'string' ? body.operationContext : undefined,
        answeredAt: new Date(),
        targets: body.targets as Record<string, unknown>[],
        sourceCallerIdNumber: (body.sourceCallerIdNumber as { value?: string } | undefined)?.value,
      };
      calls.set(call.callConnectionId, call);
      return { status: 201, body: properties(call) };
    }
    if (operation === 'answer' || operation === 'reject' || operation === 'redirect') {
      const incomingCallContext = body.incomingCallContext as string;
      let context = contexts.get(incomingCallContext);
      if (!context) {
        // A context the test did not create: accept it once, as ACS would a real one.
        context = { correlationId: randomUUID(), serverCallId: Buffer.from(randomUUID()).toString('base64url') };
        contexts.set(incomingCallContext, context);
      }
      if (context.consumedBy) {
        return acsError(400, '8523', `Call was already ${context.consumedBy === 'answer' ? 'answered' : `${context.consumedBy}ed`}.`);
      }
      context.consumedBy = operation;
      if (operation !== 'answer') return { status: 204 };
      const mediaStreamingOptions = body.mediaStreamingOptions as Record<string, unknown> | undefined;
      const call: PeerCall = {
        callConnectionId: context.callConnectionId ?? randomUUID(),
        correlationId: context.correlationId,
        serverCallId: context.serverCallId,
        incomingCallContext,
        callbackUri: body.callbackUri as string,
        state: options.connectOnAnswer === false ? 'connecting' : 'connected',
        mediaStreamingOptions,
        mediaStreaming: mediaStreamingOptions?.startMediaStreaming === true ? 'active' : 'inactive',
        operationContext: typeof body.operationContext === 'string' ? body.operationContext : undefined,
        answeredAt: new Date(),
      };
      calls.set(call.callConnectionId, call);
      return { status: 200, body: properties(call) };
    }

    const call = callConnectionId ? calls.get(callConnectionId) : undefined;
    if (operation === 'unknown') return acsError(404, 'NotFound', 'no such operation');
    if (!call || (call.state === 'disconnected' && operation !== 'getCall')) return acsError(404, '8522', 'Call not found or already ended.');
    switch (operation) {
      case 'getCall':
        return { status: 200, body: properties(call) };
      case 'listParticipants':
        return { status: 200, body: { value: participants(call), nextLink: '' } };
      case 'terminate':
      case 'hangUp':
        call.state = 'disconnected';
        call.mediaStreaming = 'inactive';
        return { status: 204 };
      case 'transferToParticipant':
        call.state = 'transferring';
        return { status: 202, body: { operationContext: body.operationContext } };
      case 'startMediaStreaming':
        if (!call.mediaStreamingOptions) return acsError(400, '8501', 'Media streaming was not configured for this call.');
        call.mediaStreaming = 'active';
        return { status: 202 };
      case 'stopMediaStreaming':
        call.mediaStreaming = 'inactive';
        return { status: 202 };
    }
  }

  /** The hooks, outermost first, around the peer's own handling. */
  function respond(exchange: PeerExchange, index = 0): Promise<PeerResponse> {
    const hook = hooks[index];
    if (!hook) return Promise.resolve(handle(exchange.request.operation, exchange.request.callConnectionId, exchange.body, exchange.request.recordingId));
    return Promise.resolve(hook(exchange, () => respond(exchange, index + 1)));
  }

  async function serve(req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const rawBody = raw.toString('utf8');
    const url = new URL(req.url ?? '/', 'http://peer');
    const method = (req.method ?? 'GET').toUpperCase();
    const { operation, callConnectionId, recordingId } = classify(method, url.pathname);
    let body: unknown;
    let bodyError: string | undefined;
    if (rawBody) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        bodyError = 'body is not JSON';
      }
    }
    const authFailure = checkSignature(req, rawBody);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    const record: RecordedRequest = {
      operation,
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body,
      rawBody,
      callConnectionId: callConnectionId ?? (operation === 'startRecording' && typeof (body as { callConnectionId?: unknown } | undefined)?.callConnectionId === 'string' ? (body as { callConnectionId: string }).callConnectionId : undefined),
      recordingId,
      authenticated: authFailure === undefined,
      authFailure,
      status: 0,
      receivedAt: new Date(),
    };
    requests.push(record);

    const delay = (delays.get(operation)?.shift() ?? 0) + (options.latencyMs ?? 0);
    const queue = failures.get(operation);
    const failure = authFailure === undefined ? queue?.[0] : undefined;
    if (failure) {
      failure.times = (failure.times ?? 1) - 1;
      if (failure.times <= 0) queue?.shift();
    }
    const wait = delay + (failure?.delayMs ?? 0);
    if (wait > 0) await sleep(wait);

    let outcome: PeerResponse;
    const refusal = bodyError ?? bodyRefusal(operation, body);
    if (authFailure !== undefined) outcome = acsError(401, 'Denied', `Denied by the HMAC check: ${authFailure}`);
    else if (!url.searchParams.get('api-version')) outcome = acsError(400, 'MissingApiVersionParameter', 'api-version is required');
    else if (failure) outcome = acsError(failure.status, failure.code ?? String(failure.status), failure.message ?? 'scripted failure');
    else if (refusal) outcome = acsError(400, 'BadRequest', refusal);
    else {
      const call = record.callConnectionId ? calls.get(record.callConnectionId) : undefined;
      outcome = await respond({ request: record, body: (body ?? {}) as Record<string, unknown>, call });
    }

    record.status = outcome.status;
    const payload = outcome.body === undefined ? '' : JSON.stringify(outcome.body);
    res.writeHead(outcome.status, {
      'content-type': 'application/json',
      'x-ms-client-request-id': headers['x-ms-client-request-id'] ?? randomUUID(),
      'x-microsoft-skype-chain-id': randomUUID(),
    });
    res.end(payload);
    const call = record.callConnectionId ? calls.get(record.callConnectionId) : [...calls.values()].find((c) => c.incomingCallContext === (body as { incomingCallContext?: unknown } | undefined)?.incomingCallContext);
    for (const listener of listeners) {
      try {
        listener(record, call);
      } catch {
        // A listener's failure is the listener's business.
      }
    }
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY_BYTES) {
          res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify(acsError(413, 'PayloadTooLarge', 'body larger than 1 MiB').body));
          return;
        }
        chunks.push(chunk as Buffer);
      }
      const raw = Buffer.concat(chunks);
      const path = new URL(req.url ?? '/', 'http://peer').pathname;
      if (options.otherRequests && !path.startsWith('/calling/')) return options.otherRequests(req, res, raw);
      return serve(req, res, raw);
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(acsError(500, 'InternalError', (error as Error).message).body));
      else res.destroy();
    });
  });

  if (options.upgrade) server.on('upgrade', options.upgrade);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://${options.host ?? '127.0.0.1'}:${port}/`;

  return {
    endpoint,
    connectionString: `endpoint=${endpoint};accesskey=${accessKey}`,
    accessKey,
    requests,
    calls,
    recordings,
    requestsFor: (operation) => requests.filter((r) => r.operation === operation),
    createIncomingCallContext(init = {}) {
      const correlationId = init.correlationId ?? randomUUID();
      const serverCallId = init.serverCallId ?? Buffer.from(`server-call-${correlationId}`).toString('base64url');
      const context = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(
        JSON.stringify({ cc: correlationId, n: randomUUID() }),
      ).toString('base64url')}.`;
      contexts.set(context, { correlationId, serverCallId, from: init.from, to: init.to, callConnectionId: init.callConnectionId });
      return context;
    },
    failNext(operation, failure) {
      const queue = failures.get(operation) ?? [];
      queue.push({ ...failure });
      failures.set(operation, queue);
    },
    delayNext(operation, delayMs) {
      const queue = delays.get(operation) ?? [];
      queue.push(delayMs);
      delays.set(operation, queue);
    },
    setCallState(callConnectionId, state) {
      const call = calls.get(callConnectionId);
      if (!call) throw new Error(`no call ${callConnectionId}`);
      call.state = state;
      if (state === 'disconnected') call.mediaStreaming = 'inactive';
    },
    beforeRespond(hook) {
      hooks.push(hook);
      return () => {
        const index = hooks.indexOf(hook);
        if (index >= 0) hooks.splice(index, 1);
      };
    },
    onRequest(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
