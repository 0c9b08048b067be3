import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TokenCredential } from '@azure/core-auth';
import { WebSocketServer, type WebSocket } from 'ws';
import { AcsAuthError, AcsTokenVerifier } from '../shared/acs-auth.js';
import { isValidCallId } from '../shared/call-id.js';
import { AGENT_PROFILE_NAME } from '../shared/config/env.js';
import type { AgentProfile, WorkerConfig } from '../shared/config/worker.js';
import type { Logger } from '../shared/log.js';
import { CallSession, type CallSessionHooks } from './call-session.js';
import { CallRegistry } from './call-registry.js';
import { type UpgradeRefusalReason, WorkerMetrics } from './metrics.js';
import type { PlayoutTimers } from './playout.js';
import type { VoiceLiveClient, VoiceLiveClientOptions } from './voice-live/client.js';
import { CachedCheck } from '../shared/cached-check.js';
import { callSessionSettings, voiceLiveAuth } from './voice-live/call-settings.js';

export interface WorkerServerOptions {
  config: Pick<WorkerConfig, 'voiceLive' | 'mediaAuth' | 'maxMessageBytes' | 'playoutLeadMs' | 'maxCalls' | 'mediaAudioChannel'> &
    Partial<Pick<WorkerConfig, 'agentProfiles'>>;
  logger: Logger;
  createVoiceLiveClient: (options: VoiceLiveClientOptions) => VoiceLiveClient;
  /** Microsoft Entra credential for Voice Live when no API key is configured. */
  credential?: TokenCredential;
  metrics?: WorkerMetrics;
  /** Per-call extensions (issue 5: tools, DTMF, bus); `profile` is the call's agent profile, if its path named one. */
  hooksFor?: (callId: string, profile: string | undefined) => CallSessionHooks | undefined;
  timers?: PlayoutTimers;
  /** A media socket that has not sent AudioMetadata by then is closed. Default 10 s. */
  metadataTimeoutMs?: number;
  /** A call whose ACS socket sends nothing and answers no ping for this long is ended. Default 30 s; 0 turns it off. */
  idleTimeoutMs?: number;
  /** How long GET /readyz/voice-live and /readyz/service-bus serve one result before checking again. Default 60 s. */
  dependencyCheckCacheMs?: number;
  /** Attaches to Service Bus with the worker's identity and detaches (CallControlRuntime.checkServiceBus). */
  serviceBusCheck?: () => Promise<void>;
}

/** `/ws`, `/ws/<callId>` or `/ws/<callId>/<profile>` (AGENT_PROFILE_BY_NUMBER on the Functions app). */
const WS_PATH = /^\/ws(?:\/([^/?]*)(?:\/([^/?]+))?)?\/?$/;

/**
 * HTTP health/readiness/metrics and the `/ws` media endpoint. Each upgrade is authenticated before any
 * Voice Live connection exists; each accepted socket becomes one `CallSession`.
 */
export class WorkerServer {
  readonly metrics: WorkerMetrics;
  readonly calls = new CallRegistry<CallSession>();
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly verifier: AcsTokenVerifier | undefined;
  private readonly log: Logger;
  private isDraining = false;
  private wasFull = false;
  private readonly livenessTimer: NodeJS.Timeout | undefined;
  private readonly dependencyChecks: ReadonlyMap<string, { name: string; check: CachedCheck }>;

