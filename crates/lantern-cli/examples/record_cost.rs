//! What recording one dispatch costs the CPU: batches of 300 near-empty dispatches (a decode
//! step's count), timed from the batch's creation to the end of recording, and to the return of
//! the submission (which ends the compute pass, finishes the command buffer and hands it to the
//! driver: wgpu validates and translates the recorded commands there). A decode step cannot start
//! on the GPU before then, so this is part of every token. Then to the return of a readback
//! after the batch has run: what a dispatch costs whole, the adapter's share included (lavapipe
//! hands each dispatch to its worker threads and waits for them: 30–60 µs a dispatch on a 2-vCPU
//! VM, against 3.5 µs with `LP_NUM_THREADS=0`, which runs them all on one thread).
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
    let (mut recording, mut submitted, mut executed) = (Vec::new(), Vec::new(), Vec::new());
    let per_dispatch = |since: Instant| since.elapsed().as_secs_f64() * 1e6 / DISPATCHES as f64;
    for _ in 0..BATCHES {
        let started = Instant::now();
        let mut batch = gpu.batch("record cost");
        let mut outputs = Vec::with_capacity(DISPATCHES);
        for _ in 0..DISPATCHES {
            outputs.push(stream_read(&mut batch, &buffer, ReadPattern::Chunked).unwrap());
        }
        recording.push(per_dispatch(started));
        batch.submit().await.unwrap();
        submitted.push(per_dispatch(started));
        // Waits for the GPU, so that batches do not queue up behind each other.
        gpu.read(&outputs[0]).await.unwrap();
        executed.push(per_dispatch(started));
    }
    for (what, mut figures) in [
        ("recording", recording),
        ("to submission", submitted),
        ("to the readback", executed),
    ] {
        figures.sort_by(f64::total_cmp);
        println!(
            "{what}: {:.2} µs per dispatch (median of {BATCHES} batches of {DISPATCHES}; best {:.2})",
            figures[BATCHES / 2],
            figures[0]
        );
    }
    let groups = gpu.bind_group_stats();
    println!(
        "bind groups: {} created, {} reused",
        groups.created, groups.reused
    );
}
