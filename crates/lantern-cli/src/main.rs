//! `lantern`: the native command-line tool. It reports the adapter, runs the kernel self-check,
//! inspects model files (GGUF, safetensors), and generates text on the GPU (`generate`, `chat`,
//! `bench`).

mod generate;
mod inspect;
mod model_file;
mod profile;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lantern_gpu::{Gpu, GpuOptions};

#[derive(Parser)]
#[command(
    name = "lantern",
    version,
    about = "Generative AI on WebGPU, natively and in the browser"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the GPU adapter Lantern would use, its optional features and limits.
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run every kernel on awkward shapes and compare with the CPU reference.
    Selfcheck {
        #[arg(long)]
        json: bool,
    },
    /// Describe a model: architecture and config, parameters, tensor types and sizes, tokenizer.
    /// FILE is a GGUF file, a .safetensors file or a Hugging Face model folder.
    Inspect {
        file: PathBuf,
        /// Also list every tensor with its type, shape and byte range.
        #[arg(long)]
        tensors: bool,
        #[arg(long)]
        json: bool,
    },
    /// Continue a prompt with a GGUF language model on the GPU, streaming the text.
    Generate {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        prompt: String,
        #[command(flatten)]
        sampling: generate::SamplingArgs,
        /// Print tokens, ids, finish reason and timings as JSON instead of streaming text.
        #[arg(long)]
        json: bool,
    },
    /// Chat with an instruction-tuned GGUF model: one user message per line on stdin.
    Chat {
        #[arg(long)]
        model: PathBuf,
        /// A system message to start the conversation with.
        #[arg(long)]
        system: Option<String>,
        #[command(flatten)]
        sampling: generate::SamplingArgs,
    },
    /// Measure prefill and decode speed and the weight bytes read per decoded token.
    Bench {
        #[arg(long)]
        model: PathBuf,
        #[arg(long, default_value_t = 128)]
        prompt_tokens: usize,
        #[arg(long, default_value_t = 32)]
        decode_tokens: usize,
        /// What the weight products compute in: f32, or f16 (needs the adapter's shader-f16).
        #[arg(long, default_value_t = lantern_gpu::Precision::F32)]
        precision: lantern_gpu::Precision,
        /// Timed runs; each figure is their median.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Time every kernel of a prefill and of decode steps with the GPU's timestamps (needs the
    /// adapter's timestamp-query), beside the wall time: where a decode step's time goes.
    Profile {
        #[arg(long)]
        model: PathBuf,
        #[arg(long, default_value_t = 128)]
        prompt_tokens: usize,
        #[arg(long, default_value_t = 16)]
        decode_tokens: usize,
        /// What the weight products compute in: f32, or f16 (needs the adapter's shader-f16).
        #[arg(long, default_value_t = lantern_gpu::Precision::F32)]
        precision: lantern_gpu::Precision,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match pollster::block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lantern: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match cli.command {
        Command::Generate {
            model,
            prompt,
            sampling,
            json,
        } => {
            generate::run_generate(&model, &prompt, &sampling, json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Chat {
            model,
            system,
            sampling,
        } => {
            generate::run_chat(&model, system.as_deref(), &sampling).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            model,
            prompt_tokens,
            decode_tokens,
            precision,
            runs,
            json,
        } => {
            generate::run_bench(&model, prompt_tokens, decode_tokens, precision, runs, json)
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Profile {
            model,
            prompt_tokens,
            decode_tokens,
            precision,
            json,
        } => {
            profile::run_profile(&model, prompt_tokens, decode_tokens, precision, json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect {
            file,
            tensors,
            json,
        } => {
            inspect::inspect(&file, tensors, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Info { json } => {
            let gpu = Gpu::new(GpuOptions::default()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(gpu.report())?);
            } else {
                println!("{}", gpu.report());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Selfcheck { json } => {
            let gpu = Gpu::new(GpuOptions::default()).await?;
            let report = lantern_gpu::selfcheck::run(&gpu).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}\n{report}", gpu.report());
            }
            Ok(if report.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
