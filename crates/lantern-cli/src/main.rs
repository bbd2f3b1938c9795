//! `lantern`: the native command-line tool. Model commands (inspect, generate, chat, bench) join as
//! the model issues land; today it reports the adapter and runs the kernel self-check.

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
    let gpu = Gpu::new(GpuOptions::default()).await?;
    match cli.command {
        Command::Info { json } => {
            if json {
                println!("{}", serde_json::to_string_pretty(gpu.report())?);
            } else {
                println!("{}", gpu.report());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Selfcheck { json } => {
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
