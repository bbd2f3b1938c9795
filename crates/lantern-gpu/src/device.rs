//! Adapter and device acquisition, the same code natively (wgpu on Vulkan/Metal/DX12) and in the
//! browser (WebGPU). Optional features are requested only when the adapter has them, and the
//! adapter's own limits are requested in full, so large models get the largest bindings it offers.

use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use crate::bind_groups::{BindGroupCache, BindGroupStats};
use crate::error::{GpuError, Result};
use crate::kernel::KernelCache;
use crate::pool::BufferPool;
use crate::quant::WeightStorage;

/// Which adapter to prefer; the defaults suit inference.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Prefer a low-power adapter (integrated GPU) over a discrete one.
    pub low_power: bool,
    /// Never request `shader-f16` even when the adapter has it (to test the f32 paths).
    pub disable_f16: bool,
    /// Shape workgroups for a GPU even on a CPU adapter (tests use it to run the GPU shapes on
    /// lavapipe and SwiftShader).
    pub gpu_workgroups: bool,
    /// Load one word at a time even where 16-byte loads are aligned, as on SwiftShader (tests use
    /// it to run that path on adapters that would load quads; see [`Gpu::wide_loads`]).
    pub word_loads: bool,
    /// Where weight matrices live: `Some(true)` in textures, `Some(false)` in storage buffers,
    /// `None` where the adapter reads them fastest (tests use it to run both paths on one adapter;
    /// see [`Gpu::weights_in_textures`]).
    pub weight_textures: Option<bool>,
    /// Whether kernels that reduce a row in one workgroup give it a single invocation:
    /// `Some(true)` or `Some(false)`, or `None` for the adapter's choice (tests use it to run the
    /// single-invocation path natively; see [`Gpu::lone_row_reductions`]).
    pub lone_row_reductions: Option<bool>,
}

/// What the adapter is and what it allows: shown by the page, the CLI and benchmark reports.
#[derive(Clone, Debug, Serialize)]
pub struct AdapterReport {
    pub name: String,
    /// "Vulkan", "Metal", "Dx12" or "BrowserWebGpu".
    pub backend: String,
    /// "DiscreteGpu", "IntegratedGpu", "Cpu" (software adapters such as lavapipe), …
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub features: FeatureReport,
    pub limits: LimitReport,
}

/// The optional features Lantern's kernels can use.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct FeatureReport {
    pub shader_f16: bool,
    pub subgroups: bool,
    pub timestamp_query: bool,
}

/// The limits that decide how tensors are split and kernels are launched.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct LimitReport {
    pub max_buffer_size: u64,
    pub max_storage_buffer_binding_size: u64,
    pub max_storage_buffers_per_shader_stage: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_size_x: u32,
    pub max_compute_workgroups_per_dimension: u32,
    pub min_subgroup_size: u32,
    pub max_subgroup_size: u32,
}

impl std::fmt::Display for AdapterReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let (ft, l) = (&self.features, &self.limits);
        writeln!(
            f,
            "adapter      {} ({}, {})",
            self.name, self.backend, self.device_type
        )?;
        writeln!(f, "driver       {} {}", self.driver, self.driver_info)?;
        writeln!(
            f,
            "features     shader-f16: {}, subgroups: {}, timestamp-query: {}",
            yes_no(ft.shader_f16),
            yes_no(ft.subgroups),
            yes_no(ft.timestamp_query)
        )?;
        writeln!(
            f,
            "buffers      max buffer {:.0} MiB, max storage binding {:.0} MiB, {} storage buffers per stage",
            mib(l.max_buffer_size),
            mib(l.max_storage_buffer_binding_size),
            l.max_storage_buffers_per_shader_stage
        )?;
        write!(
            f,
            "workgroups   {} invocations, {} KiB shared memory, {} per dimension, subgroup size {}..{}",
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroup_storage_size / 1024,
            l.max_compute_workgroups_per_dimension,
            l.min_subgroup_size,
            l.max_subgroup_size
        )
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A device ready for Lantern's kernels, with its buffer pool and pipeline cache.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub(crate) report: AdapterReport,
    pub(crate) limits: wgpu::Limits,
    pub(crate) pool: BufferPool,
    pub(crate) kernels: KernelCache,
    pub(crate) bind_groups: BindGroupCache,
    lost: Arc<Mutex<Option<String>>>,
    cpu_workgroups: bool,
    wide_loads: bool,
    unroll_long_loops: bool,
    uniform_shared_vectors: bool,
    weights_in_textures: bool,
    lone_row_reductions: bool,
    /// Set while kernel times are collected (see [`Gpu::start_profiling`]).
    profiler: Mutex<Option<crate::profile::Profiler>>,
}

