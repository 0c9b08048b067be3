import { base64ToInt16 } from '../shared/audio/pcm.js';

/**
 * RMS level (of 32768) from which a 20 ms caller frame counts as sound: about -40 dBFS, above a phone line's hiss
 * and below any voice or beep. Fixed: it only has to tell a mailbox's greeting and beep from the quiet after them.
 */
export const CALLER_SOUND_RMS = 300;

/**
 * When the caller side last made a sound (a voicemail greeting, its beep). Fed the caller's frames only while
 * someone watches (the wait for a greeting to end), so an ordinary call never decodes its audio for this.
 */
export class CallerSoundWatch {
  /** On the `performance.now()` clock; the watch's start until a sound is heard. */
  lastSoundAtMs: number;
  private stopped = false;

  constructor(
    private readonly onStop: (watch: CallerSoundWatch) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lastSoundAtMs = now();
  }

  push(base64: string): void {
    if (this.stopped) return;
    const samples = base64ToInt16(base64);
    if (samples.length === 0) return;
    let sum = 0;
    for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
    if (Math.sqrt(sum / samples.length) >= CALLER_SOUND_RMS) this.lastSoundAtMs = this.now();
  }

  /** How long the caller side has been quiet. */
  quietForMs(): number {
    return this.now() - this.lastSoundAtMs;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.onStop(this);
  }
}
