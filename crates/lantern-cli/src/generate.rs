//! `lantern generate`, `lantern chat` and `lantern bench`: the GPU model through the shared
//! generation loop, natively. `lantern profile` (profile.rs) shares the benchmark's set-up.

use std::io::{BufRead, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use lantern_core::chat::{ChatTemplate, Message};
use lantern_core::gguf::GgufHeader;
use lantern_core::sampling::SamplerConfig;
use lantern_core::tokenizer::Tokenizer;
use lantern_gpu::quant::WeightStorage;
use lantern_gpu::{Gpu, GpuOptions, Precision};
use lantern_models::chat::ChatSession;
use lantern_models::generate::{
    Clock, FinishReason, GenerateOptions, Generation, SystemClock, generate,
};
use lantern_models::model::{GpuModel, ModelOptions};

use crate::model_file;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Sampling and stopping options shared by `generate` and `chat`.
#[derive(clap::Args, Clone, Debug)]
pub struct SamplingArgs {
    /// The most tokens to generate.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// 0 is greedy.
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    /// 0 keeps all.
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f32,
    #[arg(long, default_value_t = 0.05)]
    pub min_p: f32,
    /// Repetition penalty over the last 64 tokens; 1 is off.
    #[arg(long, default_value_t = 1.0)]
    pub repeat_penalty: f32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop when the text contains this (repeatable); it is not printed.
    #[arg(long)]
    pub stop: Vec<String>,
    /// Positions the KV cache holds (capped at the model's context length).
    #[arg(long, default_value_t = 4096)]
    pub max_context: usize,
    /// What the weight products compute in: f32, or f16 (needs the adapter's shader-f16).
    #[arg(long, default_value_t = Precision::F32)]
    pub precision: Precision,
}

impl SamplingArgs {
    fn options(&self) -> GenerateOptions {
        GenerateOptions {
            max_tokens: self.max_tokens,
            stop: self.stop.clone(),
            sampler: SamplerConfig {
                temperature: self.temperature,
                top_k: self.top_k,
                top_p: self.top_p,
                min_p: self.min_p,
                repetition_penalty: self.repeat_penalty,
                seed: self.seed,
                ..SamplerConfig::default()
            },
            ignore_end_of_generation: false,
        }
    }
}

/// A loaded model, its tokenizer and the GGUF header (metadata) it came with.
pub(crate) struct Loaded<'g> {
    pub model: GpuModel<&'g Gpu>,
    pub tokenizer: Tokenizer,
    pub header: GgufHeader,
    pub load_ms: f64,
}

pub(crate) async fn load<'g>(
    gpu: &'g Gpu,
    path: &Path,
    max_context: usize,
    precision: Precision,
) -> Result<Loaded<'g>> {
    let started = Instant::now();
    let (header, mut source) = model_file::open(path).await?;
    let tokenizer = Tokenizer::from_gguf(header.metadata())?;
    let options = ModelOptions {
        max_context,
        precision,
        ..ModelOptions::default()
    };
    let model = GpuModel::from_stream(gpu, &header, &mut source, &options).await?;
    Ok(Loaded {
        model,
        tokenizer,
        header,
        load_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// The process's peak resident memory (VmHWM) where the system reports it (Linux).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Prints each chunk as it becomes final, flushing so the text appears token by token.
fn print_chunk(text: &str) -> ControlFlow<()> {
    let mut out = std::io::stdout().lock();
    // A closed stdout (`| head`) ends generation rather than failing it.
    if out
        .write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        return ControlFlow::Break(());
    }
    ControlFlow::Continue(())
}

fn finish_name(finish: &FinishReason) -> String {
    match finish {
        FinishReason::EndOfGeneration => "end_of_generation".into(),
        FinishReason::MaxTokens => "max_tokens".into(),
        FinishReason::Stop(s) => format!("stop:{s}"),
        FinishReason::Cancelled => "cancelled".into(),
        FinishReason::ContextFull => "context_full".into(),
    }
}

pub async fn run_generate(
    model: &Path,
    prompt: &str,
    args: &SamplingArgs,
    json: bool,
) -> Result<()> {
    let gpu = Gpu::new(GpuOptions::default()).await?;
    let mut loaded = load(&gpu, model, args.max_context, args.precision).await?;
    let ids = loaded.tokenizer.encode(prompt, true, false)?;
    let generation = generate(
        &mut loaded.model,
        &loaded.tokenizer,
        &ids,
        &args.options(),
        &SystemClock::default(),
        |chunk| {
            if json {
                ControlFlow::Continue(())
            } else {
                print_chunk(&chunk.text)
            }
        },
    )
    .await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report(&loaded, &ids, &generation))?
        );
    } else {
        println!();
    }
    Ok(())
}

