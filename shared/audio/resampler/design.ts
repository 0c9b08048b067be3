/**
 * Polyphase filter design for the streaming resampler.
 *
 * One linear-phase Kaiser-windowed sinc per rate pair, designed in float64 at the intermediate rate
 * L * fromRate = M * toRate. The band is the speech band of the lower rate: flat to 7/16 of it (7 kHz at 16 kHz),
 * stopped from 9/16 of it (9 kHz at 16 kHz), so the transition is centred on the lower Nyquist. Designing is a few
 * microseconds per pair, so it runs on first use; nothing is generated or committed.
 *
 * Taps are stored as exact integers for an i16 x i16 -> i32 dot product (WebAssembly `i32x4.dot_i16x8_s`): each
 * coefficient q = round(h * 2^SHIFT) is split into hi * 2^LO_BITS + lo with both parts in int16. Integer arithmetic
 * makes the WebAssembly kernel and the scalar JavaScript kernel bit-identical.
 */

/** Stop-band attenuation the tap count is chosen for (Kaiser's estimate); measured figures are in BENCHMARKS.md. */
export const TARGET_STOPBAND_DB = 120;
/** Pass-band edge and stop-band edge as fractions of the lower of the two rates. */
export const PASSBAND_FRACTION = 7 / 16;
export const STOPBAND_FRACTION = 9 / 16;
/** Fixed-point layout: q = round(h * 2^SHIFT) = hi * 2^LO_BITS + lo. */
export const SHIFT = 23;
export const LO_BITS = 9;
/** Taps per phase are padded to a multiple of this (one 128-bit vector of int16). */
export const LANES = 8;
/** Largest reduced numerator/denominator accepted: covers 8/12/16/24/32/48 kHz and 22.05/44.1 kHz among themselves. */
export const MAX_FACTOR = 16;

export interface PolyphaseFilter {
  readonly fromRate: number;
  readonly toRate: number;
  /** Interpolation factor (reduced). */
  readonly up: number;
  /** Decimation factor (reduced). */
  readonly down: number;
  /** Prototype length at the intermediate rate (odd, symmetric). */
  readonly taps: number;
  /** Taps per phase after padding to a multiple of LANES. */
  readonly tapsPerPhase: number;
  /** Group delay in output samples (an integer by construction). */
  readonly delaySamples: number;
  /** Kaiser beta used. */
  readonly beta: number;
  /** Float64 prototype (gain `up`), for analysis. */
  readonly prototype: Float64Array;
  /**
   * Per phase p, per block b of LANES taps: LANES hi parts then LANES lo parts. Taps within a phase are in
   * time order of the input window (oldest first), so the kernel walks input and coefficients forward together.
   */
  readonly coefficients: Int16Array;
  /**
   * The phase whose taps are exactly one unit tap (a Nyquist filter's: the windowed sinc going up), or -1. Its outputs
   * are input samples, window position `deltaTap`, so the kernels copy them instead of computing a dot product that
   * would give the same integer.
   */
  readonly deltaPhase: number;
  readonly deltaTap: number;
}

export function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

export function isSupportedRatePair(fromRate: number, toRate: number): boolean {
  if (!Number.isInteger(fromRate) || !Number.isInteger(toRate) || fromRate <= 0 || toRate <= 0) return false;
  const g = gcd(fromRate, toRate);
  return fromRate / g <= MAX_FACTOR && toRate / g <= MAX_FACTOR;
}

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for beta < 20). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

