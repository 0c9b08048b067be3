import { describe, expect, it } from 'vitest';
import { base64ToInt16, int16ToBase64 } from '../shared/audio/pcm.js';
import type { PlayoutTimers } from './playout.js';
import { UnmixedMixer } from './unmixed-mixer.js';

/** A clock the test moves by hand. */
class ManualTimers implements PlayoutTimers {
  time = 0;
  private nextId = 1;
  private pending: { at: number; callback: () => void; id: number }[] = [];
  now = (): number => this.time;
  setTimer = (callback: () => void, delayMs: number): unknown => {
    const id = this.nextId++;
    this.pending.push({ at: this.time + delayMs, callback, id });
    return id;
  };
  clearTimer = (handle: unknown): void => {
    this.pending = this.pending.filter((t) => t.id !== handle);
  };
  get armed(): number {
    return this.pending.length;
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.pending.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.pending = this.pending.filter((t) => t !== due);
      this.time = due.at;
      due.callback();
    }
    this.time = end;
  }
}

const SAMPLES = 320; // 20 ms at 16 kHz
const silentFrame = int16ToBase64(new Int16Array(SAMPLES));

/** A frame whose sample i is `base + i * step`. */
const frame = (base: number, step = 1, length = SAMPLES): Int16Array => Int16Array.from({ length }, (_, i) => base + i * step);
const b64 = (samples: Int16Array): string => int16ToBase64(samples);
const saturatingSum = (...frames: Int16Array[]): Int16Array => {
  const length = Math.max(...frames.map((f) => f.length));
  return Int16Array.from({ length }, (_, i) => Math.max(-32768, Math.min(32767, frames.reduce((sum, f) => sum + (f[i] ?? 0), 0))));
};

function setup(options: { maxSpeakers?: number; known?: string[] } = {}) {
  const timers = new ManualTimers();
  const out: { at: number; base64: string }[] = [];
  const drops: string[] = [];
  const mixer = new UnmixedMixer({
    silentFrameBase64: silentFrame,
    emit: (base64) => out.push({ at: timers.time, base64 }),
    drop: (reason) => drops.push(reason),
    timers,
    ...(options.maxSpeakers !== undefined ? { maxSpeakers: options.maxSpeakers } : {}),
  });
  for (const id of options.known ?? []) mixer.heard(id, 0);
  const push = (speaker: string, samples: Int16Array | undefined, silent = false) => mixer.push(speaker, samples && b64(samples), silent, timers.time);
  return { timers, out, drops, mixer, push, samples: () => out.map((o) => base64ToInt16(o.base64)) };
}

