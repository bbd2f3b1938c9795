//! A whole GGUF file in memory, with zero-copy tensor views.

use super::error::{GgufError, Result};
use super::header::{GgufHeader, Parsed};
use super::metadata::Metadata;
use super::tensor_info::TensorInfo;

/// A GGUF file whose bytes are all present. Borrowing the bytes (rather than owning them)
/// lets the caller choose the storage: a `Vec`, an mmap, or a wasm `ArrayBuffer` copy.
#[derive(Clone, Debug)]
pub struct GgufFile<'a> {
    header: GgufHeader,
    bytes: &'a [u8],
}

impl<'a> GgufFile<'a> {
    /// Parses the header and checks every tensor range against `bytes.len()`.
    pub fn open(bytes: &'a [u8]) -> Result<Self> {
        match GgufHeader::parse_with_file_size(bytes, bytes.len() as u64)? {
            Parsed::Complete(header) => Ok(GgufFile {
                header: *header,
                bytes,
            }),
            // With the file size known, running out of bytes is reported as `Truncated`; this
            // arm only keeps the match total.
            Parsed::NeedMoreBytes { at_least } => Err(GgufError::Truncated {
                what: "header".into(),
                end: at_least,
                file_size: bytes.len() as u64,
            }),
        }
    }

    /// Pairs a header parsed earlier (e.g. from a streamed prefix) with the full file bytes.
    pub fn from_header(header: GgufHeader, bytes: &'a [u8]) -> Result<Self> {
        header.validate_file_size(bytes.len() as u64)?;
        Ok(GgufFile { header, bytes })
    }

    pub fn header(&self) -> &GgufHeader {
        &self.header
    }

    pub fn metadata(&self) -> &Metadata {
        self.header.metadata()
    }

    /// Tensors in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        self.header.tensors()
    }

    pub fn tensor(&self, name: &str) -> Result<&TensorInfo> {
        self.header
            .tensor(name)
            .ok_or_else(|| GgufError::TensorNotFound(name.to_owned()))
    }

    /// The tensor's bytes, borrowed from the file. Errors only for an info that came from a
    /// different, larger file.
    pub fn tensor_data(&self, info: &TensorInfo) -> Result<&'a [u8]> {
        let range = info.byte_range();
        let out_of_bounds = || GgufError::TensorOutOfBounds {
            name: info.name().to_owned(),
            end: range.end,
            file_size: self.bytes.len() as u64,
        };
        let start = usize::try_from(range.start).map_err(|_| out_of_bounds())?;
        let end = usize::try_from(range.end).map_err(|_| out_of_bounds())?;
        self.bytes.get(start..end).ok_or_else(out_of_bounds)
    }

    pub fn tensor_data_by_name(&self, name: &str) -> Result<&'a [u8]> {
        self.tensor_data(self.tensor(name)?)
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}