  constructor(private readonly options: WorkerServerOptions) {
    this.log = options.logger;
    const cache = options.dependencyCheckCacheMs !== undefined ? { cacheMs: options.dependencyCheckCacheMs } : {};
    const serviceBusCheck = options.serviceBusCheck;
    this.dependencyChecks = new Map([
      ['/readyz/voice-live', { name: 'voiceLive', check: new CachedCheck({ run: () => this.openReadinessSession(), ...cache }) }],
      [
        '/readyz/service-bus',
        {
          name: 'serviceBus',
          check: new CachedCheck({
            run: serviceBusCheck ?? (() => Promise.reject(new Error('Service Bus is not configured (SERVICEBUS_FULLY_QUALIFIED_NAMESPACE unset)'))),
            ...cache,
          }),
        },
      ],
    ]);
    this.metrics = options.metrics ?? new WorkerMetrics();
    const auth = options.config.mediaAuth;
    if (auth.mode === 'acs') {
      this.verifier = new AcsTokenVerifier({
        audience: auth.audience,
        ...(auth.issuer ? { issuer: auth.issuer } : {}),
        ...(auth.jwksUrl ? { jwksUrl: auth.jwksUrl } : {}),
      });
    } else {
      this.log.warn('MEDIA_AUTH=none: the media endpoint accepts ANY caller without authentication. For local use only, never in Azure.');
    }
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.config.maxMessageBytes,
      perMessageDeflate: false,
      // Every message is parsed as JSON and its audio checked as base64, which rejects what UTF-8 checks would.
      skipUTF8Validation: true,
    });
    const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    if (idleTimeoutMs > 0) {
      const tickMs = Math.max(50, Math.floor(idleTimeoutMs / 3));
      this.livenessTimer = setInterval(() => {
        const now = performance.now();
        for (const call of this.calls.all()) call.checkLiveness(now, tickMs, idleTimeoutMs);
      }, tickMs);
      this.livenessTimer.unref();
    }
    this.http = createServer((req, res) => this.onRequest(req, res));
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      this.onUpgrade(req, socket, head).catch((error: Error) => {
        this.log.error({ err: { message: error.message } }, 'upgrade failed');
        reject(socket, 500, 'Internal Server Error');
      });
    });
  }

  get draining(): boolean {
    return this.isDraining;
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    return this.http.address() as AddressInfo;
  }

  /** Stops taking calls: readiness fails and new upgrades get 503; live calls continue. */
  startDrain(): void {
    if (this.isDraining) return;
    this.isDraining = true;
    this.log.info({ activeCalls: this.calls.size }, 'draining: refusing new calls');
  }

  /** Drains, waits for live calls to end (at most `timeoutMs`), ends the rest, then closes the server. */
  async drain(timeoutMs: number): Promise<{ endedByTimeout: number }> {
    this.startDrain();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.calls.whenEmpty().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    const endedByTimeout = timedOut ? this.calls.size : 0;
    if (timedOut) {
      this.log.warn({ activeCalls: endedByTimeout }, 'drain timeout: ending the remaining calls');
      for (const call of this.calls.all()) call.end('server shutting down', 1001);
    }
    await this.close();
    return { endedByTimeout };
  }

  async close(): Promise<void> {
    clearInterval(this.livenessTimer);
    for (const call of this.calls.all()) call.end('server closed', 1001);
    this.wss.close();
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET' }).end();
    if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    if (path === '/readyz') {
      const full = this.isFull();
      this.noteCapacity(full);
      const notReady = this.isDraining ? 'draining' : full ? 'at capacity' : undefined;
      return void res.writeHead(notReady ? 503 : 200, { 'content-type': 'text/plain' }).end(notReady ?? 'ready');
    }
    const dependency = path === undefined ? undefined : this.dependencyChecks.get(path);
    if (dependency) {
      // Not platform probes (an upstream outage must not take replicas out of rotation): for `npm run smoke`.
      dependency.check.check().then(
        (check) =>
          res
            .writeHead(check.ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
            .end(JSON.stringify({ status: check.ok ? 'ok' : 'failed', [dependency.name]: check })),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (path === '/metrics') {
      this.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (path !== undefined && WS_PATH.test(path)) return void res.writeHead(426, { upgrade: 'websocket' }).end('WebSocket upgrade required');
    res.writeHead(404).end();
  }

  /** One Voice Live session as a call would open it (same endpoint, target, credential, session settings), closed once configured. */
  private async openReadinessSession(): Promise<void> {
    const config = this.options.config.voiceLive;
    const signIn = voiceLiveAuth(config, this.options.credential);
    if ('problem' in signIn) throw new Error(signIn.problem);
    const client = this.options.createVoiceLiveClient({
      endpoint: config.endpoint,
      apiVersion: config.apiVersion,
      target: config.target,
      auth: signIn.auth,
      session: callSessionSettings(config, config.audioRateHz ?? 24000, { purpose: 'readiness-check' }),
      callId: 'readiness-check',
      logger: this.log,
      reconnect: { maxAttempts: 0 },
    });
    try {
      await client.connect();
    } finally {
      await client.close('readiness check done');
    }
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const match = WS_PATH.exec(path);
    if (!match) return this.refuse(socket, 404, 'Not Found', 'unknown_path');
    if (this.isDraining) return this.refuse(socket, 503, 'Service Unavailable', 'draining');
    if (this.verifier) {
      try {
        await this.verifier.verifyAuthorizationHeader(req.headers.authorization);
      } catch (error) {
        const code = error instanceof AcsAuthError ? error.code : 'invalid_token';
        this.log.warn({ code, remote: req.socket.remoteAddress }, `media upgrade refused: ${code}`);
        if (code === 'keys_unavailable') return this.refuse(socket, 503, 'Service Unavailable', code);
        return this.refuse(socket, 401, 'Unauthorized', code);
      }
      if (this.isDraining) return this.refuse(socket, 503, 'Service Unavailable', 'draining');
    }
    if (socket.destroyed) return;
    // After authentication: only ACS learns that this replica is full, and only its calls are counted.
    const callId = this.callIdFor(match[1], req);
    let profile: AgentProfile | undefined;
    if (match[2] !== undefined) {
      profile = this.options.config.agentProfiles?.get(match[2]);
      if (!profile) {
        // Every call to the number that names it fails the same way: the two apps' settings disagree.
        this.log.error(
          { callId, profile: AGENT_PROFILE_NAME.test(match[2]) ? match[2] : '(not a profile name)' },
          'media upgrade refused: unknown agent profile (AGENT_PROFILE_BY_NUMBER names a profile AGENT_PROFILES does not have)',
        );
        return this.refuse(socket, 404, 'Not Found', 'unknown_profile');
      }
    }
    if (this.isFull(callId)) return this.refuseWhenFull(socket);
    const connectionHeader = req.headers['x-ms-call-connection-id'];
    const callConnectionId = typeof connectionHeader === 'string' && isValidCallId(connectionHeader) ? connectionHeader : undefined;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, callId, callConnectionId, profile));
  }

  private callIdFor(pathId: string | undefined, req: IncomingMessage): string {
    let fromPath: string | undefined;
    try {
      fromPath = pathId ? decodeURIComponent(pathId) : undefined;
    } catch {
      fromPath = undefined;
    }
    if (isValidCallId(fromPath)) return fromPath;
    const header = req.headers['x-ms-call-correlation-id'];
    if (isValidCallId(header)) return header;
    return randomUUID();
  }

  private accept(ws: WebSocket, callId: string, callConnectionId: string | undefined, profile: AgentProfile | undefined): void {
    const existing = this.calls.get(callId);
    if (existing) existing.end('replaced by a new media socket for the same call', 1000);
    const hooks = this.options.hooksFor?.(callId, profile?.name);
    const session = new CallSession({
      callId,
      ...(callConnectionId ? { callConnectionId } : {}),
      socket: ws,
      voiceLive: profile?.voiceLive ?? this.options.config.voiceLive,
      ...(this.options.credential ? { credential: this.options.credential } : {}),
      playoutLeadMs: this.options.config.playoutLeadMs,
      unmixedAudio: this.options.config.mediaAudioChannel === 'unmixed',
      metrics: this.metrics,
      logger: this.log.child(profile ? { callId, profile: profile.name } : { callId }),
      createVoiceLiveClient: this.options.createVoiceLiveClient,
      ...(hooks ? { hooks } : {}),
      ...(this.options.timers ? { timers: this.options.timers } : {}),
      ...(this.options.metadataTimeoutMs !== undefined ? { metadataTimeoutMs: this.options.metadataTimeoutMs } : {}),
      onEnded: (ended) => this.calls.remove(ended),
    });
    if (session.currentState !== 'ended') this.calls.add(session);
  }

  /**
   * At MAX_CALLS: a new call would degrade every call on this process, so it is refused (ACS reports the media
   * failure and the Functions app restarts media, which readiness now routes to another replica). A socket
   * replacing one of our own calls still gets in.
   */
  private isFull(callId?: string): boolean {
    const max = this.options.config.maxCalls;
    return max !== undefined && this.calls.size >= max && (callId === undefined || !this.calls.has(callId));
  }

  /** Logs when the replica reaches its cap and when it is below it again (read at readiness checks and refusals). */
  private noteCapacity(full: boolean): void {
    if (full === this.wasFull) return;
    this.wasFull = full;
    const fields = { activeCalls: this.calls.size, maxCalls: this.options.config.maxCalls };
    if (full) this.log.warn(fields, 'at capacity (MAX_CALLS): not ready, refusing new calls');
    else this.log.info(fields, 'below capacity again: ready');
  }

  private refuseWhenFull(socket: Duplex): void {
    this.noteCapacity(true);
    this.refuse(socket, 503, 'Service Unavailable', 'at_capacity');
  }

  private refuse(socket: Duplex, status: number, text: string, reason: UpgradeRefusalReason): void {
    this.metrics.upgradesRejected.labels(reason).inc();
    reject(socket, status, text);
  }
}

function reject(socket: Duplex, status: number, text: string): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  (socket as Socket).destroySoon?.();
}
