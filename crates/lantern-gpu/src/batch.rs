//! A command batch: records many dispatches into one command encoder and submits them at once —
//! a whole forward pass is one submission. Reading a result back can ride on the same submission.
//!
//! Validation errors (a kernel that fails to compile, a bad binding) are captured per recorded
//! operation in WebGPU error scopes and returned from `submit`, instead of aborting the process.
//!
//! Per-dispatch costs are kept out of the hot path: consecutive dispatches share one compute pass
//! (ended only by a copy or the submission), and their parameter blocks are slots of one uniform
//! buffer per [`PARAMS_ARENA_BYTES`], written once at submission instead of once per dispatch.

use std::future::Future;
use std::pin::Pin;

use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::kernel::{KernelSource, Specialization};
use crate::pool::{Binding, PooledBuffer, READBACK, UNIFORM};
use crate::profile::BatchTimestamps;
use crate::readback::read_staging;
use crate::tensor::Tensor;

type ErrorFuture = Pin<Box<dyn Future<Output = Option<wgpu::Error>>>>;

/// Size of one uniform buffer that parameter blocks are packed into (256-byte slots, WebGPU's
/// largest `minUniformBufferOffsetAlignment`, so 256 dispatches per buffer).
pub const PARAMS_ARENA_BYTES: u64 = 64 << 10;

/// Parameter blocks of the batch's dispatches: each gets its own slot (they are written with
/// `queue.write_buffer`, which lands before the whole submission, so no slot may be reused
/// within a batch), collected on the CPU and written with one call per buffer.
struct ParamsArena {
    buffers: Vec<(PooledBuffer, Vec<u8>)>,
    slot: u64,
}

impl ParamsArena {
    /// A slot for `params` (padded to 16 bytes): the buffer and offset to bind.
    fn place(&mut self, gpu: &Gpu, params: &[u8]) -> Result<(usize, u64, u64)> {
        let size = (params.len() as u64).next_multiple_of(16);
        let offset = self
            .buffers
            .last()
            .map(|(_, bytes)| (bytes.len() as u64).next_multiple_of(self.slot))
            .filter(|&offset| offset + size <= PARAMS_ARENA_BYTES);
        let offset = match offset {
            Some(offset) => offset,
            None => {
                let buffer =
                    gpu.pool
                        .acquire("kernel parameters", PARAMS_ARENA_BYTES.max(size), UNIFORM)?;
                self.buffers.push((buffer, Vec::new()));
                0
            }
        };
        let bytes = &mut self.buffers.last_mut().expect("pushed above").1;
        bytes.resize(offset as usize, 0);
        bytes.extend_from_slice(params);
        bytes.resize((offset + size) as usize, 0);
        Ok((self.buffers.len() - 1, offset, size))
    }

    /// Writes every slot (before the submission that reads them) and returns the buffers, to be
    /// kept until then.
    fn write(self, gpu: &Gpu) -> Vec<PooledBuffer> {
        self.buffers
            .into_iter()
            .map(|(buffer, bytes)| {
                gpu.queue.write_buffer(buffer.buffer(), 0, &bytes);
                buffer
            })
            .collect()
    }
}

pub struct Batch<'g> {
    gpu: &'g Gpu,
    label: &'static str,
    encoder: wgpu::CommandEncoder,
    /// The open compute pass that dispatches are recorded into; ended by a copy or submission.
    pass: Option<wgpu::ComputePass<'static>>,
    params: ParamsArena,
    /// Launchers' scratch tensors, kept out of the pool until the submission (see [`Batch::hold`]).
    held: Vec<Tensor>,
    pending_errors: Vec<ErrorFuture>,
    dispatches: usize,
    /// While the device profiles: the timestamps of each dispatch's own pass.
    timestamps: Option<BatchTimestamps>,
    /// A listing batch ([`Gpu::kernel_listing`]): the kernels its dispatches would run that
    /// have no pipeline yet, in place of recording them.
    listing: Option<Vec<(KernelSource, Specialization)>>,
}

