//! Parsing the safetensors header (length prefix and JSON), from a whole file or a prefix.
//!
//! The JSON is at most [`MAX_HEADER_LEN`] bytes and is checked against the file size before it
//! is read, so nothing is allocated for a header whose bytes are not there; everything derived
//! from it (element counts, byte sizes, ranges) is computed with checked arithmetic.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use super::dtype::Dtype;
use super::error::{Result, SafetensorsError};

/// Largest JSON header accepted, as in the reference implementation: real headers are well under
/// 1 MB even for models with thousands of tensors, so anything bigger is corrupt or hostile.
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// Bytes of the little-endian u64 that gives the JSON length.
const LEN_BYTES: u64 = 8;

const METADATA_KEY: &str = "__metadata__";

/// Outcome of parsing a prefix.
#[derive(Clone, Debug)]
pub enum Parsed {
    Complete(Box<SafetensorsHeader>),
    /// The prefix ends inside the header; parse again once `at_least` bytes are available.
    NeedMoreBytes {
        at_least: u64,
    },
}

/// One tensor as described by the header. Fields are private so that every `TensorInfo` seen
/// outside this module has passed the size checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    name: String,
    dtype: Dtype,
    shape: Vec<u64>,
    n_elements: u64,
    /// `data_offsets` as written: relative to the start of the data section.
    offsets: Range<u64>,
    /// Absolute file position of the data section.
    data_offset: u64,
}

impl TensorInfo {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Dimensions, outermost first (row-major, as in PyTorch): a `[30522, 384]` embedding is
    /// 30522 rows of 384 values.
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    pub fn n_elements(&self) -> u64 {
        self.n_elements
    }

    pub fn n_bytes(&self) -> u64 {
        self.offsets.end - self.offsets.start
    }

    /// The header's `data_offsets`, relative to the data section.
    pub fn data_offsets(&self) -> Range<u64> {
        self.offsets.clone()
    }

    /// Absolute byte range of the tensor's data in the file.
    pub fn byte_range(&self) -> Range<u64> {
        // data_offset + the data section length was checked when the header was parsed.
        self.data_offset + self.offsets.start..self.data_offset + self.offsets.end
    }
}

/// A parsed and validated safetensors header.
#[derive(Clone, Debug)]
pub struct SafetensorsHeader {
    json_len: u64,
    /// In data order (by offset), which is also the order the bytes arrive when streaming.
    tensors: Vec<TensorInfo>,
    index: HashMap<String, usize>,
    metadata: BTreeMap<String, String>,
    data_len: u64,
}

impl SafetensorsHeader {
    /// Parses the header from a prefix of a file of unknown size. A prefix that ends inside the
    /// header gives `NeedMoreBytes`, never an error; malformed bytes give an error.
    pub fn parse(prefix: &[u8]) -> Result<Parsed> {
        parse_impl(prefix, None)
    }

    /// Like [`parse`](Self::parse), with the total file size known (e.g. from Content-Length):
    /// a header that cannot fit is an error, and a `Complete` header has been checked to cover
    /// the file exactly.
    pub fn parse_with_file_size(prefix: &[u8], file_size: u64) -> Result<Parsed> {
        if prefix.len() as u64 > file_size {
            return Err(SafetensorsError::PrefixLongerThanFile {
                prefix_len: prefix.len() as u64,
                file_size,
            });
        }
        let parsed = parse_impl(prefix, Some(file_size))?;
        if let Parsed::Complete(h) = &parsed {
            h.validate_file_size(file_size)?;
        }
        Ok(parsed)
    }

    /// Bytes before the data section: the 8-byte length plus the JSON.
    pub fn header_len(&self) -> u64 {
        LEN_BYTES + self.json_len
    }

    /// Absolute byte where the data section starts (the same as [`header_len`](Self::header_len)).
    pub fn data_offset(&self) -> u64 {
        self.header_len()
    }

    /// Length of the data section, which the tensors tile exactly.
    pub fn data_len(&self) -> u64 {
        self.data_len
    }

    /// The size the whole file must have.
    pub fn required_file_size(&self) -> u64 {
        // Checked when the header was parsed.
        self.header_len() + self.data_len
    }

    /// Tensors in data order (by offset).
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.index.get(name).and_then(|&i| self.tensors.get(i))
    }

    /// The free-form `__metadata__` strings (e.g. `format: pt`), empty when absent.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Checks the tensors against the total file size without the bytes, so a chunked loader can
    /// reject a bad file before downloading its data. The format forbids trailing bytes.
    pub fn validate_file_size(&self, file_size: u64) -> Result<()> {
        if self.header_len() > file_size {
            return Err(SafetensorsError::Truncated {
                what: "header",
                end: self.header_len(),
                file_size,
            });
        }
        if let Some(t) = self.tensors.iter().find(|t| t.byte_range().end > file_size) {
            return Err(SafetensorsError::TensorOutOfBounds {
                name: t.name.clone(),
                end: t.byte_range().end,
                file_size,
            });
        }
        if self.required_file_size() < file_size {
            return Err(SafetensorsError::TrailingBytes {
                data_end: self.required_file_size(),
                file_size,
            });
        }
        Ok(())
    }
}