fn report(loaded: &Loaded, prompt: &[u32], g: &Generation) -> serde_json::Value {
    let tokens: Vec<String> = g
        .tokens
        .iter()
        .map(|&t| String::from_utf8_lossy(loaded.tokenizer.token_bytes(t).unwrap_or(&[])).into())
        .collect();
    serde_json::json!({
        "text": g.text,
        "tokens": tokens,
        "ids": g.tokens,
        "finish_reason": finish_name(&g.finish),
        "prompt_tokens": prompt.len(),
        "precision": loaded.model.precision().name(),
        "generated_tokens": g.timings.generated_tokens,
        "load_ms": loaded.load_ms,
        "prefill_ms": g.timings.prefill_ms,
        "decode_ms": g.timings.decode_ms,
        "prefill_tokens_per_second": g.timings.prefill_tokens_per_second(),
        "decode_tokens_per_second": g.timings.decode_tokens_per_second(),
    })
}

/// A conversation on stdin: one user message per line, the reply streamed after it (only the
/// part of each new prompt that the KV cache does not already hold is computed).
pub async fn run_chat(model: &Path, system: Option<&str>, args: &SamplingArgs) -> Result<()> {
    let gpu = Gpu::new(GpuOptions::default()).await?;
    let mut loaded = load(&gpu, model, args.max_context, args.precision).await?;
    let template = ChatTemplate::from_gguf(loaded.header.metadata())?;
    let mut session = ChatSession::new(template);
    let options = args.options();
    let mut messages: Vec<Message> = system.map(Message::system).into_iter().collect();
    eprintln!("(one message per line; end with Ctrl-D)");
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        messages.push(Message::user(line));
        let turn = session
            .reply(
                &mut loaded.model,
                &loaded.tokenizer,
                &messages,
                &options,
                &SystemClock::default(),
                |chunk| print_chunk(&chunk.text),
            )
            .await?;
        println!();
        messages.push(Message::assistant(turn.generation.text.trim()));
    }
    Ok(())
}

/// What a benchmark runs: the model loaded with room for the prompt and the decoded tokens, a
/// prompt of `prompt_tokens` ids, and greedy options that decode `decode_tokens` whatever the
/// model says. One warm-up with the same shapes and the same (greedy: top-1) readback has
/// compiled every pipeline (each tiling is a pipeline of its own) and filled the buffer pool, so
/// neither is timed.
pub(crate) async fn bench_setup<'g>(
    gpu: &'g Gpu,
    model: &Path,
    prompt_tokens: usize,
    decode_tokens: usize,
    precision: Precision,
) -> Result<(Loaded<'g>, Vec<u32>, GenerateOptions)> {
    let mut loaded = load(gpu, model, prompt_tokens + decode_tokens + 1, precision).await?;
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(prompt_tokens);
    let mut ids = loaded.tokenizer.encode(&text, true, false)?;
    ids.truncate(prompt_tokens.max(1));
    loaded.model.forward_top_k(&ids, 1).await?;
    loaded.model.forward_top_k(&ids[..1], 1).await?;
    loaded.model.reset();
    let options = GenerateOptions {
        max_tokens: decode_tokens,
        sampler: SamplerConfig::greedy(),
        ignore_end_of_generation: true,
        ..GenerateOptions::default()
    };
    Ok((loaded, ids, options))
}

/// One greedy generation of a benchmark, from an empty KV cache.
pub(crate) async fn bench_generation(
    loaded: &mut Loaded<'_>,
    ids: &[u32],
    options: &GenerateOptions,
) -> Result<Generation> {
    loaded.model.reset();
    Ok(generate(
        &mut loaded.model,
        &loaded.tokenizer,
        ids,
        options,
        &SystemClock::default(),
        |_| ControlFlow::Continue(()),
    )
    .await?)
}

