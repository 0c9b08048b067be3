import { designPolyphaseFilter, isSupportedRatePair, type PolyphaseFilter } from './resampler/design.js';
import { resampleBlock } from './resampler/kernel-js.js';
import { wasmKernel, type WasmKernel } from './resampler/wasm-kernel.js';

/**
 * Streaming int16 mono resampler for one direction of one call: rational-ratio polyphase FIR (linear phase,
 * designed for the speech band of the lower rate), state carried across calls so chunking never changes the output.
 * Runs a WebAssembly SIMD kernel where available and a bit-identical scalar JavaScript kernel elsewhere.
 * Equal rates are a pass-through: `process` returns its input array itself.
 */
export type ResamplerKernelName = 'wasm' | 'js' | 'pass-through';

export interface StreamingResamplerOptions {
  /** 'auto' (default) uses WebAssembly SIMD when the runtime supports it, else the scalar kernel. */
  kernel?: 'auto' | 'wasm' | 'js';
}

export class ResamplerError extends RangeError {
  readonly code: 'UNSUPPORTED_RATE' | 'OUTPUT_TOO_SMALL' | 'KERNEL_UNAVAILABLE';
  constructor(code: ResamplerError['code'], message: string) {
    super(message);
    this.name = 'ResamplerError';
    this.code = code;
  }
}

/** Input samples handled per kernel call; bounds the shared scratch memory for any chunk length. */
const BLOCK_SAMPLES = 2048;

const filters = new Map<string, PolyphaseFilter>();
function filterFor(fromRate: number, toRate: number): PolyphaseFilter {
  const key = `${fromRate}:${toRate}`;
  let filter = filters.get(key);
  if (!filter) {
    filter = designPolyphaseFilter(fromRate, toRate);
    filters.set(key, filter);
  }
  return filter;
}

let jsScratch = new Int16Array(0);
let zeros = new Int16Array(0);

export class StreamingResampler {
  readonly fromRate: number;
  readonly toRate: number;
  /** Group delay at the output rate, in samples (whole samples by design). `flush()` releases this many (about). */
  readonly delaySamples: number;
  readonly kernel: ResamplerKernelName;
  private readonly filter: PolyphaseFilter | null;
  private readonly wasm: WasmKernel | null;
  private readonly tablePtr: number;
  private readonly outputRegionOffset: number;
  /** The last tapsPerPhase-1 input samples. */
  private readonly history: Int16Array;
  /** Index (relative to the next input sample) of the newest input the next output needs. */
  private nextIndex = 0;
  /** Polyphase branch of the next output. */
  private phase = 0;

  constructor(fromRate: number, toRate: number, options: StreamingResamplerOptions = {}) {
    if (!isSupportedRatePair(fromRate, toRate)) {
      throw new ResamplerError(
        'UNSUPPORTED_RATE',
        `unsupported resampling ${fromRate} Hz -> ${toRate} Hz: rates must be positive integers whose reduced ratio has terms <= 16 (e.g. 8000, 16000, 24000, 48000)`,
      );
    }
    this.fromRate = fromRate;
    this.toRate = toRate;
    if (fromRate === toRate) {
      this.filter = null;
      this.wasm = null;
      this.tablePtr = 0;
      this.outputRegionOffset = 0;
      this.history = new Int16Array(0);
      this.delaySamples = 0;
      this.kernel = 'pass-through';
      return;
    }
    const filter = filterFor(fromRate, toRate);
    this.filter = filter;
    this.delaySamples = filter.delaySamples;
    this.history = new Int16Array(filter.tapsPerPhase - 1);
    const choice = options.kernel ?? 'auto';
    const wasm = choice === 'js' ? null : wasmKernel();
    if (choice === 'wasm' && !wasm) {
      throw new ResamplerError('KERNEL_UNAVAILABLE', 'WebAssembly SIMD is not available in this runtime');
    }
    this.wasm = wasm;
    this.kernel = wasm ? 'wasm' : 'js';
    const windowSamples = filter.tapsPerPhase - 1 + BLOCK_SAMPLES;
    if (wasm) {
      this.tablePtr = wasm.tableOffset(filter.coefficients);
      const inputBytes = (windowSamples * 2 + 31) & ~15;
      this.outputRegionOffset = inputBytes;
      wasm.reserveScratch(inputBytes + (this.maxBlockOutputs() + 8) * 2);
    } else {
      this.tablePtr = 0;
      this.outputRegionOffset = 0;
      if (jsScratch.length < windowSamples + 8) jsScratch = new Int16Array(windowSamples + 8);
    }
  }

  /** Exactly how many samples `process` would return for `inputLength` samples in the current state. */
  outputLength(inputLength: number): number {
    const filter = this.filter;
    if (!filter) return inputLength;
    if (this.nextIndex >= inputLength) return 0;
    return Math.ceil(((inputLength - this.nextIndex) * filter.up - this.phase) / filter.down);
  }

