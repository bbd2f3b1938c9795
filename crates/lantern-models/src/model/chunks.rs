//! Where a model file's bytes come from, chunk by chunk, in file order: a download, a file on
//! disk, bytes already in memory. The header is parsed from the first chunks by [`read_header`],
//! the one place that does it for the CLI's files and the browser's downloads alike.

use std::future::Future;

use lantern_core::gguf::{GgufHeader, Parsed};

use super::{ModelError, Result};

/// Where a file's bytes come from, chunk by chunk, in file order.
pub trait ChunkSource {
    /// The next chunk, or `None` at the end of the file.
    fn next_chunk(&mut self) -> impl Future<Output = Result<Option<Vec<u8>>>>;
}

/// A file already in memory, handed out in chunks (as a download would arrive).
pub struct SliceChunks<'a> {
    rest: &'a [u8],
    chunk: usize,
}

impl<'a> SliceChunks<'a> {
    pub fn new(bytes: &'a [u8], chunk: usize) -> Self {
        SliceChunks {
            rest: bytes,
            chunk: chunk.max(1),
        }
    }
}

impl ChunkSource for SliceChunks<'_> {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (chunk, rest) = self.rest.split_at(self.chunk.min(self.rest.len()));
        self.rest = rest;
        Ok(Some(chunk.to_vec()))
    }
}

/// A source whose first bytes were read ahead to parse the GGUF header: it hands them out again
/// first, since the loader takes the file from its first byte, then the rest of the source.
pub struct HeaderFirst<S> {
    source: S,
    replay: Option<Vec<u8>>,
}

impl<S> HeaderFirst<S> {
    /// The source underneath, for what it does besides handing out chunks (the browser's
    /// checksum and progress).
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }
}

impl<S: ChunkSource> ChunkSource for HeaderFirst<S> {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if let Some(prefix) = self.replay.take() {
            return Ok(Some(prefix));
        }
        self.source.next_chunk().await
    }
}

/// Reads chunks of `source` until the GGUF header it starts with is complete, and returns the
/// header with the source rewound to the file's first byte. With the file's size known, a
/// header that claims more bytes than the file holds is refused before anything more is read;
/// a source that ends inside its header is an error naming how far it got.
pub async fn read_header<S: ChunkSource>(
    mut source: S,
    file_size: Option<u64>,
) -> Result<(GgufHeader, HeaderFirst<S>)> {
    let mut prefix = Vec::new();
    loop {
        let parsed = match file_size {
            Some(size) => GgufHeader::parse_with_file_size(&prefix, size)?,
            None => GgufHeader::parse(&prefix)?,
        };
        match parsed {
            Parsed::Complete(header) => {
                let source = HeaderFirst {
                    source,
                    replay: Some(prefix),
                };
                return Ok((*header, source));
            }
            Parsed::NeedMoreBytes { at_least } => {
                while (prefix.len() as u64) < at_least {
                    let Some(chunk) = source.next_chunk().await? else {
                        return Err(ModelError::Source(format!(
                            "the file ended inside its GGUF header, after {} bytes",
                            prefix.len()
                        )));
                    };
                    prefix.extend_from_slice(&chunk);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use lantern_core::GgmlType;
    use lantern_core::gguf::{GgufWriter, MetadataValue};

    use super::*;

    /// A GGUF file whose header (a long metadata string) spans many 64-byte chunks.
    fn file() -> Vec<u8> {
        let mut w = GgufWriter::new(3);
        w.add_metadata("general.name", MetadataValue::String("x".repeat(1000)));
        w.add_tensor("t", GgmlType::F32, &[4], vec![7; 16]);
        w.to_bytes()
    }

    async fn all_chunks(source: &mut impl ChunkSource) -> Vec<u8> {
        let mut bytes = Vec::new();
        while let Some(chunk) = source.next_chunk().await.unwrap() {
            bytes.extend_from_slice(&chunk);
        }
        bytes
    }

    // The header comes out as a whole-file parse gives it, and the chunks that follow start at
    // the file's first byte and give every byte once, with or without the size known.
    #[test]
    fn the_header_is_parsed_and_the_file_replayed_from_its_first_byte() {
        pollster::block_on(async {
            let bytes = file();
            let Parsed::Complete(whole) = GgufHeader::parse(&bytes).unwrap() else {
                panic!("the whole file holds its header");
            };
            for size in [None, Some(bytes.len() as u64)] {
                let (header, mut source) = read_header(SliceChunks::new(&bytes, 64), size)
                    .await
                    .unwrap();
                assert_eq!(header.data_offset(), whole.data_offset());
                assert_eq!(
                    header.metadata().get_str("general.name").unwrap().len(),
                    1000
                );
                assert_eq!(all_chunks(&mut source).await, bytes);
            }
        });
    }

    // A source that ends inside the header says how far it got; a size smaller than what the
    // header claims is refused.
    #[test]
    fn a_file_cut_inside_its_header_is_a_clear_error() {
        pollster::block_on(async {
            let bytes = file();
            let cut = &bytes[..500];
            let Err(err) = read_header(SliceChunks::new(cut, 64), None).await else {
                panic!("a cut header parsed");
            };
            assert!(
                err.to_string()
                    .contains("ended inside its GGUF header, after 500 bytes"),
                "{err}"
            );
            let claimed = read_header(SliceChunks::new(&bytes, 64), Some(500)).await;
            assert!(claimed.is_err());
        });
    }
}
