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
    unitPhase: number,
    unitTap: number,
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

type Exports = { resampleBlock: WasmKernel['resampleBlock']; memory: { readonly buffer: ArrayBuffer; grow(pages: number): number } };

/** The slice of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: unknown };
}

let cached: WasmKernel | null | undefined;

/** The shared kernel, or null where WebAssembly SIMD is unavailable (the scalar JavaScript kernel is used then). */
export function wasmKernel(): WasmKernel | null {
  if (cached === undefined) cached = load();
  return cached;
}

function load(): WasmKernel | null {
  const api = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  if (!api) return null;
  const bytes = Buffer.from(RESAMPLER_WASM_BASE64, 'base64');
  // validate() is false where SIMD is unsupported: the scalar kernel takes over.
  if (!api.validate(bytes)) return null;
  let exports: Exports;
  try {
    exports = new api.Instance(new api.Module(bytes), {}).exports as Exports;
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

  const kernel: WasmKernel & { scratchPtr: number } = {
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
