//! Compiling a pass's pipelines ahead of recording it, on every core: natively, creating a
//! pipeline runs the driver's compiler on the calling thread (lavapipe: about a second per
//! unrolled product variant in its NIR passes), and a model's first prefill and decode step
//! would otherwise create their dozen or more pipelines one after another. In a browser the
//! pipelines are still created as they are first recorded: wasm has one thread here, and wgpu
//! does not offer WebGPU's `createComputePipelineAsync`.

#[cfg(not(target_arch = "wasm32"))]
use crate::batch::ErrorScopes;
use crate::device::Gpu;
#[cfg(not(target_arch = "wasm32"))]
use crate::kernel::KernelCache;
use crate::kernel::{KernelSource, Specialization};

impl Gpu {
    /// Whether [`Gpu::compile_kernels`] compiles anything: natively, not in wasm (so callers
    /// need not list a pass's kernels there).
    pub const COMPILES_AHEAD: bool = cfg!(not(target_arch = "wasm32"));

    /// Compiles `kernels` (from [`crate::Batch::into_listed_kernels`]) on as many threads as
    /// the machine has cores, natively; does nothing in wasm. A kernel that fails to compile is
    /// left out of the cache, so that recording it later reports the error in its batch, as
    /// without this.
    pub fn compile_kernels(&self, kernels: &[(KernelSource, Specialization)]) {
        #[cfg(not(target_arch = "wasm32"))]
        {
            let threads = std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(kernels.len());
            let next = std::sync::atomic::AtomicUsize::new(0);
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    scope.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some((kernel, spec)) = kernels.get(i) else {
                                break;
                            };
                            self.compile_one(kernel, spec);
                        }
                    });
                }
            });
        }
        #[cfg(target_arch = "wasm32")]
        let _ = kernels;
    }

    /// Compiles one kernel inside error scopes of this thread's own (WebGPU's scopes are per
    /// thread) and caches it if it compiled.
    #[cfg(not(target_arch = "wasm32"))]
    fn compile_one(&self, kernel: &KernelSource, spec: &Specialization) {
        let scopes = ErrorScopes::push(&self.device);
        let pipeline = KernelCache::compile(&self.device, kernel, spec);
        let mut failed = false;
        for error in scopes.pop() {
            failed |= pollster::block_on(error).is_some();
        }
        if let (Ok(pipeline), false) = (pipeline, failed) {
            self.kernels.insert(kernel, spec, pipeline);
        }
    }

    /// How many pipelines the device has compiled (tests check that a pass compiled ahead
    /// compiles nothing more).
    pub fn compiled_kernels(&self) -> usize {
        self.kernels.len()
    }
}
