/**
 * Uniform streaming wrappers (int16 in, int16 out, 20 ms chunks) around the resamplers the benchmark compares.
 */
import { StreamingResampler } from '../shared/audio/resampler.js';

export interface Candidate {
  readonly name: string;
  /** Total delay at the output rate, in samples, as the library reports it. */
  readonly delaySamples: number;
  process(input: Int16Array): Int16Array;
  flush(): Int16Array;
  dispose(): void;
}

export interface CandidateFactory {
  readonly name: string;
  create(fromRate: number, toRate: number): Candidate;
  /** Bytes an instance holds, measured by the factory (heap or wasm-memory growth over many instances). */
  bytesPerInstance(fromRate: number, toRate: number): number;
}

type SpeexModule = {
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _speex_resampler_init(channels: number, inRate: number, outRate: number, quality: number, errPtr: number): number;
  _speex_resampler_destroy(state: number): void;
  _speex_resampler_process_int(state: number, channel: number, inPtr: number, inLenPtr: number, outPtr: number, outLenPtr: number): number;
  _speex_resampler_get_input_latency(state: number): number;
  _speex_resampler_get_output_latency(state: number): number;
  _speex_resampler_skip_zeros(state: number): number;
  HEAP16: Int16Array;
  HEAPU32: Uint32Array;
};

export function ours(kernel: 'wasm' | 'js' = 'wasm'): CandidateFactory {
  const name = kernel === 'wasm' ? 'ours (wasm simd)' : 'ours (scalar js)';
  return {
    name,
    create(fromRate, toRate) {
      const r = new StreamingResampler(fromRate, toRate, { kernel });
      return { name, delaySamples: r.delaySamples, process: (x) => r.process(x), flush: () => r.flush(), dispose() {} };
    },
    bytesPerInstance(fromRate, toRate) {
      return heapBytesPerInstance(() => new StreamingResampler(fromRate, toRate, { kernel }));
    },
  };
}

export async function speex(quality: number): Promise<CandidateFactory> {
  const specifier = '@echogarden/speex-resampler-wasm/simd';
  const { default: createModule } = (await import(specifier)) as { default: () => Promise<SpeexModule> };
  const m = await createModule();
  const name = `speex q${quality} (wasm simd)`;
  const maxSamples = 48000;
  const create = (fromRate: number, toRate: number): Candidate & { state: number } => {
    const errPtr = m._malloc(4);
    const state = m._speex_resampler_init(1, fromRate, toRate, quality, errPtr);
    const inPtr = m._malloc(maxSamples * 2);
    const outPtr = m._malloc(maxSamples * 2 * 6 + 64);
    const lenPtr = m._malloc(8);
    // Speex's delay: input latency expressed at the output rate (its filter is linear phase, half its length).
    const delaySamples = m._speex_resampler_get_output_latency(state);
    const run = (input: Int16Array): Int16Array => {
      m.HEAP16.set(input, inPtr >> 1);
      m.HEAPU32[lenPtr >> 2] = input.length;
      m.HEAPU32[(lenPtr >> 2) + 1] = maxSamples * 6;
      m._speex_resampler_process_int(state, 0, inPtr, lenPtr, outPtr, lenPtr + 4);
      const produced = m.HEAPU32[(lenPtr >> 2) + 1]!;
      return m.HEAP16.slice(outPtr >> 1, (outPtr >> 1) + produced);
    };
    return {
      name,
      state,
      delaySamples,
      process: run,
      flush: () => run(new Int16Array(Math.ceil((delaySamples * fromRate) / toRate) + 2)),
      dispose() {
        m._speex_resampler_destroy(state);
        m._free(inPtr);
        m._free(outPtr);
        m._free(lenPtr);
        m._free(errPtr);
      },
    };
  };
  return {
    name,
    create,
    bytesPerInstance(fromRate, toRate) {
      // State and filter tables live in the wasm heap: how far malloc's frontier moves per resampler_init
      // (our I/O buffers, which any caller needs too, are not counted).
      const count = 50;
      const errPtr = m._malloc(4);
      const before = m._malloc(16);
      const states = Array.from({ length: count }, () => m._speex_resampler_init(1, fromRate, toRate, quality, errPtr));
      const after = m._malloc(16);
      const perInstance = (after - before - 16) / count;
      for (const state of states) m._speex_resampler_destroy(state);
      m._free(before);
      m._free(after);
      m._free(errPtr);
      return perInstance;
    },
  };
}

type Src = {
  full(dataIn: Float32Array, dataOut?: Float32Array | null, outLength?: { frames: number } | null): Float32Array;
  destroy(): void;
};

export async function libsamplerate(converterType: 0 | 1 | 2, label: string): Promise<CandidateFactory> {
  const specifier = '@alexanderolsen/libsamplerate-js';
  const lib = (await import(specifier)) as {
    create(channels: number, inRate: number, outRate: number, options: { converterType: number }): Promise<Src>;
  };
  const name = `libsamplerate ${label} (wasm)`;
  // create() is async (each instance instantiates its own wasm module), so instances are made ahead of time.
  const pool: Src[] = [];
  const factory = {
    name,
    async prepare(fromRate: number, toRate: number, count: number): Promise<void> {
      for (let i = 0; i < count; i++) pool.push(await lib.create(1, fromRate, toRate, { converterType }));
    },
    create(fromRate: number, toRate: number): Candidate {
      const src = pool.pop();
      if (!src) throw new Error('prepare() first');
      const floatIn = new Float32Array(48000);
      const floatOut = new Float32Array(48000 * 6);
      const outLength = { frames: 0 };
      const run = (input: Int16Array): Int16Array => {
        const x = floatIn.subarray(0, input.length);
        for (let i = 0; i < input.length; i++) x[i] = input[i]! / 32768;
        src.full(x, floatOut, outLength);
        const y = new Int16Array(outLength.frames);
        for (let i = 0; i < y.length; i++) y[i] = Math.max(-32768, Math.min(32767, Math.round(floatOut[i]! * 32768)));
        return y;
      };
      // libsamplerate's sinc converters have no latency query; measured by the benchmark from a click.
      return {
        name,
        delaySamples: Number.NaN,
        process: run,
        flush: () => run(new Int16Array(Math.ceil(fromRate / 50))),
        dispose: () => src.destroy(),
      };
    },
    bytesPerInstance: () => Number.NaN,
  };
  return factory;
}

/** Heap (JS objects and array buffers) growth per instance, over many instances, after a full collection. */
export function heapBytesPerInstance(make: () => unknown, count = 5000): number {
  const gc = collector();
  gc();
  gc();
  const before = process.memoryUsage();
  const kept: unknown[] = [];
  for (let i = 0; i < count; i++) kept.push(make());
  gc();
  gc();
  const after = process.memoryUsage();
  const bytes = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
  kept.length = 0;
  return bytes / count;
}

function collector(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const v8 = require('node:v8') as typeof import('node:v8');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const vm = require('node:vm') as typeof import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}
