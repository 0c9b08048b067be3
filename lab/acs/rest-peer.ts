import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the ACS Call Automation REST API, reached by the real `CallAutomationClient` through a
 * connection string `endpoint=http://127.0.0.1:<port>/;accesskey=<base64>`. It verifies the HMAC-SHA256
 * signature exactly as `@azure/communication-common` computes it, keeps call state, records every request
 * and lets tests script failures and latency. Callbacks and the media socket are not its job (yet): the
 * local lab's ACS emulator builds on `calls` and `onRequest` for those.
 */

export type AcsOperation =
  | 'answer'
  | 'reject'
  | 'redirect'
  | 'getCall'
  | 'terminate'
  | 'hangUp'
  | 'transferToParticipant'
  | 'startMediaStreaming'
  | 'stopMediaStreaming'
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
  callConnectionId?: string | undefined;
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
}

export interface IncomingCallInit {
  correlationId?: string;
  serverCallId?: string;
  from?: string;
  to?: string;
}

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
  /** Requests of one operation, in order. */
  requestsFor(operation: AcsOperation): RecordedRequest[];
  /** An incomingCallContext as Event Grid would carry it, tied to a correlation id the answer then reports. */
  createIncomingCallContext(init?: IncomingCallInit): string;
  /** The next `times` requests of `operation` fail with this status and ACS error body. */
  failNext(operation: AcsOperation, failure: ScriptedFailure): void;
  /** The next request of `operation` waits this long before being handled. */
  delayNext(operation: AcsOperation, delayMs: number): void;
  setCallState(callConnectionId: string, state: CallConnectionState): void;
  /** Called after each request is handled (the lab emulator posts callbacks from here). */
  onRequest(listener: (request: RecordedRequest, call: PeerCall | undefined) => void): () => void;
  close(): Promise<void>;
}

interface IncomingContextRecord {
  correlationId: string;
  serverCallId: string;
  from?: string | undefined;
  to?: string | undefined;
  /** Set once answered, rejected or redirected: ACS takes a context once. */
  consumedBy?: 'answer' | 'reject' | 'redirect';
}

const CALL_PATH = /^\/calling\/callConnections\/([^/:]+)(?::([A-Za-z]+))?$/;

