//! What recording one dispatch costs the CPU: batches of 300 near-empty dispatches (a decode
//! step's count), timed from the batch's creation to the end of recording, before submission.
//! A decode step cannot start on the GPU before it is recorded, so this is part of every token.
//!
//! `cargo run --release -p lantern-cli --example record_cost`

use std::time::Instant;

use lantern_gpu::ops::{ReadPattern, stream_read};
use lantern_gpu::{Gpu, GpuOptions};

const DISPATCHES: usize = 300;
const BATCHES: usize = 200;

fn main() {
    pollster::block_on(run());
}

async fn run() {
    let gpu = Gpu::new(GpuOptions::default())
        .await
        .expect("a GPU adapter");
    println!("adapter: {}", gpu.report().name);
    let buffer = gpu.upload("data", &[0.0; 64], &[64]).unwrap();
    let mut per_dispatch = Vec::new();
    for _ in 0..BATCHES {
        let started = Instant::now();
        let mut batch = gpu.batch("record cost");
        for _ in 1..DISPATCHES {
            let out = stream_read(&mut batch, &buffer, ReadPattern::Chunked).unwrap();
            batch.hold(out);
        }
        let out = stream_read(&mut batch, &buffer, ReadPattern::Chunked).unwrap();
        let recorded = started.elapsed();
        batch.submit_and_read(&out).await.unwrap();
        per_dispatch.push(recorded.as_secs_f64() * 1e6 / DISPATCHES as f64);
    }
    per_dispatch.sort_by(f64::total_cmp);
    println!(
        "recording: {:.2} µs per dispatch (median of {BATCHES} batches of {DISPATCHES}; best {:.2})",
        per_dispatch[BATCHES / 2],
        per_dispatch[0]
    );
}
