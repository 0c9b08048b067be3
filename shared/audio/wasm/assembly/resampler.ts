// AssemblyScript source of the SIMD kernel; `npm run build:wasm` compiles it into ../resampler-wasm.ts.
// Must stay arithmetically identical to shared/audio/resampler/kernel-js.ts: exact int32 dot products, then
// y = (hi + ((lo + 2^22) >> 9)) >> 14, which equals floor((hi * 2^9 + lo + 2^22) / 2^23) exactly, and saturation.

const LANES: i32 = 8;

/** Horizontal sums of four vectors: [sum(a), sum(b), sum(c), sum(d)]. */
@inline
function sum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = i32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

@inline
function rounded(hi: v128, lo: v128): v128 {
  return i32x4.shr_s(i32x4.add(hi, i32x4.shr_s(i32x4.add(lo, i32x4.splat(1 << 22)), 9)), 14);
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
  let m = 0;
  // Four outputs per turn: independent dot products in flight, one shared reduction and rounding.
  for (; m + 4 <= count; m += 4) {
    const x0 = xPtr + (<usize>start << 1);
    const c0 = coefPtr + <usize>phase * phaseBytes;
    phase += down;
    while (phase >= up) { phase -= up; start++; }
    const x1 = xPtr + (<usize>start << 1);
    const c1 = coefPtr + <usize>phase * phaseBytes;
    phase += down;
    while (phase >= up) { phase -= up; start++; }
    const x2 = xPtr + (<usize>start << 1);
    const c2 = coefPtr + <usize>phase * phaseBytes;
    phase += down;
    while (phase >= up) { phase -= up; start++; }
    const x3 = xPtr + (<usize>start << 1);
    const c3 = coefPtr + <usize>phase * phaseBytes;
    phase += down;
    while (phase >= up) { phase -= up; start++; }
    let h0 = i32x4.splat(0), h1 = i32x4.splat(0), h2 = i32x4.splat(0), h3 = i32x4.splat(0);
    let l0 = i32x4.splat(0), l1 = i32x4.splat(0), l2 = i32x4.splat(0), l3 = i32x4.splat(0);
    let xo: usize = 0;
    let co: usize = 0;
    for (let b = 0; b < blocks; b++) {
      let v = v128.load(x0 + xo);
      h0 = i32x4.add(h0, i32x4.dot_i16x8_s(v, v128.load(c0 + co)));
      l0 = i32x4.add(l0, i32x4.dot_i16x8_s(v, v128.load(c0 + co, 16)));
      v = v128.load(x1 + xo);
      h1 = i32x4.add(h1, i32x4.dot_i16x8_s(v, v128.load(c1 + co)));
      l1 = i32x4.add(l1, i32x4.dot_i16x8_s(v, v128.load(c1 + co, 16)));
      v = v128.load(x2 + xo);
      h2 = i32x4.add(h2, i32x4.dot_i16x8_s(v, v128.load(c2 + co)));
      l2 = i32x4.add(l2, i32x4.dot_i16x8_s(v, v128.load(c2 + co, 16)));
      v = v128.load(x3 + xo);
      h3 = i32x4.add(h3, i32x4.dot_i16x8_s(v, v128.load(c3 + co)));
      l3 = i32x4.add(l3, i32x4.dot_i16x8_s(v, v128.load(c3 + co, 16)));
      xo += 16;
      co += 32;
    }
    const y = rounded(sum4(h0, h1, h2, h3), sum4(l0, l1, l2, l3));
    v128.store64_lane(outPtr + (<usize>m << 1), i16x8.narrow_i32x4_s(y, y), 0);
  }
  for (; m < count; m++) {
    const xp = xPtr + (<usize>start << 1);
    const cp = coefPtr + <usize>phase * phaseBytes;
    let h = i32x4.splat(0);
    let l = i32x4.splat(0);
    for (let b = 0; b < blocks; b++) {
      const v = v128.load(xp + (<usize>b << 4));
      h = i32x4.add(h, i32x4.dot_i16x8_s(v, v128.load(cp + (<usize>b << 5))));
      l = i32x4.add(l, i32x4.dot_i16x8_s(v, v128.load(cp + (<usize>b << 5), 16)));
    }
    const y = rounded(sum4(h, h, h, h), sum4(l, l, l, l));
    store<i16>(outPtr + (<usize>m << 1), i16x8.extract_lane_s(i16x8.narrow_i32x4_s(y, y), 0));
    phase += down;
    while (phase >= up) { phase -= up; start++; }
  }
}
