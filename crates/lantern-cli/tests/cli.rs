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
    // matmul ×3, softmax ×3, quant_matvec, quant_matmul and top_k, plus the two products in
    // f16 where the adapter has shader-f16.
    let info = lantern(&["info", "--json"]).output().unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let f16 = info["features"]["shader_f16"].as_bool().unwrap();
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        if f16 { 11 } else { 9 },
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

/// `generate` reads a model file from disk chunk by chunk; a file cut short inside its header
/// or inside its tensors is refused with a clear error before anything is generated.
#[test]
fn generate_with_a_truncated_file_is_a_clear_error() {
    let bytes = std::fs::read(smollm2_path()).unwrap();
    let dir = std::env::temp_dir().join(format!("lantern-cli-trunc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (cut, expected) in [
        (5000, "tensor_count"),
        (bytes.len() / 2, "but the file has"),
    ] {
        let truncated = dir.join("truncated.gguf");
        std::fs::write(&truncated, &bytes[..cut]).unwrap();
        let out = lantern(&[
            "generate",
            "--model",
            truncated.to_str().unwrap(),
            "--prompt",
            "Hi",
        ])
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "cut at {cut}");
        assert!(out.stdout.is_empty(), "cut at {cut}: generated text");
        assert!(
            stderr.contains(expected) && !stderr.contains("panicked"),
            "cut at {cut}: {stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn model(name: &str, fetch: &str) -> std::path::PathBuf {
    let path = lantern_core::cache::models_dir()
        .expect("set LANTERN_CACHE (or HOME)")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `python3 models/fetch.py {fetch}`",
        path.display()
    );
    path
}

/// Runs `lantern inspect ARGS…`, asserting success, and returns stdout.
fn inspect(args: &[&str]) -> String {
    let out = lantern(&[&["inspect"], args].concat()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[track_caller]
fn assert_lines(stdout: &str, expected: &[&str]) {
    for line in expected {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
}

#[test]
fn inspect_gives_the_typed_config_of_a_gguf() {
    let smollm = inspect(&[default_model().to_str().unwrap()]);
    assert_lines(
        &smollm,
        &[
            "heads         9 (3 key/value) of 64",
            "ffn           1536, SiLU, gated",
            "attention     causal; rope normal, base 100000",
            "output        tied to the token embeddings",
        ],
    );
    let gemma = model("gemma-3-270m-q4_k_m.gguf", "gemma-3-270m");
    let stdout = inspect(&[gemma.to_str().unwrap()]);
    assert_lines(
        &stdout,
        &[
            "architecture  gemma3 — Gemma 3 270m",
            "268.1 M in 236 tensors",
            "Q8_0          10 tensors,    179.8 MB",
            "Q5_0          81 tensors",
            "layers        18",
            "heads         4 (1 key/value) of 256",
            "ffn           2048, GELU (tanh), gated",
            "norm          RMSNorm, eps 1e-6\n",
            "sliding window 512, 1 global layer in 6; rope neox, base 1000000 (local 10000); QK-norm",
            "embeddings    scaled by 25.29",
            "tokenizer     llama (pre-tokenizer default), 262144 tokens",
            "chat template no (Lantern's built-in Gemma template is used)",
        ],
    );
    // The same facts as JSON, in the field names of lantern_core::config.
    let json: serde_json::Value =
        serde_json::from_str(&inspect(&[gemma.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(json["format"], "gguf");
    assert_eq!(json["gguf_version"], 3);
    assert_eq!(json["parameters"], 268_098_176);
    assert_eq!(json["types"]["Q4_K"]["tensors"], 27);
    let config = &json["config"];
    assert_eq!(config["architecture"], "gemma3");
    assert_eq!(
        config["attention"]["layout"]["interleaved"],
        serde_json::json!({"window": 512, "global_every": 6})
    );
    assert_eq!(config["rope"]["local_base"], 10000.0);
    assert_eq!(config["norm"]["weight_offset"], 0.0);
    assert_eq!(json["tokenizer"]["tokens"], 262_144);
    assert_eq!(json["chat_template"], false);
    assert_eq!(json["built_in_chat_template"], "Gemma");
}

#[test]
fn inspect_reads_a_safetensors_model_folder() {
    let folder = model("all-minilm-l6-v2", "all-minilm-l6-v2");
    let expected = [
        "safetensors)",
        "architecture  bert — BertModel",
        "parameters    22.7 M in 104 tensors",
        "F32          103 tensors,     90.9 MB",
        "I64            1 tensors,      0.0 MB",
        "layers        6",
        "hidden        384",
        "heads         12 (12 key/value) of 32",
        "ffn           1536, GELU\n",
        "norm          LayerNorm, eps 1e-12",
        "attention     bidirectional; learned positions",
        "pooling       mean",
        "tokenizer     WordPiece (pre-tokenizer BertPreTokenizer) from tokenizer.json, 30522 tokens",
        "chat template no",
    ];
    assert_lines(&inspect(&[folder.to_str().unwrap()]), &expected);
    // The weights file alone finds its config and tokenizer beside it.
    let weights = folder.join("model.safetensors");
    assert_lines(&inspect(&[weights.to_str().unwrap()]), &expected);

    let listing = inspect(&[weights.to_str().unwrap(), "--tensors"]);
    assert!(
        listing
            .contains("embeddings.word_embeddings.weight F32    [30522, 384] @ 808088..47689880"),
        "{listing}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&inspect(&[folder.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(json["format"], "safetensors");
    assert_eq!(json["parameters"], 22_713_728);
    assert_eq!(json["size_bytes"], 90_868_376);
    assert_eq!(json["config"]["architecture"], "bert");
    assert_eq!(json["config"]["pooling"], "mean");
    assert_eq!(json["tokenizer"]["kind"], "WordPiece");
    assert!(json.get("tensors").is_none(), "listed only with --tensors");
}

#[test]
fn inspect_of_a_folder_with_a_chat_template_and_an_unsupported_config() {
    let dir = std::env::temp_dir().join(format!("lantern-cli-folder-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A one-tensor BF16 model with a Qwen config, a BPE tokenizer and a chat template.
    let json = r#"{"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}}"#;
    let mut weights = (json.len() as u64).to_le_bytes().to_vec();
    weights.extend_from_slice(json.as_bytes());
    weights.extend_from_slice(&[0; 12]);
    std::fs::write(dir.join("model.safetensors"), &weights).unwrap();
    std::fs::write(
        dir.join("config.json"),
        r#"{"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("tokenizer.json"),
        r#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
            "added_tokens": [{"id": 2, "content": "<|im_end|>"}, {"id": 0, "content": "a"}]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"chat_template": "{{ messages }}"}"#,
    )
    .unwrap();
    let stdout = inspect(&[dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_lines(
        &stdout,
        &[
            "architecture  qwen2 — Qwen2ForCausalLM",
            "parameters    0.0 M in 1 tensors",
            "BF16           1 tensors",
            "config        not available: unsupported architecture 'qwen2' (config.json model_type); supported: llama, gemma3, bert",
            "tokenizer     BPE from tokenizer.json, 3 tokens",
            "chat template yes",
        ],
    );
}

#[test]
fn inspect_of_bad_safetensors_input_is_a_clear_error() {
    let bytes = std::fs::read(model(
        "all-minilm-l6-v2/model.safetensors",
        "all-minilm-l6-v2",
    ))
    .unwrap();
    let dir = std::env::temp_dir().join(format!("lantern-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |name: &str, contents: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        let out = lantern(&["inspect", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let truncated = run("truncated.safetensors", &bytes[..1_000_000]);
    let not_a_model = run("notes.txt", b"hello");
    let garbage = run("garbage.safetensors", &[0xFF; 64]);
    let empty_dir = dir.join("empty");
    std::fs::create_dir_all(&empty_dir).unwrap();
    let out = lantern(&["inspect", empty_dir.to_str().unwrap()])
        .output()
        .unwrap();
    let empty = String::from_utf8_lossy(&out.stderr).into_owned();
    std::fs::remove_dir_all(&dir).unwrap();
    for (stderr, needle) in [
        (
            &truncated,
            "tensor 'embeddings.word_embeddings.weight': data ends at byte 47689880 but the file has 1000000 bytes",
        ),
        (
            &not_a_model,
            "not a GGUF file (no GGUF magic), a .safetensors file or a model folder",
        ),
        (
            &garbage,
            "header length 18446744073709551615 exceeds the 100000000-byte limit",
        ),
        (&empty, "no .safetensors file in this folder"),
    ] {
        assert!(stderr.contains(needle), "{stderr:?} lacks {needle:?}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// The SmolLM2 file from the models cache; the test fails loudly when it is missing.
fn smollm2_path() -> String {
    let path = lantern_core::cache::models_dir()
        .expect("no models folder: set LANTERN_CACHE or HOME")
        .join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.exists(),
        "{} is missing; fetch it with models/fetch.py",
        path.display()
    );
    path.display().to_string()
}

#[test]
fn generate_continues_the_capital_of_france_with_paris() {
    let model = smollm2_path();
    let out = lantern(&[
        "generate",
        "--model",
        &model,
        "--prompt",
        "The capital of France is",
        "--temperature",
        "0",
        "--max-tokens",
        "4",
    ])
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with(" Paris"), "printed {stdout:?}");
}

#[test]
fn generate_json_reports_tokens_and_timings() {
    let model = smollm2_path();
    let out = lantern(&[
        "generate",
        "--model",
        &model,
        "--prompt",
        "The capital of France is",
        "--temperature",
        "0",
        "--max-tokens",
        "3",
        "--json",
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tokens"][0], " Paris");
    assert_eq!(report["ids"].as_array().unwrap().len(), 3);
    assert_eq!(report["finish_reason"], "max_tokens");
    assert!(report["decode_tokens_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn generate_refuses_a_file_that_is_not_a_model() {
    let dir = std::env::temp_dir().join(format!("lantern-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("not-a-model.gguf");
    std::fs::write(&path, b"GGUF but not really").unwrap();
    let out = lantern(&[
        "generate",
        "--model",
        path.to_str().unwrap(),
        "--prompt",
        "hi",
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    // (The Vulkan loader may warn on stderr first.)
    assert!(
        stderr.lines().any(|l| l.starts_with("lantern: ")),
        "{stderr}"
    );
}

/// The bench's report holds together: the runs asked for, the bytes a decode step reads (every
/// weight matrix once: between the file's matrix bytes and the 1.1× repacking budget) in the
/// dispatches the fusions leave, the
/// roofline fraction as the effective weight bandwidth over the probe's, and prefill's
/// multiply-adds (counted from the model's shapes) over the matmul peak. No speed is asserted.
#[test]
fn bench_reports_bytes_per_token_against_the_measured_roofline() {
    let model = smollm2_path();
    let out = lantern(&[
        "bench",
        "--model",
        &model,
        "--prompt-tokens",
        "4",
        "--decode-tokens",
        "3",
        "--runs",
        "2",
        "--json",
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let number = |key: &str| {
        report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing in {report}"))
    };
    assert_eq!(report["runs"], 2);
    assert_eq!(
        report["decode_tokens_per_second_runs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(report["prompt_tokens"], 4);
    assert_eq!(report["decode_steps"], 2);
    assert_eq!(report["precision"], "f32");
    // SmolLM2's matrices: 30 layers of 2·576² + 2·192·576 + 3·576·1536 Q4_1 values (20 bytes per
    // 32) and the tied 49152×576 Q8_0 output projection (34 bytes per 32).
    let layer_values = 2.0 * 576.0 * 576.0 + 2.0 * 192.0 * 576.0 + 3.0 * 576.0 * 1536.0;
    let gguf_bytes = 30.0 * layer_values * 20.0 / 32.0 + 49152.0 * 576.0 * 34.0 / 32.0;
    let bytes = number("weight_bytes_per_decoded_token");
    assert!(
        (gguf_bytes..=1.1 * gguf_bytes).contains(&bytes),
        "{bytes} vs {gguf_bytes}"
    );
    // A decode step's dispatches: per layer the stacked QKV product, the attention inputs
    // (rope and the cache write), attention (7 keys: one chunk, no merge), the output
    // projection (adding into the residual stream), the stacked gate-up product, down (adding
    // too); on GPUs also the activation and the two norms, which CPU adapters apply in the
    // gate-up product and in the products that read the normed residual stream. Around the
    // layers the embedding, the output norm and the output projection (on GPUs the first norm
    // is the first layer's).
    let dispatches = number("decode_dispatches_per_token");
    assert!(
        [30 * 9 + 3, 30 * 6 + 3]
            .map(f64::from)
            .contains(&dispatches),
        "{dispatches}"
    );
    // Their fixed cost, measured, as a share of a decode step.
    let dispatch_us = number("dispatch_microseconds");
    assert!(
        dispatch_us.is_finite() && dispatch_us >= 0.0,
        "{dispatch_us}"
    );
    let share = number("decode_dispatch_share");
    let expected = dispatches * dispatch_us / 1e6 * number("decode_tokens_per_second");
    assert!((share - expected).abs() <= 1e-9, "{share} vs {expected}");
    // Memory is read from /proc on Linux (null elsewhere): taken before the probes allocate.
    if cfg!(target_os = "linux") {
        assert!(number("peak_rss_bytes_before_probes") > 0.0);
    }
    let probe = number("probe_bandwidth_gb_per_second");
    assert!(probe > 0.0);
    let effective = number("weight_bandwidth_gb_per_second");
    let expected = bytes * number("decode_tokens_per_second") / 1e9;
    assert!(
        (effective - expected).abs() <= 1e-9 * expected,
        "{effective} vs {expected}"
    );
    let fraction = number("decode_fraction_of_roofline");
    assert!((fraction - effective / probe).abs() <= 1e-9, "{fraction}");
    assert!(
        ["Interleaved", "Chunked"].contains(&report["probe_pattern"].as_str().unwrap()),
        "{report}"
    );

    // Prefill against the matmul peak: the prompt's multiply-adds are the 4 tokens through every
    // layer's matrices, causal attention (9 heads of 64: scores and values over 1 + 2 + 3 + 4
    // keys, 30 layers) and the output projection once.
    let attention = 30.0 * 2.0 * 9.0 * 64.0 * (1.0 + 2.0 + 3.0 + 4.0);
    let macs = 4.0 * 30.0 * layer_values + attention + 49152.0 * 576.0;
    assert_eq!(number("prompt_multiply_adds"), macs);
    let gflops = number("prefill_gflops");
    let expected = 2.0 * macs * number("prefill_tokens_per_second") / 4.0 / 1e9;
    assert!(
        (gflops - expected).abs() <= 1e-9 * expected,
        "{gflops} vs {expected}"
    );
    let peak = number("matmul_peak_gflops");
    assert!(peak > 0.0);
    let fraction = number("prefill_fraction_of_matmul_peak");
    assert!((fraction - gflops / peak).abs() <= 1e-9, "{fraction}");
}

/// `lantern profile` times every kernel of the prefill and of each decode step: per decode step,
/// SmolLM2's 121 products (4 per layer and the output projection), 30 attentions and 60 fused
/// residual-add norms; the kernels' time fits inside the GPU's span, and the span inside the
/// loop's wall time. Where the adapter has no timestamp-query it is refused by name.
#[test]
fn profile_times_every_kernel_of_a_decode_step() {
    let model = smollm2_path();
    let out = lantern(&[
        "profile",
        "--model",
        &model,
        "--prompt-tokens",
        "5",
        "--decode-tokens",
        "3",
        "--json",
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        assert!(stderr.contains("timestamp-query"), "{stderr}");
        return;
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["prompt_tokens"], 5);
    assert_eq!(report["decode_steps"], 2);
    for phase in ["prefill", "decode"] {
        let p = &report[phase];
        let f = |key: &str| p[key].as_f64().unwrap_or_else(|| panic!("{key}: {report}"));
        let (kernels, span, wall) = (
            f("kernel_microseconds"),
            f("gpu_span_microseconds"),
            f("wall_microseconds"),
        );
        assert!(
            0.0 < kernels && kernels <= span * 1.0001 && span <= wall,
            "{phase}: {kernels} ≤ {span} ≤ {wall}"
        );
        let timed = |name: &str| {
            p["kernels"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["kernel"] == name)
                .and_then(|k| k["dispatches"].as_f64())
        };
        let dispatches = |name: &str| {
            timed(name).unwrap_or_else(|| panic!("{name} missing in {phase}: {report}"))
        };
        assert_eq!(dispatches("quant_matvec"), 121.0, "{phase}");
        // Attention on a CPU adapter (lavapipe, SwiftShader) has a kernel of its own.
        let attention = timed("attention").or(timed("attention_cpu"));
        assert_eq!(attention, Some(30.0), "{phase}: {report}");
        // No add kernel: the output and down products add into the residual stream. A norm
        // kernel per norm (the first layer's, then two per layer), unless the products norm
        // their input themselves (decode on CPU adapters, whose attention has a kernel of its
        // own): then the output norm's only.
        assert_eq!(timed("add_rms_norm"), None, "{phase}");
        let products_norm = phase == "decode" && timed("attention_cpu").is_some();
        let norms = if products_norm { 1.0 } else { 61.0 };
        assert_eq!(dispatches("rms_norm"), norms, "{phase}: {report}");
        // The activation has a kernel of its own unless the gate-up product applies it (CPU
        // adapters), in prefill and decode alike.
        let activations = timed("activation");
        assert!(
            activations.is_none() || activations == Some(30.0),
            "{phase}: {report}"
        );
        let shares: f64 = p["kernels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["share_of_kernel_time"].as_f64().unwrap())
            .sum();
        assert!((shares - 1.0).abs() < 1e-9, "{phase}: {shares}");
    }
    // The forward pass's dispatches (see the bench test: 9 per layer, 6 where the products apply
    // the activation and the norms) and the two passes of the top-k selection whose pairs the
    // sampler reads back.
    let step = report["last_decode_step"].as_array().unwrap();
    let fused = !step.iter().any(|dispatch| dispatch[0] == "activation");
    let per_layer = if fused { 6 } else { 9 };
    assert_eq!(step.len(), 30 * per_layer + 3 + 2);
    assert_eq!(step[0][0], "embedding");
    assert!(
        step[step.len() - 1][0]
            .as_str()
            .unwrap()
            .starts_with("top_k")
    );
}
