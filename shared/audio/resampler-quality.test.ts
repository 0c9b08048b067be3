import { describe, expect, it } from 'vitest';
import { StreamingResampler } from './resampler.js';
import { fitSines, int16FloorDb, int16Multitone, int16Sine, multitoneFrequencies } from './resampler/analysis.js';

// Quality targets for the rates ACS and Voice Live use, measured from the output samples (least-squares fits).
function resample(from: number, to: number, x: Int16Array): { y: Int16Array; settled: number } {
  const r = new StreamingResampler(from, to);
  const parts: Int16Array[] = [];
  for (let o = 0; o < x.length; o += from / 50) parts.push(r.process(x.subarray(o, o + from / 50)));
  const y = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    y.set(p, o);
    o += p.length;
  }
  return { y, settled: 2 * r.delaySamples + 16 };
}

const fold = (hz: number, rate: number): number => {
  const g = hz % rate;
  return g > rate / 2 ? rate - g : g;
};
const plus = (a: Int16Array, b: Int16Array): Int16Array => a.map((v, i) => v + b[i]!);

describe.each([
  [16000, 24000],
  [24000, 16000],
])('%i Hz -> %i Hz quality', (from, to) => {
  it.each([300.7, 1000.3, 2500.9, 4001.3, 6000.7])('a -6 dBFS %f Hz tone reaches the int16 floor (within 0.5 dB)', (hz) => {
    const { y, settled } = resample(from, to, int16Sine(hz, 16384, from, from / 2));
    expect(fitSines(y, [hz], to, settled, to / 4).snrDb).toBeGreaterThan(int16FloorDb(16384, from, to) - 0.5);
  });

  it('a 40-tone multitone (100 Hz-7 kHz) comes out at >= 80 dB SNR', () => {
    const tones = multitoneFrequencies();
    const { y, settled } = resample(from, to, int16Multitone(tones, 1800, from, from / 2));
    expect(fitSines(y, tones, to, settled, to / 8).snrDb).toBeGreaterThanOrEqual(80);
  });

  it('keeps the passband flat within ±0.1 dB up to 7.0 kHz', () => {
    for (const hz of [50.3, 500.3, 2000.7, 4000.1, 5500.9, 6500.3, 7000]) {
      const { y, settled } = resample(from, to, int16Sine(hz, 16384, from, from / 4));
      const gainDb = 20 * Math.log10(fitSines(y, [hz], to, settled, to / 8).amplitude / 16384);
      expect(Math.abs(gainDb)).toBeLessThanOrEqual(0.1);
    }
  });
});

describe('stop-band', () => {
  // A -1 dBFS probe plus a quiet 1.5 kHz carrier, so output rounding stays noise-like and the fit resolves
  // components far below one LSB.
  const probe = (hz: number, rate: number): Int16Array => plus(int16Sine(hz, 29000, rate, rate), int16Sine(1499.7, 2000, rate, rate, 1.1));

  it.each([9000.7, 9500.3, 10000.9, 10999.3])('going down to 16 kHz, a %f Hz tone aliases at least 95 dB down', (hz) => {
    const { y, settled } = resample(24000, 16000, probe(hz, 24000));
    const fit = fitSines(y, [1499.7, fold(hz, 16000)], 16000, settled, 12000);
    expect(-20 * Math.log10(fit.amplitudes[1]! / 29000)).toBeGreaterThanOrEqual(95);
  });

  it.each([1000.3, 3000.7, 5000.9, 6999.3])('going up to 24 kHz, the images of a %f Hz tone are at least 110 dB down', (hz) => {
    const { y, settled } = resample(16000, 24000, probe(hz, 16000));
    const images = [16000 - hz, 16000 + hz].map((g) => fold(g, 24000));
    const fit = fitSines(y, [hz, 1499.7, ...images], 24000, settled, 18000);
    for (const amplitude of fit.amplitudes.slice(2)) expect(-20 * Math.log10(amplitude / 29000)).toBeGreaterThanOrEqual(110);
  });
});
