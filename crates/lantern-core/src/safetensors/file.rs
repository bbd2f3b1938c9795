//! A whole safetensors file in memory, with zero-copy tensor views and f32 conversion.

use super::dtype::Dtype;
use super::error::{Result, SafetensorsError};
use super::header::{Parsed, SafetensorsHeader, TensorInfo};
use crate::quant;

/// A safetensors file whose bytes are all present. Borrowing the bytes lets the caller choose
/// the storage (a `Vec`, an mmap, a copy of a wasm `ArrayBuffer`).
#[derive(Clone, Debug)]
pub struct SafetensorsFile<'a> {
    header: SafetensorsHeader,
    bytes: &'a [u8],
}

impl<'a> SafetensorsFile<'a> {
    /// Parses the header and checks that the tensors tile the rest of `bytes` exactly.
    pub fn open(bytes: &'a [u8]) -> Result<Self> {
        let file_size = bytes.len() as u64;
        match SafetensorsHeader::parse_with_file_size(bytes, file_size)? {
            Parsed::Complete(header) => Ok(SafetensorsFile {
                header: *header,
                bytes,
            }),
            // With the file size known, running out of bytes is reported as `Truncated`; this
            // arm only keeps the match total.
            Parsed::NeedMoreBytes { at_least } => Err(SafetensorsError::Truncated {
                what: "header",
                end: at_least,
                file_size,
            }),
        }
    }

    /// Pairs a header parsed earlier (e.g. from a streamed prefix) with the full file bytes.
    pub fn from_header(header: SafetensorsHeader, bytes: &'a [u8]) -> Result<Self> {
        header.validate_file_size(bytes.len() as u64)?;
        Ok(SafetensorsFile { header, bytes })
    }

    pub fn header(&self) -> &SafetensorsHeader {
        &self.header
    }

    /// Tensors in data order (by offset).
    pub fn tensors(&self) -> &[TensorInfo] {
        self.header.tensors()
    }

    pub fn tensor(&self, name: &str) -> Result<TensorView<'_>> {
        let info = self
            .header
            .tensor(name)
            .ok_or_else(|| SafetensorsError::TensorNotFound(name.to_owned()))?;
        Ok(TensorView {
            info,
            data: self.tensor_data(info)?,
        })
    }

    /// Every tensor, in data order.
    pub fn views(&self) -> impl Iterator<Item = Result<TensorView<'_>>> {
        self.tensors().iter().map(|info| {
            Ok(TensorView {
                info,
                data: self.tensor_data(info)?,
            })
        })
    }

    /// The tensor's bytes, borrowed from the file (they outlive `self`). Errors only for an
    /// info that came from a different, larger file.
    pub fn tensor_data(&self, info: &TensorInfo) -> Result<&'a [u8]> {
        let range = info.byte_range();
        let out_of_bounds = || SafetensorsError::TensorOutOfBounds {
            name: info.name().to_owned(),
            end: range.end,
            file_size: self.bytes.len() as u64,
        };
        let start = usize::try_from(range.start).map_err(|_| out_of_bounds())?;
        let end = usize::try_from(range.end).map_err(|_| out_of_bounds())?;
        self.bytes.get(start..end).ok_or_else(out_of_bounds)
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// One tensor: its description and its bytes, borrowed from the file.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'t> {
    info: &'t TensorInfo,
    data: &'t [u8],
}

impl<'t> TensorView<'t> {
    pub fn info(&self) -> &'t TensorInfo {
        self.info
    }

    pub fn name(&self) -> &'t str {
        self.info.name()
    }

    pub fn dtype(&self) -> Dtype {
        self.info.dtype()
    }

    pub fn shape(&self) -> &'t [u64] {
        self.info.shape()
    }

    pub fn n_elements(&self) -> u64 {
        self.info.n_elements()
    }

    /// Raw little-endian bytes, exactly `n_elements × dtype size` long. Not necessarily aligned
    /// for the element type (the JSON header has any length), so read values with
    /// `from_le_bytes` rather than by casting.
    pub fn data(&self) -> &'t [u8] {
        self.data
    }

    /// The values as f32 (F32 copied, F16 and BF16 widened exactly).
    pub fn to_f32_vec(&self) -> Result<Vec<f32>> {
        let mut out = vec![0.0; self.float_len()?];
        self.read_f32_into(&mut out)?;
        Ok(out)
    }

    /// Like [`to_f32_vec`](Self::to_f32_vec) into a caller's buffer of exactly
    /// `n_elements` values.
    pub fn read_f32_into(&self, out: &mut [f32]) -> Result<()> {
        let n = self.float_len()?;
        let ty = self.ggml_type()?;
        quant::dequantize(ty, self.data, n, out).map_err(|source| SafetensorsError::Convert {
            name: self.name().to_owned(),
            source,
        })
    }

    fn ggml_type(&self) -> Result<crate::GgmlType> {
        self.dtype()
            .ggml_type()
            .ok_or_else(|| SafetensorsError::UnsupportedDtype {
                name: self.name().to_owned(),
                dtype: self.dtype(),
            })
    }

    /// The element count as usize, checked before anything is allocated: the dtype first (so
    /// an I64 tensor reports its dtype), then that the count fits this platform.
    fn float_len(&self) -> Result<usize> {
        self.ggml_type()?;
        usize::try_from(self.n_elements()).map_err(|_| SafetensorsError::TooLarge {
            name: self.name().to_owned(),
            n_elements: self.n_elements(),
        })
    }
}
