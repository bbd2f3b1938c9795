// The npm package's entry point. All GPU work happens in a dedicated Web Worker (worker.js);
// these classes turn its messages into promises and async iterators.
//
//   const engine = await Lantern.create();
//   const model = await engine.loadText(url, { onProgress });
//   for await (const chunk of model.generate(prompt, { maxTokens: 64, signal })) show(chunk.text);
//   const stream = await model.chat.completions.create({ messages, stream: true });

const NO_WEBGPU =
  'This browser has no WebGPU (navigator.gpu is missing). Use Chrome or Edge 113+, Safari 26+ or ' +
  'Firefox 141+; headless Chromium needs --enable-unsafe-webgpu.';

function abortError(reason) {
  return reason instanceof Error && reason.name === 'AbortError'
    ? reason
    : new DOMException(typeof reason === 'string' ? reason : 'the operation was aborted', 'AbortError');
}

/** One request to the worker: its result promise, and its progress/chunk messages. */
class Request {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.result = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

class WorkerClient {
  constructor(worker) {
    this.worker = worker;
    this.pending = new Map();
    this.nextId = 1;
    this.broken = null;
    worker.onmessage = ({ data }) => this.receive(data);
    worker.onerror = (event) => this.fail(new Error(`the Lantern worker failed: ${event.message ?? 'could not start it'}`));
  }

  receive({ id, type, value, message, name }) {
    const request = this.pending.get(id);
    if (!request) return;
    if (type === 'result') {
      this.pending.delete(id);
      request.resolve(value);
    } else if (type === 'error') {
      this.pending.delete(id);
      const error = name === 'AbortError' ? new DOMException(message, 'AbortError') : new Error(message);
      request.reject(error);
    } else {
      request.onEvent?.(type, value);
    }
  }

  fail(error) {
    this.broken = error;
    for (const request of this.pending.values()) request.reject(error);
    this.pending.clear();
  }

  /** Sends `op`; `signal` aborts it (the worker stops between tokens or chunks). */
  call(op, args = {}, { onEvent, signal, transfer = [] } = {}) {
    if (this.broken) return Promise.reject(this.broken);
    if (signal?.aborted) return Promise.reject(abortError(signal.reason));
    const id = this.nextId++;
    const request = new Request(onEvent);
    this.pending.set(id, request);
    const abort = () => this.worker.postMessage({ id: this.nextId++, op: 'abort', target: id });
    signal?.addEventListener('abort', abort, { once: true });
    request.result.then(
      () => signal?.removeEventListener('abort', abort),
      () => signal?.removeEventListener('abort', abort),
    );
    this.worker.postMessage({ id, op, ...args }, transfer);
    return request.result;
  }
}

/**
 * Pushes values from callbacks into an async iterator, with `result` resolving to the final
 * value (or rejecting) when the source ends.
 */
class ChunkQueue {
  constructor() {
    this.items = [];
    this.waiting = null;
    this.done = false;
    this.error = null;
  }
  push(item) {
    if (this.waiting) {
      this.waiting.resolve({ value: item, done: false });
      this.waiting = null;
    } else {
      this.items.push(item);
    }
  }
  end(error = null) {
    this.done = true;
    this.error = error;
    if (this.waiting) {
      if (error) this.waiting.reject(error);
      else this.waiting.resolve({ value: undefined, done: true });
      this.waiting = null;
    }
  }
  next() {
    if (this.items.length) return Promise.resolve({ value: this.items.shift(), done: false });
    if (this.done) return this.error ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => { this.waiting = { resolve, reject }; });
  }
}

/**
 * A generation in progress: iterate it for chunks `{ text, token }` as they are generated;
 * `result` resolves to the finished generation; `abort()` stops it between tokens (as does the
 * `signal` it was started with). An aborted generation resolves with `finishReason: 'abort'`.
 */
