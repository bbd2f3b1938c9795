export interface AdapterInfo {
  name: string;
  backend: string;
  device_type: string;
  driver: string;
  driver_info: string;
  features: { shader_f16: boolean; subgroups: boolean; timestamp_query: boolean };
  limits: {
    max_buffer_size: number;
    max_storage_buffer_binding_size: number;
    max_storage_buffers_per_shader_stage: number;
    max_compute_workgroup_storage_size: number;
    max_compute_invocations_per_workgroup: number;
    max_compute_workgroup_size_x: number;
    max_compute_workgroups_per_dimension: number;
    min_subgroup_size: number;
    max_subgroup_size: number;
  };
}

export interface KernelCheck {
  kernel: string;
  shape: string;
  max_abs_error: number;
  /** Largest error as a fraction of the stated tolerance; at most 1 passes. */
  worst_ratio: number;
  worst_index: number;
  passed: boolean;
}

/** What `Lantern.measureRooflines` measured on this device. */
export interface Rooflines {
  /** Streaming bandwidth: the best of three probes over a buffer of `probeBufferBytes`. */
  bandwidthGbPerSecond: number;
  probeBufferBytes: number;
  probePattern: 'Interleaved' | 'Chunked';
  /** The fastest 1024² matrix product among Lantern's kernels (multiply-adds count twice). */
  matmulPeakGflops: number;
  matmulPeakKernel: string;
  /** What one more kernel dispatch costs a submission. */
  dispatchMicroseconds: number;
}

export interface SelfCheckReport {
  passed: boolean;
  checks: KernelCheck[];
}

export interface LoadProgress {
  /** Bytes of the file received so far. */
  receivedBytes?: number;
  /** Bytes already routed into GPU buffers (or skipped: header, unused tensors). */
  uploadedBytes?: number;
  /** The file's size, when the server or the Blob says it. */
  totalBytes?: number | null;
  /** The bytes come from the browser's cache rather than the network. */
  fromCache?: boolean;
  /** Something the caller should know that did not stop the load (e.g. the cache was full). */
  note?: string;
}

export interface LoadOptions {
  onProgress?: (progress: LoadProgress) => void;
  /** Lowercase hex SHA-256 the file must have; checked as it streams. */
  sha256?: string;
  /** Keep a downloaded file in the Cache API and use it next time. Default true. */
  cache?: boolean;
  /** Positions the KV cache holds (capped at the model's context length). Default 4096. */
  maxContext?: number;
  /** What the weight products compute in. 'f16' needs the adapter's shader-f16. Default 'f32'. */
  precision?: 'f32' | 'f16';
  signal?: AbortSignal;
}

export interface ModelInfo {
  architecture: string;
  name: string | null;
  vocabSize: number;
  layers: number;
  hiddenSize: number;
  /** Positions the KV cache holds: the longest prompt plus reply. */
  contextLength: number;
  trainedContextLength: number;
  precision: 'f32' | 'f16';
  weightBytes: number;
  kvCacheBytes: number;
  /** Weight bytes each decoded token reads. */
  decodeBytesPerToken: number;
  /** Kernel dispatches each decode step records. */
  decodeDispatches: number;
  fileBytes: number;
  loadMs: number;
  canChat: boolean;
}

export interface GenerateOptions {
  /** Default 256. */
  maxTokens?: number;
  /** 0 is greedy. Default 0.8. */
  temperature?: number;
  /** 0 keeps all. Default 40. */
  topK?: number;
  /** Default 0.95. */
  topP?: number;
  /** Default 0.05. */
  minP?: number;
  /** Over the last `penaltyLastN` tokens; 1 is off (default). */
  repetitionPenalty?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  /** Default 64. */
  penaltyLastN?: number;
  /** Token id → bias added to its logit (-Infinity bans it). */
  logitBias?: Record<string, number>;
  /** Seeds the sampler; the same seed gives the same text. Default 0. */
  seed?: number;
  /** Generation ends when the text contains one of these; it is not part of the output. */
  stop?: string | string[];
  /** Keep going past end-of-generation tokens. */
  ignoreEos?: boolean;
  signal?: AbortSignal;
}

export interface Chunk {
  /** Text that became final with this token (empty while a character is incomplete). */
  text: string;
  /** The token id; null for text released at the end. */
  token: number | null;
}

