import { describe, expect, it } from 'vitest';
import { compileResamplerWasm, renderModule } from '../../scripts/build-wasm.js';
import { RESAMPLER_WASM_BASE64 } from './wasm/resampler-wasm.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { designPolyphaseFilter, LANES, LO_BITS, SHIFT } from './resampler/design.js';

describe('resampler WebAssembly module', () => {
  it('is exactly what the committed AssemblyScript source compiles to (npm run build:wasm)', async () => {
    const wasm = await compileResamplerWasm();
    expect(Buffer.from(wasm).toString('base64')).toBe(RESAMPLER_WASM_BASE64);
    expect(readFileSync(join(__dirname, 'wasm', 'resampler-wasm.ts'), 'utf8')).toBe(renderModule(wasm));
  }, 60_000);

  it('loads synchronously and needs no imports', () => {
    type ModuleApi = { new (bytes: Uint8Array): object; imports(m: object): unknown[]; exports(m: object): { name: string }[] };
    const { Module } = (globalThis as unknown as { WebAssembly: { Module: ModuleApi } }).WebAssembly;
    const module = new Module(Buffer.from(RESAMPLER_WASM_BASE64, 'base64'));
    expect(Module.imports(module)).toEqual([]);
    expect(Module.exports(module).map((e) => e.name).sort()).toEqual(['memory', 'resampleBlock']);
  });
});

describe('resampler filter design', () => {
  it.each([
    [16000, 24000],
    [24000, 16000],
  ])('%i -> %i: symmetric linear-phase prototype within 2 ms, stop-band beyond 110 dB after quantization', (from, to) => {
    const f = designPolyphaseFilter(from, to);
    const h = f.prototype;
    for (let n = 0; n < h.length; n++) expect(h[n]).toBeCloseTo(h[h.length - 1 - n]!, 15);
    expect(f.delaySamples / to).toBeLessThanOrEqual(0.002);
    expect(f.tapsPerPhase % LANES).toBe(0);
    // Rebuild the quantized prototype from the kernel's table and evaluate its response directly.
    const q = new Float64Array(f.up * f.tapsPerPhase);
    const blocks = f.tapsPerPhase / LANES;
    for (let p = 0; p < f.up; p++) {
      for (let j = 0; j < f.tapsPerPhase; j++) {
        const base = (p * blocks + Math.floor(j / LANES)) * 2 * LANES;
        const value = (f.coefficients[base + (j % LANES)]! * 2 ** LO_BITS + f.coefficients[base + LANES + (j % LANES)]!) / 2 ** SHIFT;
        q[p + (f.tapsPerPhase - 1 - j) * f.up] = value;
      }
    }
    const rate = from * f.up;
    const responseDb = (hz: number): number => {
      let re = 0;
      let im = 0;
      for (let n = 0; n < q.length; n++) {
        re += q[n]! * Math.cos((2 * Math.PI * hz * n) / rate);
        im -= q[n]! * Math.sin((2 * Math.PI * hz * n) / rate);
      }
      return 20 * Math.log10(Math.hypot(re, im) / f.up);
    };
    for (let hz = 0; hz <= 7000; hz += 250) expect(Math.abs(responseDb(hz))).toBeLessThan(0.001);
    for (let hz = 9000; hz <= rate / 2; hz += 97) expect(responseDb(hz)).toBeLessThan(-110);
  });
});
