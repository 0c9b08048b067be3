// espeak-ng (GPL-3.0, dev-only) ships no types: this is the part of its Emscripten module the lab uses.
declare module 'espeak-ng' {
  interface ESpeakNgModule {
    FS: { readFile(path: string): Uint8Array; unlink(path: string): void };
  }
  interface ESpeakNgOptions {
    arguments: string[];
    print?: (text: string) => void;
    printErr?: (text: string) => void;
  }
  const ESpeakNg: (options: ESpeakNgOptions) => Promise<ESpeakNgModule>;
  export default ESpeakNg;
}
