//! A GGUF file read from disk chunk by chunk: its header parsed from the first bytes, then its
//! bytes handed to the model loader in chunks, so that loading never holds the whole file in
//! memory (the GPU buffers are the only full copy of the weights). The same path a browser
//! download takes, with a file instead of a response body.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use lantern_core::gguf::{GgufHeader, Parsed};
use lantern_models::model::{ChunkSource, ModelError};

/// Bytes per chunk: a few reads of a fast disk, and the wasm loader's default.
const CHUNK_BYTES: usize = 16 << 20;
/// The header is read in steps of at least this many bytes.
const HEADER_STEP: u64 = 256 << 10;

pub struct ModelFile {
    file: File,
    /// The bytes read to parse the header, handed out first (the loader wants the whole file).
    replay: Option<Vec<u8>>,
}

impl ModelFile {
    /// Opens `path` and parses its header, checked against the file's size.
    pub fn open(path: &Path) -> Result<(ModelFile, GgufHeader), Box<dyn std::error::Error>> {
        let named = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut file = File::open(path).map_err(named)?;
        let size = file.metadata().map_err(named)?.len();
        let mut prefix = Vec::new();
        loop {
            match GgufHeader::parse_with_file_size(&prefix, size)? {
                Parsed::Complete(header) => {
                    let source = ModelFile {
                        file,
                        replay: Some(prefix),
                    };
                    return Ok((source, *header));
                }
                Parsed::NeedMoreBytes { at_least } => {
                    // at_least is within the file: parse_with_file_size checked it.
                    let end = at_least.max(prefix.len() as u64 + HEADER_STEP).min(size);
                    let start = prefix.len();
                    if end <= start as u64 {
                        let why = format!("the file ended inside its GGUF header ({size} bytes)");
                        return Err(format!("{}: {why}", path.display()).into());
                    }
                    prefix.resize(end as usize, 0);
                    file.read_exact(&mut prefix[start..]).map_err(named)?;
                }
            }
        }
    }
}

impl ChunkSource for ModelFile {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ModelError> {
        if let Some(prefix) = self.replay.take() {
            return Ok(Some(prefix));
        }
        let mut chunk = Vec::with_capacity(CHUNK_BYTES);
        (&mut self.file)
            .take(CHUNK_BYTES as u64)
            .read_to_end(&mut chunk)
            .map_err(|e| ModelError::Source(e.to_string()))?;
        Ok((!chunk.is_empty()).then_some(chunk))
    }
}
