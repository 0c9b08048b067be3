import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { closeFrameReason } from '../../shared/bounded-text.js';
import { VoiceLiveError, isFatalCloseCode, isRetryableStatus } from './errors.js';
import { parseServerEvent, type ServerEvent } from './events.js';

export interface ConnectionCallbacks {
  /** Every parsed event, in order, once the session is configured. */
  onEvent(connection: VoiceLiveConnection, event: ServerEvent): void;
  /** A text frame that did not parse, or an event of the wrong shape. */
  onMalformed(connection: VoiceLiveConnection, reason: string): void;
  /** An `error` event during set-up that did not stop it. */
  onSetupWarning(connection: VoiceLiveConnection, message: string): void;
  /** The socket closed after set-up finished (not called for closes we asked for). */
  onDropped(connection: VoiceLiveConnection, info: { code: number; reason: string }): void;
}

export interface ConnectionOptions {
  url: URL;
  headers: Record<string, string>;
  maxPayloadBytes: number;
  connectTimeoutInMs: number;
  heartbeatIntervalMs: number;
  closeTimeoutInMs: number;
  sessionUpdate: { type: 'session.update'; session: Record<string, unknown> };
  /** `conversation.item.create` items sent right after `session.updated`, to carry a conversation over. */
  replay: Record<string, unknown>[];
  callbacks: ConnectionCallbacks;
  /** The session's lifetime when the service reports no `expires_at`. Default 60 min (the documented limit). */
  assumedSessionMs?: number;
}

const SESSION_MS = 60 * 60 * 1000;
const MAX_BODY_CHARS = 2048;
const MAX_HELD_EVENTS = 512;

/** What identifies an item's echo well enough to tell a replayed item from a live one: kind, role, tool call. */
function itemSignature(item: { type?: unknown; role?: unknown; call_id?: unknown }): string {
  return `${String(item.type)}|${String(item.role ?? '')}|${String(item.call_id ?? '')}`;
}

/** One Voice Live session on one socket. Never reused after it closes. */
export class VoiceLiveConnection {
  readonly id = randomUUID();
  /** When the service will end this session (ms since epoch). */
  expiresAtMs: number | undefined;
  sessionId: string | undefined;
  private ws: WebSocket | undefined;
  private ready = false;
  private closing = false;
  private closePromise: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private alive = true;
  /** Replayed items not yet acknowledged, in the order sent: acks are matched by kind so a live item is never taken for one. */
  private readonly pendingReplay: { seq: number; signature: string }[] = [];
  private replaySeq = 0;
  private readonly sessionUpdateEventId = `session_update_${randomUUID().slice(0, 8)}`;
  /**
   * Events that arrive after set-up but before the client takes this connection (the `await` between
   * `session.updated` and adoption lets a whole TCP read of events through first). `undefined` once released.
   */
  private held: ServerEvent[] | undefined = [];

  constructor(private readonly options: ConnectionOptions) {}

