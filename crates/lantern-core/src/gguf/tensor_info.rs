//! Tensor descriptors: name, shape, type and where the bytes are.

use std::ops::Range;

use super::cursor::{Cursor, Step};
use super::error::GgufError;
use crate::ggml_type::GgmlType;

/// ggml tensors have at most four dimensions.
pub const MAX_DIMS: u32 = 4;

/// Smallest possible tensor info: name length (8), n_dims (4), type (4), offset (8).
pub(crate) const MIN_TENSOR_INFO_BYTES: u64 = 24;

/// One tensor as described by the header. Fields are private so that every `TensorInfo` seen
/// outside this module has passed the size and alignment checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    name: String,
    shape: Vec<u64>,
    ggml_type: GgmlType,
    offset: u64,
    n_elements: u64,
    n_bytes: u64,
    /// Absolute file position of the first byte (data section start + `offset`).
    start: u64,
}

impl TensorInfo {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Dimensions in GGUF order: `shape()[0]` (ggml's `ne[0]`) varies fastest, so a
    /// `[576, 49152]` embedding is 49152 rows of 576 values.
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    pub fn ggml_type(&self) -> GgmlType {
        self.ggml_type
    }

    /// Offset as written in the file, relative to the data section.
    pub fn relative_offset(&self) -> u64 {
        self.offset
    }

    pub fn n_elements(&self) -> u64 {
        self.n_elements
    }

    pub fn n_bytes(&self) -> u64 {
        self.n_bytes
    }

    /// Absolute byte range of the tensor's data in the file.
    pub fn byte_range(&self) -> Range<u64> {
        // start + n_bytes was checked when the header was parsed.
        self.start..self.start + self.n_bytes
    }

    /// Bytes per row (innermost dimension), for row-wise dequantization.
    pub fn row_bytes(&self) -> u64 {
        let ne0 = self.shape.first().copied().unwrap_or(1);
        // Cannot overflow or fail: it is at most n_bytes, which was computed checked.
        self.ggml_type.bytes_for(ne0).unwrap_or(0)
    }

    /// Sets the absolute position once the data section start is known.
    pub(crate) fn place(&mut self, data_offset: u64) -> Result<(), GgufError> {
        let overflow = || GgufError::RangeOverflow {
            name: self.name.clone(),
            offset: self.offset,
            size: self.n_bytes,
        };
        let start = data_offset.checked_add(self.offset).ok_or_else(overflow)?;
        start.checked_add(self.n_bytes).ok_or_else(overflow)?;
        self.start = start;
        Ok(())
    }
}

/// Reads and validates tensor info number `index`.
pub(crate) fn read_tensor_info(c: &mut Cursor, index: u64, alignment: u64) -> Step<TensorInfo> {
    let name = c.string(&|| format!("tensor info #{index} name"))?;
    let what = || format!("tensor '{name}'");
    let n_dims = c.u32(&|| format!("{}: n_dims", what()))?;
    if n_dims > MAX_DIMS {
        return Err(GgufError::TooManyDims { name, n_dims }.into());
    }
    let mut shape = Vec::with_capacity(n_dims as usize);
    for d in 0..n_dims {
        shape.push(c.u64(&|| format!("{}: dimension {d}", what()))?);
    }
    let type_id = c.u32(&|| format!("{}: type", what()))?;
    let offset = c.u64(&|| format!("{}: offset", what()))?;

    let ggml_type = GgmlType::from_id(type_id).ok_or_else(|| GgufError::UnknownTensorType {
        name: name.clone(),
        type_id,
    })?;
    let shape_overflow = |what| GgufError::ShapeOverflow {
        name: name.clone(),
        shape: shape.clone(),
        what,
    };
    let n_elements = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| shape_overflow("element count"))?;
    let ne0 = shape.first().copied().unwrap_or(1);
    let row_bytes = ggml_type.bytes_for(ne0).ok_or_else(|| {
        if !ne0.is_multiple_of(ggml_type.block_size()) {
            GgufError::NotBlockMultiple {
                name: name.clone(),
                ty: ggml_type.name(),
                ne0,
                block_size: ggml_type.block_size(),
            }
        } else {
            shape_overflow("byte size")
        }
    })?;
    let n_bytes = shape
        .iter()
        .skip(1)
        .try_fold(row_bytes, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| shape_overflow("byte size"))?;
    if !offset.is_multiple_of(alignment) {
        return Err(GgufError::MisalignedOffset {
            name,
            offset,
            alignment,
        }
        .into());
    }
    Ok(TensorInfo {
        name,
        shape,
        ggml_type,
        offset,
        n_elements,
        n_bytes,
        start: 0,
    })
}
