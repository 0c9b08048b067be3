import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { frameBytes } from '../../shared/audio/pcm.js';
import { parseOutboundFrame } from './outbound-frame.js';

/**
 * ACS's side of one call's media WebSocket, as the emulator plays it: ACS is the client, connects to the
 * transportUrl with its headers and Bearer token, sends AudioMetadata then one AudioData every 20 ms
 * (silent frames when the caller says nothing), and plays what the app sends back through a playback
 * queue in real time, which StopAudio clears. "Heard" audio is what left that queue.
 * Other participants may speak too: mixed audio sums them into the caller's frame; unmixed audio sends each
 * speaker's frame of the 20 ms on its own, back to back (the caller always, up to 3 others while they speak).
 */
export interface MediaLegOptions {
  transportUrl: string;
  callConnectionId: string;
  callId: string;
  token: string;
  sampleRateHz: 16000 | 24000;
  /** The caller: named in every mixed frame. */
  participantRawId: string;
  /** As the answer's mediaStreamingOptions.audioChannelType asked; default mixed. */
  audioChannel?: 'mixed' | 'unmixed';
  connectTimeoutInMs?: number;
  /** Playback queue cap: ACS's is unknown; audio beyond this is dropped and counted. */
  maxQueuedMs?: number;
  /** As the answer's `enableBidirectional`: without it, what the app sends is never played (default true). */
  bidirectional?: boolean;
  /** As the answer's `enableDtmfTones`: only then are key presses sent as DtmfData (default false). */
  dtmfTones?: boolean;
  /** Sees each message before it is sent (the official-SDK judge). */
  inspect?: (text: string) => void;
}

export interface MediaLegEvents {
  open: [];
  /** A 20 ms frame of agent audio the caller heard. */
  heard: [frame: Int16Array];
  /** A frame of what the caller said left for the app; `offsetSamples` is where it starts in all the caller's audio sent. */
  callerFrameSent: [offsetSamples: number];
  /** The app sent StopAudio; `droppedMs` of queued audio were never played. */
  stopAudio: [droppedMs: number];
  /** First byte of a new agent burst was enqueued (after silence or StopAudio). */
  agentAudioStart: [];
  /** The app sent a frame ACS's clients never write: the leg closes the socket (1007). */
  invalidFrame: [reason: string];
  /** The app sent audio on a call answered without enableBidirectional: not played. Emitted the first time only. */
  outboundIgnored: [];
  /** A DtmfData frame left for the app. */
  dtmfSent: [tone: string];
  closed: [info: { code: number; reason: string; byUs: boolean }];
}

/** The keys a caller can press, as DtmfData carries them. */
export const DTMF_KEYS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#'] as const;
export type DtmfKey = (typeof DTMF_KEYS)[number];

/** Two frames summed as ACS mixes them (saturating). */
function mixFrames(a: Int16Array, b: Int16Array): Int16Array {
  return Int16Array.from(a, (v, i) => Math.max(-32768, Math.min(32767, v + b[i]!)));
}

/** ACS streams at most this many speakers unmixed. */
const MAX_UNMIXED_SPEAKERS = 4;

interface Inbox {
  chunks: Int16Array[];
  samples: number;
}

export class MediaLeg extends EventEmitter<MediaLegEvents> {
  readonly frameSamples: number;
  private socket: WebSocket | undefined;
  /** Audio to send, per speaker; the caller's is always there. */
  private readonly inboxes = new Map<string, Inbox>();
  private readonly playback: Int16Array[] = [];
  private playbackSamples = 0;
  private heardAnything = false;
  private callerSamplesSent = 0;
  private closedByUs = false;
  private ignoringOutbound = false;
  readonly stats = { framesSent: 0, framesHeard: 0, bytesReceived: 0, stopAudios: 0, droppedPlaybackSamples: 0, invalidFrames: 0, ignoredOutboundFrames: 0, dtmfSent: 0 };

  constructor(private readonly options: MediaLegOptions) {
    super();
    this.frameSamples = (options.sampleRateHz * 20) / 1000;
    this.inboxes.set(options.participantRawId, { chunks: [], samples: 0 });
  }