function classify(method: string, path: string): { operation: AcsOperation; callConnectionId?: string } {
  if (method === 'POST' && path === '/calling/callConnections:answer') return { operation: 'answer' };
  if (method === 'POST' && path === '/calling/callConnections:reject') return { operation: 'reject' };
  if (method === 'POST' && path === '/calling/callConnections:redirect') return { operation: 'redirect' };
  const match = CALL_PATH.exec(path);
  if (!match) return { operation: 'unknown' };
  const callConnectionId = decodeURIComponent(match[1] ?? '');
  const action = match[2];
  if (!action && method === 'GET') return { operation: 'getCall', callConnectionId };
  if (!action && method === 'DELETE') return { operation: 'hangUp', callConnectionId };
  if (method === 'POST' && action === 'terminate') return { operation: 'terminate', callConnectionId };
  if (method === 'POST' && action === 'transferToParticipant') return { operation: 'transferToParticipant', callConnectionId };
  if (method === 'POST' && action === 'startMediaStreaming') return { operation: 'startMediaStreaming', callConnectionId };
  if (method === 'POST' && action === 'stopMediaStreaming') return { operation: 'stopMediaStreaming', callConnectionId };
  return { operation: 'unknown', callConnectionId };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startAcsRestPeer(options: AcsRestPeerOptions = {}): Promise<AcsRestPeer> {
  const accessKey = options.accessKey ?? randomBytes(32).toString('base64');
  const key = Buffer.from(accessKey, 'base64');
  const maxSkewMs = options.maxClockSkewMs ?? 15 * 60_000;
  const requests: RecordedRequest[] = [];
  const calls = new Map<string, PeerCall>();
  const contexts = new Map<string, IncomingContextRecord>();
  const failures = new Map<AcsOperation, ScriptedFailure[]>();
  const delays = new Map<AcsOperation, number[]>();
  const listeners = new Set<(request: RecordedRequest, call: PeerCall | undefined) => void>();

  /** Mirrors communicationAccessKeyCredentialPolicy: VERB\npath?query\ndate;host;contentHash, HMAC-SHA256 with the decoded key. */
  function checkSignature(req: IncomingMessage, rawBody: string): string | undefined {
    const date = req.headers['x-ms-date'];
    const contentHash = req.headers['x-ms-content-sha256'];
    const host = req.headers.host;
    const authorization = req.headers.authorization;
    if (typeof authorization !== 'string') return 'no Authorization header';
    const match = /^HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=(.+)$/.exec(authorization);
    if (!match?.[1]) return 'Authorization is not HMAC-SHA256 with SignedHeaders=x-ms-date;host;x-ms-content-sha256';
    if (typeof date !== 'string' || typeof contentHash !== 'string' || !host) return 'x-ms-date, x-ms-content-sha256 or Host missing';
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
    return {
      callConnectionId: call.callConnectionId,
      serverCallId: call.serverCallId,
      correlationId: call.correlationId,
      callbackUri: call.callbackUri,
      callConnectionState: call.state,
      targets: [],
      mediaStreamingSubscription: call.mediaStreamingOptions
        ? { id: `sub-${call.callConnectionId}`, state: call.mediaStreaming, subscribedContentTypes: ['audio'] }
        : undefined,
    };
  }

  const errorBody = (code: string, message: string) => ({ error: { code, message } });

  function handle(
    operation: AcsOperation,
    callConnectionId: string | undefined,
    body: Record<string, unknown>,
  ): { status: number; json?: unknown; call?: PeerCall } {
    if (operation === 'answer' || operation === 'reject' || operation === 'redirect') {
      const incomingCallContext = typeof body.incomingCallContext === 'string' ? body.incomingCallContext : '';
      if (!incomingCallContext) return { status: 400, json: errorBody('BadRequest', 'incomingCallContext is required') };
      let context = contexts.get(incomingCallContext);
      if (!context) {
        // A context the test did not create: accept it once, as ACS would a real one.
        context = { correlationId: randomUUID(), serverCallId: Buffer.from(randomUUID()).toString('base64url') };
        contexts.set(incomingCallContext, context);
      }
      if (context.consumedBy) {
        return { status: 400, json: errorBody('8523', `Call was already ${context.consumedBy === 'answer' ? 'answered' : `${context.consumedBy}ed`}.`) };
      }
      context.consumedBy = operation;
      if (operation !== 'answer') return { status: 204 };
      if (typeof body.callbackUri !== 'string') return { status: 400, json: errorBody('BadRequest', 'callbackUri is required') };
      const call: PeerCall = {
        callConnectionId: randomUUID(),
        correlationId: context.correlationId,
        serverCallId: context.serverCallId,
        incomingCallContext,
        callbackUri: body.callbackUri,
        state: options.connectOnAnswer === false ? 'connecting' : 'connected',
        mediaStreamingOptions: body.mediaStreamingOptions as Record<string, unknown> | undefined,
        mediaStreaming: (body.mediaStreamingOptions as { startMediaStreaming?: boolean } | undefined)?.startMediaStreaming ? 'active' : 'inactive',
        operationContext: typeof body.operationContext === 'string' ? body.operationContext : undefined,
        answeredAt: new Date(),
      };
      calls.set(call.callConnectionId, call);
      return { status: 200, json: properties(call), call };
    }

    const call = callConnectionId ? calls.get(callConnectionId) : undefined;
    if (operation === 'unknown') return { status: 404, json: errorBody('NotFound', 'no such operation') };
    if (!call || (call.state === 'disconnected' && operation !== 'getCall')) {
      return { status: 404, json: errorBody('8522', 'Call not found or already ended.') };
    }
    switch (operation) {
      case 'getCall':
        return { status: 200, json: properties(call), call };
      case 'terminate':
      case 'hangUp':
        call.state = 'disconnected';
        call.mediaStreaming = 'inactive';
        return { status: 204, call };
      case 'transferToParticipant':
        if (typeof body.targetParticipant !== 'object' || body.targetParticipant === null) {
          return { status: 400, json: errorBody('BadRequest', 'targetParticipant is required'), call };
        }
        call.state = 'transferring';
        return { status: 202, json: { operationContext: body.operationContext }, call };
      case 'startMediaStreaming':
        if (!call.mediaStreamingOptions) return { status: 400, json: errorBody('8501', 'Media streaming was not configured for this call.'), call };
        call.mediaStreaming = 'active';
        return { status: 202, call };
      case 'stopMediaStreaming':
        call.mediaStreaming = 'inactive';
        return { status: 202, call };
    }
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        const url = new URL(req.url ?? '/', 'http://peer');
        const method = (req.method ?? 'GET').toUpperCase();
        const { operation, callConnectionId } = classify(method, url.pathname);
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
          callConnectionId,
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

        let outcome: { status: number; json?: unknown; call?: PeerCall };
        if (authFailure !== undefined) outcome = { status: 401, json: errorBody('Denied', `Denied by the HMAC check: ${authFailure}`) };
        else if (!url.searchParams.get('api-version')) outcome = { status: 400, json: errorBody('MissingApiVersionParameter', 'api-version is required') };
        else if (failure) outcome = { status: failure.status, json: errorBody(failure.code ?? String(failure.status), failure.message ?? 'scripted failure') };
        else if (bodyError) outcome = { status: 400, json: errorBody('BadRequest', bodyError) };
        else outcome = handle(operation, callConnectionId, (body ?? {}) as Record<string, unknown>);

        record.status = outcome.status;
        const payload = outcome.json === undefined ? '' : JSON.stringify(outcome.json);
        res.writeHead(outcome.status, {
          'content-type': 'application/json',
          'x-ms-client-request-id': headers['x-ms-client-request-id'] ?? randomUUID(),
          'x-microsoft-skype-chain-id': randomUUID(),
        });
        res.end(payload);
        for (const listener of listeners) {
          try {
            listener(record, outcome.call);
          } catch {
            // A listener's failure is the listener's business.
          }
        }
      })();
    });
  });

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
    requestsFor: (operation) => requests.filter((r) => r.operation === operation),
    createIncomingCallContext(init = {}) {
      const correlationId = init.correlationId ?? randomUUID();
      const serverCallId = init.serverCallId ?? Buffer.from(`server-call-${correlationId}`).toString('base64url');
      const context = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(
        JSON.stringify({ cc: correlationId, n: randomUUID() }),
      ).toString('base64url')}.`;
      contexts.set(context, { correlationId, serverCallId, from: init.from, to: init.to });
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
