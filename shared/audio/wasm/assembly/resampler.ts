// AssemblyScript source of the SIMD kernel; `npm run build:wasm` compiles it into ../resampler-wasm.ts.
// Must stay arithmetically identical to shared/audio/resampler/kernel-js.ts (exact int32 dot products, one rounding).

const LANES: i32 = 8;
const LO_BITS: i64 = 9;
const SHIFT: i64 = 23;

/** Integer sum of the four int32 lanes (wrapping; exact because the true sum fits an int32). */
@inline
function lanesSum(v: v128): i32 {
  const pairs = i32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return i32x4.extract_lane(pairs, 0) + i32x4.extract_lane(pairs, 1);
}

export function resampleBlock(
  xPtr: usize,
  start: i32,
  phase: i32,
  up: i32,
  down: i32,
  tapsPerPhase: i32,
  coefPtr: usize,
  outPtr: usize,
  count: i32,
): void {
  const blocks = tapsPerPhase / LANES;
  const phaseBytes = <usize>(blocks * 2 * LANES * 2);
  const half: i64 = 1 << (SHIFT - 1);
  for (let m = 0; m < count; m++) {
    let accHi = i32x4.splat(0);
    let accLo = i32x4.splat(0);
    let xp = xPtr + (<usize>start << 1);
    let cp = coefPtr + <usize>phase * phaseBytes;
    // Two blocks per turn with separate accumulators: fewer branches, independent dependency chains.
    let accHi2 = i32x4.splat(0);
    let accLo2 = i32x4.splat(0);
    let b = 0;
    for (; b + 1 < blocks; b += 2) {
      const xv = v128.load(xp);
      const xw = v128.load(xp, 16);
      accHi = i32x4.add(accHi, i32x4.dot_i16x8_s(xv, v128.load(cp)));
      accLo = i32x4.add(accLo, i32x4.dot_i16x8_s(xv, v128.load(cp, 16)));
      accHi2 = i32x4.add(accHi2, i32x4.dot_i16x8_s(xw, v128.load(cp, 32)));
      accLo2 = i32x4.add(accLo2, i32x4.dot_i16x8_s(xw, v128.load(cp, 48)));
      xp += 32;
      cp += 64;
    }
    if (b < blocks) {
      const xv = v128.load(xp);
      accHi = i32x4.add(accHi, i32x4.dot_i16x8_s(xv, v128.load(cp)));
      accLo = i32x4.add(accLo, i32x4.dot_i16x8_s(xv, v128.load(cp, 16)));
    }
    accHi = i32x4.add(accHi, accHi2);
    accLo = i32x4.add(accLo, accLo2);
    const y64 = ((<i64>lanesSum(accHi)) << LO_BITS) + <i64>lanesSum(accLo) + half;
    let y = <i32>(y64 >> SHIFT);
    if (y > 32767) y = 32767;
    else if (y < -32768) y = -32768;
    store<i16>(outPtr + (<usize>m << 1), <i16>y);
    phase += down;
    // At most down/up + 1 turns (both <= 16); cheaper than an integer division per output.
    while (phase >= up) {
      phase -= up;
      start++;
    }
  }
}
