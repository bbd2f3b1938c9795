//! Everything that can go wrong reading a GGUF file or its metadata.
//!
//! Messages name the field or tensor involved and the numbers that disagree, because the
//! usual reader of these messages is someone staring at a half-downloaded or hand-edited file.

use std::ops::Range;

use thiserror::Error;

/// A GGUF parse or lookup failure. (Running out of bytes while parsing a *prefix* is not an
/// error; see [`super::Parsed::NeedMoreBytes`].)
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GgufError {
    #[error("not a GGUF file: magic bytes are {found:02x?}, expected \"GGUF\" (47 47 55 46)")]
    BadMagic { found: Vec<u8> },

    #[error(
        "GGUF version 1 is not supported (only versions 2 and 3 are); re-convert the model with a current llama.cpp"
    )]
    VersionOneUnsupported,

    #[error(
        "GGUF file is big-endian (version field reads {swapped} byte-swapped); only little-endian files are supported"
    )]
    BigEndian { swapped: u32 },

    #[error("unsupported GGUF version {0} (only versions 2 and 3 are supported)")]
    UnsupportedVersion(u32),

    #[error("{what} ends at byte {end} but the file has {file_size} bytes")]
    Truncated {
        what: String,
        end: u64,
        file_size: u64,
    },

    #[error(
        "{what}: count {count} is absurd: {count} entries of at least {min_each} bytes overflow a 64-bit size"
    )]
    CountOverflow {
        what: String,
        count: u64,
        min_each: u64,
    },

    #[error(
        "{what}: count {count} is too large: it needs at least {min_bytes} bytes but only {available} bytes remain in the file"
    )]
    CountTooLarge {
        what: String,
        count: u64,
        min_bytes: u64,
        available: u64,
    },

    #[error("{what}: size arithmetic overflows 64 bits")]
    Overflow { what: String },

    #[error("{what}: string is not valid UTF-8")]
    InvalidUtf8 { what: String },

    #[error("{what}: unknown metadata value type {type_id} (known types are 0..=12)")]
    UnknownMetadataType { what: String, type_id: u32 },

    #[error("{what}: arrays nested more than {max_depth} levels deep")]
    NestingTooDeep { what: String, max_depth: usize },

    #[error("{what}: bool byte is {byte}, expected 0 or 1")]
    InvalidBool { what: String, byte: u8 },

    #[error("duplicate metadata key '{0}'")]
    DuplicateKey(String),

    #[error("general.alignment must be a non-zero power of two, got {0}")]
    BadAlignment(u64),

    #[error("general.alignment must have type UINT32, got {0}")]
    AlignmentType(&'static str),

    #[error("tensor '{name}': {n_dims} dimensions, at most 4 are supported")]
    TooManyDims { name: String, n_dims: u32 },

    #[error("tensor '{name}': unknown ggml type id {type_id}")]
    UnknownTensorType { name: String, type_id: u32 },

    #[error(
        "tensor '{name}': innermost dimension {ne0} is not a multiple of the {ty} block size {block_size}"
    )]
    NotBlockMultiple {
        name: String,
        ty: &'static str,
        ne0: u64,
        block_size: u64,
    },

    #[error("tensor '{name}': shape {shape:?} overflows 64 bits when computing its {what}")]
    ShapeOverflow {
        name: String,
        shape: Vec<u64>,
        what: &'static str,
    },

    #[error("tensor '{name}': offset {offset} is not a multiple of the alignment {alignment}")]
    MisalignedOffset {
        name: String,
        offset: u64,
        alignment: u64,
    },

    #[error("tensor '{name}': data offset {offset} plus size {size} overflows 64 bits")]
    RangeOverflow {
        name: String,
        offset: u64,
        size: u64,
    },

    #[error("tensor '{name}': data ends at byte {end} but the file has {file_size} bytes")]
    TensorOutOfBounds {
        name: String,
        end: u64,
        file_size: u64,
    },

    #[error("duplicate tensor name '{0}'")]
    DuplicateTensor(String),

    #[error(
        "tensors '{first}' (bytes {first_range:?}) and '{second}' (bytes {second_range:?}) overlap"
    )]
    OverlappingTensors {
        first: String,
        first_range: Range<u64>,
        second: String,
        second_range: Range<u64>,
    },

    #[error("prefix has {prefix_len} bytes but the stated file size is only {file_size}")]
    PrefixLongerThanFile { prefix_len: u64, file_size: u64 },

    #[error("no tensor named '{0}'")]
    TensorNotFound(String),

    #[error("metadata key '{0}' is missing")]
    MissingKey(String),

    #[error("metadata key '{key}' has type {found}, expected {expected}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },

    #[error("metadata key '{key}': value {value} does not fit in {target}")]
    OutOfRange {
        key: String,
        value: String,
        target: &'static str,
    },
}

pub type Result<T, E = GgufError> = std::result::Result<T, E>;
