import { WebSocket } from 'ws';

/**
 * A test stand-in for ACS's side of bidirectional media streaming: it opens the WebSocket as ACS does
 * (Bearer token, call id headers), sends AudioMetadata then 20 ms AudioData frames (real-time paced or
 * as fast as told), and records every frame it receives with its arrival time.
 */

export interface AcsMediaClientOptions {
  /** `ws://127.0.0.1:<port>/ws/<callId>` */
  url: string;
  /** Sent as `Authorization: Bearer <token>` when given. */
  token?: string;
  callConnectionId?: string;
  correlationId?: string;
  /** Records every received message (default). Off for load: use `onMessage` instead. */
  record?: boolean;
  onMessage?: (text: string, at: number) => void;
  handshakeTimeoutInMs?: number;
}

export type ReceivedMessage =
  | { at: number; kind: 'audio'; base64: string; raw: string }
  | { at: number; kind: 'stopAudio'; raw: string }
  | { at: number; kind: 'other'; raw: string };

/** The speaker of frames sent without one named. */
export const CALLER_RAW_ID = '4:+15550000000';
const CALLER_FIELD = `"participantRawID":"${CALLER_RAW_ID}",`;

export class AcsUpgradeError extends Error {
  readonly code = 'UPGRADE_REFUSED';
  constructor(readonly status: number, readonly body: string) {
    super(`media upgrade refused with HTTP ${status}`);
  }
}

export class AcsMediaClient {
  readonly received: ReceivedMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: { predicate: (m: ReceivedMessage) => boolean; resolve: (m: ReceivedMessage) => void }[] = [];
  private rateHz = 16000;

  private constructor(readonly socket: WebSocket, private readonly options: AcsMediaClientOptions) {
    this.closed = new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    const record = options.record ?? true;
    socket.on('message', (data: Buffer) => {
      const at = performance.now();
      const text = data.toString();
      options.onMessage?.(text, at);
      if (!record && this.waiters.length === 0) return;
      const message = classify(text, at);
      if (record) this.received.push(message);
      this.waiters = this.waiters.filter((w) => (w.predicate(message) ? (w.resolve(message), false) : true));
    });
  }