  get isReady(): boolean {
    return this.ready && !this.closing && this.ws?.readyState === WebSocket.OPEN;
  }

  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  /** Opens the socket, sends `session.update`, waits for `session.updated`, then replays the conversation. */
  open(abortSignal?: AbortSignal): Promise<void> {
    const { options } = this;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (error: VoiceLiveError): void => {
        if (settled) return;
        settled = true;
        cleanup();
        this.terminate();
        reject(error);
      };
      const succeed = (): void => {
        if (settled) return;
        settled = true;
        cleanup();
        resolve();
      };
      const timer = setTimeout(
        () => fail(new VoiceLiveError('CONNECTION_TIMEOUT', `no configured session within ${options.connectTimeoutInMs} ms`, { retryable: true })),
        options.connectTimeoutInMs,
      );
      const onAbort = (): void => fail(new VoiceLiveError('ABORTED', 'connect aborted'));
      const cleanup = (): void => {
        clearTimeout(timer);
        abortSignal?.removeEventListener('abort', onAbort);
      };
      if (abortSignal?.aborted) return onAbort();
      abortSignal?.addEventListener('abort', onAbort, { once: true });

      let ws: WebSocket;
      try {
        ws = new WebSocket(options.url, {
          headers: options.headers,
          maxPayload: options.maxPayloadBytes,
          handshakeTimeout: options.connectTimeoutInMs,
          perMessageDeflate: false,
          followRedirects: false,
        });
      } catch (error) {
        return fail(new VoiceLiveError('CONNECTION_FAILED', `cannot open socket: ${String(error)}`, { retryable: false, cause: error }));
      }
      this.ws = ws;
      this.setupFailure = fail;
      this.setupSuccess = succeed;

      ws.on('unexpected-response', (request, response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          if (body.length < MAX_BODY_CHARS) body += chunk;
        });
        const finish = (): void => {
          fail(
            new VoiceLiveError('UPGRADE_REJECTED', `upgrade refused with HTTP ${status}${body ? `: ${body.slice(0, 300)}` : ''}`, {
              retryable: isRetryableStatus(status),
              statusCode: status,
              body: body.slice(0, MAX_BODY_CHARS),
            }),
          );
          request.destroy();
        };
        response.on('end', finish);
        response.on('error', finish);
        response.on('close', finish);
      });
      ws.on('open', () => {
        this.startHeartbeat();
        this.sendJson({ ...options.sessionUpdate, event_id: this.sessionUpdateEventId });
      });
      ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
      ws.on('pong', () => {
        this.alive = true;
      });
      ws.on('error', (error) => {
        // Followed by 'close'; before open, it is the reason the connect failed.
        if (!this.ready) fail(new VoiceLiveError('CONNECTION_FAILED', `socket error: ${error.message}`, { retryable: true, cause: error }));
      });
      ws.on('close', (code, reasonBuffer) => {
        this.stopHeartbeat();
        const reason = reasonBuffer.toString('utf8');
        if (!this.ready) {
          fail(
            new VoiceLiveError('CONNECTION_CLOSED', `socket closed during set-up (${code}${reason ? ` ${reason}` : ''})`, {
              retryable: !isFatalCloseCode(code),
              closeCode: code,
            }),
          );
        } else if (!this.closing) {
          this.closing = true;
          options.callbacks.onDropped(this, { code, reason });
        }
        this.resolveClosed?.();
      });
    });
  }

  private setupFailure: ((error: VoiceLiveError) => void) | undefined;
  private setupSuccess: (() => void) | undefined;
  private resolveClosed: (() => void) | undefined;

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    this.alive = true;
    if (isBinary) {
      this.options.callbacks.onMalformed(this, 'binary frame');
      return;
    }
    const text = typeof data === 'string' ? data : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString('utf8');
    const result = parseServerEvent(text);
    if (!result.ok) {
      this.options.callbacks.onMalformed(this, result.reason);
      return;
    }
    const event = result.event;
    if (this.ready) {
      if (this.pendingReplay.length > 0 && this.isReplayAck(event)) return;
      if (this.held) {
        if (this.held.length < MAX_HELD_EVENTS) this.held.push(event);
        else this.options.callbacks.onMalformed(this, 'event arrived before the session was taken over and the hold queue is full');
        return;
      }
      this.options.callbacks.onEvent(this, event);
      return;
    }
    this.onSetupEvent(event);
  }

  private isReplayAck(event: ServerEvent): boolean {
    if (event.type === 'error' && event.error.event_id?.startsWith('replay_')) {
      const seq = Number(event.error.event_id.slice('replay_'.length));
      const index = this.pendingReplay.findIndex((entry) => entry.seq === seq);
      if (index >= 0) this.pendingReplay.splice(index, 1);
      this.options.callbacks.onSetupWarning(this, `replayed item refused: ${event.error.message ?? ''}`);
      return true;
    }
    if (event.type !== 'conversation.item.created') return false;
    const index = this.pendingReplay.findIndex((entry) => entry.signature === itemSignature(event.item));
    if (index < 0) return false;
    this.pendingReplay.splice(index, 1);
    return true;
  }

  private onSetupEvent(event: ServerEvent): void {
    switch (event.type) {
      case 'session.created':
        this.noteSession(event.session);
        return;
      case 'session.updated': {
        this.noteSession(event.session);
        this.expiresAtMs ??= Date.now() + (this.options.assumedSessionMs ?? SESSION_MS);
        this.ready = true;
        this.sendReplay(this.options.replay);
        this.setupSuccess?.();
        return;
      }
      case 'error': {
        const message = `${event.error.code ?? event.error.type ?? 'error'}: ${event.error.message ?? ''}`;
        if (event.error.event_id === this.sessionUpdateEventId) {
          this.setupFailure?.(new VoiceLiveError('SESSION_UPDATE_REJECTED', `session.update refused: ${message}`, { retryable: false }));
        } else {
          this.options.callbacks.onSetupWarning(this, message);
        }
        return;
      }
      default:
        return;
    }
  }

  private noteSession(session: { id?: string | undefined; expires_at?: number | null | undefined }): void {
    if (session.id) this.sessionId = session.id;
    const expiresAt = session.expires_at;
    if (typeof expiresAt === 'number' && expiresAt > 0) {
      // Unix seconds on the wire; accept milliseconds too.
      this.expiresAtMs = expiresAt > 1e12 ? expiresAt : Math.round(expiresAt * 1000);
    }
  }

  /** The client has taken this connection: pass on what was held, in order, then every event as it comes. */
  release(): void {
    const held = this.held;
    this.held = undefined;
    for (const event of held ?? []) this.options.callbacks.onEvent(this, event);
  }

  /** Sends items that rebuild the conversation (after `previousItemId` when given); their acks are not passed on. */
  sendReplay(items: readonly Record<string, unknown>[], previousItemId?: string): void {
    for (const item of items) {
      const seq = ++this.replaySeq;
      this.pendingReplay.push({ seq, signature: itemSignature(item) });
      this.sendJson({ type: 'conversation.item.create', item, event_id: `replay_${seq}`, ...(previousItemId ? { previous_item_id: previousItemId } : {}) });
    }
  }

  sendJson(event: object): boolean {
    return this.sendText(JSON.stringify(event));
  }

  sendText(text: string): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.closing) return false;
    ws.send(text);
    return true;
  }

  /** Closes the socket (1000); terminates it if the peer does not answer in time. Never throws. */
  close(reason: string, code = 1000): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closing = true;
    this.stopHeartbeat();
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) {
      this.closePromise = Promise.resolve();
      return this.closePromise;
    }
    this.closePromise = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.terminate();
        resolve();
      }, this.options.closeTimeoutInMs);
      this.resolveClosed = () => {
        clearTimeout(timer);
        resolve();
      };
      try {
        if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
        else ws.close(code, closeFrameReason(reason));
      } catch {
        this.terminate();
      }
    });
    return this.closePromise;
  }

  private terminate(): void {
    this.closing = true;
    this.stopHeartbeat();
    try {
      this.ws?.terminate();
    } catch {
      // already gone
    }
  }

  private startHeartbeat(): void {
    if (this.options.heartbeatIntervalMs <= 0) return;
    this.heartbeat = setInterval(() => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      if (!this.alive) {
        // No pong and no message for a whole interval: the path is dead; 1006 follows.
        ws.terminate();
        return;
      }
      this.alive = false;
      ws.ping();
    }, this.options.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}
