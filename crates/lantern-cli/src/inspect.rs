//! `lantern inspect FILE`: what a GGUF model file holds, read from its header alone (the tensor
//! data is never loaded, so inspecting a multi-GB file is instant).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use lantern_core::gguf::{GgufHeader, Parsed};

/// Reads just enough of the file to parse its header, growing the prefix as the parser asks.
pub fn read_header(path: &Path) -> Result<(GgufHeader, u64), Box<dyn std::error::Error>> {
    let mut file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let file_size = file.metadata()?.len();
    let mut prefix = Vec::new();
    let mut want = (1u64 << 20).min(file_size);
    loop {
        let have = prefix.len() as u64;
        (&mut file).take(want - have).read_to_end(&mut prefix)?;
        match GgufHeader::parse_with_file_size(&prefix, file_size)? {
            Parsed::Complete(header) => return Ok((*header, file_size)),
            // Double at least, so a large vocabulary costs a few reads, not one per entry.
            Parsed::NeedMoreBytes { at_least } => want = at_least.max(want * 2).min(file_size),
        }
    }
}

pub fn inspect(path: &Path, list_tensors: bool) -> Result<(), Box<dyn std::error::Error>> {
    let (header, file_size) = read_header(path)?;
    let md = header.metadata();
    let text = |key: &str| md.get_str(key).ok();
    let arch = text("general.architecture").unwrap_or("(not stated)");
    println!(
        "file          {} ({:.1} MB, GGUF v{})",
        path.display(),
        file_size as f64 / 1e6,
        header.version()
    );
    println!(
        "architecture  {arch}{}",
        text("general.name")
            .map(|n| format!(" — {n}"))
            .unwrap_or_default()
    );

    let mut by_type: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    let mut parameters = 0u64;
    for t in header.tensors() {
        parameters += t.n_elements();
        let entry = by_type.entry(t.ggml_type().name()).or_default();
        entry.0 += 1;
        entry.1 += t.n_bytes();
    }
    println!(
        "parameters    {:.1} M in {} tensors",
        parameters as f64 / 1e6,
        header.tensors().len()
    );
    for (ty, (count, bytes)) in &by_type {
        println!(
            "  {ty:<11} {count:>4} tensors, {:>8.1} MB",
            *bytes as f64 / 1e6
        );
    }
    for (label, key) in [
        ("layers", "block_count"),
        ("hidden", "embedding_length"),
        ("context", "context_length"),
    ] {
        if let Ok(v) = md.get_u32(&format!("{arch}.{key}")) {
            println!("{label:<13} {v}");
        }
    }
    let tokens = md
        .get_array("tokenizer.ggml.tokens")
        .map(|a| a.len())
        .unwrap_or(0);
    match text("tokenizer.ggml.model") {
        Some(model) => println!(
            "tokenizer     {model}{}, {tokens} tokens",
            text("tokenizer.ggml.pre")
                .map(|p| format!(" (pre-tokenizer {p})"))
                .unwrap_or_default()
        ),
        None => println!("tokenizer     none embedded"),
    }
    println!(
        "chat template {}",
        if text("tokenizer.chat_template").is_some() {
            "yes"
        } else {
            "no"
        }
    );
    if list_tensors {
        for t in header.tensors() {
            println!(
                "  {:<32} {:<6} {:?} @ {:?}",
                t.name(),
                t.ggml_type().name(),
                t.shape(),
                t.byte_range()
            );
        }
    }
    Ok(())
}