  static connect(options: AcsMediaClientOptions): Promise<AcsMediaClient> {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.callConnectionId) headers['x-ms-call-connection-id'] = options.callConnectionId;
    if (options.correlationId) headers['x-ms-call-correlation-id'] = options.correlationId;
    const socket = new WebSocket(options.url, { headers, perMessageDeflate: false, handshakeTimeout: options.handshakeTimeoutInMs ?? 5000 });
    return new Promise((resolve, reject) => {
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => reject(new AcsUpgradeError(res.statusCode ?? 0, body)));
        res.on('error', () => reject(new AcsUpgradeError(res.statusCode ?? 0, body)));
      });
      socket.once('error', reject);
      socket.once('open', () => {
        socket.off('error', reject);
        socket.on('error', () => undefined);
        resolve(new AcsMediaClient(socket, options));
      });
    });
  }

  get frameBytes(): number {
    return (this.rateHz / 50) * 2;
  }

  sendMetadata(sampleRateHz: 16000 | 24000 = 16000): void {
    this.rateHz = sampleRateHz;
    this.socket.send(
      JSON.stringify({
        kind: 'AudioMetadata',
        audioMetadata: { subscriptionId: 'lab-subscription', encoding: 'PCM', sampleRate: sampleRateHz, channels: 1, length: this.frameBytes },
      }),
    );
  }

  /**
   * One AudioData message (any size; ACS sends exactly one 20 ms frame). `participantRawId` names the speaker, as
   * ACS does in unmixed audio (null leaves the field out); default the caller `4:+15550000000`.
   */
  sendAudio(pcm: Buffer | Int16Array, options: { silent?: boolean; participantRawId?: string | null } = {}): void {
    const bytes = pcm instanceof Buffer ? pcm : Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    const participant = options.participantRawId === undefined ? CALLER_RAW_ID : options.participantRawId;
    this.socket.send(
      '{"kind":"AudioData","audioData":{"timestamp":"' + new Date().toISOString() + '",' +
        (participant === CALLER_RAW_ID ? CALLER_FIELD : participant === null ? '' : '"participantRawID":' + JSON.stringify(participant) + ',') +
        '"data":"' + bytes.toString('base64') + '","silent":' + String(options.silent ?? false) + '}}',
    );
  }

  /**
   * Unmixed audio as ACS sends it: for each 20 ms frame time, one frame per speaker, back to back. `frames[i][k]`
   * is speaker i's frame k (all-zero frames flagged silent); a speaker whose frames run out sends nothing more.
   */
  sendUnmixed(speakers: { participantRawId: string; frames: (Buffer | Int16Array)[] }[]): void {
    const count = Math.max(0, ...speakers.map((s) => s.frames.length));
    for (let k = 0; k < count; k++) {
      for (const speaker of speakers) {
        const frame = speaker.frames[k];
        if (!frame) continue;
        const bytes = frame instanceof Buffer ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
        this.sendAudio(bytes, { participantRawId: speaker.participantRawId, silent: bytes.every((b) => b === 0) });
      }
    }
  }

  sendRaw(data: string | Buffer, options: { binary?: boolean } = {}): void {
    this.socket.send(data, { binary: options.binary ?? typeof data !== 'string' });
  }

  /**
   * Streams PCM as 20 ms frames. Real time by default, on a deadline clock (no drift from late timers);
   * all-zero frames are flagged silent, as ACS does.
   */
  async streamAudio(pcm: Buffer, options: { realTime?: boolean; abortSignal?: AbortSignal } = {}): Promise<void> {
    const frame = this.frameBytes;
    const start = performance.now();
    for (let offset = 0, index = 0; offset < pcm.length; offset += frame, index++) {
      if (options.abortSignal?.aborted || this.socket.readyState !== WebSocket.OPEN) return;
      if (options.realTime ?? true) {
        const wait = start + index * 20 - performance.now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      const chunk = pcm.subarray(offset, offset + frame);
      this.sendAudio(chunk, { silent: chunk.every((b) => b === 0) });
    }
  }

  streamSilence(ms: number, options: { realTime?: boolean; abortSignal?: AbortSignal } = {}): Promise<void> {
    return this.streamAudio(Buffer.alloc((ms / 20) * this.frameBytes), options);
  }

  waitFor(predicate: (m: ReceivedMessage) => boolean, timeoutMs = 5000): Promise<ReceivedMessage> {
    const found = this.received.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`AcsMediaClient: nothing matched within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ predicate, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  }

  audioFrames(): Extract<ReceivedMessage, { kind: 'audio' }>[] {
    return this.received.filter((m): m is Extract<ReceivedMessage, { kind: 'audio' }> => m.kind === 'audio');
  }

  /** All received agent audio, concatenated. */
  receivedAudio(): Buffer {
    return Buffer.concat(this.audioFrames().map((m) => Buffer.from(m.base64, 'base64')));
  }

  async close(code = 1000, reason = 'call ended'): Promise<{ code: number; reason: string }> {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(code, reason);
    return this.closed;
  }
}

function classify(text: string, at: number): ReceivedMessage {
  try {
    const message = JSON.parse(text) as { kind?: string; Kind?: string; audioData?: { data?: string }; AudioData?: { Data?: string } };
    const kind = (message.kind ?? message.Kind ?? '').toLowerCase();
    const data = message.audioData?.data ?? message.AudioData?.Data;
    if (kind === 'audiodata' && typeof data === 'string') return { at, kind: 'audio', base64: data, raw: text };
    if (kind === 'stopaudio') return { at, kind: 'stopAudio', raw: text };
  } catch {
    // recorded as other
  }
  return { at, kind: 'other', raw: text };
}
