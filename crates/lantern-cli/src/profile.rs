//! `lantern profile`: where a prefill's and a decode step's time goes on this adapter, kernel by
//! kernel, from the GPU's own timestamps (`Gpu::start_profiling`), beside the wall time the
//! generation loop measured. What the kernels do not account for is recording, submission,
//! launch gaps and the readback: the share a faster kernel cannot win back.

use std::path::Path;

use lantern_gpu::profile::{BatchProfile, Profile};
use lantern_gpu::{Gpu, GpuOptions, Precision};
use serde_json::json;

use crate::generate::{bench_generation, bench_setup};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

pub async fn run_profile(
    model: &Path,
    prompt_tokens: usize,
    decode_tokens: usize,
    precision: Precision,
    json: bool,
) -> Result<()> {
    let gpu = Gpu::new(GpuOptions::default()).await?;
    let (mut loaded, ids, options) =
        bench_setup(&gpu, model, prompt_tokens, decode_tokens, precision).await?;
    gpu.start_profiling()?;
    let generation = bench_generation(&mut loaded, &ids, &options).await;
    let profile = gpu.finish_profiling().await?;
    let timings = generation?.timings;

    let decode_steps = profile.labelled("decode").count();
    let prefill = phase(&profile, "prefill", timings.prefill_ms, 1);
    let decode = phase(&profile, "decode", timings.decode_ms, decode_steps);
    let report = json!({
        "adapter": gpu.report().name,
        "model": model.display().to_string(),
        "precision": precision.name(),
        "prompt_tokens": ids.len(),
        "decode_steps": decode_steps,
        "prefill": prefill,
        "decode": decode,
        "last_decode_step": profile.labelled("decode").last().map(dispatch_list),
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("adapter:  {} ({precision} products)", gpu.report().name);
    print_phase(&format!("prefill of {} tokens", ids.len()), &prefill);
    print_phase(&format!("decode, per step ({decode_steps} steps)"), &decode);
    Ok(())
}

/// One phase's figures per batch (a prefill is one batch, each decode step another), in
/// microseconds: the loop's wall time, the GPU's span from the first kernel's start to the last
/// one's end, the kernels' own time, and each kernel's part of that.
fn phase(profile: &Profile, label: &str, wall_ms: f64, batches: usize) -> serde_json::Value {
    let per = batches.max(1) as f64;
    let sum = |f: fn(&BatchProfile) -> f64| profile.labelled(label).map(f).sum::<f64>() / per / 1e3;
    let busy = sum(BatchProfile::busy_ns);
    let kernels: Vec<_> = profile
        .kernel_totals(label)
        .iter()
        .map(|k| {
            let us = k.duration_ns / per / 1e3;
            json!({
                "kernel": k.kernel,
                "dispatches": k.dispatches as f64 / per,
                "microseconds": us,
                "share_of_kernel_time": if busy > 0.0 { us / busy } else { 0.0 },
            })
        })
        .collect();
    json!({
        "wall_microseconds": wall_ms * 1e3 / per,
        "gpu_span_microseconds": sum(BatchProfile::span_ns),
        "kernel_microseconds": busy,
        "untimed_dispatches": profile.labelled(label).map(|b| b.unprofiled).sum::<usize>() as f64 / per,
        "kernels": kernels,
    })
}

/// Every dispatch of one batch in order: kernel, start and duration in microseconds.
fn dispatch_list(batch: &BatchProfile) -> serde_json::Value {
    batch
        .dispatches
        .iter()
        .map(|d| json!([d.kernel, d.start_ns / 1e3, d.duration_ns / 1e3]))
        .collect()
}

fn print_phase(title: &str, phase: &serde_json::Value) {
    let f = |key: &str| phase[key].as_f64().unwrap_or(0.0);
    println!(
        "{title}: {:.0} µs wall; on the GPU {:.0} µs from first kernel to last, {:.0} µs in kernels",
        f("wall_microseconds"),
        f("gpu_span_microseconds"),
        f("kernel_microseconds"),
    );
    println!(
        "  {:<28} {:>10} {:>12} {:>7}",
        "kernel", "dispatches", "µs", "share"
    );
    for k in phase["kernels"].as_array().into_iter().flatten() {
        let g = |key: &str| k[key].as_f64().unwrap_or(0.0);
        println!(
            "  {:<28} {:>10.1} {:>12.1} {:>6.1}%",
            k["kernel"].as_str().unwrap_or(""),
            g("dispatches"),
            g("microseconds"),
            100.0 * g("share_of_kernel_time"),
        );
    }
}
