//! safetensors (the Hugging Face tensor container).
//!
//! Layout: a u64 little-endian header length `n`, `n` bytes of UTF-8 JSON mapping each tensor
//! name to `{"dtype", "shape", "data_offsets": [begin, end]}` (plus an optional
//! `"__metadata__"` object of strings), then the data section. Offsets are relative to the
//! data section, tensors are row-major and little-endian, and the format requires the tensors
//! to tile the data section exactly: no overlaps, no holes, nothing after the last tensor.
//!
//! - [`SafetensorsHeader::parse`] works on a prefix and asks for more bytes when needed, so a
//!   browser can read the header first and stream the tensor data afterwards.
//! - [`SafetensorsHeader::validate_file_size`] checks the data section against the file size.
//! - [`SafetensorsFile::open`] takes the whole file and hands out zero-copy [`TensorView`]s;
//!   F32, F16 and BF16 convert to f32.
//!
//! The reader is our own rather than the `safetensors` crate's, which validates only a whole
//! file in memory (no prefix parse), sizes offsets as `usize` (so a header-first parse of a
//! shard above 4 GiB would fail on wasm32) and reports size mismatches without naming the
//! tensor. It accepts the same files, reading the same tensors, except that it follows the
//! format strictly where the crate does not: the JSON must start with `{`, and a tensor name may
//! appear only once (the crate silently keeps the last). The fuzz target `safetensors_parse`
//! checks exactly that against the crate.

mod dtype;
mod error;
mod file;
mod header;

pub use dtype::Dtype;
pub use error::{Result, SafetensorsError};
pub use file::{SafetensorsFile, TensorView};
pub use header::{MAX_HEADER_LEN, Parsed, SafetensorsHeader, TensorInfo};