/// Prefill and decode speed, and the weight bytes a decode step reads (each decoded token
/// streams every layer's matrices and the output projection once).
pub async fn run_bench(
    model: &Path,
    prompt_tokens: usize,
    decode_tokens: usize,
    precision: Precision,
    runs: usize,
    json: bool,
) -> Result<()> {
    let gpu = Gpu::new(GpuOptions::default()).await?;
    let (mut loaded, ids, options) =
        bench_setup(&gpu, model, prompt_tokens, decode_tokens, precision).await?;
    // Several runs, each figure their median: a shared machine makes single runs vary by ±30%.
    let mut prefill_tps = Vec::new();
    let mut decode_tps = Vec::new();
    let mut decode_steps = 0;
    for _ in 0..runs.max(1) {
        let g = bench_generation(&mut loaded, &ids, &options).await?;
        prefill_tps.push(g.timings.prefill_tokens_per_second());
        // The loop's decode time spans generated_tokens - 1 forward passes (the first token
        // comes from the prefill's logits).
        decode_steps = g.timings.generated_tokens.saturating_sub(1);
        decode_tps.push(if g.timings.decode_ms > 0.0 {
            decode_steps as f64 * 1e3 / g.timings.decode_ms
        } else {
            0.0
        });
    }
    let (prefill_median, decode_median) = (median(&prefill_tps), median(&decode_tps));
    let dispatches = loaded.model.decode_dispatches()?;
    // The process's memory high-water mark so far: loading and generating, before the probes
    // below allocate their own buffers (256 MiB for the bandwidth probe).
    let peak_rss = peak_rss_bytes();
    let bytes = loaded.model.decode_weight_bytes();
    let weight_gbps = bytes as f64 * decode_median / 1e9;
    // The rooflines: what this adapter streams at best (decode's bytes per second are set
    // against it), what one more dispatch costs, and the fastest of Lantern's matrix products
    // (prefill's multiply-adds per second are set against it).
    let clock = SystemClock::default();
    let rooflines = lantern_gpu::roofline::measure(&gpu, dispatches, || clock.now_ms()).await?;
    let (probe, peak, dispatch_ms) = (
        rooflines.bandwidth,
        rooflines.matmul_peak,
        rooflines.dispatch_ms,
    );
    // The share of a decode step that its dispatches' fixed cost alone accounts for.
    let dispatch_share = if decode_median > 0.0 {
        dispatches as f64 * dispatch_ms * decode_median / 1e3
    } else {
        0.0
    };
    let roofline_gbps = probe.gigabytes_per_second();
    let fraction = if roofline_gbps > 0.0 {
        weight_gbps / roofline_gbps
    } else {
        0.0
    };
    let prompt_macs = loaded.model.prompt_multiply_adds(ids.len());
    let prefill_gflops = 2.0 * prompt_macs as f64 * prefill_median / ids.len() as f64 / 1e9;
    let prefill_fraction = if peak.gigaflops() > 0.0 {
        prefill_gflops / peak.gigaflops()
    } else {
        0.0
    };
    let report = serde_json::json!({
        "adapter": gpu.report().name,
        "model": model.display().to_string(),
        "precision": precision.name(),
        "load_ms": loaded.load_ms,
        "prompt_tokens": ids.len(),
        "runs": prefill_tps.len(),
        "prefill_tokens_per_second": prefill_median,
        "prefill_tokens_per_second_runs": prefill_tps,
        "decode_steps": decode_steps,
        "decode_tokens_per_second": decode_median,
        "decode_tokens_per_second_runs": decode_tps,
        "decode_dispatches_per_token": dispatches,
        "dispatch_microseconds": dispatch_ms * 1e3,
        "decode_dispatch_share": dispatch_share,
        "weight_bytes_per_decoded_token": bytes,
        "weight_bandwidth_gb_per_second": weight_gbps,
        "weight_bytes_total": loaded.model.weight_bytes(),
        "peak_rss_bytes_before_probes": peak_rss,
        "probe_bandwidth_gb_per_second": roofline_gbps,
        "probe_buffer_bytes": probe.buffer_bytes,
        "probe_pattern": format!("{:?}", probe.pattern),
        "probe_storage": format!("{:?}", probe.storage),
        "decode_fraction_of_roofline": fraction,
        "prompt_multiply_adds": prompt_macs,
        "prefill_gflops": prefill_gflops,
        "matmul_peak_gflops": peak.gigaflops(),
        "matmul_peak_n": peak.n,
        "matmul_peak_kernel": format!("{:?}", peak.kernel),
        "prefill_fraction_of_matmul_peak": prefill_fraction,
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("adapter:  {} ({precision} products)", gpu.report().name);
        let list = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "prefill:  {} tokens, {prefill_median:.2} tokens/s (median of {}: {})",
            ids.len(),
            prefill_tps.len(),
            list(&prefill_tps)
        );
        println!(
            "decode:   {decode_steps} tokens, {decode_median:.2} tokens/s (median of {}: {})",
            decode_tps.len(),
            list(&decode_tps)
        );
        println!(
            "weights read per decoded token: {:.1} MB ({weight_gbps:.2} GB/s effective)",
            bytes as f64 / 1e6,
        );
        println!(
            "roofline: the probe streams {roofline_gbps:.2} GB/s on this adapter (from a {}); decode reaches {:.1}% of it",
            match probe.storage {
                WeightStorage::Buffer => "storage buffer",
                WeightStorage::Texture => "texture",
            },
            fraction * 100.0
        );
        println!(
            "dispatches: {dispatches} per decoded token at {:.1} µs each on this adapter, {:.0}% of a decode step",
            dispatch_ms * 1e3,
            dispatch_share * 100.0
        );
        println!(
            "matmul peak: {:.2} GFLOP/s ({:?}, {n}×{n}·{n}×{n}); prefill computes {prefill_gflops:.2} GFLOP/s, {:.1}% of it",
            peak.gigaflops(),
            peak.kernel,
            prefill_fraction * 100.0,
            n = peak.n,
        );
    }
    Ok(())
}

/// The middle value (the mean of the two middle ones for an even count); 0 for none.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}