describe('UnmixedMixer', () => {
  it('passes a lone speaker through at once, as the very text it came in (no decode, no timer)', () => {
    const { timers, out, push, mixer } = setup();
    const texts: string[] = [];
    for (let i = 0; i < 5; i++) {
      const f = frame(i * 100);
      texts.push(b64(f));
      push('4:+15550000001', f);
      expect(out).toHaveLength(i + 1);
      expect(timers.armed).toBe(0);
      timers.advance(20);
    }
    expect(out.map((o) => o.base64)).toEqual(texts);
    expect(mixer.stats.framesMixed).toBe(0);
  });

  it('sums two speakers frame by frame, one output frame per frame time, the right length', () => {
    const { timers, push, samples, out } = setup({ known: ['A', 'B'] });
    const expected: Int16Array[] = [];
    for (let t = 0; t < 10; t++) {
      const a = frame(1000 + t, 3);
      const b = frame(-500 - t, -2);
      expected.push(saturatingSum(a, b));
      push('A', a);
      push('B', b);
      timers.advance(20);
    }
    expect(out).toHaveLength(10);
    expect(samples()).toEqual(expected);
    expect(samples().every((s) => s.length === SAMPLES)).toBe(true);
  });

  it('when a second speaker appears, sends its first frame at once, then mixes the two frame for frame', () => {
    // The first speaker's frame of that frame time has already gone out on its own (before anyone else was heard).
    const { push, samples, mixer } = setup({ known: ['A'] });
    const a = [frame(1), frame(2), frame(3)];
    const b = [frame(-7, 2), frame(-8, 2), frame(-9, 2)];
    push('B', b[0]);
    push('A', a[1]);
    push('B', b[1]);
    push('A', a[2]);
    push('B', b[2]);
    expect(samples()).toEqual([b[0], saturatingSum(a[1]!, b[1]!), saturatingSum(a[2]!, b[2]!)]);
    expect(mixer.speakerCount).toBe(2);
  });

  it('saturates instead of wrapping around', () => {
    const { push, samples } = setup({ known: ['A', 'B'] });
    push('A', new Int16Array(SAMPLES).fill(30000));
    push('B', new Int16Array(SAMPLES).fill(10000));
    push('A', new Int16Array(SAMPLES).fill(-30000));
    push('B', new Int16Array(SAMPLES).fill(-10000));
    const [high, low] = samples();
    expect(high!.every((v) => v === 32767)).toBe(true);
    expect(low!.every((v) => v === -32768)).toBe(true);
  });

  it('mixes up to four speakers, in any arrival order within the frame time', () => {
    const { push, samples, out } = setup({ known: ['A', 'B', 'C', 'D'] });
    const frames = { A: frame(10, 1), B: frame(-20, 2), C: frame(300, -1), D: frame(7, 0) };
    push('C', frames.C);
    push('A', frames.A);
    push('D', frames.D);
    expect(out).toHaveLength(0);
    push('B', frames.B);
    expect(samples()).toEqual([saturatingSum(frames.A, frames.B, frames.C, frames.D)]);
  });

  it('counts silent frames as zeros: a voiced frame mixed with silence comes out as its own text', () => {
    const { push, out } = setup({ known: ['A', 'B'] });
    const a = frame(42, 5);
    push('A', a);
    push('B', undefined, true);
    push('A', undefined, true);
    push('B', new Int16Array(SAMPLES).fill(9), true); // flagged silent: its data is not added
    expect(out.map((o) => o.base64)).toEqual([b64(a), silentFrame]);
  });

  it('emits the group when a speaker sends its next frame before the others caught up', () => {
    const { timers, push, samples } = setup({ known: ['A', 'B'] });
    const a0 = frame(1), a1 = frame(2), b0 = frame(3);
    push('A', a0);
    push('B', b0);
    timers.advance(5);
    push('A', a1); // waits for B
    timers.advance(5);
    push('A', frame(4)); // A again before B: a1 goes out alone
    expect(samples()).toEqual([saturatingSum(a0, b0), a1]);
  });

  it('never holds a frame longer than three quarters of a frame time when a speaker goes quiet', () => {
    const { timers, push, out } = setup({ known: ['A', 'B'] });
    push('A', frame(1));
    push('B', frame(2));
    expect(out).toHaveLength(1);
    timers.advance(20);
    push('A', frame(5)); // B says nothing more
    timers.advance(14);
    expect(out).toHaveLength(1);
    timers.advance(1);
    expect(out[1]).toEqual({ at: 35, base64: b64(frame(5)) });
  });

  it('loses and repeats nothing under jitter of more than a frame: every frame goes out exactly once', () => {
    const { timers, push, out, mixer } = setup({ known: ['A', 'B', 'C'] });
    // Small values: no saturation, so the mixed stream sums to exactly what came in.
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const arrivals: { at: number; speaker: string; samples: Int16Array }[] = [];
    for (let t = 0; t < 200; t++) {
      for (const speaker of ['A', 'B', 'C']) {
        arrivals.push({ at: t * 20 + Math.floor(random() * 30), speaker, samples: frame(Math.floor(random() * 200) - 100, 0) });
      }
    }
    arrivals.sort((x, y) => x.at - y.at);
    let inputTotal = 0;
    for (const arrival of arrivals) {
      timers.advance(arrival.at - timers.time);
      const emittedBefore = out.length;
      push(arrival.speaker, arrival.samples);
      inputTotal += arrival.samples[0]!;
      expect(out.length - emittedBefore).toBeLessThanOrEqual(2);
      expect(timers.armed).toBeLessThanOrEqual(1);
    }
    timers.advance(15);
    expect(timers.armed).toBe(0);
    const outputTotal = out.reduce((sum, o) => sum + base64ToInt16(o.base64)[0]!, 0);
    expect(outputTotal).toBe(inputTotal);
    expect(mixer.stats.framesIn).toBe(600);
    // Mostly whole groups: far fewer frames out than in.
    expect(out.length).toBeLessThan(400);
  });

  it('forgets a speaker not heard for 100 ms: the one left passes straight through again', () => {
    const { timers, push, out, mixer } = setup({ known: ['A', 'B'] });
    push('A', frame(1));
    push('B', frame(2));
    for (let t = 1; t <= 6; t++) {
      timers.advance(20);
      push('A', frame(t));
    }
    // t=120: B last heard at 0, so it is forgotten and A's frame went out on arrival.
    expect(mixer.speakerCount).toBe(1);
    expect(out.at(-1)).toEqual({ at: 120, base64: b64(frame(6)) });
    expect(timers.armed).toBe(0);
  });

  it('drops a fifth speaker while four are heard (counted), and takes it once one is forgotten', () => {
    const { timers, push, drops, out } = setup({ known: ['A', 'B', 'C', 'D'] });
    for (const id of ['A', 'B', 'C', 'D']) push(id, frame(1));
    expect(out).toHaveLength(1);
    push('E', frame(99));
    expect(drops).toEqual(['too_many_participants']);
    for (let t = 1; t <= 6; t++) {
      timers.advance(20);
      for (const id of ['A', 'B', 'C']) push(id, frame(t));
    }
    // D, last heard at 0, is forgotten at 120: E takes its place.
    push('E', frame(98));
    expect(drops).toHaveLength(1);
    expect(out.at(-1)!.base64).toBe(b64(frame(98)));
    for (const id of ['A', 'B', 'C']) push(id, frame(7));
    push('E', frame(99));
    expect(base64ToInt16(out.at(-1)!.base64)).toEqual(saturatingSum(frame(7), frame(7), frame(7), frame(99)));
  });

  it('mixes frames of unequal length over the longest', () => {
    const { push, samples } = setup({ known: ['A', 'B'] });
    const a = frame(100, 1, 320);
    const b = frame(1, 1, 480);
    push('A', a);
    push('B', b);
    expect(samples()).toEqual([saturatingSum(a, b)]);
  });

  it('refuses options it cannot honour, naming them', () => {
    const base = { silentFrameBase64: silentFrame, emit: () => undefined, drop: () => undefined };
    expect(() => new UnmixedMixer({ ...base, maxHoldMs: 25 })).toThrow(/maxHoldMs/);
    expect(() => new UnmixedMixer({ ...base, maxSpeakers: 0 })).toThrow(/maxSpeakers/);
  });

  it('after dispose, takes nothing and leaves no timer', () => {
    const { timers, push, mixer, out } = setup({ known: ['A', 'B'] });
    push('B', frame(1));
    expect(timers.armed).toBe(1);
    mixer.dispose();
    mixer.dispose();
    expect(timers.armed).toBe(0);
    push('B', frame(2));
    timers.advance(100);
    expect(out).toHaveLength(0);
  });
});
