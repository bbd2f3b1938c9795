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

export interface SelfCheckReport {
  passed: boolean;
  checks: KernelCheck[];
}

export interface Engine {
  adapterInfo(): AdapterInfo;
  /** Runs every GPU kernel against its CPU reference on this device. */
  selfCheck(): Promise<SelfCheckReport>;
  free(): void;
}

export interface CreateEngineOptions {
  /** Where to load `lantern_web_bg.wasm` from (defaults to next to the module). */
  wasmUrl?: string | URL;
}

/** Loads the WebAssembly module (once) and opens the GPU. Rejects with a clear Error without WebGPU. */
export function createEngine(options?: CreateEngineOptions): Promise<Engine>;
