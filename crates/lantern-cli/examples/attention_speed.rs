//! Speed of decode attention (one query token against a layer's KV cache, `ops::attention`) on the
//! head shapes of the two target models, at a chosen context length: a micro-benchmark for kernel
//! work, beside `lantern profile` for whole decode steps. `--key-chunks C` replaces the
//! launcher's split of the keys, to measure others. Cache and query values are arbitrary (speed
//! does not depend on them); each figure is the best of several submissions of many calls.
//!
//! `cargo run --release -p lantern-cli --example attention_speed -- [--context N] …`. On a machine
//! this noisy (±30% run to run), compare two builds or splits by alternating their runs.

use std::time::Instant;

use clap::Parser;
use lantern_gpu::ops::attention::{AttentionParams, AttentionSplit, attention_split};
use lantern_gpu::ops::{HeadTransform, Heads, KvCache, attention_inputs};
use lantern_gpu::{Gpu, GpuOptions};

#[derive(Parser)]
struct Args {
    /// Positions in the cache, the new query's included.
    #[arg(long, default_value_t = 136)]
    context: usize,
    /// Chunks the keys are split into (the launcher's choice when absent).
    #[arg(long)]
    key_chunks: Option<usize>,
}

/// (model, query heads, kv heads, head dim, calls per submission).
const SHAPES: [(&str, usize, usize, usize, usize); 2] = [
    ("SmolLM2-135M", 9, 3, 64, 60),
    ("Gemma 3 270M", 4, 1, 256, 36),
];

const SUBMISSIONS: usize = 5;

fn main() {
    pollster::block_on(run(Args::parse()));
}

async fn run(args: Args) {
    let gpu = Gpu::new(GpuOptions::default())
        .await
        .expect("a WebGPU adapter");
    println!("adapter: {}", gpu.report().name);
    let context = args.context.max(1);
    for (model, heads, kv_heads, head_dim, calls) in SHAPES {
        let cache = KvCache::new(&gpu, context, kv_heads, head_dim).expect("the cache fits");
        let kv: Vec<f32> = (0..context * kv_heads * head_dim)
            .map(|i| ((i * 37) % 101) as f32 * 0.01 - 0.5)
            .collect();
        let kv = gpu
            .upload("kv", &kv, &[context, kv_heads, head_dim])
            .expect("kv fits");
        let mut batch = gpu.batch("fill cache");
        attention_inputs(
            &mut batch,
            None,
            Heads::all(&kv, kv_heads),
            Heads::all(&kv, kv_heads),
            &HeadTransform::default(),
            &cache,
            0,
        )
        .expect("cache write");
        batch.submit().await.expect("cache written");
        let q: Vec<f32> = (0..heads * head_dim)
            .map(|i| ((i * 13) % 29) as f32 * 0.02 - 0.3)
            .collect();
        let q = gpu.upload("q", &q, &[1, heads, head_dim]).expect("q fits");
        let params = AttentionParams::new(1.0 / (head_dim as f32).sqrt());
        let split = AttentionSplit {
            key_chunks: args.key_chunks,
        };
        let mut best = f64::MAX;
        for _ in 0..SUBMISSIONS {
            let started = Instant::now();
            let mut batch = gpu.batch("attention speed");
            for _ in 1..calls {
                drop(
                    attention_split(&mut batch, &q, &cache, context - 1, &params, split)
                        .expect("attention"),
                );
            }
            let out = attention_split(&mut batch, &q, &cache, context - 1, &params, split)
                .expect("attention");
            batch.submit_and_read(&out).await.expect("readback");
            best = best.min(started.elapsed().as_secs_f64());
        }
        let seconds = best / calls as f64;
        let cache_bytes = 2 * context * kv_heads * head_dim * 4;
        println!(
            "{model:13} {heads} heads of {head_dim}, {context} positions: {:8.1} µs per call {:6.2} GB/s of cache",
            seconds * 1e6,
            cache_bytes as f64 / seconds / 1e9,
        );
    }
}
