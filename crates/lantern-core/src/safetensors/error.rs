//! Everything that can go wrong reading a safetensors file.
//!
//! As for GGUF, messages name the tensor and the numbers that disagree: the usual reader is
//! someone looking at a half-downloaded, hand-edited or mislabelled file.

use std::ops::Range;

use thiserror::Error;

use super::dtype::Dtype;
use crate::quant::QuantError;

/// A safetensors parse or lookup failure. (Running out of bytes while parsing a *prefix* is
/// not an error; see [`super::Parsed::NeedMoreBytes`].)
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SafetensorsError {
    #[error("{what} ends at byte {end} but the file has {file_size} bytes")]
    Truncated {
        what: &'static str,
        end: u64,
        file_size: u64,
    },

    #[error(
        "header length {len} exceeds the {max}-byte limit: not a safetensors file, or a corrupt one"
    )]
    HeaderTooLarge { len: u64, max: u64 },

    #[error("prefix has {prefix_len} bytes but the stated file size is only {file_size}")]
    PrefixLongerThanFile { prefix_len: u64, file_size: u64 },

    #[error("header is not valid UTF-8 (first bad byte at header byte {valid_up_to})")]
    InvalidUtf8 { valid_up_to: usize },

    #[error(
        "header does not start with '{{' (it starts with byte 0x{first:02x}): not a safetensors file"
    )]
    NotAnObject { first: u8 },

    #[error("header is not valid safetensors JSON: {0}")]
    InvalidJson(String),

    #[error("duplicate tensor name '{0}'")]
    DuplicateTensor(String),

    #[error("tensor '{name}': unknown dtype '{dtype}'")]
    UnknownDtype { name: String, dtype: String },

    #[error(
        "tensor '{name}': shape {shape:?} of {dtype} overflows 64 bits when computing its size"
    )]
    ShapeOverflow {
        name: String,
        dtype: Dtype,
        shape: Vec<u64>,
    },

    #[error("tensor '{name}': {n_elements} {dtype} elements do not fill a whole number of bytes")]
    PartialByte {
        name: String,
        dtype: Dtype,
        n_elements: u64,
    },

    #[error("tensor '{name}': data_offsets [{begin}, {end}] end before they begin")]
    ReversedOffsets { name: String, begin: u64, end: u64 },

    #[error(
        "tensor '{name}': shape {shape:?} of {dtype} needs {expected} bytes but data_offsets span {got}"
    )]
    SizeMismatch {
        name: String,
        dtype: Dtype,
        shape: Vec<u64>,
        expected: u64,
        got: u64,
    },

    #[error(
        "tensors '{first}' (data bytes {first_range:?}) and '{second}' (data bytes {second_range:?}) overlap"
    )]
    Overlap {
        first: String,
        first_range: Range<u64>,
        second: String,
        second_range: Range<u64>,
    },

    #[error(
        "tensor '{name}' starts at data byte {begin} but the bytes before it end at {expected}: the data section must have no holes"
    )]
    Hole {
        name: String,
        begin: u64,
        expected: u64,
    },

    #[error("data section end overflows 64 bits")]
    Overflow,

    #[error("tensor '{name}': data ends at byte {end} but the file has {file_size} bytes")]
    TensorOutOfBounds {
        name: String,
        end: u64,
        file_size: u64,
    },

    #[error(
        "the tensors end at byte {data_end} but the file has {file_size} bytes: trailing bytes are not allowed"
    )]
    TrailingBytes { data_end: u64, file_size: u64 },

    #[error("no tensor named '{0}'")]
    TensorNotFound(String),

    #[error("tensor '{name}' has dtype {dtype}; only F32, F16 and BF16 convert to f32")]
    UnsupportedDtype { name: String, dtype: Dtype },

    #[error("tensor '{name}': {source}")]
    Convert { name: String, source: QuantError },

    #[error("tensor '{name}': {n_elements} elements do not fit in this platform's memory")]
    TooLarge { name: String, n_elements: u64 },
}

pub type Result<T, E = SafetensorsError> = std::result::Result<T, E>;
