//! A GGUF file read from disk chunk by chunk: its header parsed from the first chunk, then its
//! bytes handed to the model loader in chunks, so that loading never holds the whole file in
//! memory (the GPU buffers are the only full copy of the weights). The same path a browser
//! download takes (`lantern_models::model::read_header`), with a file instead of a response body.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use lantern_core::gguf::GgufHeader;
use lantern_models::model::{ChunkSource, HeaderFirst, ModelError, read_header};

/// Bytes per chunk: a few reads of a fast disk, and the wasm loader's default.
const CHUNK_BYTES: usize = 16 << 20;

pub struct FileChunks {
    file: File,
}

/// Opens `path` and parses its header, checked against the file's size; the chunks that follow
/// start again at the file's first byte.
pub async fn open(
    path: &Path,
) -> Result<(GgufHeader, HeaderFirst<FileChunks>), Box<dyn std::error::Error>> {
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = File::open(path).map_err(|e| named(&e))?;
    let size = file.metadata().map_err(|e| named(&e))?.len();
    let opened = read_header(FileChunks { file }, Some(size)).await;
    Ok(opened.map_err(|e| named(&e))?)
}

impl ChunkSource for FileChunks {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ModelError> {
        let mut chunk = Vec::with_capacity(CHUNK_BYTES);
        (&mut self.file)
            .take(CHUNK_BYTES as u64)
            .read_to_end(&mut chunk)
            .map_err(|e| ModelError::Source(e.to_string()))?;
        Ok((!chunk.is_empty()).then_some(chunk))
    }
}
