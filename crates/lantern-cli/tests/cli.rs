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
