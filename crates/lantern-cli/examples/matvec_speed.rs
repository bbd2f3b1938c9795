//! Streaming rate of the matrix-vector kernel (`quant_matvec`, one token: decode's product) on
//! the shapes of the two target models, per weight format: a micro-benchmark for kernel work,
//! beside `lantern bench` for whole models. Weights are arbitrary bytes (speed does not depend on
//! their values); each figure is the best of several submissions of many products.
//!
//! `cargo run --release -p lantern-cli --example matvec_speed [FORMAT]`, e.g. `Q4_1`.
//! On a machine this noisy (±30% run to run), compare two builds by alternating their runs.

use std::time::Instant;

use lantern_gpu::ops::quant_matvec;
use lantern_gpu::quant::{QuantMatrix, WeightFormat};
use lantern_gpu::{Gpu, GpuOptions, Precision};

/// (format, rows, cols, products per submission): SmolLM2-135M's feed-forward products and tied
/// output projection, and Gemma 3 270M's products in the formats its Q4_K_M file uses.
const SHAPES: [(WeightFormat, usize, usize, usize); 6] = [
    (WeightFormat::Q4_1, 1536, 576, 400),
    (WeightFormat::Q4_1, 576, 1536, 400),
    (WeightFormat::Q8_0, 49152, 576, 12),
    (WeightFormat::Q4_K, 640, 2048, 300),
    (WeightFormat::Q6_K, 640, 2048, 300),
    (WeightFormat::Q5_0, 2048, 640, 300),
];

const SUBMISSIONS: usize = 5;

fn main() {
    pollster::block_on(run(std::env::args().nth(1)));
}

async fn run(only: Option<String>) {
    let gpu = Gpu::new(GpuOptions::default())
        .await
        .expect("a WebGPU adapter");
    println!("adapter: {}", gpu.report().name);
    for (format, rows, cols, products) in SHAPES {
        if only
            .as_ref()
            .is_some_and(|name| !format.name().eq_ignore_ascii_case(name))
        {
            continue;
        }
        let w = arbitrary_matrix(&gpu, format, rows, cols);
        let x: Vec<f32> = (0..cols).map(|i| (i % 7) as f32 * 0.1).collect();
        let x = gpu.upload("x", &x, &[1, cols]).expect("x fits");
        let mut best = f64::MAX;
        for _ in 0..SUBMISSIONS {
            let started = Instant::now();
            let mut batch = gpu.batch("matvec speed");
            for _ in 1..products {
                drop(quant_matvec(&mut batch, &w, &x, Precision::F32).expect("product"));
            }
            let y = quant_matvec(&mut batch, &w, &x, Precision::F32).expect("product");
            batch.submit_and_read(&y).await.expect("readback");
            best = best.min(started.elapsed().as_secs_f64());
        }
        let seconds = best / products as f64;
        println!(
            "{:5} {rows:6}×{cols:<5} {:8.3} ms per product {:6.2} GB/s",
            format.name(),
            seconds * 1e3,
            w.size_bytes() as f64 / seconds / 1e9
        );
    }
}

fn arbitrary_matrix(gpu: &Gpu, format: WeightFormat, rows: usize, cols: usize) -> QuantMatrix {
    let len = rows * cols / format.block_len() * format.gguf_block_bytes();
    let mut state = 12345u64;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Bytes below 0x3c keep every f16 scale small and finite.
            ((state >> 33) as u8) & 0x3b
        })
        .collect();
    QuantMatrix::upload(gpu, "W", format, rows, cols, &bytes).expect("the matrix fits")
}