export class GenerationStream {
  /** `start(signal, push)` begins the generation; `outer` is the caller's AbortSignal, if any. */
  constructor(start, outer) {
    this.controller = new AbortController();
    if (outer?.aborted) this.controller.abort();
    else outer?.addEventListener('abort', () => this.controller.abort(), { once: true });
    const queue = new ChunkQueue();
    this.queue = queue;
    this.result = start(this.controller.signal, (chunk) => queue.push(chunk));
    this.result.then(() => queue.end(), (error) => queue.end(error));
  }
  abort() {
    this.controller.abort();
  }
  [Symbol.asyncIterator]() {
    return { next: () => this.queue.next(), return: async () => ({ value: undefined, done: true }) };
  }
  /** All of the text, once generation has ended. */
  async text() {
    return (await this.result).text;
  }
}

/** Generation options from the OpenAI names (snake_case) a chat.completions caller uses. */
function fromOpenAI(request) {
  const options = {};
  const map = {
    max_tokens: 'maxTokens', max_completion_tokens: 'maxTokens', temperature: 'temperature', top_p: 'topP',
    top_k: 'topK', min_p: 'minP', seed: 'seed', stop: 'stop', frequency_penalty: 'frequencyPenalty',
    presence_penalty: 'presencePenalty', repetition_penalty: 'repetitionPenalty', logit_bias: 'logitBias',
  };
  for (const [from, to] of Object.entries(map)) {
    if (request[from] !== undefined && request[from] !== null) options[to] = request[from];
  }
  return options;
}

/** A text model loaded in the worker. */
export class TextModel {
  constructor(client, modelId, info, name) {
    this.client = client;
    this.modelId = modelId;
    /** Architecture, sizes, context length, precision, GPU bytes, load time. */
    this.info = info;
    this.name = name;
    const model = this;
    this.chat = {
      completions: {
        /** OpenAI-shaped chat: `stream: true` gives an async iterable of `chat.completion.chunk`s. */
        create(request) {
          return model.#chatCompletion(request);
        },
      },
    };
  }

  /** Continues `prompt` (no chat template) from an empty context. */
  generate(prompt, options = {}) {
    return this.#stream('generate', { prompt }, options);
  }

  /** The assistant's reply to `messages` ([{ role, content }]) with the model's chat template. */
  chatStream(messages, options = {}) {
    return this.#stream('chat', { messages }, options);
  }

  /** Starts worker operation `op` on this model, its chunks streamed into a GenerationStream. */
  #stream(op, args, { signal, ...options }) {
    return new GenerationStream((inner, onChunk) =>
      this.client.call(op, { modelId: this.modelId, ...args, options }, {
        signal: inner,
        onEvent: (type, value) => type === 'chunk' && onChunk(value),
      }), signal);
  }

  /** Token ids of `text`, as `generate` would see it. */
  tokenize(text) {
    return this.client.call('tokenize', { modelId: this.modelId, text });
  }

  /** Multiply-adds a prompt of `tokens` tokens takes (for setting prefill speed against a peak). */
  promptMultiplyAdds(tokens) {
    return this.client.call('promptMultiplyAdds', { modelId: this.modelId, tokens });
  }

  /** Frees the model's GPU memory. */
  unload() {
    return this.client.call('unload', { modelId: this.modelId });
  }

  async #chatCompletion(request) {
    const { messages, stream = false, signal } = request;
    const id = `chatcmpl-${Math.random().toString(36).slice(2)}`;
    const created = Math.floor(Date.now() / 1000);
    const generation = this.chatStream(messages, { ...fromOpenAI(request), signal });
    const usage = (r) => ({ prompt_tokens: r.promptTokens, completion_tokens: r.generatedTokens, total_tokens: r.promptTokens + r.generatedTokens });
    const base = { id, created, model: this.name };
    if (!stream) {
      const result = await generation.result;
      return {
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: result.text }, finish_reason: result.finishReason, logprobs: null }],
        usage: usage(result),
      };
    }
    const chunk = (delta, finish_reason = null, extra = {}) => ({
      ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason, logprobs: null }], ...extra,
    });
    return (async function* () {
      yield chunk({ role: 'assistant', content: '' });
      for await (const piece of generation) if (piece.text) yield chunk({ content: piece.text });
      const result = await generation.result;
      yield chunk({}, result.finishReason, { usage: usage(result) });
    })();
  }
}

