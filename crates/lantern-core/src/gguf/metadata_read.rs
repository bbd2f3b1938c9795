//! Decoding metadata key/value pairs from the header bytes.

use super::cursor::{Cursor, Step, What};
use super::error::GgufError;
use super::metadata::{Metadata, MetadataArray, MetadataType, MetadataValue};

/// Smallest possible key/value entry: 8-byte key length, 4-byte type, 1-byte value.
pub(crate) const MIN_KV_BYTES: u64 = 13;

/// Real files nest arrays at most one level; the cap exists so a file of nested array headers
/// cannot recurse deep enough to overflow the stack (which would abort, not error).
pub const MAX_ARRAY_NESTING: usize = 8;

pub(crate) fn read_metadata(c: &mut Cursor, kv_count: u64) -> Step<Metadata> {
    // The caller has checked kv_count * MIN_KV_BYTES fits in the available bytes, so this
    // capacity is bounded by the input size.
    let mut metadata = Metadata::with_capacity(usize::try_from(kv_count).unwrap_or(0));
    for i in 0..kv_count {
        let key = c.string(&|| format!("metadata entry #{i} key"))?;
        let what = || format!("metadata key '{key}'");
        let type_id = c.u32(&|| format!("{}: value type", what()))?;
        let value = read_value(c, type_id, &what)?;
        metadata.insert(key, value)?;
    }
    Ok(metadata)
}

fn value_type(type_id: u32, what: What) -> Step<MetadataType> {
    MetadataType::from_id(type_id).ok_or_else(|| {
        GgufError::UnknownMetadataType {
            what: what(),
            type_id,
        }
        .into()
    })
}

fn read_value(c: &mut Cursor, type_id: u32, what: What) -> Step<MetadataValue> {
    Ok(match value_type(type_id, what)? {
        MetadataType::U8 => MetadataValue::U8(c.array::<1>(what)?[0]),
        MetadataType::I8 => MetadataValue::I8(i8::from_le_bytes(c.array(what)?)),
        MetadataType::U16 => MetadataValue::U16(u16::from_le_bytes(c.array(what)?)),
        MetadataType::I16 => MetadataValue::I16(i16::from_le_bytes(c.array(what)?)),
        MetadataType::U32 => MetadataValue::U32(u32::from_le_bytes(c.array(what)?)),
        MetadataType::I32 => MetadataValue::I32(i32::from_le_bytes(c.array(what)?)),
        MetadataType::F32 => MetadataValue::F32(f32::from_le_bytes(c.array(what)?)),
        MetadataType::Bool => MetadataValue::Bool(to_bool(c.array::<1>(what)?[0], what)?),
        MetadataType::String => MetadataValue::String(c.string(what)?),
        MetadataType::Array => MetadataValue::Array(read_array(c, 1, what)?),
        MetadataType::U64 => MetadataValue::U64(u64::from_le_bytes(c.array(what)?)),
        MetadataType::I64 => MetadataValue::I64(i64::from_le_bytes(c.array(what)?)),
        MetadataType::F64 => MetadataValue::F64(f64::from_le_bytes(c.array(what)?)),
    })
}

/// GGUF bools are one byte; anything but 0/1 means the file is corrupt or misparsed, and
/// guessing "non-zero is true" would hide that.
fn to_bool(byte: u8, what: What) -> Step<bool> {
    match byte {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(GgufError::InvalidBool { what: what(), byte }.into()),
    }
}

/// Reads an array body (element type, u64 count, elements). `depth` is 1 for a top-level array.
fn read_array(c: &mut Cursor, depth: usize, what: What) -> Step<MetadataArray> {
    if depth > MAX_ARRAY_NESTING {
        return Err(GgufError::NestingTooDeep {
            what: what(),
            max_depth: MAX_ARRAY_NESTING,
        }
        .into());
    }
    let elem = value_type(c.u32(&|| format!("{}: array element type", what()))?, what)?;
    let count = c.u64(&|| format!("{}: array count", what()))?;
    let array_what = || format!("{}: array of {count} {}", what(), elem.name());
    c.require_count(count, elem.min_encoded_size(), &array_what)?;
    // From here on `count` entries provably fit in the buffer, so `count` fits in usize and
    // allocations sized by it are bounded by the input size.
    let n = usize::try_from(count).map_err(|_| GgufError::Overflow { what: array_what() })?;

    // Fixed-size elements are read as one slice: one bounds check instead of `count`.
    macro_rules! fixed {
        ($variant:ident, $t:ty) => {{
            const SIZE: usize = std::mem::size_of::<$t>();
            let bytes = c.take(count.saturating_mul(SIZE as u64), &array_what)?;
            MetadataArray::$variant(
                bytes
                    .chunks_exact(SIZE)
                    .map(|b| {
                        let mut a = [0u8; SIZE];
                        a.copy_from_slice(b);
                        <$t>::from_le_bytes(a)
                    })
                    .collect(),
            )
        }};
    }

    Ok(match elem {
        MetadataType::U8 => fixed!(U8, u8),
        MetadataType::I8 => fixed!(I8, i8),
        MetadataType::U16 => fixed!(U16, u16),
        MetadataType::I16 => fixed!(I16, i16),
        MetadataType::U32 => fixed!(U32, u32),
        MetadataType::I32 => fixed!(I32, i32),
        MetadataType::F32 => fixed!(F32, f32),
        MetadataType::U64 => fixed!(U64, u64),
        MetadataType::I64 => fixed!(I64, i64),
        MetadataType::F64 => fixed!(F64, f64),
        MetadataType::Bool => {
            let bytes = c.take(count, &array_what)?;
            let mut out = Vec::with_capacity(n);
            for (j, &b) in bytes.iter().enumerate() {
                out.push(to_bool(b, &|| format!("{}[{j}]", what()))?);
            }
            MetadataArray::Bool(out)
        }
        MetadataType::String => {
            let mut out = Vec::with_capacity(n);
            for j in 0..count {
                out.push(c.string(&|| format!("{}[{j}]", what()))?);
            }
            MetadataArray::String(out)
        }
        MetadataType::Array => {
            let mut out = Vec::with_capacity(n);
            for j in 0..count {
                out.push(read_array(c, depth + 1, &|| format!("{}[{j}]", what()))?);
            }
            MetadataArray::Array(out)
        }
    })
}
