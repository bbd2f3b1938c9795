//! The `lantern` binary as a user runs it.

use std::process::Command;

fn lantern(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lantern"));
    cmd.args(args);
    cmd
}

#[test]
fn info_reports_the_adapter_as_json() {
    let out = lantern(&["info", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["limits"]["max_storage_buffer_binding_size"]
            .as_u64()
            .unwrap()
            >= 1 << 27
    );
    assert!(report["features"]["shader_f16"].is_boolean());
}

#[test]
fn selfcheck_passes_and_exits_zero() {
    let out = lantern(&["selfcheck"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        6,
        "{stdout}"
    );
    assert!(stdout.contains("self-check passed"), "{stdout}");
}

#[test]
fn no_adapter_gives_one_clear_error() {
    // Only the GL backend, which this build leaves out: wgpu finds no adapter at all.
    let out = lantern(&["info"])
        .env("WGPU_BACKEND", "gl")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no WebGPU adapter") && stderr.contains("Vulkan"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn default_model() -> std::path::PathBuf {
    let path = lantern_core::cache::models_dir()
        .expect("set LANTERN_CACHE (or HOME)")
        .join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.is_file(),
        "{} is missing: run `python3 models/fetch.py --default`",
        path.display()
    );
    path
}

#[test]
fn inspect_describes_the_real_model() {
    let out = lantern(&["inspect", default_model().to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "architecture  llama",
        "134.5 M in 272 tensors",
        "Q4_1         210 tensors",
        "layers        30",
        "gpt2 (pre-tokenizer smollm), 49152 tokens",
        "chat template yes",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
}

#[test]
fn inspect_of_a_truncated_file_is_a_clear_error() {
    let bytes = std::fs::read(default_model()).unwrap();
    let dir = std::env::temp_dir().join(format!("lantern-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let truncated = dir.join("truncated.gguf");
    std::fs::write(&truncated, &bytes[..5000]).unwrap();
    let out = lantern(&["inspect", truncated.to_str().unwrap()])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("tensor_count") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
