/** Small signal helpers for the lab: tones, silence, energy, rate conversion of test audio. */

export function tone(options: { frequencyHz: number; durationMs: number; sampleRateHz: number; amplitude?: number }): Int16Array {
  const count = Math.round((options.durationMs / 1000) * options.sampleRateHz);
  const amplitude = (options.amplitude ?? 0.3) * 32767;
  const out = new Int16Array(count);
  const fadeSamples = Math.min(Math.round(options.sampleRateHz * 0.005), count >> 1);
  for (let i = 0; i < count; i++) {
    const fade = Math.min(1, i / Math.max(1, fadeSamples), (count - 1 - i) / Math.max(1, fadeSamples));
    out[i] = Math.round(amplitude * fade * Math.sin((2 * Math.PI * options.frequencyHz * i) / options.sampleRateHz));
  }
  return out;
}

export function silence(durationMs: number, sampleRateHz: number): Int16Array {
  return new Int16Array(Math.round((durationMs / 1000) * sampleRateHz));
}

export function concat(parts: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Root-mean-square level, 0..1 of full scale. */
export function rms(samples: Int16Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / samples.length) / 32768;
}

/**
 * Converts test audio between rates by linear interpolation. Good enough for lab input files and
 * recordings; the worker's own data path uses the real streaming resampler.
 */
export function resampleLinear(samples: Int16Array, fromHz: number, toHz: number): Int16Array {
  if (fromHz === toHz) return samples;
  const count = Math.floor((samples.length * toHz) / fromHz);
  const out = new Int16Array(count);
  const step = fromHz / toHz;
  for (let i = 0; i < count; i++) {
    const position = i * step;
    const index = Math.floor(position);
    const fraction = position - index;
    const a = samples[index] ?? 0;
    const b = samples[index + 1] ?? a;
    out[i] = Math.round(a + (b - a) * fraction);
  }
  return out;
}

/** Splits samples into fixed frames, zero-padding the last one. */
export function frames(samples: Int16Array, frameSamples: number): Int16Array[] {
  const out: Int16Array[] = [];
  for (let offset = 0; offset < samples.length; offset += frameSamples) {
    const frame = new Int16Array(frameSamples);
    frame.set(samples.subarray(offset, Math.min(samples.length, offset + frameSamples)));
    out.push(frame);
  }
  return out;
}