impl Gpu {
    /// Starts recording. Record one batch at a time per device.
    pub fn batch(&self, label: &'static str) -> Batch<'_> {
        let encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        let slot = u64::from(self.limits.min_uniform_buffer_offset_alignment).max(16);
        Batch {
            gpu: self,
            label,
            encoder,
            pass: None,
            params: ParamsArena {
                buffers: Vec::new(),
                slot,
            },
            held: Vec::new(),
            pending_errors: Vec::new(),
            listing: None,
            dispatches: 0,
            timestamps: self.profiling().then(|| BatchTimestamps::new(self)),
        }
    }

    /// A batch that records nothing: its dispatches only list the kernels they would run that
    /// have no pipeline yet ([`Batch::into_listed_kernels`]), for [`Gpu::compile_kernels`].
    /// It is dropped, never submitted.
    pub fn kernel_listing(&self, label: &'static str) -> Batch<'_> {
        Batch {
            listing: Some(Vec::new()),
            timestamps: None,
            ..self.batch(label)
        }
    }

    /// Splits `workgroups` into an (x, y) grid within `maxComputeWorkgroupsPerDimension`; kernels
    /// recover the flat index as `wg.x + wg.y * num_workgroups.x`.
    pub fn grid(&self, what: &str, workgroups: u64) -> Result<[u32; 3]> {
        let max = self.limits.max_compute_workgroups_per_dimension.max(1) as u64;
        if workgroups <= max {
            return Ok([workgroups as u32, 1, 1]);
        }
        let rows = workgroups.div_ceil(max);
        if rows > max {
            return Err(GpuError::TooManyWorkgroups {
                what: what.into(),
                requested: workgroups,
                limit: max as u32,
            });
        }
        Ok([max as u32, rows as u32, 1])
    }
}

impl<'g> Batch<'g> {
    pub fn gpu(&self) -> &'g Gpu {
        self.gpu
    }

    pub fn dispatch_count(&self) -> usize {
        self.dispatches
    }

    /// Keeps a launcher's scratch tensor (attention's partial results) until the batch is
    /// submitted. Dropped while recording goes on, it would return to the pool, and an upload
    /// later in the same batch could be handed its buffer: the upload's `queue.write_buffer` lands
    /// before the whole submission, so the dispatches recorded earlier would overwrite it.
    pub fn hold(&mut self, scratch: Tensor) {
        self.held.push(scratch);
    }

    /// Records copying `len` values from `src[src_start..]` to `dst[dst_start..]`, in order with
    /// the dispatches around it (a model takes the last token's row out of a `[T, n]` tensor so
    /// that only that row goes through the output projection).
    pub fn copy(
        &mut self,
        src: &Tensor,
        src_start: usize,
        dst: &Tensor,
        dst_start: usize,
        len: usize,
    ) -> Result<()> {
        let fits =
            |t: &Tensor, start: usize| start.checked_add(len).is_some_and(|end| end <= t.len());
        if !fits(src, src_start) || !fits(dst, dst_start) {
            return Err(GpuError::Shape(format!(
                "copy: {len} values from {src_start} of a tensor of {} to {dst_start} of one of {}",
                src.len(),
                dst.len()
            )));
        }
        if len == 0 {
            return Ok(());
        }
        // Copies are recorded outside compute passes.
        self.end_pass();
        let scopes = ErrorScopes::push(&self.gpu.device);
        self.encoder.copy_buffer_to_buffer(
            src.buffer().buffer(),
            src_start as u64 * 4,
            dst.buffer().buffer(),
            dst_start as u64 * 4,
            len as u64 * 4,
        );
        self.pending_errors.extend(scopes.pop());
        Ok(())
    }

    /// Records one dispatch of `kernel`. Its bindings are `buffers` at indices 0, 1, …, followed by
    /// `params` (when non-empty) as a uniform block at the next index.
    pub fn dispatch(
        &mut self,
        kernel: &KernelSource,
        spec: &Specialization,
        buffers: &[&dyn Binding],
        params: &[u8],
        workgroups: [u32; 3],
    ) -> Result<()> {
        let gpu = self.gpu;
        if let Some(listed) = &mut self.listing {
            let new = gpu.kernels.cached(kernel, spec).is_none()
                && !listed
                    .iter()
                    .any(|(k, s)| k.name == kernel.name && s == spec);
            if new {
                listed.push((*kernel, spec.clone()));
            }
            self.dispatches += 1;
            return Ok(());
        }
        let uniform = if params.is_empty() {
            None
        } else {
            Some(self.params.place(gpu, params)?)
        };
        let mut entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.binding(),
            })
            .collect();
        if let Some((index, offset, size)) = uniform {
            entries.push(wgpu::BindGroupEntry {
                binding: buffers.len() as u32,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: self.params.buffers[index].0.buffer(),
                    offset,
                    size: wgpu::BufferSize::new(size),
                }),
            });
        }
        // Only creating a pipeline or a bind group can fail here: what a pass records is
        // validated when the pass ends, inside the scopes of the copy or submission that ends
        // it. So the steady state (a decode step after the first, whose pipelines and bind groups
        // all exist) records without scopes of its own, which natively cost about 0.2 µs per
        // dispatch and in a browser two promises.
        let cached = gpu.kernels.cached(kernel, spec).and_then(|pipeline| {
            let group = gpu.bind_groups.get(&pipeline, &entries)?;
            Some((pipeline, group))
        });
        let (pipeline, bind_group) = match cached {
            Some(found) => found,
            None => {
                let scopes = ErrorScopes::push(&gpu.device);
                let created = gpu
                    .kernels
                    .pipeline(&gpu.device, kernel, spec)
                    .map(|pipeline| {
                        let group =
                            gpu.bind_groups
                                .create(&gpu.device, &pipeline, kernel.name, &entries);
                        (pipeline, group)
                    });
                self.pending_errors.extend(scopes.pop());
                created?
            }
        };
        let timestamp_writes = self.timestamps.as_mut().and_then(|t| t.next(kernel.name));
        let timed = timestamp_writes.is_some();
        if timed {
            // Profiling: a pass of its own, stamped at its start and end.
            drop(self.pass.take());
        }
        let (encoder, label) = (&mut self.encoder, self.label);
        let pass = self.pass.get_or_insert_with(|| {
            encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(label),
                    timestamp_writes,
                })
                .forget_lifetime()
        });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(workgroups[0], workgroups[1], workgroups[2]);
        if timed {
            drop(self.pass.take());
        }
        self.dispatches += 1;
        Ok(())
    }

    /// A listing batch's kernels without pipelines, each (kernel, specialization) once; empty
    /// for a batch that records.
    pub fn into_listed_kernels(mut self) -> Vec<(KernelSource, Specialization)> {
        self.listing.take().unwrap_or_default()
    }

    /// Submits everything recorded and waits until WebGPU has validated it.
    pub async fn submit(self) -> Result<()> {
        let (gpu, label, errors) = self.finish();
        check(gpu, label, errors).await
    }

    /// Copies `tensor` to a staging buffer at the end of the batch, submits once, and returns its
    /// values: the only data that crosses back from the GPU.
    pub async fn submit_and_read(mut self, tensor: &Tensor) -> Result<Vec<f32>> {
        let gpu = self.gpu;
        let bytes = tensor.size_bytes();
        let staging = gpu
            .pool
            .acquire("readback staging", bytes.max(4), READBACK)?;
        if bytes > 0 {
            self.end_pass();
            self.encoder.copy_buffer_to_buffer(
                tensor.buffer().buffer(),
                0,
                staging.buffer(),
                0,
                bytes,
            );
        }
        let (gpu, label, errors) = self.finish();
        check(gpu, label, errors).await?;
        let raw = read_staging(gpu, &staging).await?;
        Ok(bytemuck::pod_collect_to_vec(&raw[..bytes as usize]))
    }

    /// Ends the open compute pass, if any, catching the errors WebGPU reports when a pass ends.
    fn end_pass(&mut self) {
        if let Some(pass) = self.pass.take() {
            let scopes = ErrorScopes::push(&self.gpu.device);
            drop(pass);
            self.pending_errors.extend(scopes.pop());
        }
    }

    fn finish(mut self) -> (&'g Gpu, &'static str, Vec<ErrorFuture>) {
        self.end_pass();
        let Batch {
            gpu,
            label,
            mut encoder,
            params,
            held,
            mut pending_errors,
            timestamps,
            dispatches,
            ..
        } = self;
        let scopes = ErrorScopes::push(&gpu.device);
        let timestamps = timestamps.and_then(|t| t.resolve(gpu, label, &mut encoder));
        let uniforms = params.write(gpu);
        gpu.queue.submit([encoder.finish()]);
        if dispatches > 0 {
            gpu.bind_groups.end_batch();
        }
        pending_errors.extend(scopes.pop());
        if let Some(timestamps) = timestamps {
            gpu.submitted(timestamps);
        }
        // Queue order keeps these valid for this submission even when reused by the next one.
        drop(uniforms);
        drop(held);
        (gpu, label, pending_errors)
    }
}

async fn check(gpu: &Gpu, label: &str, errors: Vec<ErrorFuture>) -> Result<()> {
    gpu.check_alive()?;
    for error in errors {
        if let Some(error) = error.await {
            gpu.check_alive()?;
            return Err(GpuError::Kernel {
                kernel: format!("batch `{label}`"),
                message: error.to_string(),
            });
        }
    }
    Ok(())
}

/// Validation and out-of-memory scopes around one operation, popped right after it so that scopes
/// never interleave between batches.
pub(crate) struct ErrorScopes {
    out_of_memory: wgpu::ErrorScopeGuard,
    validation: wgpu::ErrorScopeGuard,
}

impl ErrorScopes {
    pub(crate) fn push(device: &wgpu::Device) -> Self {
        let out_of_memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        ErrorScopes {
            out_of_memory,
            validation,
        }
    }

    pub(crate) fn pop(self) -> [ErrorFuture; 2] {
        let validation: ErrorFuture = Box::pin(self.validation.pop());
        let out_of_memory: ErrorFuture = Box::pin(self.out_of_memory.pop());
        [validation, out_of_memory]
    }
}
