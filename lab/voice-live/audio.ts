// Small audio helpers for the Voice Live test peer (lab only; the worker has its own resampler).

/** Root-mean-square level of PCM16 samples (0..32768). */
export function rms(samples: Int16Array, start = 0, end = samples.length): number {
  if (end <= start) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const s = samples[i]!;
    sum += s * s;
  }
  return Math.sqrt(sum / (end - start));
}

/** Linear-interpolation resampling: good enough for a test line, not for the product. */
export function resampleLinear(samples: Int16Array, fromHz: number, toHz: number): Int16Array {
  if (fromHz === toHz || samples.length === 0) return samples;
  const outLength = Math.max(1, Math.round((samples.length * toHz) / fromHz));
  const out = new Int16Array(outLength);
  const step = fromHz / toHz;
  for (let i = 0; i < outLength; i++) {
    const pos = i * step;
    const i0 = Math.floor(pos);
    const i1 = Math.min(samples.length - 1, i0 + 1);
    const frac = pos - i0;
    out[i] = Math.round(samples[Math.min(i0, samples.length - 1)]! * (1 - frac) + samples[i1]! * frac);
  }
  return out;
}

/** Two short beeps: the echo agent's greeting. */
export function beeps(rateHz: number, frequencyHz = 660, beepMs = 250, gapMs = 120, amplitude = 8000): Int16Array {
  const beepSamples = Math.round((rateHz * beepMs) / 1000);
  const gapSamples = Math.round((rateHz * gapMs) / 1000);
  const out = new Int16Array(beepSamples * 2 + gapSamples);
  const ramp = Math.max(1, Math.round(rateHz * 0.005));
  for (const offset of [0, beepSamples + gapSamples]) {
    for (let i = 0; i < beepSamples; i++) {
      const envelope = Math.min(1, i / ramp, (beepSamples - 1 - i) / ramp);
      out[offset + i] = Math.round(amplitude * envelope * Math.sin((2 * Math.PI * frequencyHz * i) / rateHz));
    }
  }
  return out;
}

/** A sine tone, e.g. to stand in for caller speech in tests. */
export function tone(rateHz: number, durationMs: number, frequencyHz = 300, amplitude = 6000): Int16Array {
  const n = Math.round((rateHz * durationMs) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / rateHz));
  return out;
}

export function int16ToBuffer(samples: Int16Array): Buffer {
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}

export function bufferToInt16(bytes: Buffer): Int16Array {
  const even = bytes.length - (bytes.length % 2);
  const copy = Buffer.allocUnsafe(even);
  bytes.copy(copy, 0, 0, even);
  return new Int16Array(copy.buffer, copy.byteOffset, even / 2);
}
