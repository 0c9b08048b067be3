import { STATUS_CODES, createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { PeerSessionImpl, type EchoGreeting, type PeerSession, type VoicemailRule } from './peer-session.js';

export type { ClientEventRecord, EchoGreeting, PeerSession, RespondOptions, VoicemailRule } from './peer-session.js';

export interface VoiceLivePeerOptions {
  port?: number;
  /** Required `api-key` header value. With neither this nor `acceptBearer`, any caller is accepted. */
  apiKey?: string;
  /** Accepts an `Authorization: Bearer` token. */
  acceptBearer?: (token: string) => boolean;
  /** `scripted`: the test drives every server event. `echo-agent`: an honest local test line. */
  mode?: 'scripted' | 'echo-agent';
  /** Sessions report `expires_at` this far ahead and are closed then. Default 60 min. */
  sessionExpiresInMs?: number;
  /** Audio per `response.audio.delta`. Default 40 ms. */
  audioChunkMs?: number;
  /** Echo agent: RMS level (0..32768) of a 20 ms frame that counts as speech. Default 500. */
  vadThreshold?: number;
  /**
   * Echo agent: share of caller turns (0..1) whose input transcript completes after the reply's
   * `response.created` (transcription runs asynchronously on the service). Default 0.5.
   */
  lateTranscriptFraction?: number;
  /** Seeds the echo agent's choices (which transcripts are late, and by how much). Default 1. */
  seed?: number;
  /** Largest client message accepted (bytes). Default 16 MiB. */
  maxPayloadBytes?: number;
  /**
   * Echo agent: what a `response.create` with no input (no caller turn to play back, no pre-generated
   * message) plays, e.g. a spoken greeting; a function is called with the session's output rate. Default:
   * beeps with a greeting transcript.
   */
  greeting?: EchoGreeting | ((outputRateHz: number) => EchoGreeting);
  /**
   * Echo agent: the stand-in for the model's judgement that a voicemail answered (docs/fidelity/voice-live.md). When
   * the session offers the tool `toolName` and the session's first caller turn is a monologue of at least
   * `minFirstTurnMs`, the agent calls that tool instead of playing the turn back. The real model decides from the
   * words. Default `{ toolName: 'report_voicemail', minFirstTurnMs: 3000 }`; `false` turns it off.
   */
  voicemailRule?: VoicemailRule | false;
}

export interface VoiceLivePeer {
  /** http://127.0.0.1:<port>: the endpoint to configure. */
  readonly url: string;
  readonly sessions: PeerSession[];
  /** The next session not yet handed out by nextSession(), waiting for it to connect if needed (rejected by close()). */
  nextSession(timeoutMs?: number): Promise<PeerSession>;
  /** Called with each session as its socket is accepted (after `session.created` is sent); returns a remover. */
  onSession(listener: (session: PeerSession) => void): () => void;
  /** The next `count` upgrades are answered with this HTTP status (and body) instead of a socket. */
  refuseNextUpgrades(status: number, count?: number, body?: string): void;
  /** Upgrade requests seen, accepted or not: path and query, and the status they got. */
  readonly upgrades: { url: string; status: number; headers: Record<string, string | string[] | undefined> }[];
  close(): Promise<void>;
}

const REALTIME_PATH = '/voice-live/realtime';
const DEFAULT_VOICEMAIL_RULE: VoicemailRule = { toolName: 'report_voicemail', minFirstTurnMs: 3000 };

/** A local Voice Live realtime endpoint on 127.0.0.1 for tests, benchmarks and the lab. */
export async function startVoiceLivePeer(options: VoiceLivePeerOptions = {}): Promise<VoiceLivePeer> {
  const sessions: PeerSessionImpl[] = [];
  const upgrades: VoiceLivePeer['upgrades'] = [];
  const refusals: { status: number; body: string }[] = [];
  let handedOut = 0;
  let sessionWaiters: (() => void)[] = [];
  const pendingNext = new Set<{ timer: NodeJS.Timeout; reject: (error: Error) => void }>();
  const sessionListeners = new Set<(session: PeerSession) => void>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes ?? 16 * 1024 * 1024, perMessageDeflate: false });

  const server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'UpgradeRequired', message: `Open a WebSocket on ${REALTIME_PATH}.` } }));
  });

  const refuse = (socket: Duplex, req: IncomingMessage, status: number, body: string): void => {
    upgrades.push({ url: req.url ?? '', status, headers: req.headers });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refusal = refusals.shift();
    if (refusal) return refuse(socket, req, refusal.status, refusal.body);
    if (url.pathname !== REALTIME_PATH) return refuse(socket, req, 404, errorBody('NotFound', `Resource not found: ${url.pathname}`));
    if (!url.searchParams.get('api-version')) return refuse(socket, req, 400, errorBody('BadRequest', 'api-version is required'));
    if (!url.searchParams.get('model') && !url.searchParams.get('agent-name') && !url.searchParams.get('agent-id')) {
      return refuse(socket, req, 400, errorBody('BadRequest', 'model or agent-name is required'));
    }
    const agent = Boolean(url.searchParams.get('agent-name') || url.searchParams.get('agent-id'));
    if (agent && options.apiKey !== undefined && req.headers['api-key'] !== undefined && !bearerAccepted(req, options)) {
      // Microsoft's Voice Live agent documentation: key-based authentication is not supported for agents. The status
      // the service answers is not documented (docs/fidelity/voice-live.md); 401 is the lab's choice.
      return refuse(socket, req, 401, errorBody('401', 'Key-based authentication is not supported for agents: use a Microsoft Entra token.'));
    }
    if (!authorized(req, options)) {
      return refuse(socket, req, 401, errorBody('401', 'Access denied due to invalid subscription key or wrong API endpoint.'));
    }
    upgrades.push({ url: req.url ?? '', status: 101, headers: req.headers });
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new PeerSessionImpl(ws, url.searchParams, req.headers, {
        mode: options.mode ?? 'scripted',
        expiresAtMs: Date.now() + (options.sessionExpiresInMs ?? 60 * 60_000),
        audioChunkMs: options.audioChunkMs ?? 40,
        vadThreshold: options.vadThreshold ?? 500,
        lateTranscriptFraction: options.lateTranscriptFraction ?? 0.5,
        seed: options.seed ?? 1,
        greeting: options.greeting,
        voicemailRule: options.voicemailRule === false ? undefined : (options.voicemailRule ?? DEFAULT_VOICEMAIL_RULE),
      });
      sessions.push(session);
      for (const listener of sessionListeners) {
        try {
          listener(session);
        } catch {
          // A listener's failure is the listener's business.
        }
      }
      const waiters = sessionWaiters;
      sessionWaiters = [];
      for (const wake of waiters) wake();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    sessions,
    upgrades,
    nextSession(timeoutMs = 5_000): Promise<PeerSession> {
      const index = handedOut++;
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const session = sessions[index];
          if (!session) return false;
          clearTimeout(timer);
          pendingNext.delete(pending);
          resolve(session);
          return true;
        };
        const timer = setTimeout(() => {
          pendingNext.delete(pending);
          reject(new Error(`peer: session #${index + 1} did not connect within ${timeoutMs} ms`));
        }, timeoutMs);
        // Never what keeps a process alive, and close() ends the wait at once.
        timer.unref();
        const pending = { timer, reject };
        pendingNext.add(pending);
        const wait = (): void => {
          if (!check()) sessionWaiters.push(wait);
        };
        wait();
      });
    },
    onSession(listener) {
      sessionListeners.add(listener);
      return () => sessionListeners.delete(listener);
    },
    refuseNextUpgrades(status: number, count = 1, body = errorBody(String(status), STATUS_CODES[status] ?? 'refused')): void {
      for (let i = 0; i < count; i++) refusals.push({ status, body });
    },
    async close(): Promise<void> {
      for (const { timer, reject } of pendingNext) {
        clearTimeout(timer);
        reject(new Error('peer: closed while waiting for a session'));
      }
      pendingNext.clear();
      sessionWaiters = [];
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function authorized(req: IncomingMessage, options: VoiceLivePeerOptions): boolean {
  if (options.apiKey === undefined && options.acceptBearer === undefined) return true;
  const key = req.headers['api-key'];
  if (options.apiKey !== undefined && key === options.apiKey) return true;
  return bearerAccepted(req, options);
}

function bearerAccepted(req: IncomingMessage, options: VoiceLivePeerOptions): boolean {
  const authorization = req.headers.authorization;
  return Boolean(options.acceptBearer && typeof authorization === 'string' && authorization.startsWith('Bearer ') && options.acceptBearer(authorization.slice('Bearer '.length)));
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}
