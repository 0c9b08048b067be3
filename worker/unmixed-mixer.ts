import { base64ToInt16, int16ToBase64 } from '../shared/audio/pcm.js';
import { systemTimers, type PlayoutTimers } from './playout.js';

/**
 * Unmixed media streaming: ACS sends each of up to 4 dominant speakers as 20 ms frames of their own, interleaved
 * on one socket. Voice Live takes one mono stream, so the frames of one frame time are summed (saturating int16)
 * into one frame. Grouping is by arrival: each speaker has one slot; a group goes out when every recently heard
 * speaker has a frame in it, when a speaker's next frame arrives while its slot is still full, when a speaker not
 * heard before sends its first frame (its phase against the others is unknown: waiting would pair it with their
 * next frames), or `maxHoldMs` after the group's first frame, whichever comes first. A group of one frame goes
 * out as the text it came in. Pure audio: knows nothing of ACS messages, calls or Voice Live.
 */
export interface UnmixedMixerOptions {
  /** One frame of zeros at the call's rate: what a group of silent frames comes out as. */
  silentFrameBase64: string;
  /** Receives each frame to relay, base64 PCM16 at the call's rate. */
  emit(base64: string): void;
  /** A frame was dropped: a speaker beyond `maxSpeakers` while the others are still heard. */
  drop(reason: 'too_many_participants'): void;
  /** Default 20. */
  frameMs?: number;
  /** ACS sends at most 4. */
  maxSpeakers?: number;
  /** A speaker not heard for this long is no longer waited for. Default 100. */
  forgetAfterMs?: number;
  /**
   * The longest a frame waits for the other speakers' frames of its frame time. Default three quarters of a frame:
   * under a frame, so a speaker whose frames pair with the others' next ones (after jitter) is realigned.
   */
  maxHoldMs?: number;
  timers?: PlayoutTimers;
}

interface Speaker {
  lastFrameAtMs: number;
  pending: boolean;
  /** The pending frame's text; undefined for a silent frame without data. */
  base64: string | undefined;
  silent: boolean;
}

export class UnmixedMixer {
  private readonly speakers = new Map<string, Speaker>();
  private readonly frameMs: number;
  private readonly maxSpeakers: number;
  private readonly forgetAfterMs: number;
  private readonly maxHoldMs: number;
  private readonly timers: PlayoutTimers;
  private pendingCount = 0;
  private timer: unknown = undefined;
  private accumulator = new Int32Array(0);
  private disposed = false;
  readonly stats = { framesIn: 0, framesOut: 0, framesMixed: 0, dropped: 0 };

  constructor(private readonly options: UnmixedMixerOptions) {
    this.frameMs = options.frameMs ?? 20;
    this.maxSpeakers = options.maxSpeakers ?? 4;
    this.forgetAfterMs = options.forgetAfterMs ?? 100;
    this.maxHoldMs = options.maxHoldMs ?? (this.frameMs * 3) / 4;
    this.timers = options.timers ?? systemTimers;
    if (!(this.maxSpeakers >= 1)) throw new RangeError('UnmixedMixer: maxSpeakers must be at least 1');
    if (!(this.frameMs > 0) || !(this.forgetAfterMs >= this.frameMs)) throw new RangeError('UnmixedMixer: frameMs must be > 0 and forgetAfterMs >= frameMs');
    if (!(this.maxHoldMs > 0 && this.maxHoldMs <= this.frameMs)) throw new RangeError('UnmixedMixer: maxHoldMs must be > 0 and at most frameMs');
  }

  /** Speakers currently waited for. */
  get speakerCount(): number {
    return this.speakers.size;
  }

  /** A speaker heard at `atMs` (before the mixer existed): the next frames wait for it as for any recent speaker. */
  heard(speakerId: string, atMs: number): void {
    if (this.disposed || this.speakers.has(speakerId) || this.speakers.size >= this.maxSpeakers) return;
    this.speakers.set(speakerId, { lastFrameAtMs: atMs, pending: false, base64: undefined, silent: true });
  }

  /** One speaker's frame. `base64` undefined or `silent` true: the speaker's frame is zeros. */
  push(speakerId: string, base64: string | undefined, silent: boolean, nowMs: number = this.timers.now()): void {
    if (this.disposed) return;
    this.stats.framesIn++;
    this.forgetQuiet(nowMs);
    let speaker = this.speakers.get(speakerId);
    const isNew = speaker === undefined;
    if (!speaker) {
      if (this.speakers.size >= this.maxSpeakers) {
        this.stats.dropped++;
        return this.options.drop('too_many_participants');
      }
      speaker = { lastFrameAtMs: nowMs, pending: false, base64: undefined, silent: true };
      this.speakers.set(speakerId, speaker);
    }
    // Its next frame: this speaker has moved on to the next frame time.
    if (speaker.pending) this.flush();
    speaker.pending = true;
    speaker.base64 = base64;
    speaker.silent = silent || base64 === undefined;
    speaker.lastFrameAtMs = nowMs;
    this.pendingCount++;
    if (isNew || this.pendingCount === this.speakers.size) return this.flush();
    if (this.timer === undefined) this.timer = this.timers.setTimer(this.onTimer, this.maxHoldMs);
  }

  /** Drops what is pending and stops the timer. Safe to call twice. */
  dispose(): void {
    this.disposed = true;
    this.clearTimer();
    this.speakers.clear();
    this.pendingCount = 0;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.flush();
  };

  private clearTimer(): void {
    if (this.timer === undefined) return;
    this.timers.clearTimer(this.timer);
    this.timer = undefined;
  }

  private forgetQuiet(nowMs: number): void {
    for (const [id, speaker] of this.speakers) {
      if (!speaker.pending && nowMs - speaker.lastFrameAtMs > this.forgetAfterMs) this.speakers.delete(id);
    }
  }

  private flush(): void {
    this.clearTimer();
    if (this.pendingCount === 0) return;
    let only: Speaker | undefined;
    let voiced: Speaker | undefined;
    let voicedCount = 0;
    for (const speaker of this.speakers.values()) {
      if (!speaker.pending) continue;
      only = speaker;
      if (!speaker.silent) {
        voiced = speaker;
        voicedCount++;
      }
    }
    let out: string;
    if (this.pendingCount === 1) out = only!.base64 ?? this.options.silentFrameBase64;
    else if (voicedCount === 0) out = this.options.silentFrameBase64;
    else if (voicedCount === 1) out = voiced!.base64!;
    else out = this.mix(voicedCount);
    if (this.pendingCount > 1) this.stats.framesMixed++;
    for (const speaker of this.speakers.values()) {
      speaker.pending = false;
      speaker.base64 = undefined;
    }
    this.pendingCount = 0;
    this.stats.framesOut++;
    this.options.emit(out);
  }

  /** The saturating sum of the pending voiced frames; as long as the longest of them. */
  private mix(voicedCount: number): string {
    const frames: Int16Array[] = [];
    let length = 0;
    for (const speaker of this.speakers.values()) {
      if (!speaker.pending || speaker.silent) continue;
      const samples = base64ToInt16(speaker.base64!);
      frames.push(samples);
      if (samples.length > length) length = samples.length;
      if (frames.length === voicedCount) break;
    }
    if (this.accumulator.length < length) this.accumulator = new Int32Array(length);
    const sum = this.accumulator;
    sum.fill(0, 0, length);
    for (const samples of frames) {
      for (let i = 0; i < samples.length; i++) sum[i] = sum[i]! + samples[i]!;
    }
    const out = new Int16Array(length);
    for (let i = 0; i < length; i++) {
      const v = sum[i]!;
      out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    return int16ToBase64(out);
  }
}
