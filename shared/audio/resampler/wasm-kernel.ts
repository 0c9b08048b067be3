import { RESAMPLER_WASM_BASE64 } from '../wasm/resampler-wasm.js';

/**
 * The one WebAssembly instance every resampler shares. Calls are synchronous and JavaScript is single-threaded, so a
 * single scratch region serves all instances; each resampler keeps only its own filter history.
 * Layout: [coefficient tables, appended per rate pair][scratch: input window | output].
 */
export interface WasmKernel {
  resampleBlock(
    xPtr: number,
    start: number,
    phase: number,
    up: number,
    down: number,
    tapsPerPhase: number,
    coefPtr: number,
    outPtr: number,
    count: number,
  ): void;
  /** Byte offset of a coefficient table in memory (copied in once per table). */
  tableOffset(table: Int16Array): number;
  /** Makes the scratch region at least this many bytes (kept for the life of the process). */
  reserveScratch(bytes: number): void;
  /** Byte offset of the scratch region (16-byte aligned; moves when a table is added). */
  readonly scratchPtr: number;
  /** Current int16 view of the memory (replaced when memory grows). */
  heap(): Int16Array;
}

type Exports = { resampleBlock: WasmKernel['resampleBlock']; memory: WebAssembly.Memory };

let cached: WasmKernel | null | undefined;

/** The shared kernel, or null where WebAssembly SIMD is unavailable (the scalar JavaScript kernel is used then). */
export function wasmKernel(): WasmKernel | null {
  if (cached === undefined) cached = load();
  return cached;
}

function load(): WasmKernel | null {
  if (typeof WebAssembly !== 'object') return null;
  const bytes = Buffer.from(RESAMPLER_WASM_BASE64, 'base64');
  if (!WebAssembly.validate(bytes)) return null;
  let exports: Exports;
  try {
    exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as Exports;
  } catch {
    return null;
  }
  const memory = exports.memory;
  const tables = new Map<Int16Array, number>();
  let tablesEnd = 0;
  let view = new Int16Array(memory.buffer);
  let scratchBytes = 0;

  const ensure = (bytesNeeded: number): void => {
    const missing = bytesNeeded - memory.buffer.byteLength;
    if (missing > 0) memory.grow(Math.ceil(missing / 65536));
    if (view.buffer !== memory.buffer) view = new Int16Array(memory.buffer);
  };

  const kernel = {
    scratchPtr: 0,
    resampleBlock: exports.resampleBlock,
    tableOffset(table) {
      let offset = tables.get(table);
      if (offset === undefined) {
        offset = tablesEnd;
        ensure(offset + table.byteLength);
        view.set(table, offset / 2);
        tablesEnd = offset + ((table.byteLength + 15) & ~15);
        tables.set(table, offset);
        kernel.scratchPtr = tablesEnd;
        ensure(tablesEnd + scratchBytes);
      }
      return offset;
    },
    reserveScratch(bytes: number) {
      scratchBytes = Math.max(scratchBytes, bytes);
      ensure(tablesEnd + scratchBytes);
    },
    heap() {
      if (view.buffer !== memory.buffer) view = new Int16Array(memory.buffer);
      return view;
    },
  };
  return kernel;
}
