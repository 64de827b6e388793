// The slice of the WebAssembly JS API that the core wrapper uses. @types/node 20 does not
// declare it, and pulling in the DOM lib for it would leak browser globals into Node code.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: BufferSource);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  class Global {
    value: unknown;
  }
}
