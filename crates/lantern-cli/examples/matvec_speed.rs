//! Streaming rate of the matrix-vector kernel (`quant_matvec`) on the shapes of the two target
//! models, per weight format: a micro-benchmark for kernel work, beside `lantern bench` for whole
//! models. One row of x by default (decode's product); `--tokens M` multiplies M rows of x at
//! once (a prefill's product, which CPU adapters also run with this kernel). `--rows-per-thread`
//! and `--rows-per-workgroup` replace the adapter's launch shape, to measure others, and
//! `--weight-textures true|false` where weights live, and `--normed` times products of a normed
//! input. Weights are
//! arbitrary bytes (speed does not depend on their values); each figure is the best of several
//! submissions of many products.
//!
//! `cargo run --release -p lantern-cli --example matvec_speed -- [FORMAT] [--tokens M] …`,
//! e.g. `Q4_1 --tokens 64`. On a machine this noisy (±30% run to run), compare two builds or
//! shapes by alternating their runs.

use std::time::Instant;

use clap::Parser;
use lantern_gpu::ops::RmsNorm;
use lantern_gpu::ops::quant_matvec::{MatvecShape, Product};
use lantern_gpu::quant::{QuantMatrix, UNIT_LEN, WeightFormat};
use lantern_gpu::{Gpu, GpuOptions};

#[derive(Parser)]
struct Args {
    /// Only this weight format (Q4_1, Q8_0, …).
    format: Option<String>,
    /// Rows of x multiplied at once.
    #[arg(long, default_value_t = 1)]
    tokens: usize,
    /// Rows each invocation computes (the adapter's choice when absent).
    #[arg(long)]
    rows_per_thread: Option<u32>,
    /// Invocations' row groups per workgroup (the adapter's choice when absent).
    #[arg(long)]
    rows_per_workgroup: Option<u32>,
    /// Keep weights in textures (`true`) or storage buffers (`false`) rather than where the
    /// adapter reads them fastest.
    #[arg(long)]
    weight_textures: Option<bool>,
    /// Multiply x through an RMSNorm (`Product::normed`), which decode on CPU adapters does
    /// inside the product.
    #[arg(long)]
    normed: bool,
    /// Submissions per shape, the best of which is reported (more to profile one at length).
    #[arg(long, default_value_t = 5)]
    submissions: usize,
}

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

fn main() {
    pollster::block_on(run(Args::parse()));
}

async fn run(args: Args) {
    let options = GpuOptions {
        weight_textures: args.weight_textures,
        ..GpuOptions::default()
    };
    let gpu = Gpu::new(options).await.expect("a WebGPU adapter");
    println!(
        "adapter: {}, weights in {}",
        gpu.report().name,
        if gpu.weights_in_textures() {
            "textures"
        } else {
            "storage buffers"
        }
    );
    for (format, rows, cols, products) in SHAPES {
        if args
            .format
            .as_ref()
            .is_some_and(|name| !format.name().eq_ignore_ascii_case(name))
        {
            continue;
        }
        let w = arbitrary_matrix(&gpu, format, rows, cols);
        let adapters_shape = MatvecShape::for_matrix(cols / UNIT_LEN, args.tokens, &gpu);
        let shape = MatvecShape {
            rows_per_thread: args
                .rows_per_thread
                .unwrap_or(adapters_shape.rows_per_thread),
            rows_per_workgroup: args
                .rows_per_workgroup
                .unwrap_or(adapters_shape.rows_per_workgroup),
            ..adapters_shape
        };
        let x: Vec<f32> = (0..args.tokens * cols)
            .map(|i| (i % 7) as f32 * 0.1)
            .collect();
        let x = gpu.upload("x", &x, &[args.tokens, cols]).expect("x fits");
        // As many products per submission as one row of x takes: a submission's work grows
        // with the rows of x.
        let products = (products / args.tokens).max(2);
        let norm_weight = gpu
            .upload("norm weight", &vec![1.0; cols], &[cols])
            .expect("norm weight fits");
        let mut product = Product::new(&w, &x).shape(Some(shape));
        if args.normed {
            product = product.normed(&norm_weight, RmsNorm::new(1e-5));
        }
        let mut best = f64::MAX;
        let mut first = None;
        for _ in 0..args.submissions {
            let started = Instant::now();
            let mut batch = gpu.batch("matvec speed");
            for _ in 1..products {
                drop(product.record(&mut batch).expect("product"));
            }
            let y = product.record(&mut batch).expect("product");
            batch.submit_and_read(&y).await.expect("readback");
            let elapsed = started.elapsed().as_secs_f64();
            first.get_or_insert(elapsed);
            best = best.min(elapsed);
        }
        let seconds = best / products as f64;
        // The first submission also creates the pipeline: the shader's compile time, beside.
        let compile = first.unwrap_or(best) - best;
        println!(
            "{:5} {rows:6}×{cols:<5} {:8.3} ms per product {:6.2} GB/s of weights, {:6.2} G multiply-adds/s, compiled in {compile:.2} s",
            format.name(),
            seconds * 1e3,
            w.size_bytes() as f64 / seconds / 1e9,
            (rows * cols * args.tokens) as f64 / seconds / 1e9,
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
