/**
 * Signal measurements for the resampler's tests and benchmark, computed from the samples themselves:
 * least-squares sine fits (any frequency) and int16 noise floors.
 */

export interface SineFit {
  readonly amplitude: number;
  /** Power of the fitted sinusoid(s). */
  readonly signalPower: number;
  /** Mean power of what the fit leaves. */
  readonly residualPower: number;
  readonly snrDb: number;
}

/**
 * Least-squares fit of DC plus sinusoids at the given frequencies (solved exactly, so frequencies need not fall on
 * DFT bins) over signal[start, start+length).
 */
export function fitSines(signal: ArrayLike<number>, frequenciesHz: readonly number[], rateHz: number, start = 0, length = signal.length - start): SineFit & { amplitudes: number[]; phases: number[] } {
  const k = 1 + 2 * frequenciesHz.length;
  const ata = new Float64Array(k * k);
  const atb = new Float64Array(k);
  const row = new Float64Array(k);
  // Rotating phasors (recomputed exactly every 1024 samples) keep this O(length * k^2) without trig per term.
  const cos = new Float64Array(frequenciesHz.length);
  const sin = new Float64Array(frequenciesHz.length);
  const stepCos = frequenciesHz.map((f) => Math.cos((2 * Math.PI * f) / rateHz));
  const stepSin = frequenciesHz.map((f) => Math.sin((2 * Math.PI * f) / rateHz));
  for (let n = 0; n < length; n++) {
    if (n % 1024 === 0) {
      frequenciesHz.forEach((f, j) => {
        cos[j] = Math.cos((2 * Math.PI * f * n) / rateHz);
        sin[j] = Math.sin((2 * Math.PI * f * n) / rateHz);
      });
    }
    row[0] = 1;
    for (let j = 0; j < frequenciesHz.length; j++) {
      row[1 + 2 * j] = cos[j]!;
      row[2 + 2 * j] = sin[j]!;
    }
    const y = signal[start + n]!;
    for (let a = 0; a < k; a++) {
      const ra = row[a]!;
      atb[a] = atb[a]! + ra * y;
      for (let b = a; b < k; b++) ata[a * k + b] = ata[a * k + b]! + ra * row[b]!;
    }
    for (let j = 0; j < frequenciesHz.length; j++) {
      const c = cos[j]!;
      const s = sin[j]!;
      cos[j] = c * stepCos[j]! - s * stepSin[j]!;
      sin[j] = s * stepCos[j]! + c * stepSin[j]!;
    }
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) ata[a * k + b] = ata[b * k + a]!;
  const coef = solve(ata, atb, k);
  let residual = 0;
  let fitted = 0;
  for (let n = 0; n < length; n++) {
    let model = coef[0]!;
    for (let j = 0; j < frequenciesHz.length; j++) {
      const w = (2 * Math.PI * frequenciesHz[j]! * n) / rateHz;
      model += coef[1 + 2 * j]! * Math.cos(w) + coef[2 + 2 * j]! * Math.sin(w);
    }
    const e = signal[start + n]! - model;
    residual += e * e;
    fitted += (model - coef[0]!) ** 2;
  }
  const amplitudes = frequenciesHz.map((_, j) => Math.hypot(coef[1 + 2 * j]!, coef[2 + 2 * j]!));
  // Phase of a*cos(w n) + b*sin(w n) written as A*sin(w n + phase).
  const phases = frequenciesHz.map((_, j) => Math.atan2(coef[1 + 2 * j]!, coef[2 + 2 * j]!));
  const signalPower = fitted / length;
  const residualPower = residual / length;
  return {
    amplitude: amplitudes[0] ?? 0,
    amplitudes,
    phases,
    signalPower,
    residualPower,
    snrDb: 10 * Math.log10(signalPower / residualPower),
  };
}

function solve(a: Float64Array, b: Float64Array, k: number): Float64Array {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
  for (let col = 0; col < k; col++) {
    let pivot = col;
    for (let r = col + 1; r < k; r++) if (Math.abs(m[r * k + col]!) > Math.abs(m[pivot * k + col]!)) pivot = r;
    if (pivot !== col) {
      for (let c = 0; c < k; c++) [m[col * k + c], m[pivot * k + c]] = [m[pivot * k + c]!, m[col * k + c]!];
      [x[col], x[pivot]] = [x[pivot]!, x[col]!];
    }
    const d = m[col * k + col]!;
    for (let r = col + 1; r < k; r++) {
      const f = m[r * k + col]! / d;
      if (f === 0) continue;
      for (let c = col; c < k; c++) m[r * k + c] = m[r * k + c]! - f * m[col * k + c]!;
      x[r] = x[r]! - f * x[col]!;
    }
  }
  for (let r = k - 1; r >= 0; r--) {
    let s = x[r]!;
    for (let c = r + 1; c < k; c++) s -= m[r * k + c]! * x[c]!;
    x[r] = s / m[r * k + r]!;
  }
  return x;
}

/** Amplitude of one frequency component (least-squares, with DC) over a window. */
export function toneAmplitude(signal: ArrayLike<number>, frequencyHz: number, rateHz: number, start: number, length: number): number {
  return fitSines(signal, [frequencyHz], rateHz, start, length).amplitude;
}

/**
 * Best SNR an int16 -> int16 resampler can reach for a sine of this amplitude: the input's rounding noise that lies
 * below the output's Nyquist plus the output's own rounding noise (each 1/12 LSB^2 over its band).
 */
export function int16FloorDb(amplitude: number, fromRate: number, toRate: number): number {
  const noise = (1 + Math.min(1, toRate / fromRate)) / 12;
  return 10 * Math.log10((amplitude * amplitude) / 2 / noise);
}

/** A quantized sine at `rateHz` (round half away from zero, as a int16 source would). */
export function int16Sine(frequencyHz: number, amplitude: number, rateHz: number, length: number, phase = 0.3): Int16Array {
  const out = new Int16Array(length);
  for (let n = 0; n < length; n++) out[n] = Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * n) / rateHz + phase));
  return out;
}

/** Sum of sines with fixed pseudo-random phases, rounded to int16. */
export function int16Multitone(frequenciesHz: readonly number[], amplitude: number, rateHz: number, length: number): Int16Array {
  const out = new Int16Array(length);
  let seed = 12345;
  const phases = frequenciesHz.map(() => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return (seed / 2147483648) * 2 * Math.PI;
  });
  for (let n = 0; n < length; n++) {
    let v = 0;
    for (let j = 0; j < frequenciesHz.length; j++) v += Math.sin((2 * Math.PI * frequenciesHz[j]! * n) / rateHz + phases[j]!);
    out[n] = Math.round(amplitude * v);
  }
  return out;
}

/** 40 tones, 100 Hz to 7 kHz, log-spaced and detuned off any rate-related grid. */
export function multitoneFrequencies(count = 40, lowHz = 100, highHz = 7000): number[] {
  return Array.from({ length: count }, (_, j) => lowHz * (highHz / lowHz) ** (j / (count - 1)) * (j === count - 1 ? 1 : 1.0013));
}