export interface GenerationResult {
  text: string;
  tokens: number[];
  /** 'stop' (end of turn or a stop string), 'length' (maxTokens), 'abort', 'context_full'. */
  finishReason: 'stop' | 'length' | 'abort' | 'context_full';
  stopString: string | null;
  /** Tokens of the prompt (for a chat, the whole rendered conversation). */
  promptTokens: number;
  /** Of those, the ones a chat found in the KV cache from earlier turns (not recomputed). */
  cachedPromptTokens: number;
  generatedTokens: number;
  /** Time to first token: the prompt's forward pass. */
  prefillMs: number;
  decodeMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

/** Iterate for chunks as they are generated; `result` is the finished generation. */
export declare class GenerationStream implements AsyncIterable<Chunk> {
  readonly result: Promise<GenerationResult>;
  /** Stops between tokens; `result` then resolves with finishReason 'abort'. */
  abort(): void;
  text(): Promise<string>;
  [Symbol.asyncIterator](): AsyncIterator<Chunk>;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatCompletionRequest {
  messages: ChatMessage[];
  stream?: boolean;
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  seed?: number;
  stop?: string | string[];
  frequency_penalty?: number;
  presence_penalty?: number;
  repetition_penalty?: number;
  logit_bias?: Record<string, number>;
  signal?: AbortSignal;
}

export interface ChatCompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: { index: 0; delta: { role?: 'assistant'; content?: string }; finish_reason: GenerationResult['finishReason'] | null; logprobs: null }[];
  /** On the last chunk. */
  usage?: ChatCompletionUsage;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: { index: 0; message: { role: 'assistant'; content: string }; finish_reason: GenerationResult['finishReason']; logprobs: null }[];
  usage: ChatCompletionUsage;
}

export declare class TextModel {
  readonly info: ModelInfo;
  readonly name: string;
  /** Continues `prompt` (no chat template) from an empty context. */
  generate(prompt: string, options?: GenerateOptions): GenerationStream;
  /** The assistant's reply to the conversation, with the model's chat template. Turns already in the KV cache are not recomputed. */
  chatStream(messages: ChatMessage[], options?: GenerateOptions): GenerationStream;
  readonly chat: {
    completions: {
      create(request: ChatCompletionRequest & { stream: true }): Promise<AsyncIterable<ChatCompletionChunk>>;
      create(request: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
    };
  };
  tokenize(text: string): Promise<number[]>;
  /** Multiply-adds a prompt of `tokens` tokens takes (for setting prefill speed against a peak). */
  promptMultiplyAdds(tokens: number): Promise<number>;
  /** Frees the model's GPU memory. */
  unload(): Promise<void>;
}

export interface CreateOptions {
  /** Where to load `lantern_web_bg.wasm` from (defaults to next to the module). */
  wasmUrl?: string | URL;
  /** A Worker started from this package's `worker.js`, for bundlers that need it spelled out. */
  worker?: Worker;
}

export declare class Lantern {
  /** Starts the worker and opens the GPU; rejects with a clear Error without WebGPU. */
  static create(options?: CreateOptions): Promise<Lantern>;
  readonly adapter: AdapterInfo;
  /** The adapter as the browser names it (vendor, architecture). */
  readonly browserAdapter: string;
  /** Runs every GPU kernel against its CPU reference on this device. */
  selfCheck(): Promise<SelfCheckReport>;
  /** Measures streaming bandwidth, the matrix-product peak and the cost of a dispatch (seconds). */
  measureRooflines(dispatches?: number): Promise<Rooflines>;
  /** Loads a GGUF text model from a URL (cached by the browser), a Blob/File or bytes. */
  loadText(source: string | URL | Blob | ArrayBuffer | Uint8Array, options?: LoadOptions): Promise<TextModel>;
  memory(): Promise<{ gpuBytesCreated: number }>;
  /** Destroys the GPU device: every model on it stops, the next load opens a new device. */
  destroyDevice(): Promise<void>;
  /** Stops the worker and frees everything it held. */
  terminate(): void;
}

/** Deletes every model file Lantern stored in this origin's Cache API. */
export function clearModelCache(): Promise<boolean>;