  get isOpen(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Opens the socket and sends AudioMetadata; rejects with the reason ACS would report (8581). */
  connect(): Promise<void> {
    const o = this.options;
    return new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(o.transportUrl, {
        headers: {
          authorization: `Bearer ${o.token}`,
          'x-ms-call-connection-id': o.callConnectionId,
          'x-ms-call-correlation-id': o.callId,
        },
        handshakeTimeout: o.connectTimeoutInMs ?? 5000,
        maxPayload: 1024 * 1024,
      });
      this.socket = socket;
      let opened = false;
      socket.once('unexpected-response', (_req, res) => {
        reject(new Error(`media WebSocket upgrade refused with HTTP ${res.statusCode}`));
        res.resume();
      });
      socket.once('open', () => {
        opened = true;
        this.sendText(
          JSON.stringify({
            kind: 'AudioMetadata',
            audioMetadata: { subscriptionId: randomUUID(), encoding: 'PCM', sampleRate: o.sampleRateHz, channels: 1, length: frameBytes(o.sampleRateHz) },
          }),
        );
        this.emit('open');
        resolve();
      });
      socket.on('message', (data, isBinary) => this.receive(data, isBinary));
      socket.on('error', (error) => {
        if (!opened) reject(error);
      });
      socket.on('close', (code, reason) => {
        this.socket = undefined;
        this.emit('closed', { code, reason: reason.toString(), byUs: this.closedByUs });
      });
    });
  }

  /**
   * Audio to send, in any chunk size; it leaves in 20 ms frames. Older audio is dropped past 2 s. By default the
   * caller's; `participantRawId` names another participant of the call.
   */
  say(samples: Int16Array, participantRawId = this.options.participantRawId): void {
    let inbox = this.inboxes.get(participantRawId);
    if (!inbox) this.inboxes.set(participantRawId, (inbox = { chunks: [], samples: 0 }));
    inbox.chunks.push(samples);
    inbox.samples += samples.length;
    const cap = this.options.sampleRateHz * 2;
    while (inbox.samples > cap && inbox.chunks.length > 1) inbox.samples -= inbox.chunks.shift()!.length;
  }

  /** The caller's audio not sent yet. */
  get pendingCallerMs(): number {
    return (this.inboxes.get(this.options.participantRawId)!.samples / this.options.sampleRateHz) * 1000;
  }

  get queuedAgentMs(): number {
    return (this.playbackSamples / this.options.sampleRateHz) * 1000;
  }

  /** One 20 ms slot of the call's clock: send the caller's frame (and other speakers'), play an agent frame. */
  tick(timestamp: Date): void {
    if (!this.isOpen) return;
    const caller = this.options.participantRawId;
    if (this.options.audioChannel === 'unmixed') {
      let speakers = 0;
      for (const [participantRawId, inbox] of this.inboxes) {
        const frame = this.takeInbox(inbox);
        if (frame && participantRawId === caller) this.callerFrameTaken();
        // Others are streamed only while they speak; the caller always (silent frames when quiet).
        if (participantRawId !== caller && frame === undefined) continue;
        // Beyond the dominant speakers ACS streams, audio is not sent (but still takes its time).
        if (speakers++ >= MAX_UNMIXED_SPEAKERS) continue;
        this.sendFrame(timestamp, participantRawId, frame);
      }
    } else {
      let frame: Int16Array | undefined;
      for (const [participantRawId, inbox] of this.inboxes) {
        const next = this.takeInbox(inbox);
        if (next && participantRawId === caller) this.callerFrameTaken();
        if (next) frame = frame ? mixFrames(frame, next) : next;
      }
      this.sendFrame(timestamp, caller, frame);
    }
    const heard = this.take(this.playback, 'playback');
    if (heard) {
      this.stats.framesHeard++;
      this.emit('heard', heard);
    } else {
      this.heardAnything = false;
    }
  }

  /**
   * The caller presses a key: a DtmfData frame, as ACS sends it when the call was answered with enableDtmfTones.
   * Returns false (nothing sent) when DTMF was not enabled or no media flows.
   */
  pressKey(key: DtmfKey): boolean {
    if (!this.options.dtmfTones || !this.isOpen) return false;
    this.sendText(JSON.stringify({ kind: 'DtmfData', dtmfData: { data: key } }));
    this.stats.dtmfSent++;
    this.emit('dtmfSent', key);
    return true;
  }

  close(code = 1000, reason = 'call ended'): void {
    if (!this.socket) return;
    this.closedByUs = true;
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
    }
  }

  private sendFrame(timestamp: Date, participantRawId: string, frame: Int16Array | undefined): void {
    const samples = frame ?? new Int16Array(this.frameSamples);
    this.sendText(
      JSON.stringify({
        kind: 'AudioData',
        audioData: {
          timestamp: timestamp.toISOString(),
          participantRawID: participantRawId,
          data: Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength).toString('base64'),
          silent: frame === undefined,
        },
      }),
    );
    this.stats.framesSent++;
  }

  private sendText(text: string): void {
    this.options.inspect?.(text);
    this.socket!.send(text);
  }

  private callerFrameTaken(): void {
    this.emit('callerFrameSent', this.callerSamplesSent);
    this.callerSamplesSent += this.frameSamples;
  }

  private takeInbox(inbox: Inbox): Int16Array | undefined {
    // Caller audio leaves only in whole frames.
    if (inbox.samples < this.frameSamples) return undefined;
    const frame = this.take(inbox.chunks, 'inbox');
    inbox.samples -= this.frameSamples;
    return frame;
  }

  private take(queue: Int16Array[], which: 'inbox' | 'playback'): Int16Array | undefined {
    const available = which === 'inbox' ? this.frameSamples : this.playbackSamples;
    // The tail of agent audio is played padded.
    if (available === 0) return undefined;
    const out = new Int16Array(this.frameSamples);
    let filled = 0;
    while (filled < this.frameSamples && queue.length > 0) {
      const head = queue[0]!;
      const n = Math.min(head.length, this.frameSamples - filled);
      out.set(head.subarray(0, n), filled);
      filled += n;
      if (n === head.length) queue.shift();
      else queue[0] = head.subarray(n);
    }
    if (which === 'playback') this.playbackSamples -= filled;
    return out;
  }

  private receive(data: WebSocket.RawData, isBinary: boolean): void {
    if (isBinary) return this.invalid('binary frame: ACS media messages are JSON text');
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    const frame = parseOutboundFrame(text);
    if (frame.kind === 'invalid') return this.invalid(frame.reason);
    if (this.options.bidirectional === false) {
      // Answered without enableBidirectional: what the app sends is never heard (azure-sdk-for-python#37766).
      this.stats.ignoredOutboundFrames++;
      if (!this.ignoringOutbound) this.emit('outboundIgnored');
      this.ignoringOutbound = true;
      return;
    }
    if (frame.kind === 'stopAudio') {
      const droppedMs = this.queuedAgentMs;
      this.playback.length = 0;
      this.playbackSamples = 0;
      this.heardAnything = false;
      this.stats.stopAudios++;
      this.emit('stopAudio', droppedMs);
      return;
    }
    const bytes = frame.pcm;
    this.stats.bytesReceived += bytes.length;
    const samples = new Int16Array(bytes.length / 2);
    new Uint8Array(samples.buffer).set(bytes);
    const cap = ((this.options.maxQueuedMs ?? 60_000) / 1000) * this.options.sampleRateHz;
    if (this.playbackSamples + samples.length > cap) {
      this.stats.droppedPlaybackSamples += samples.length;
      return;
    }
    if (!this.heardAnything && this.playbackSamples === 0) {
      this.heardAnything = true;
      this.emit('agentAudioStart');
    }
    this.playback.push(samples);
    this.playbackSamples += samples.length;
  }

  /** ACS's answer to a malformed frame is undocumented: the lab takes the strict reading and drops the stream. */
  private invalid(reason: string): void {
    this.stats.invalidFrames++;
    this.emit('invalidFrame', reason);
    this.close(1007, `invalid outbound frame: ${reason}`.slice(0, 120));
  }
}