fn parse_impl(prefix: &[u8], file_size: Option<u64>) -> Result<Parsed> {
    let need = |end: u64, what: &'static str| match file_size {
        Some(file_size) if end > file_size => Err(SafetensorsError::Truncated {
            what,
            end,
            file_size,
        }),
        _ => Ok(Parsed::NeedMoreBytes { at_least: end }),
    };
    let Some(len_bytes) = prefix.first_chunk::<8>() else {
        return need(LEN_BYTES, "header length");
    };
    let json_len = u64::from_le_bytes(*len_bytes);
    if json_len > MAX_HEADER_LEN {
        return Err(SafetensorsError::HeaderTooLarge {
            len: json_len,
            max: MAX_HEADER_LEN,
        });
    }
    // At most 100 MB + 8: no overflow, and fits in usize on every target.
    let header_end = LEN_BYTES + json_len;
    let Some(json) = prefix.get(LEN_BYTES as usize..header_end as usize) else {
        return need(header_end, "header");
    };
    let (raw, metadata) = parse_json(json)?;
    let (tensors, data_len) = validate_tensors(raw, header_end)?;
    header_end
        .checked_add(data_len)
        .ok_or(SafetensorsError::Overflow)?;
    let index = tensors
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    Ok(Parsed::Complete(Box::new(SafetensorsHeader {
        json_len,
        tensors,
        index,
        metadata,
        data_len,
    })))
}

/// A tensor entry as written, before any checks.
#[derive(Deserialize)]
struct RawTensor {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

type RawEntries = Vec<(String, RawTensor)>;

fn parse_json(json: &[u8]) -> Result<(RawEntries, BTreeMap<String, String>)> {
    let text = std::str::from_utf8(json).map_err(|e| SafetensorsError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    // The format requires the JSON to open at once; checking it makes a random file fail with
    // a clear message instead of a JSON syntax error.
    match json.first() {
        Some(b'{') => {}
        Some(&first) => return Err(SafetensorsError::NotAnObject { first }),
        None => return Err(SafetensorsError::InvalidJson("the header is empty".into())),
    }
    // The seed records which entry it is reading, so a malformed entry's error can name it.
    let current = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = HeaderSeed { current: &current }
        .deserialize(&mut de)
        .and_then(|header| de.end().map(|()| header));
    parsed.map_err(|e| match current.take() {
        Some(name) => SafetensorsError::InvalidJson(format!("entry '{name}': {e}")),
        None => SafetensorsError::InvalidJson(e.to_string()),
    })
}

/// Reads the top-level object in file order (a map type would lose the order and silently
/// merge duplicate names), keeping `__metadata__` apart.
struct HeaderSeed<'c> {
    current: &'c RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for HeaderSeed<'_> {
    type Value = (RawEntries, BTreeMap<String, String>);

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed<'_> {
    type Value = (RawEntries, BTreeMap<String, String>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of tensor names to {dtype, shape, data_offsets}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        let mut metadata = None;
        while let Some(key) = map.next_key::<String>()? {
            self.current.replace(Some(key.clone()));
            if key == METADATA_KEY {
                if metadata.is_some() {
                    return Err(de::Error::custom("duplicate key"));
                }
                // `null` is what the reference writer's `Option` would mean by "none".
                let value = map.next_value::<Option<BTreeMap<String, String>>>()?;
                metadata = Some(value.unwrap_or_default());
            } else {
                entries.push((key, map.next_value::<RawTensor>()?));
            }
            self.current.replace(None);
        }
        Ok((entries, metadata.unwrap_or_default()))
    }
}

/// Checks each entry (dtype, shape against offsets) and the layout (names unique, ranges tiling
/// the data section), returning the tensors in data order and the data section length.
fn validate_tensors(raw: RawEntries, data_offset: u64) -> Result<(Vec<TensorInfo>, u64)> {
    let mut seen = HashSet::with_capacity(raw.len());
    let mut tensors = Vec::with_capacity(raw.len());
    for (name, entry) in raw {
        if !seen.insert(name.clone()) {
            return Err(SafetensorsError::DuplicateTensor(name));
        }
        tensors.push(check_entry(name, entry, data_offset)?);
    }
    // Sort by (begin, end) so empty tensors come before a tensor starting at the same offset.
    tensors.sort_by_key(|t| (t.offsets.start, t.offsets.end));
    let mut end = 0u64;
    let mut previous: Option<&TensorInfo> = None;
    for t in &tensors {
        // `end` is 0 until there is a previous tensor, so only a previous one can overlap.
        if let Some(p) = previous.filter(|_| t.offsets.start < end) {
            return Err(SafetensorsError::Overlap {
                first: p.name.clone(),
                first_range: p.offsets.clone(),
                second: t.name.clone(),
                second_range: t.offsets.clone(),
            });
        }
        if t.offsets.start > end {
            return Err(SafetensorsError::Hole {
                name: t.name.clone(),
                begin: t.offsets.start,
                expected: end,
            });
        }
        end = t.offsets.end;
        previous = Some(t);
    }
    Ok((tensors, end))
}

fn check_entry(name: String, entry: RawTensor, data_offset: u64) -> Result<TensorInfo> {
    let Some(dtype) = Dtype::from_name(&entry.dtype) else {
        return Err(SafetensorsError::UnknownDtype {
            name,
            dtype: entry.dtype,
        });
    };
    let shape = entry.shape;
    let [begin, end] = entry.data_offsets;
    let n_elements = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    let n_bits = n_elements.and_then(|n| n.checked_mul(dtype.bits()));
    let (Some(n_elements), Some(n_bits)) = (n_elements, n_bits) else {
        return Err(SafetensorsError::ShapeOverflow { name, dtype, shape });
    };
    if n_bits % 8 != 0 {
        return Err(SafetensorsError::PartialByte {
            name,
            dtype,
            n_elements,
        });
    }
    if end < begin {
        return Err(SafetensorsError::ReversedOffsets { name, begin, end });
    }
    if end - begin != n_bits / 8 {
        return Err(SafetensorsError::SizeMismatch {
            name,
            dtype,
            shape,
            expected: n_bits / 8,
            got: end - begin,
        });
    }
    Ok(TensorInfo {
        name,
        dtype,
        shape,
        n_elements,
        offsets: begin..end,
        data_offset,
    })
}
