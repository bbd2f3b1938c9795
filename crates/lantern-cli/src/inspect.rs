//! `lantern inspect PATH`: what a model holds, read from headers alone (tensor data is never
//! loaded, so inspecting a multi-GB file is instant). PATH is a GGUF file, a `.safetensors`
//! file, or a Hugging Face model folder (`*.safetensors` + `config.json` + `tokenizer.json`,
//! optionally `tokenizer_config.json` and sentence-transformers' `1_Pooling/config.json`).
//!
//! One [`Report`] is built per model and printed as text or, with `--json`, as JSON.

use std::collections::{BTreeMap, HashSet};
use std::error::Error;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use lantern_core::config::{
    Activation, AttentionLayout, ModelConfig, NormKind, Pooling, RopeScaling,
};
use lantern_core::gguf::{self, GGUF_MAGIC, GgufHeader};
use lantern_core::safetensors::{self, SafetensorsHeader};
use serde::Serialize;
use serde_json::Value;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Everything `inspect` reports about one model.
#[derive(Serialize)]
pub struct Report {
    /// The file or folder inspected.
    pub path: String,
    /// `gguf` or `safetensors`.
    pub format: &'static str,
    /// Total bytes of the weight files.
    pub size_bytes: u64,
    pub gguf_version: Option<u32>,
    pub architecture: Option<String>,
    /// The model's own name (GGUF `general.name`, config.json `architectures[0]`).
    pub name: Option<String>,
    pub parameters: u64,
    pub tensor_count: usize,
    /// Per tensor type: how many tensors, how many bytes.
    pub types: BTreeMap<String, TypeTotals>,
    /// The typed config, when the architecture is supported.
    pub config: Option<ModelConfig>,
    /// Why there is no typed config.
    pub config_error: Option<String>,
    pub tokenizer: Option<TokenizerSummary>,
    pub chat_template: bool,
    /// The template Lantern uses when the file has none (Gemma models get a built-in one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built_in_chat_template: Option<String>,
    /// Every tensor, with `--tensors`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tensors: Option<Vec<TensorLine>>,
}

#[derive(Default, Serialize)]
pub struct TypeTotals {
    pub tensors: usize,
    pub bytes: u64,
}

#[derive(Serialize)]
pub struct TokenizerSummary {
    /// `gpt2`, `llama`, … for GGUF; `model.type` of tokenizer.json (`WordPiece`, `BPE`, …).
    pub kind: String,
    pub pre_tokenizer: Option<String>,
    pub tokens: u64,
    /// `gguf` or the file it was read from.
    pub source: String,
}

#[derive(Serialize)]
pub struct TensorLine {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub shape: Vec<u64>,
    /// File, byte range within it.
    pub file: String,
    pub start: u64,
    pub end: u64,
}