const NO_ADAPTER_HINT: &str = if cfg!(target_arch = "wasm32") {
    "Use a browser with WebGPU enabled (Chrome or Edge 113+, Safari 26+, Firefox 141+); \
     headless Chromium needs --enable-unsafe-webgpu."
} else {
    "Install a Vulkan driver (on Debian: apt-get install mesa-vulkan-drivers libvulkan1 gives the \
     lavapipe software adapter), or Metal on macOS / DX12 on Windows."
};

impl Gpu {
    /// Finds an adapter and opens a device on it.
    pub async fn new(options: GpuOptions) -> Result<Gpu> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let power_preference = if options.low_power {
            wgpu::PowerPreference::LowPower
        } else {
            wgpu::PowerPreference::HighPerformance
        };
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference,
                force_fallback_adapter: false,
                compatible_surface: None,
                apply_limit_buckets: false,
            })
            .await
            .map_err(|e| GpuError::NoAdapter {
                reason: e.to_string(),
                hint: NO_ADAPTER_HINT,
            })?;

        let offered = adapter.features();
        let mut wanted = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP;
        if !options.disable_f16 {
            wanted |= wgpu::Features::SHADER_F16;
        }
        let required_features = offered & wanted;
        let required_limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("lantern"),
                required_features,
                required_limits: required_limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| GpuError::DeviceRequest(e.to_string()))?;

        let lost = Arc::new(Mutex::new(None));
        let lost_flag = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            *lost_flag.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(format!("{reason:?}: {message}"));
        });
        // Errors outside an error scope must not abort the process (wgpu's default handler panics).
        // Every code path that can fail validation runs in a scope; this catches the rest.
        device.on_uncaptured_error(Arc::new(|error| {
            eprintln!("lantern-gpu: uncaptured WebGPU error: {error}");
        }));

        let info = adapter.get_info();
        let features = device.features();
        let report = AdapterReport {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver.clone(),
            driver_info: info.driver_info.clone(),
            features: FeatureReport {
                shader_f16: features.contains(wgpu::Features::SHADER_F16),
                subgroups: features.contains(wgpu::Features::SUBGROUP),
                timestamp_query: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            },
            limits: LimitReport {
                max_buffer_size: required_limits.max_buffer_size,
                max_storage_buffer_binding_size: required_limits.max_storage_buffer_binding_size,
                max_storage_buffers_per_shader_stage: required_limits
                    .max_storage_buffers_per_shader_stage,
                max_compute_workgroup_storage_size: required_limits
                    .max_compute_workgroup_storage_size,
                max_compute_invocations_per_workgroup: required_limits
                    .max_compute_invocations_per_workgroup,
                max_compute_workgroup_size_x: required_limits.max_compute_workgroup_size_x,
                max_compute_workgroups_per_dimension: required_limits
                    .max_compute_workgroups_per_dimension,
                min_subgroup_size: info.subgroup_min_size,
                max_subgroup_size: info.subgroup_max_size,
            },
        };
        let cpu_workgroups = info.device_type == wgpu::DeviceType::Cpu && !options.gpu_workgroups;
        // A browser does not name its adapter to wgpu; its CPU adapter is Chromium's SwiftShader.
        let swiftshader = info.name.to_ascii_lowercase().contains("swiftshader")
            || (info.backend == wgpu::Backend::BrowserWebGpu
                && info.device_type == wgpu::DeviceType::Cpu);
        let wide_loads = !swiftshader && !options.word_loads;
        let unroll_long_loops = cpu_workgroups && !swiftshader;
        let uniform_shared_vectors = cpu_workgroups && !swiftshader;
        let weights_in_textures = options
            .weight_textures
            .unwrap_or(info.device_type == wgpu::DeviceType::Cpu && !swiftshader);
        let lone_row_reductions = options
            .lone_row_reductions
            .unwrap_or(cpu_workgroups && swiftshader);
        let pool = BufferPool::new(device.clone(), &required_limits);
        Ok(Gpu {
            device,
            queue,
            report,
            limits: required_limits,
            pool,
            kernels: KernelCache::default(),
            bind_groups: BindGroupCache::default(),
            lost,
            cpu_workgroups,
            wide_loads,
            unroll_long_loops,
            uniform_shared_vectors,
            weights_in_textures,
            lone_row_reductions,
            profiler: Mutex::new(None),
        })
    }

    pub fn report(&self) -> &AdapterReport {
        &self.report
    }

    /// Refuses f16 arithmetic for `what` on a device without `shader-f16` (its shaders would not
    /// compile), with an error naming the feature.
    pub fn check_precision(&self, what: &str, precision: crate::Precision) -> Result<()> {
        if precision == crate::Precision::F16 && !self.report.features.shader_f16 {
            return Err(GpuError::MissingFeature {
                what: what.into(),
                feature: "shader-f16",
            });
        }
        Ok(())
    }

    /// Whether kernels shape their workgroups for a CPU adapter (lavapipe natively, SwiftShader
    /// in Chromium). There a workgroup runs as a loop over SIMD-wide slices of its invocations,
    /// switching between them at every barrier, so a barrier costs in proportion to the
    /// workgroup's size, and one invocation per matrix row beats lanes that reduce together.
    /// Measured in SwiftShader: argmax over 49,152 logits took 86 ms with 256 invocations, 25 ms
    /// with 128 and 7 ms with 64.
    pub fn cpu_workgroups(&self) -> bool {
        self.cpu_workgroups
    }

    /// Whether kernels should read 16 bytes per load where their data is aligned for it
    /// (`quant_matvec`'s quants; see `quant::` on the planar rows that align them). Everywhere but
    /// SwiftShader: a GPU then issues one 128-bit load per invocation instead of four (not yet
    /// measured on one), and lavapipe, which compiles each load into a loop over its SIMD lanes,
    /// runs the products 1.1–1.3× faster; but SwiftShader ran them 1.1–1.5× slower (in Chromium,
    /// alternating builds), so it keeps loading words.
    pub fn wide_loads(&self) -> bool {
        self.wide_loads
    }

    /// Whether kernels unroll loops whose copies make a long shader (attention's loops over 16
    /// query rows and their output dimensions; see `src/unroll.rs`). Only on lavapipe: its
    /// compiler does not unroll them itself, keeps arrays indexed by a loop variable in memory,
    /// and compiles the long shader in well under a second; unrolled, its prefill attention
    /// (Gemma 3, 128-token prompt, `lantern profile`, alternating builds) took 0.49–0.61 s
    /// against 0.61–0.84 s. SwiftShader took minutes to compile attention unrolled over 8–12
    /// rows, or Chromium lost the device, and a GPU's compiler unrolls such loops on its own.
    /// Short loops (a matrix product's 8 rows) are unrolled on every adapter.
    pub fn unroll_long_loops(&self) -> bool {
        self.unroll_long_loops
    }

    /// Whether a kernel whose invocations all read the same vector, at indices that vary at run
    /// time, binds it as a uniform block rather than a storage buffer (decode's x in
    /// `quant_matvec`). Only on lavapipe: it compiles a storage load into a loop over its SIMD
    /// lanes with a branch and a bounds check per lane and component (see `wide_loads`), a uniform
    /// load into a gather without branches. Measured on a 2-vCPU machine
    /// (`examples/matvec_speed.rs`, alternating builds), decode's products ran 1.45–1.6× faster
    /// for Q4_1, Q4_K and Q5_0, 1.2–1.3× for Q8_0 and Q6_K; SwiftShader's moved within the noise
    /// (both its loads are a branch per lane), and a GPU's decode shape has its lanes read
    /// different parts of x, which a uniform block would serialize.
    pub fn uniform_shared_vectors(&self) -> bool {
        self.uniform_shared_vectors
    }

    /// Whether weight matrices are kept in read-only `rgba32uint` storage textures rather than
    /// storage buffers ([`crate::quant::WeightStorage`]): on lavapipe only. lavapipe compiles a
    /// storage-buffer load whose address differs between its SIMD lanes into a loop over the lanes
    /// with a branch and a bounds check per lane and component, and a texel load into a gather:
    /// streaming a texture measured 1.1× to 7× faster than a buffer on three 2-vCPU machines
    /// (`examples/texture_stream.rs` and its earlier versions), and SmolLM2 decoded 1.1–1.7× faster
    /// with its weights in textures (README, Performance). Storage textures rather than sampled
    /// ones (`texture_2d`): lavapipe's sampled-texture load is a call that works out each lane's
    /// mip level, row stride and level offset (ten 4-byte loads per lane beside the texel's),
    /// where a storage-texture load has one level; on a 2-vCPU Zen 5 machine
    /// (`examples/matvec_speed.rs`, alternating builds) the products ran 1.2–1.6× faster for
    /// Q4_1, Q8_0 and Q5_0 and 1.1–1.3× for Q4_K, and Q6_K's, which reads single words, 1.2×
    /// faster than from a buffer, where from a sampled texture it was 1.4× slower.
    /// SwiftShader loads texels hardly faster than words (1.8–1.9 against 1.3–1.5 GB/s), and a GPU
    /// reads buffers at full speed. [`GpuOptions::weight_textures`] overrides the choice.
    pub fn weights_in_textures(&self) -> bool {
        self.weights_in_textures
    }

    /// Whether the kernels that reduce each row in one workgroup through `workgroup_sum` (RMSNorm,
    /// the add fused with it, QK-norm in `attention_inputs`) give each workgroup one invocation,
    /// which walks the row alone, with a sum that has no barrier (`ops::launch::row_reduction`).
    /// On SwiftShader only: it runs a shader with a barrier as coroutines, and its decode step
    /// spent 15–17 ms in SmolLM2's 30 `attention_inputs` dispatches, 4.6–5.1 ms with one
    /// invocation (`lantern profile`, native SwiftShader, two alternating pairs of runs); its
    /// prefill norms and attention inputs took about half as long. On lavapipe the same change
    /// made prefill's take 1.3–1.9× longer (one of its 8 SIMD lanes busy) and left decode's
    /// within the noise.
    pub fn lone_row_reductions(&self) -> bool {
        self.lone_row_reductions
    }

    /// Where weight matrices live: in textures where the adapter prefers them
    /// ([`Self::weights_in_textures`]), in storage buffers otherwise. Every format decodes from
    /// either.
    pub fn weight_storage(&self) -> WeightStorage {
        if self.weights_in_textures {
            WeightStorage::Texture
        } else {
            WeightStorage::Buffer
        }
    }

    /// The most invocations a workgroup that reduces through workgroup memory should have:
    /// `gpu_choice` on a GPU, at most 64 on a CPU adapter (see [`cpu_workgroups`](Self::cpu_workgroups)).
    pub fn reduction_workgroup_limit(&self, gpu_choice: u32) -> u32 {
        if self.cpu_workgroups {
            gpu_choice.min(64)
        } else {
            gpu_choice
        }
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    pub fn pool(&self) -> &BufferPool {
        &self.pool
    }

    /// Returns every idle buffer to the device (after unloading a model): the cached bind groups
    /// go first, since they hold buffers alive.
    pub fn trim(&self) {
        self.forget_bind_groups();
        self.pool.trim();
    }

    /// Drops the cached bind groups (see [`BindGroupStats`]). Whoever frees long-lived buffers
    /// (a model's weights, its KV cache) calls it, or the cache would keep them in memory.
    pub fn forget_bind_groups(&self) {
        self.bind_groups.clear();
    }

    /// How many bind groups were created and reused so far.
    pub fn bind_group_stats(&self) -> BindGroupStats {
        self.bind_groups.stats()
    }

    pub(crate) fn profiler(&self) -> MutexGuard<'_, Option<crate::profile::Profiler>> {
        self.profiler.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fails with [`GpuError::DeviceLost`] once the device is gone; checked before each submission.
    pub fn check_alive(&self) -> Result<()> {
        match &*self.lost.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(reason) => Err(GpuError::DeviceLost(reason.clone())),
            None => Ok(()),
        }
    }
}