export function designPolyphaseFilter(fromRate: number, toRate: number): PolyphaseFilter {
  if (!isSupportedRatePair(fromRate, toRate)) {
    throw new RangeError(`unsupported rate pair ${fromRate} Hz -> ${toRate} Hz`);
  }
  const g = gcd(fromRate, toRate);
  const up = toRate / g;
  const down = fromRate / g;
  const intermediateRate = up * fromRate;
  const lowerRate = Math.min(fromRate, toRate);
  const transitionHz = (STOPBAND_FRACTION - PASSBAND_FRACTION) * lowerRate;
  const deltaOmega = (2 * Math.PI * transitionHz) / intermediateRate;

  // Kaiser's order estimate, rounded to a multiple of 2*down so the group delay (order/2) is whole output samples.
  const orderEstimate = (TARGET_STOPBAND_DB - 7.95) / (2.285 * deltaOmega);
  const order = Math.max(2 * down, 2 * down * Math.round(orderEstimate / (2 * down)));
  const taps = order + 1;
  const achievableDb = 2.285 * deltaOmega * order + 7.95;
  const beta = 0.1102 * (achievableDb - 8.7);

  const cutoff = lowerRate / 2 / intermediateRate; // cycles per sample at the intermediate rate
  const centre = order / 2;
  const prototype = new Float64Array(taps);
  const i0Beta = besselI0(beta);
  let sum = 0;
  for (let n = 0; n < taps; n++) {
    const t = n - centre;
    const sinc = t === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * t) / (Math.PI * t);
    const r = t / centre;
    const window = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta;
    prototype[n] = sinc * window;
    sum += prototype[n]!;
  }
  for (let n = 0; n < taps; n++) prototype[n] = (prototype[n]! * up) / sum;
  if (fromRate < toRate) {
    // Going up, the cut-off is the input's Nyquist frequency: a Nyquist filter, zero every `up` taps from the centre
    // and one at it. Made exact (the normalisation leaves it 1e-7 off), one phase passes input samples through as is.
    for (let n = centre % up; n < taps; n += up) prototype[n] = n === centre ? 1 : 0;
  }

  const tapsPerPhase = LANES * Math.ceil(Math.ceil(taps / up) / LANES);
  const coefficients = quantize(prototype, up, tapsPerPhase);
  const [deltaPhase, deltaTap] = findUnitPhase(coefficients, up, tapsPerPhase);
  return {
    fromRate,
    toRate,
    up,
    down,
    taps,
    tapsPerPhase,
    delaySamples: order / (2 * down),
    beta,
    prototype,
    coefficients,
    deltaPhase,
    deltaTap,
  };
}

/** [phase, window position] of a phase that is exactly one tap of 2^SHIFT, or [-1, 0]. */
function findUnitPhase(coefficients: Int16Array, up: number, tapsPerPhase: number): [number, number] {
  const blocks = tapsPerPhase / LANES;
  for (let p = 0; p < up; p++) {
    let unit = -1;
    let others = 0;
    for (let j = 0; j < tapsPerPhase; j++) {
      const base = (p * blocks + Math.floor(j / LANES)) * 2 * LANES;
      const hi = coefficients[base + (j % LANES)]!;
      const lo = coefficients[base + LANES + (j % LANES)]!;
      if (hi === 2 ** (SHIFT - LO_BITS) && lo === 0 && unit < 0) unit = j;
      else if (hi !== 0 || lo !== 0) others++;
    }
    if (unit >= 0 && others === 0) return [p, unit];
  }
  return [-1, 0];
}

function quantize(prototype: Float64Array, up: number, tapsPerPhase: number): Int16Array {
  const blocks = tapsPerPhase / LANES;
  const out = new Int16Array(up * tapsPerPhase * 2);
  const loScale = 2 ** LO_BITS;
  for (let p = 0; p < up; p++) {
    let hiAbsSum = 0;
    let loAbsSum = 0;
    for (let j = 0; j < tapsPerPhase; j++) {
      // Window position j (oldest first) meets the input sample k = tapsPerPhase-1-j steps back: prototype[p + k*up].
      const k = tapsPerPhase - 1 - j;
      const n = p + k * up;
      const q = n < prototype.length ? Math.round(prototype[n]! * 2 ** SHIFT) : 0;
      const hi = Math.round(q / loScale);
      const lo = q - hi * loScale;
      if (Math.abs(hi) > 32767 || Math.abs(lo) > loScale / 2) throw new Error('coefficient out of int16 range');
      hiAbsSum += Math.abs(hi);
      loAbsSum += Math.abs(lo);
      const b = Math.floor(j / LANES);
      const lane = j % LANES;
      const base = (p * blocks + b) * 2 * LANES;
      out[base + lane] = hi;
      out[base + LANES + lane] = lo;
    }
    // Both partial sums, plus the rounding offset, must fit an int32 for any int16 input: then wrapping SIMD lanes
    // still give the exact result (see the kernel's rounding).
    const limit = 2 ** 31 - 2 ** (SHIFT - 1);
    if (32768 * hiAbsSum >= limit || 32768 * loAbsSum >= limit) throw new Error('accumulator could overflow');
  }
  return out;
}