pub fn inspect(path: &Path, list_tensors: bool, json: bool) -> Result<()> {
    let report = if path.is_dir() || !starts_with_gguf_magic(path)? {
        safetensors_report(path, list_tensors)?
    } else {
        gguf_report(path, list_tensors)?
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(())
}

fn starts_with_gguf_magic(path: &Path) -> Result<bool> {
    let mut file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut magic = Vec::with_capacity(4);
    file.by_ref().take(4).read_to_end(&mut magic)?;
    Ok(magic == GGUF_MAGIC)
}

/// What a prefix parse says: done, or how many bytes it needs in total.
enum Prefix<T> {
    Done(T),
    Need(u64),
}

/// Reads just enough of the file for `parse`, growing the prefix as it asks.
fn read_prefix<T>(
    path: &Path,
    parse: impl Fn(&[u8], u64) -> Result<Prefix<T>>,
) -> Result<(T, u64)> {
    let mut file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let file_size = file.metadata()?.len();
    let mut prefix = Vec::new();
    let mut want = (1u64 << 20).min(file_size);
    loop {
        let have = prefix.len() as u64;
        (&mut file).take(want - have).read_to_end(&mut prefix)?;
        match parse(&prefix, file_size).map_err(|e| format!("{}: {e}", path.display()))? {
            Prefix::Done(parsed) => return Ok((parsed, file_size)),
            // Double at least, so a large vocabulary costs a few reads, not one per entry.
            Prefix::Need(at_least) => want = at_least.max(want * 2).min(file_size),
        }
    }
}

/// The GGUF header, read from as much of the file as it needs.
pub fn read_header(path: &Path) -> Result<(GgufHeader, u64)> {
    read_prefix(path, |prefix, file_size| {
        Ok(match GgufHeader::parse_with_file_size(prefix, file_size)? {
            gguf::Parsed::Complete(h) => Prefix::Done(*h),
            gguf::Parsed::NeedMoreBytes { at_least } => Prefix::Need(at_least),
        })
    })
}

fn gguf_report(path: &Path, list_tensors: bool) -> Result<Report> {
    let (header, file_size) = read_header(path)?;
    let md = header.metadata();
    let text = |key: &str| md.get_str(key).ok().map(str::to_owned);
    let (config, config_error) = match ModelConfig::from_gguf(&header) {
        Ok(c) => (Some(c), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let mut report = Report {
        path: path.display().to_string(),
        format: "gguf",
        size_bytes: file_size,
        gguf_version: Some(header.version()),
        architecture: text("general.architecture"),
        name: text("general.name"),
        parameters: 0,
        tensor_count: 0,
        types: BTreeMap::new(),
        config,
        config_error,
        tokenizer: text("tokenizer.ggml.model").map(|kind| TokenizerSummary {
            kind,
            pre_tokenizer: text("tokenizer.ggml.pre"),
            tokens: md
                .get_array("tokenizer.ggml.tokens")
                .map_or(0, |a| a.len() as u64),
            source: "gguf".into(),
        }),
        chat_template: md.get_str("tokenizer.chat_template").is_ok(),
        built_in_chat_template: lantern_core::chat::ChatTemplate::from_gguf(md)
            .ok()
            .filter(|t| t.source().is_built_in())
            .map(|t| format!("{:?}", t.family())),
        tensors: list_tensors.then(Vec::new),
    };
    for t in header.tensors() {
        report.add_tensor(t.ggml_type().name(), t.n_elements(), t.n_bytes());
        if let Some(lines) = &mut report.tensors {
            lines.push(TensorLine {
                name: t.name().to_owned(),
                ty: t.ggml_type().name().to_owned(),
                shape: t.shape().to_vec(),
                file: report.path.clone(),
                start: t.byte_range().start,
                end: t.byte_range().end,
            });
        }
    }
    Ok(report)
}

impl Report {
    fn add_tensor(&mut self, ty: &str, n_elements: u64, n_bytes: u64) {
        self.parameters += n_elements;
        self.tensor_count += 1;
        let totals = self.types.entry(ty.to_owned()).or_default();
        totals.tensors += 1;
        totals.bytes += n_bytes;
    }
}

/// The weight files and the folder their JSON companions are in.
fn safetensors_files(path: &Path) -> Result<(Vec<PathBuf>, PathBuf)> {
    if !path.is_dir() {
        if path.extension().is_none_or(|e| e != "safetensors") {
            return Err(format!(
                "{}: not a GGUF file (no GGUF magic), a .safetensors file or a model folder",
                path.display()
            )
            .into());
        }
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        return Ok((vec![path.to_path_buf()], dir));
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let file = entry?.path();
        if file.extension().is_some_and(|e| e == "safetensors") {
            files.push(file);
        }
    }
    // Shards are named model-00001-of-00003.safetensors, …: name order is shard order.
    files.sort();
    if files.is_empty() {
        return Err(format!("{}: no .safetensors file in this folder", path.display()).into());
    }
    Ok((files, path.to_path_buf()))
}

fn read_safetensors_header(path: &Path) -> Result<(SafetensorsHeader, u64)> {
    read_prefix(path, |prefix, file_size| {
        Ok(
            match SafetensorsHeader::parse_with_file_size(prefix, file_size)? {
                safetensors::Parsed::Complete(h) => Prefix::Done(*h),
                safetensors::Parsed::NeedMoreBytes { at_least } => Prefix::Need(at_least),
            },
        )
    })
}

/// A JSON file beside the weights, if present.
fn read_json(path: &Path) -> Result<Option<(String, Value)>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
    Ok(Some((text, value)))
}

fn safetensors_report(path: &Path, list_tensors: bool) -> Result<Report> {
    let (files, dir) = safetensors_files(path)?;
    let config = read_json(&dir.join("config.json"))?;
    let mut report = Report {
        path: path.display().to_string(),
        format: "safetensors",
        size_bytes: 0,
        gguf_version: None,
        architecture: config
            .as_ref()
            .and_then(|(_, c)| c["model_type"].as_str().map(str::to_owned)),
        name: config
            .as_ref()
            .and_then(|(_, c)| c["architectures"][0].as_str().map(str::to_owned)),
        parameters: 0,
        tensor_count: 0,
        types: BTreeMap::new(),
        config: None,
        config_error: None,
        tokenizer: tokenizer_json_summary(&dir)?,
        chat_template: has_chat_template(&dir)?,
        built_in_chat_template: None,
        tensors: list_tensors.then(Vec::new),
    };
    match &config {
        None => report.config_error = Some("no config.json beside the weights".into()),
        Some((text, _)) => {
            match ModelConfig::from_hf_config(text, pooling_json(&dir)?.as_deref()) {
                Ok(c) => report.config = Some(c),
                Err(e) => report.config_error = Some(e.to_string()),
            }
        }
    }
    for file in &files {
        let (header, file_size) = read_safetensors_header(file)?;
        report.size_bytes += file_size;
        for t in header.tensors() {
            report.add_tensor(t.dtype().name(), t.n_elements(), t.n_bytes());
            if let Some(lines) = &mut report.tensors {
                lines.push(TensorLine {
                    name: t.name().to_owned(),
                    ty: t.dtype().name().to_owned(),
                    shape: t.shape().to_vec(),
                    file: file.display().to_string(),
                    start: t.byte_range().start,
                    end: t.byte_range().end,
                });
            }
        }
    }
    Ok(report)
}

/// sentence-transformers keeps the pooling config in `1_Pooling/config.json`; Lantern's model
/// fetcher stores it flat as `pooling_config.json`.
fn pooling_json(dir: &Path) -> Result<Option<String>> {
    for candidate in ["1_Pooling/config.json", "pooling_config.json"] {
        if let Some((text, _)) = read_json(&dir.join(candidate))? {
            return Ok(Some(text));
        }
    }
    Ok(None)
}

/// `tokenizer.json`'s model type and vocabulary size (added tokens outside the vocabulary
/// included).
fn tokenizer_json_summary(dir: &Path) -> Result<Option<TokenizerSummary>> {
    let Some((_, json)) = read_json(&dir.join("tokenizer.json"))? else {
        return Ok(None);
    };
    let model = &json["model"];
    let vocab: HashSet<&str> = match &model["vocab"] {
        // WordPiece, BPE, WordLevel: token -> id.
        Value::Object(map) => map.keys().map(String::as_str).collect(),
        // Unigram: [token, score] pairs.
        Value::Array(pairs) => pairs.iter().filter_map(|p| p[0].as_str()).collect(),
        _ => HashSet::new(),
    };
    let added = json["added_tokens"].as_array().map_or(0, |added| {
        added
            .iter()
            .filter_map(|t| t["content"].as_str())
            .filter(|t| !vocab.contains(t))
            .count()
    });
    Ok(Some(TokenizerSummary {
        kind: model["type"].as_str().unwrap_or("unknown").to_owned(),
        pre_tokenizer: json["pre_tokenizer"]["type"].as_str().map(str::to_owned),
        tokens: (vocab.len() + added) as u64,
        source: "tokenizer.json".into(),
    }))
}

fn has_chat_template(dir: &Path) -> Result<bool> {
    if dir.join("chat_template.jinja").is_file() || dir.join("chat_template.json").is_file() {
        return Ok(true);
    }
    Ok(read_json(&dir.join("tokenizer_config.json"))?
        .is_some_and(|(_, c)| !c["chat_template"].is_null()))
}

fn print_text(r: &Report) {
    let mb = |bytes: u64| bytes as f64 / 1e6;
    let version = r.gguf_version.map(|v| format!(" v{v}")).unwrap_or_default();
    let format = if r.format == "gguf" {
        "GGUF"
    } else {
        "safetensors"
    };
    println!(
        "file          {} ({:.1} MB, {format}{version})",
        r.path,
        mb(r.size_bytes)
    );
    println!(
        "architecture  {}{}",
        r.architecture.as_deref().unwrap_or("(not stated)"),
        r.name
            .as_ref()
            .map(|n| format!(" — {n}"))
            .unwrap_or_default()
    );
    println!(
        "parameters    {:.1} M in {} tensors",
        r.parameters as f64 / 1e6,
        r.tensor_count
    );
    for (ty, totals) in &r.types {
        println!(
            "  {ty:<11} {:>4} tensors, {:>8.1} MB",
            totals.tensors,
            mb(totals.bytes)
        );
    }
    match (&r.config, &r.config_error) {
        (Some(c), _) => print_config(c),
        (None, Some(why)) => println!("config        not available: {why}"),
        (None, None) => {}
    }
    match &r.tokenizer {
        Some(t) => println!(
            "tokenizer     {}{}{}, {} tokens",
            t.kind,
            t.pre_tokenizer
                .as_ref()
                .map(|p| format!(" (pre-tokenizer {p})"))
                .unwrap_or_default(),
            if t.source == "gguf" {
                String::new()
            } else {
                format!(" from {}", t.source)
            },
            t.tokens
        ),
        None => println!("tokenizer     none found"),
    }
    match (&r.chat_template, &r.built_in_chat_template) {
        (true, _) => println!("chat template yes"),
        (false, Some(family)) => {
            println!("chat template no (Lantern's built-in {family} template is used)")
        }
        (false, None) => println!("chat template no"),
    }
    for t in r.tensors.iter().flatten() {
        println!(
            "  {:<32} {:<6} {:?} @ {}..{}",
            t.name, t.ty, t.shape, t.start, t.end
        );
    }
}

fn print_config(c: &ModelConfig) {
    println!("layers        {}", c.n_layers);
    println!("hidden        {}", c.hidden_size);
    println!("context       {}", c.context_length);
    println!(
        "heads         {} ({} key/value) of {}",
        c.n_heads, c.n_kv_heads, c.head_dim
    );
    let activation = match c.activation {
        Activation::Silu => "SiLU",
        Activation::GeluTanh => "GELU (tanh)",
        Activation::Gelu => "GELU",
    };
    println!(
        "ffn           {}, {activation}{}",
        c.ffn_size,
        if c.gated_ffn { ", gated" } else { "" }
    );
    let norm = match c.norm.kind {
        NormKind::Rms => "RMSNorm",
        NormKind::Layer => "LayerNorm",
    };
    let offset = if c.norm.weight_offset != 0.0 {
        format!(", weights + {}", c.norm.weight_offset)
    } else {
        String::new()
    };
    println!("norm          {norm}, eps {:e}{offset}", c.norm.eps);
    println!("attention     {}", attention_summary(c));
    if c.embedding_scale != 1.0 {
        println!("embeddings    scaled by {}", c.embedding_scale);
    }
    if c.tied_output {
        println!("output        tied to the token embeddings");
    }
    if let Some(pooling) = c.pooling {
        let name = match pooling {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Max => "max",
            Pooling::MeanSqrtLen => "mean / sqrt(length)",
            Pooling::LastToken => "last token",
        };
        println!("pooling       {name}");
    }
}

fn attention_summary(c: &ModelConfig) -> String {
    let mut parts = vec![match c.attention.layout {
        AttentionLayout::Global if c.attention.causal => "causal".to_owned(),
        AttentionLayout::Global => "bidirectional".to_owned(),
        AttentionLayout::Interleaved {
            window,
            global_every: 0,
        } => format!("sliding window {window} on every layer"),
        AttentionLayout::Interleaved {
            window,
            global_every,
        } => format!("sliding window {window}, 1 global layer in {global_every}"),
    }];
    match &c.rope {
        None => parts.push("learned positions".into()),
        Some(rope) => {
            let mut text = format!("rope {:?}, base {}", rope.style, rope.base).to_lowercase();
            if let Some(local) = rope.local_base {
                text += &format!(" (local {local})");
            }
            if let RopeScaling::Linear { factor } = rope.scaling {
                text += &format!(", linear scaling {factor}");
            }
            parts.push(text);
        }
    }
    if c.attention.qk_norm {
        parts.push("QK-norm".into());
    }
    parts.push(format!(
        "queries scaled by 1/sqrt({})",
        c.attention.query_pre_attn_scalar
    ));
    parts.join("; ")
}
