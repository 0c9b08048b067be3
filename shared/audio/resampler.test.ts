import { describe, expect, it } from 'vitest';
import { ResamplerError, StreamingResampler } from './resampler.js';
import { fitSines, int16FloorDb, int16Sine } from './resampler/analysis.js';

const RATES = [8000, 16000, 24000, 48000] as const;
const PAIRS = RATES.flatMap((from) => RATES.filter((to) => to !== from).map((to) => [from, to] as const));

function noise(length: number, seed = 1): Int16Array {
  const out = new Int16Array(length);
  let s = seed;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 16) - 32768;
  }
  return out;
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function inChunks(r: StreamingResampler, x: Int16Array, sizes: () => number): Int16Array {
  const parts: Int16Array[] = [];
  for (let o = 0; o < x.length; ) {
    const n = Math.min(sizes(), x.length - o);
    parts.push(r.process(x.subarray(o, o + n)));
    o += n;
  }
  parts.push(r.flush());
  return concat(parts);
}

describe('StreamingResampler', () => {
  describe.each(PAIRS)('%i Hz -> %i Hz', (from, to) => {
    it('reaches the int16 floor on a 997 Hz tone with the stated delay and length', () => {
      const x = int16Sine(997.3, 16384, from, from / 2);
      const r = new StreamingResampler(from, to);
      const y = concat([r.process(x), r.flush()]);
      expect(Number.isInteger(r.delaySamples)).toBe(true);
      expect(y.length).toBe(Math.ceil((x.length * to) / from) + r.delaySamples);
      const start = 2 * r.delaySamples + 64; // past the start-up transient (the whole filter length)
      const fit = fitSines(y, [997.3], to, start, to / 4);
      expect(fit.snrDb).toBeGreaterThan(int16FloorDb(16384, from, to) - 0.5);
      // Linear phase: the tone comes out exactly delaySamples late (phase error below 0.001 rad).
      const expectedPhase = 0.3 + (2 * Math.PI * 997.3 * (start - r.delaySamples)) / to;
      const error = Math.atan2(Math.sin(fit.phases[0]! - expectedPhase), Math.cos(fit.phases[0]! - expectedPhase));
      expect(Math.abs(error)).toBeLessThan(1e-3);
    });

    it('gives identical samples whole, in 20 ms chunks and in random chunk sizes (0 to 5000)', () => {
      const x = noise(from / 2 + 4321, from);
      const whole = inChunks(new StreamingResampler(from, to), x, () => x.length);
      const frames = inChunks(new StreamingResampler(from, to), x, () => from / 50);
      let seed = 7;
      const random = inChunks(new StreamingResampler(from, to), x, () => {
        seed = (seed * 48271) % 2147483647;
        return seed % 5 === 0 ? seed % 3 : seed % 5001;
      });
      expect(frames).toEqual(whole);
      expect(random).toEqual(whole);
    });

    it('gives the same samples from the WebAssembly kernel and the scalar JavaScript kernel', () => {
      const x = concat([noise(3000, 3), new Int16Array(200).fill(32767), new Int16Array(200).fill(-32768), noise(3000, 4)]);
      const wasm = new StreamingResampler(from, to, { kernel: 'wasm' });
      const js = new StreamingResampler(from, to, { kernel: 'js' });
      expect(wasm.kernel).toBe('wasm');
      expect(js.kernel).toBe('js');
      expect(concat([wasm.process(x), wasm.flush()])).toEqual(concat([js.process(x), js.flush()]));
    });
  });

  it.each([
    [16000, 24000, 3, 2],
    [8000, 48000, 6, 1],
  ])('going up %i Hz -> %i Hz, every output that falls on an input instant is that input sample exactly', (from, to, up, down) => {
    const r = new StreamingResampler(from, to);
    const x = noise(4000, 7).map((v) => v >> 1);
    const y = r.process(x);
    let checked = 0;
    for (let m = r.delaySamples; m < y.length; m++) {
      const instant = (m - r.delaySamples) * down;
      if (instant % up !== 0) continue;
      expect(y[m]).toBe(x[instant / up]);
      checked++;
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('keeps the 16 kHz <-> 24 kHz delay within 2 ms', () => {
    expect(new StreamingResampler(16000, 24000).delaySamples / 24000).toBeLessThanOrEqual(0.002);
    expect(new StreamingResampler(24000, 16000).delaySamples / 16000).toBeLessThanOrEqual(0.002);
  });

  it('passes equal rates through without copying', () => {
    const r = new StreamingResampler(16000, 16000);
    const x = noise(320);
    expect(r.process(x)).toBe(x);
    expect(r.flush()).toHaveLength(0);
    expect(r.delaySamples).toBe(0);
    expect(r.kernel).toBe('pass-through');
    const out = new Int16Array(400);
    expect(r.processInto(x, out, 10)).toBe(320);
    expect(out.subarray(10, 330)).toEqual(x);
  });

  it('flush releases the tail so the whole input comes out, then starts a fresh stream', () => {
    const r = new StreamingResampler(16000, 24000);
    const x = int16Sine(440.7, 16384, 16000, 1000);
    const first = concat([r.process(x), r.flush()]);
    const tail = first.subarray(r.delaySamples);
    // The last input sample (at 24 kHz index 1499.5 ahead of the delay) is still represented before the end.
    const n = tail.length - 1;
    expect(n).toBe(1499);
    expect(Math.abs(tail[n - 5]! - 16384 * Math.sin((2 * Math.PI * 440.7 * (n - 5)) / 24000 + 0.3))).toBeLessThan(300);
    const again = concat([r.process(x), r.flush()]);
    expect(again).toEqual(first);
  });

  it('reset drops everything fed before (no bleed after barge-in)', () => {
    const x = int16Sine(1000.1, 30000, 24000, 480);
    const next = noise(480, 9);
    const fresh = new StreamingResampler(24000, 16000).process(next);
    const r = new StreamingResampler(24000, 16000);
    r.process(x.subarray(0, 317));
    r.reset();
    expect(r.process(next)).toEqual(fresh);
  });

  it('rounds to nearest: a constant input comes out as the same constant, full scale included', () => {
    for (const value of [12345, -12345, 1, -1, 32767, -32768]) {
      const r = new StreamingResampler(16000, 24000);
      const y = r.process(new Int16Array(2000).fill(value));
      expect(new Set(y.subarray(200))).toEqual(new Set([value]));
    }
  });

  it('clips overshoot instead of wrapping', () => {
    // A full-scale square wave rings above full scale after band-limiting; the ringing must saturate.
    const x = new Int16Array(4800);
    for (let i = 0; i < x.length; i++) x[i] = Math.floor(i / 24) % 2 === 0 ? 32767 : -32768;
    const y = new StreamingResampler(24000, 16000).process(x);
    let maximum = -Infinity;
    let minimum = Infinity;
    for (let i = 200; i < y.length; i++) {
      maximum = Math.max(maximum, y[i]!);
      minimum = Math.min(minimum, y[i]!);
      // The square's plateaus stay on their sign: no wrapped sample in the middle of a half period.
      const phase = ((i - 31) * 1.5) % 48;
      if (phase > 8 && phase < 16) expect(y[i]).toBeGreaterThan(20000);
      if (phase > 32 && phase < 40) expect(y[i]).toBeLessThan(-20000);
    }
    expect(maximum).toBe(32767);
    expect(minimum).toBe(-32768);
  });

  it('processInto writes what process returns and rejects a short output buffer', () => {
    const x = noise(960, 5);
    const expected = new StreamingResampler(48000, 16000).process(x);
    const r = new StreamingResampler(48000, 16000);
    expect(r.outputLength(x.length)).toBe(expected.length);
    const out = new Int16Array(expected.length + 3);
    expect(r.processInto(x, out, 3)).toBe(expected.length);
    expect(out.subarray(3)).toEqual(expected);
    const error = (() => {
      try {
        r.processInto(x, new Int16Array(10));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ResamplerError);
    expect((error as ResamplerError).code).toBe('OUTPUT_TOO_SMALL');
  });

  it.each([
    [44100, 48000],
    [16000, 0],
    [-8000, 16000],
    [16000.5, 24000],
    [8000, 1000000],
  ])('rejects %d Hz -> %d Hz with UNSUPPORTED_RATE', (from, to) => {
    expect(() => new StreamingResampler(from, to)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_RATE' }));
  });
});
