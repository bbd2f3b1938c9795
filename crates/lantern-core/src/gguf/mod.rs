//! GGUF (llama.cpp's model container), versions 2 and 3.
//!
//! Layout: `"GGUF"`, u32 version, u64 tensor count, u64 metadata count, metadata key/values,
//! tensor infos, padding to `general.alignment`, then tensor data. Everything is little-endian.
//!
//! - [`GgufHeader::parse`] works on a prefix and asks for more bytes when needed (streaming).
//! - [`GgufHeader::validate_file_size`] checks tensor ranges knowing only the file size.
//! - [`GgufFile::open`] takes the whole file and hands out zero-copy tensor slices.
//! - [`TensorStream`] routes a file arriving in chunks to its tensors, for loaders that never
//!   hold the whole file.
//!
//! Every size derived from the file is computed with checked arithmetic, and no allocation is
//! sized by a header field until the bytes it describes are known to exist, so hostile files
//! produce errors rather than panics or huge allocations.

mod cursor;
mod error;
mod file;
mod header;
mod metadata;
mod metadata_read;
mod stream;
mod tensor_info;
pub mod writer;

pub use error::{GgufError, Result};
pub use file::GgufFile;
pub use header::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufHeader, Parsed};
pub use metadata::{Metadata, MetadataArray, MetadataType, MetadataValue};
pub use metadata_read::MAX_ARRAY_NESTING;
pub use stream::{TensorPiece, TensorStream};
pub use tensor_info::{MAX_DIMS, TensorInfo};
pub use writer::{GgufWriter, RawTensor};
