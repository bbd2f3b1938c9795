//! The adapter's streaming bandwidth and its cost per dispatch, measured: the two floors of a
//! decode step. It reads every weight once, so bytes per token × tokens/s can at best reach the
//! bandwidth (the roofline decode speed is compared with); and it takes at least its dispatches
//! times the cost of one.

use crate::batch::Batch;
use crate::device::Gpu;
use crate::error::Result;
use crate::ops::{ReadPattern, stream_read, stream_read_weights};
use crate::quant::{QuantMatrix, UNIT_LEN, WeightFormat, WeightStorage};
use crate::roofline::time_growing;

/// What the probe measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bandwidth {
    /// Bytes one read of the probe buffer covers.
    pub buffer_bytes: u64,
    /// How many full reads were timed (one submission).
    pub reads: u32,
    pub milliseconds: f64,
    /// The access pattern of the fastest read.
    pub pattern: ReadPattern,
    /// What it read: a storage buffer, or a texture where the adapter keeps weights in textures.
    pub storage: WeightStorage,
}

impl Bandwidth {
    pub fn gigabytes_per_second(&self) -> f64 {
        if self.milliseconds > 0.0 {
            self.buffer_bytes as f64 * self.reads as f64 / self.milliseconds / 1e6
        } else {
            0.0
        }
    }
}

/// Reads a buffer of up to `max_bytes` (capped by the device's binding limit) in each
/// [`ReadPattern`], and where the adapter keeps weights in textures ([`Gpu::weight_storage`]) the
/// same bytes as a weight matrix's texture too, timed with `now_ms` (a monotonic clock in
/// milliseconds: `Instant` natively, `performance.now()` in a browser), and returns the fastest
/// run: a roofline is what the adapter streams at best. One submission holds 4, 16, 64, … reads until one takes at least
/// `min_ms` ([`time_growing`]: an H200 streams 256 MiB in about 60 µs, lavapipe takes 40 ms). One untimed
/// read per pattern first compiles its pipeline and warms the caches of the memory system's page
/// tables. All of this `runs` times over one upload of the buffer, keeping the fastest run: a
/// roofline is a maximum, and a shared machine only ever slows a run down.
pub async fn measure(
    gpu: &Gpu,
    max_bytes: u64,
    min_ms: f64,
    runs: u32,
    now_ms: impl Fn() -> f64,
) -> Result<Bandwidth> {
    let limit = gpu.limits().max_storage_buffer_binding_size;
    // Whole rows of an F32 weight matrix (32 values).
    let bytes = max_bytes.min(limit).max(PROBE_ROW_BYTES) / PROBE_ROW_BYTES * PROBE_ROW_BYTES;
    let values = (bytes / 4) as usize;
    // Distinct words, so a broken kernel or a skipped read shows up in the XOR.
    let data: Vec<f32> = (0..values as u32).map(f32::from_bits).collect();
    let buffer = gpu.upload("bandwidth probe", &data, &[values])?;
    let format = WeightFormat::F32;
    let texture = if gpu.weight_storage() == WeightStorage::Texture {
        let rows = (bytes / PROBE_ROW_BYTES) as usize;
        let bytes = bytemuck::cast_slice(&data);
        let what = "bandwidth probe (texture)";
        Some(QuantMatrix::upload(
            gpu, what, format, rows, UNIT_LEN, bytes,
        )?)
    } else {
        None
    };
    drop(data);
    // The sources read: the buffer (`None`), and the weight texture where there is one.
    let sources: Vec<Option<&QuantMatrix>> = std::iter::once(None)
        .chain(texture.as_ref().map(Some))
        .collect();
    // Records one read of the probe's bytes from `source` in `pattern`.
    let read = |batch: &mut Batch<'_>, source: Option<&QuantMatrix>, pattern| match source {
        Some(matrix) => stream_read_weights(batch, matrix, pattern),
        None => stream_read(batch, &buffer, pattern),
    };

    let mut best: Option<Bandwidth> = None;
    let reads_tried = (0..runs.max(1)).flat_map(|_| {
        sources
            .iter()
            .flat_map(|&source| ReadPattern::ALL.map(|pattern| (source, pattern)))
    });
    for (source, pattern) in reads_tried {
        let mut warm_up = gpu.batch("bandwidth warm-up");
        let out = read(&mut warm_up, source, pattern)?;
        warm_up.submit_and_read(&out).await?;

        let (_, reads, milliseconds) = time_growing(4, MAX_READS, min_ms, &now_ms, async |reads| {
            let mut batch = gpu.batch("bandwidth probe");
            for _ in 1..reads {
                // Held until the submission, so no later dispatch in this batch gets the
                // same buffer.
                let out = read(&mut batch, source, pattern)?;
                batch.hold(out);
            }
            let out = read(&mut batch, source, pattern)?;
            batch.submit_and_read(&out).await
        })
        .await?;
        let run = Bandwidth {
            buffer_bytes: bytes,
            reads,
            milliseconds,
            pattern,
            storage: source.map_or(WeightStorage::Buffer, QuantMatrix::storage),
        };
        if best.is_none_or(|b| run.gigabytes_per_second() > b.gigabytes_per_second()) {
            best = Some(run);
        }
    }
    Ok(best.expect("ReadPattern::ALL is not empty"))
}

/// Bytes of one row of the probe's weight matrix: 32 f32 values.
const PROBE_ROW_BYTES: u64 = (UNIT_LEN * 4) as u64;

/// The most reads one timed submission holds: 100 ms of a 256 MiB buffer at 10 TB/s.
const MAX_READS: u32 = 4096;

/// What one more dispatch costs a submission on this adapter, in milliseconds: recording it
/// (pipeline lookup, bind group), launching it and the barrier after it, with almost no work in
/// it (one workgroup reading 256 bytes). A decode step of `n` dispatches takes at least `n` times
/// this, whatever its bytes: the other floor beside the bandwidth roofline, and the one a small
/// model meets first on a fast GPU. Measured as the difference between submissions of `2n` and
/// `n` such dispatches (so the submission's and the readback's fixed costs cancel), divided by
/// `n`; the lowest of three tries, as a shared machine only ever slows a run down.
pub async fn dispatch_cost(gpu: &Gpu, n: usize, now_ms: impl Fn() -> f64) -> Result<f64> {
    let n = n.max(1);
    let buffer = gpu.upload("dispatch probe", &[0.0; 64], &[64])?;
    let run = async |dispatches: usize| -> Result<f64> {
        let started = now_ms();
        let mut batch = gpu.batch("dispatch probe");
        for _ in 1..dispatches {
            let out = stream_read(&mut batch, &buffer, ReadPattern::Chunked)?;
            batch.hold(out);
        }
        let out = stream_read(&mut batch, &buffer, ReadPattern::Chunked)?;
        batch.submit_and_read(&out).await?;
        Ok(now_ms() - started)
    };
    run(n).await?; // compiles the pipeline, fills the pool
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let (single, double) = (run(n).await?, run(2 * n).await?);
        best = best.min((double - single).max(0.0) / n as f64);
    }
    Ok(best)
}
