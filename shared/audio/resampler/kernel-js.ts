import * as design from './design.js';

// Local copies: some loaders expose imports through getters, which would sit in the innermost loop.
const LANES = design.LANES;
const LO_SCALE = 2 ** design.LO_BITS;
const SCALE = 2 ** design.SHIFT;
const HALF = SCALE / 2;

/**
 * Portable scalar kernel: the exact integer arithmetic of the WebAssembly kernel
 * (`shared/audio/wasm/assembly/resampler.ts`), so both give identical samples.
 *
 * Computes `count` outputs. Output j reads the window x[start .. start+tapsPerPhase-1] with the coefficients of
 * `phase`; then phase advances by `down` and start by the whole steps that carries.
 */
export function resampleBlock(
  x: Int16Array,
  start: number,
  phase: number,
  up: number,
  down: number,
  tapsPerPhase: number,
  coefficients: Int16Array,
  out: Int16Array,
  outOffset: number,
  count: number,
  unitPhase = -1,
  unitTap = 0,
): void {
  const blocks = tapsPerPhase / LANES; // LANES is 8, written out in the loop below
  for (let m = 0; m < count; m++) {
    if (phase === unitPhase) {
      // A unit phase's output is the input sample: what the dot product below would give, without it.
      out[outOffset + m] = x[start + unitTap]!;
      phase += down;
      if (phase >= up) {
        start += Math.floor(phase / up);
        phase %= up;
      }
      continue;
    }
    let hiSum = 0;
    let loSum = 0;
    let c = phase * blocks * 2 * LANES;
    let xi = start;
    for (let b = 0; b < blocks; b++) {
      for (let lane = 0; lane < 8; lane++) {
        const s = x[xi + lane]!;
        hiSum += s * coefficients[c + lane]!;
        loSum += s * coefficients[c + 8 + lane]!;
      }
      xi += LANES;
      c += 2 * LANES;
    }
    let y = Math.floor((hiSum * LO_SCALE + loSum + HALF) / SCALE);
    if (y > 32767) y = 32767;
    else if (y < -32768) y = -32768;
    out[outOffset + m] = y;
    phase += down;
    if (phase >= up) {
      start += Math.floor(phase / up);
      phase %= up;
    }
  }
}
