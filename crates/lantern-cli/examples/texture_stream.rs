//! How fast the adapter streams weights from a storage buffer and from a texture: the two sources
//! of the bandwidth probe (`lantern_gpu::bandwidth`, which reports only the faster), each printed
//! in both read patterns. 64 MiB as an F32 weight matrix, read whole by `stream_read_weights`, on
//! two devices: one keeping weights in storage buffers, one in textures.
//!
//! Why: lavapipe compiles a storage-buffer load whose address differs between SIMD lanes into a
//! loop over the lanes with a bounds check and a branch per lane and component (about 8
//! instructions per 4 bytes, seen in its JIT code), while texel loads are gathered without
//! branches, which is why it keeps weights in textures (`Gpu::weights_in_textures`).
//! `cargo run --release -p lantern-cli --example texture_stream`.

use std::time::Instant;

use lantern_gpu::ops::{ReadPattern, stream_read_weights};
use lantern_gpu::quant::{QuantMatrix, UNIT_LEN, WeightFormat};
use lantern_gpu::{Gpu, GpuOptions};

const BYTES: usize = 64 << 20;
/// Reads per timed submission; the best of `TRIES` submissions counts.
const READS: usize = 10;
const TRIES: usize = 4;

fn main() {
    pollster::block_on(run());
}

async fn run() {
    let words: Vec<u8> = (0..(BYTES / 4) as u32).flat_map(u32::to_le_bytes).collect();
    for (textures, storage) in [(false, "storage buffer"), (true, "texture")] {
        let options = GpuOptions {
            weight_textures: Some(textures),
            ..GpuOptions::default()
        };
        let gpu = Gpu::new(options).await.expect("a WebGPU adapter");
        if !textures {
            println!("adapter: {}", gpu.report().name);
        }
        let rows = BYTES / (UNIT_LEN * 4);
        let format = WeightFormat::F32;
        let matrix = QuantMatrix::upload(&gpu, "streamed", format, rows, UNIT_LEN, &words)
            .expect("64 MiB fits one part");
        for pattern in ReadPattern::ALL {
            let mut best = f64::MAX;
            // The first submission compiles the pipeline; it is timed like the others.
            for _ in 0..=TRIES {
                let started = Instant::now();
                let mut batch = gpu.batch("texture_stream");
                for _ in 1..READS {
                    let out = stream_read_weights(&mut batch, &matrix, pattern).expect("recorded");
                    batch.hold(out);
                }
                let out = stream_read_weights(&mut batch, &matrix, pattern).expect("recorded");
                batch.submit_and_read(&out).await.expect("read");
                best = best.min(started.elapsed().as_secs_f64());
            }
            let gigabytes = (BYTES * READS) as f64 / 1e9;
            let source = format!("{storage}, {pattern:?}");
            println!("{source:>27}: {:6.2} GB/s", gigabytes / best);
        }
    }
}