/** The engine: one WebGPU device, in its own worker. */
export class Lantern {
  constructor(client, init) {
    this.client = client;
    /** wgpu's report of the adapter: backend, features, limits. */
    this.adapter = init.adapter;
    /** The adapter as the browser names it (vendor, architecture). */
    this.browserAdapter = init.browserAdapter;
  }

  /**
   * Starts the worker and opens the GPU. Rejects with a clear Error when the browser has no
   * WebGPU. `options.wasmUrl` overrides where `lantern_web_bg.wasm` is loaded from;
   * `options.worker` passes a Worker you created from this package's `worker.js` (for bundlers
   * that need it spelled out).
   */
  static async create(options = {}) {
    if (typeof navigator !== 'undefined' && !('gpu' in navigator)) throw new Error(NO_WEBGPU);
    const worker = options.worker ?? new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'lantern' });
    const client = new WorkerClient(worker);
    try {
      const wasmUrl = options.wasmUrl ? String(options.wasmUrl) : undefined;
      return new Lantern(client, await client.call('init', { wasmUrl }));
    } catch (error) {
      worker.terminate();
      throw error;
    }
  }

  /** Runs every GPU kernel against its CPU reference on this device. */
  selfCheck() {
    return this.client.call('selfCheck');
  }

  /**
   * Measures this device's rooflines for a benchmark report: streaming bandwidth, the fastest
   * 1024² matrix product among Lantern's kernels, and what one more kernel dispatch costs
   * (measured on `dispatches` of them, default 256). Takes seconds; run it between generations.
   */
  measureRooflines(dispatches = 256) {
    return this.client.call('measureRooflines', { dispatches });
  }

  /**
   * Loads a GGUF text model from a URL (kept in the browser's Cache API: a second load does not
   * download), a Blob/File, or an ArrayBuffer/Uint8Array. The file streams into GPU memory
   * chunk by chunk. Options: onProgress({ receivedBytes, uploadedBytes, totalBytes, fromCache }
   * or { note }), sha256, cache (default true), maxContext, precision ('f32' | 'f16'), signal.
   */
  async loadText(source, options = {}) {
    const { onProgress, signal, ...rest } = options;
    let message;
    let transfer = [];
    if (typeof source === 'string' || source instanceof URL) {
      message = { url: new URL(String(source), globalThis.location?.href).href };
    } else if (typeof Blob !== 'undefined' && source instanceof Blob) {
      message = { blob: source };
    } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
      const view = source instanceof ArrayBuffer ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
      const copy = view.slice();
      message = { bytes: copy.buffer };
      transfer = [copy.buffer];
    } else {
      throw new TypeError('loadText takes a URL, a Blob or File, or an ArrayBuffer/Uint8Array');
    }
    const { modelId, info } = await this.client.call('load', { source: message, options: rest }, {
      signal,
      transfer,
      onEvent: (type, value) => type === 'progress' && onProgress?.(value),
    });
    const name = info.name ?? (message.url ? message.url.split('/').pop() : source.name ?? 'model');
    return new TextModel(this.client, modelId, info, name);
  }

  /** GPU memory the engine has allocated, in bytes. */
  memory() {
    return this.client.call('memory');
  }

  /** Destroys the GPU device (every model on it stops; the next load opens a new one). */
  destroyDevice() {
    return this.client.call('destroyDevice');
  }

  /** Stops the worker and frees everything it held. */
  terminate() {
    this.client.fail(new Error('this Lantern engine was terminated'));
    this.client.worker.terminate();
  }
}

/** Deletes every model file Lantern stored in this origin's Cache API. */
export async function clearModelCache() {
  return typeof caches !== 'undefined' && caches.delete('lantern-models-v1');
}