  /** Resamples one chunk (any length). Equal rates return `input` itself. */
  process(input: Int16Array): Int16Array {
    if (!this.filter) return input;
    const count = this.outputLength(input.length);
    const wasm = this.wasm;
    if (wasm && input.length <= BLOCK_SAMPLES) {
      // Common case (one 20 ms frame): the output array is the only allocation, copied out of wasm memory natively.
      this.run(input, input.length, null, 0, count);
      const from = (wasm.scratchPtr + this.outputRegionOffset) >> 1;
      return wasm.heap().slice(from, from + count);
    }
    const output = new Int16Array(count);
    this.run(input, input.length, output, 0, count);
    return output;
  }

  /**
   * Allocation-free variant: writes into `output` from `outputOffset` and returns the count written. `output`
   * must have room for `outputLength(input.length)` samples.
   */
  processInto(input: Int16Array, output: Int16Array, outputOffset = 0): number {
    const needed = this.outputLength(input.length);
    if (output.length - outputOffset < needed) {
      throw new ResamplerError('OUTPUT_TOO_SMALL', `output has room for ${output.length - outputOffset} samples, ${needed} needed`);
    }
    if (!this.filter) {
      output.set(input, outputOffset);
      return input.length;
    }
    return this.run(input, input.length, output, outputOffset, needed);
  }

  /** The tail still in the filter (the last input's delayed samples), then resets for a new stream. */
  flush(): Int16Array {
    const filter = this.filter;
    if (!filter) return new Int16Array(0);
    const pending = filter.delaySamples * filter.down - this.nextIndex * filter.up - this.phase;
    const count = Math.max(0, Math.ceil(pending / filter.down));
    const output = new Int16Array(count);
    if (count > 0) {
      const lastIndex = this.nextIndex + Math.floor((this.phase + (count - 1) * filter.down) / filter.up);
      if (zeros.length < lastIndex + 1) zeros = new Int16Array(lastIndex + 1);
      this.run(zeros, lastIndex + 1, output, 0, count);
    }
    this.reset();
    return output;
  }

  /** Drops all state: nothing fed before bleeds into what comes after (barge-in). */
  reset(): void {
    this.history.fill(0);
    this.nextIndex = 0;
    this.phase = 0;
  }

  private maxBlockOutputs(): number {
    const filter = this.filter!;
    return Math.ceil((BLOCK_SAMPLES * filter.up) / filter.down) + 1;
  }

  /** Resamples `length` samples of `input`; outputs go to `output` (or stay in wasm scratch when it is null). */
  private run(input: Int16Array, length: number, output: Int16Array | null, outputOffset: number, maxOutputs: number): number {
    const filter = this.filter!;
    const { up, down, tapsPerPhase, coefficients } = filter;
    const history = this.history;
    const historyLength = history.length;
    let written = 0;
    for (let consumed = 0; consumed < length; consumed += BLOCK_SAMPLES) {
      const blockLength = Math.min(BLOCK_SAMPLES, length - consumed);
      const natural =
        this.nextIndex >= blockLength ? 0 : Math.ceil(((blockLength - this.nextIndex) * up - this.phase) / down);
      const count = Math.min(natural, maxOutputs - written);
      const wasm = this.wasm;
      const x = wasm ? wasm.heap() : jsScratch;
      const xOffset = wasm ? wasm.scratchPtr >> 1 : 0;
      // Window: history then this block, contiguous, so every output is one forward dot product.
      x.set(history, xOffset);
      const blockOffset = xOffset + historyLength;
      x.set(blockLength === input.length ? input : input.subarray(consumed, consumed + blockLength), blockOffset);
      if (count > 0) {
        if (wasm) {
          const outputPtr = wasm.scratchPtr + this.outputRegionOffset;
          wasm.resampleBlock(wasm.scratchPtr, this.nextIndex, this.phase, up, down, tapsPerPhase, this.tablePtr, outputPtr, count, filter.deltaPhase, filter.deltaTap);
          if (output) {
            const outputIndex = outputPtr >> 1;
            const target = outputOffset + written;
            for (let j = 0; j < count; j++) output[target + j] = x[outputIndex + j]!;
          }
        } else {
          resampleBlock(x, this.nextIndex, this.phase, up, down, tapsPerPhase, coefficients, output!, outputOffset + written, count, filter.deltaPhase, filter.deltaTap);
        }
      }
      written += count;
      const advanced = this.phase + natural * down;
      this.nextIndex += Math.floor(advanced / up) - blockLength;
      this.phase = advanced % up;
      const historyStart = xOffset + blockLength;
      for (let j = 0; j < historyLength; j++) history[j] = x[historyStart + j]!;
    }
    return written;
  }
}
