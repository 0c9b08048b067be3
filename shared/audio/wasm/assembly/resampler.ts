// AssemblyScript source of the SIMD kernel; `npm run build:wasm` compiles it into ../resampler-wasm.ts.
// Outputs of a unit phase (see design.ts `deltaPhase`) are copied: the dot product would give the same integer.
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

// Walk state for one resampleBlock call (globals, so the inline helpers below can advance it).
let gX: usize = 0;
let gOut: usize = 0;
let gStart: i32 = 0;
let gPhase: i32 = 0;
let gUp: i32 = 0;
let gDown: i32 = 0;
let gM: i32 = 0;
let gCount: i32 = 0;
let gUnitPhase: i32 = -1;
let gUnitTap: i32 = 0;

@inline
function advance(): void {
  gPhase += gDown;
  while (gPhase >= gUp) { gPhase -= gUp; gStart++; }
  gM++;
}

/** Copies outputs of the unit phase (they are input samples) until one needs a dot product; false at the end. */
@inline
function seek(): bool {
  while (gM < gCount && gPhase == gUnitPhase) {
    store<i16>(gOut + (<usize>gM << 1), load<i16>(gX + (<usize>(gStart + gUnitTap) << 1)));
    advance();
  }
  return gM < gCount;
}

/** Four outputs' dot products side by side (independent work in flight), one shared reduction and rounding: lane k is output k. */
@inline
function dot4(x0: usize, c0: usize, x1: usize, c1: usize, x2: usize, c2: usize, x3: usize, c3: usize, blocks: i32): v128 {
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
  return rounded(sum4(h0, h1, h2, h3), sum4(l0, l1, l2, l3));
}

@inline
function single(xp: usize, cp: usize, op: usize, blocks: i32): void {
  let h = i32x4.splat(0);
  let l = i32x4.splat(0);
  for (let b = 0; b < blocks; b++) {
    const v = v128.load(xp + (<usize>b << 4));
    h = i32x4.add(h, i32x4.dot_i16x8_s(v, v128.load(cp + (<usize>b << 5))));
    l = i32x4.add(l, i32x4.dot_i16x8_s(v, v128.load(cp + (<usize>b << 5), 16)));
  }
  const y = rounded(sum4(h, h, h, h), sum4(l, l, l, l));
  store<i16>(op, i16x8.extract_lane_s(i16x8.narrow_i32x4_s(y, y), 0));
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
  unitPhase: i32,
  unitTap: i32,
): void {
  const blocks = tapsPerPhase / LANES;
  const phaseBytes = <usize>(blocks * 2 * LANES * 2);
  if (unitPhase < 0) {
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
      const y = dot4(x0, c0, x1, c1, x2, c2, x3, c3, blocks);
      v128.store64_lane(outPtr + (<usize>m << 1), i16x8.narrow_i32x4_s(y, y), 0);
    }
    for (; m < count; m++) {
      single(xPtr + (<usize>start << 1), coefPtr + <usize>phase * phaseBytes, outPtr + (<usize>m << 1), blocks);
      phase += down;
      while (phase >= up) { phase -= up; start++; }
    }
    return;
  }
  // With a unit phase: its outputs are copied and the dot products go four at a time over the other outputs.
  gX = xPtr; gOut = outPtr; gStart = start; gPhase = phase; gUp = up; gDown = down; gM = 0; gCount = count;
  gUnitPhase = unitPhase; gUnitTap = unitTap;
  // Four outputs per turn: independent dot products in flight, one shared reduction and rounding.
  while (true) {
    if (!seek()) break;
    const x0 = xPtr + (<usize>gStart << 1);
    const c0 = coefPtr + <usize>gPhase * phaseBytes;
    const o0 = outPtr + (<usize>gM << 1);
    advance();
    if (!seek()) { single(x0, c0, o0, blocks); break; }
    const x1 = xPtr + (<usize>gStart << 1);
    const c1 = coefPtr + <usize>gPhase * phaseBytes;
    const o1 = outPtr + (<usize>gM << 1);
    advance();
    if (!seek()) { single(x0, c0, o0, blocks); single(x1, c1, o1, blocks); break; }
    const x2 = xPtr + (<usize>gStart << 1);
    const c2 = coefPtr + <usize>gPhase * phaseBytes;
    const o2 = outPtr + (<usize>gM << 1);
    advance();
    if (!seek()) { single(x0, c0, o0, blocks); single(x1, c1, o1, blocks); single(x2, c2, o2, blocks); break; }
    const x3 = xPtr + (<usize>gStart << 1);
    const c3 = coefPtr + <usize>gPhase * phaseBytes;
    const o3 = outPtr + (<usize>gM << 1);
    advance();
    const y = i16x8.narrow_i32x4_s(dot4(x0, c0, x1, c1, x2, c2, x3, c3, blocks), i32x4.splat(0));
    if (o1 == o0 + 2 && o2 == o0 + 4 && o3 == o0 + 6) {
      v128.store64_lane(o0, y, 0);
    } else {
      store<i16>(o0, i16x8.extract_lane_s(y, 0));
      store<i16>(o1, i16x8.extract_lane_s(y, 1));
      store<i16>(o2, i16x8.extract_lane_s(y, 2));
      store<i16>(o3, i16x8.extract_lane_s(y, 3));
    }
  }
}
