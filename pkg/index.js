// The npm package's entry point: loads the wasm module once, then opens a WebGPU engine.
import init, { Engine } from './wasm/lantern_web.js';

let ready;

/** Loads the WebAssembly module (once) and opens the GPU. Rejects with a clear Error without WebGPU. */
export async function createEngine(options = {}) {
  if (typeof navigator !== 'undefined' && !('gpu' in navigator)) {
    throw new Error(
      'This browser has no WebGPU (navigator.gpu is missing). Use Chrome or Edge 113+, Safari 26+ or ' +
        'Firefox 141+; headless Chromium needs --enable-unsafe-webgpu.',
    );
  }
  ready ??= init(options.wasmUrl ? { module_or_path: options.wasmUrl } : undefined);
  await ready;
  return Engine.create();
}

export { Engine };
