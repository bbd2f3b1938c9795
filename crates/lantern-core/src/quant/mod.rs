//! CPU dequantization of ggml tensor data to f32.
//!
//! These are the reference the GPU kernels are tested against and the fallback for small
//! tensors, so they follow ggml's `dequantize_row_*` semantics exactly, including the order of
//! float operations (e.g. `(d * scale) * q - dmin * min`), which makes results bit-identical.

mod float;
mod k_quants;
mod legacy;

use thiserror::Error;

use crate::ggml_type::GgmlType;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QuantError {
    #[error("dequantizing {0} is not supported")]
    Unsupported(GgmlType),
    #[error("{n_elements} elements is not a multiple of the {ty} block size {block_size}")]
    NotBlockMultiple {
        ty: GgmlType,
        n_elements: usize,
        block_size: u64,
    },
    #[error("{n_elements} {ty} elements need {expected} bytes, got {got}")]
    InputLength {
        ty: GgmlType,
        n_elements: usize,
        expected: u64,
        got: usize,
    },
    #[error("output has {got} slots for {expected} elements")]
    OutputLength { expected: usize, got: usize },
}

/// True when [`dequantize`] handles `ty`.
pub const fn is_supported(ty: GgmlType) -> bool {
    matches!(
        ty,
        GgmlType::F32
            | GgmlType::F16
            | GgmlType::BF16
            | GgmlType::Q4_0
            | GgmlType::Q4_1
            | GgmlType::Q5_0
            | GgmlType::Q5_1
            | GgmlType::Q8_0
            | GgmlType::Q4_K
            | GgmlType::Q5_K
            | GgmlType::Q6_K
    )
}

/// Dequantizes `n_elements` values of type `ty` from `bytes` into `out`. `bytes` must be
/// exactly the encoded size and `out` exactly `n_elements` long: a mismatch almost always
/// means the caller sliced the wrong tensor or row, which should not pass silently.
pub fn dequantize(
    ty: GgmlType,
    bytes: &[u8],
    n_elements: usize,
    out: &mut [f32],
) -> Result<(), QuantError> {
    if !is_supported(ty) {
        return Err(QuantError::Unsupported(ty));
    }
    let block_size = ty.block_size();
    let expected = ty
        .bytes_for(n_elements as u64)
        .ok_or(QuantError::NotBlockMultiple {
            ty,
            n_elements,
            block_size,
        })?;
    if bytes.len() as u64 != expected {
        return Err(QuantError::InputLength {
            ty,
            n_elements,
            expected,
            got: bytes.len(),
        });
    }
    if out.len() != n_elements {
        return Err(QuantError::OutputLength {
            expected: n_elements,
            got: out.len(),
        });
    }
    // Both sizes are now consistent, so the block iterators below cover everything exactly.
    let blocks = bytes.chunks_exact(ty.type_size() as usize);
    let outs = out.chunks_exact_mut(block_size as usize);
    let per_block: fn(&[u8], &mut [f32]) = match ty {
        GgmlType::F32 => float::f32_le,
        GgmlType::F16 => float::f16_le,
        GgmlType::BF16 => float::bf16_le,
        GgmlType::Q4_0 => legacy::q4_0,
        GgmlType::Q4_1 => legacy::q4_1,
        GgmlType::Q5_0 => legacy::q5_0,
        GgmlType::Q5_1 => legacy::q5_1,
        GgmlType::Q8_0 => legacy::q8_0,
        GgmlType::Q4_K => k_quants::q4_k,
        GgmlType::Q5_K => k_quants::q5_k,
        GgmlType::Q6_K => k_quants::q6_k,
        _ => return Err(QuantError::Unsupported(ty)),
    };
    for (block, y) in blocks.zip(outs) {
        per_block(block, y);
    }
    Ok(())
}

/// Convenience wrapper that allocates the output.
pub fn dequantize_to_vec(
    ty: GgmlType,
    bytes: &[u8],
    n_elements: usize,
) -> Result<Vec<f32>, QuantError> {
    // Validate before allocating so a bogus n_elements cannot trigger a huge allocation.
    if !is_supported(ty) {
        return Err(QuantError::Unsupported(ty));
    }
    match ty.bytes_for(n_elements as u64) {
        Some(expected) if expected == bytes.len() as u64 => {}
        Some(expected) => {
            return Err(QuantError::InputLength {
                ty,
                n_elements,
                expected,
                got: bytes.len(),
            });
        }
        None => {
            return Err(QuantError::NotBlockMultiple {
                ty,
                n_elements,
                block_size: ty.block_size(),
            });
        }
    }
    let mut out = vec![0.0; n_elements];
    dequantize(ty, bytes, n_elements, &mut out)?;
    Ok(out)
}

/// Little-endian IEEE half at `at`; block layouts put their scales at fixed offsets.
#[inline]
fn f16_at(block: &[u8], at: usize) -> f32 {
    half::f16::from_bits(u16::from_le_bytes([block[at], block[at + 1]])).to_f32()
}
