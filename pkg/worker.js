// The Web Worker that owns the GPU: every wasm call runs here, so the page's main thread stays
// responsive while a model loads and generates. `index.js` talks to it with messages
//   { id, op, ...args }  →  { id, type: 'result' | 'error' | 'progress' | 'chunk', ... }
// and hides them behind the `Lantern` / `TextModel` classes.
import init, { Engine } from './wasm/lantern_web.js';
import { openSource } from './source.js';

let engine = null;
let wasmUrl;
const models = new Map(); // model id → TextModel (wasm)
const aborted = new Set(); // ids of requests whose caller aborted them
const generating = new Map(); // model id → id of the request generating on it
let nextModelId = 1;

const post = (message) => self.postMessage(message);

/** Opens the GPU, or a fresh one when the last device was lost (a new load must work after it). */
async function openEngine() {
  if (engine && engine.lostReason() !== undefined) {
    for (const model of models.values()) model.free();
    models.clear();
    engine.free();
    engine = null;
  }
  if (!engine) {
    if (!('gpu' in navigator)) {
      throw new Error(
        'This browser has no WebGPU (navigator.gpu is missing in workers). Use Chrome or Edge 113+, ' +
          'Safari 26+ or Firefox 141+; headless Chromium needs --enable-unsafe-webgpu.',
      );
    }
    await init(wasmUrl ? { module_or_path: wasmUrl } : undefined);
    engine = await Engine.create();
  }
  return engine;
}

function model(id) {
  const m = models.get(id);
  if (!m) throw new Error('this model was unloaded');
  return m;
}

/** Progress at most every 100 ms (and always the last), so a fast download does not flood the page. */
function throttledProgress(id) {
  let last = 0;
  return (progress) => {
    const now = performance.now();
    const done = progress.totalBytes != null && progress.uploadedBytes >= progress.totalBytes;
    if (done || now - last >= 100) {
      last = now;
      post({ id, type: 'progress', value: { ...progress } });
    }
  };
}

async function running(id, modelId, start) {
  generating.set(modelId, id);
  try {
    return await start();
  } finally {
    if (generating.get(modelId) === id) generating.delete(modelId);
  }
}

function streamTo(id) {
  return (chunk) => {
    post({ id, type: 'chunk', value: chunk });
    return !aborted.has(id);
  };
}

const ops = {
  async init({ wasmUrl: url }) {
    wasmUrl = url;
    const e = await openEngine();
    return { adapter: e.adapterInfo(), browserAdapter: await browserAdapter() };
  },
  async selfCheck() {
    return (await openEngine()).selfCheck();
  },
  async measureRooflines({ dispatches }) {
    return (await openEngine()).measureRooflines(dispatches);
  },
  async load({ id, source, options }) {
    const e = await openEngine();
    const input = await openSource(source, options, {
      isAborted: () => aborted.has(id),
      onNote: (note) => post({ id, type: 'progress', value: { note } }),
    });
    const onProgress = throttledProgress(id);
    let loaded;
    try {
      loaded = await e.loadText(
        input.nextChunk,
        { totalBytes: input.totalBytes ?? undefined, sha256: options.sha256, maxContext: options.maxContext, precision: options.precision },
        (p) => onProgress({ ...p, fromCache: input.fromCache }),
      );
    } catch (error) {
      await input.failed();
      throw error;
    }
    await input.succeeded();
    const modelId = nextModelId++;
    models.set(modelId, loaded);
    return { modelId, info: loaded.info(), fromCache: input.fromCache };
  },
  async generate({ id, modelId, prompt, options }) {
    return running(id, modelId, () => model(modelId).generate(prompt, options, streamTo(id)));
  },
  async chat({ id, modelId, messages, options }) {
    return running(id, modelId, () => model(modelId).chat(messages, options, streamTo(id)));
  },
  async tokenize({ modelId, text }) {
    return Array.from(model(modelId).tokenize(text));
  },
  async promptMultiplyAdds({ modelId, tokens }) {
    return model(modelId).promptMultiplyAdds(tokens);
  },
  async unload({ modelId }) {
    const m = models.get(modelId);
    // A generation running on it stops at its next token; its memory is freed then.
    if (generating.has(modelId)) aborted.add(generating.get(modelId));
    if (m) {
      models.delete(modelId);
      m.unload();
      m.free();
    }
  },
  async memory() {
    return { gpuBytesCreated: engine ? engine.gpuBytesCreated() : 0 };
  },
  async destroyDevice() {
    engine?.destroyDevice();
  },
  abort({ target }) {
    aborted.add(target);
  },
};

/** The adapter as the browser names it (wgpu's report leaves the name empty in browsers). */
async function browserAdapter() {
  const adapter = await navigator.gpu.requestAdapter();
  const info = adapter?.info;
  return info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') : '';
}

self.onmessage = async ({ data }) => {
  const { id, op } = data;
  if (op === 'abort') {
    ops.abort(data);
    return;
  }
  try {
    const handler = ops[op];
    if (!handler) throw new Error(`unknown operation '${op}'`);
    post({ id, type: 'result', value: await handler(data) });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    post({ id, type: 'error', message, name: error?.name === 'AbortError' ? 'AbortError' : 'Error' });
  } finally {
    aborted.delete(id);
  }
};
