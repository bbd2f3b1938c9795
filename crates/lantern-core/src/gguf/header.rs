//! Parsing the GGUF header (everything before the tensor data), from a whole file or from a
//! prefix of one.
//!
//! Browsers stream multi-hundred-megabyte files, so the header parser never assumes it has the
//! whole file: it reports how many bytes it needs instead. Re-parsing from the start once that
//! many bytes are buffered is cheap (the header is a few MB at most) and keeps the parser free
//! of resumable state.

use std::collections::HashMap;

use super::cursor::{Cursor, Halt, Step};
use super::error::{GgufError, Result};
use super::metadata::{Metadata, MetadataValue};
use super::metadata_read::{MIN_KV_BYTES, read_metadata};
use super::tensor_info::{MIN_TENSOR_INFO_BYTES, TensorInfo, read_tensor_info};

pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// Used when `general.alignment` is absent, as in llama.cpp.
pub const DEFAULT_ALIGNMENT: u64 = 32;
pub const ALIGNMENT_KEY: &str = "general.alignment";

/// Outcome of parsing a prefix.
#[derive(Clone, Debug)]
pub enum Parsed {
    Complete(Box<GgufHeader>),
    /// The prefix ends inside the header. `at_least` is a lower bound on the total prefix
    /// length needed to get further; parse again once that many bytes are available.
    NeedMoreBytes {
        at_least: u64,
    },
}

/// A parsed and validated GGUF header.
#[derive(Clone, Debug)]
pub struct GgufHeader {
    version: u32,
    alignment: u64,
    header_len: u64,
    data_offset: u64,
    metadata: Metadata,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
}

impl GgufHeader {
    /// Parses the header from a prefix of a file of unknown size. A prefix that ends inside the
    /// header gives `NeedMoreBytes`, never an error; malformed bytes give an error.
    pub fn parse(prefix: &[u8]) -> Result<Parsed> {
        parse_impl(prefix, None)
    }

    /// Like [`parse`](Self::parse), but with the total file size known (e.g. from
    /// Content-Length): fields, counts and tensor ranges that cannot fit in `file_size` are
    /// errors, and a `Complete` header has had every tensor range validated.
    pub fn parse_with_file_size(prefix: &[u8], file_size: u64) -> Result<Parsed> {
        if prefix.len() as u64 > file_size {
            return Err(GgufError::PrefixLongerThanFile {
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

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Bytes of header proper (magic through the last tensor info), before padding.
    pub fn header_len(&self) -> u64 {
        self.header_len
    }

    /// Absolute byte where the tensor data section starts.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Tensors in file (header) order, each with name, type, shape and absolute byte range.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index
            .get(name)
            .and_then(|&i| self.tensors.get(i))
    }

    /// The smallest file size that holds every tensor: how many bytes a chunked loader must
    /// fetch in total.
    pub fn required_file_size(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| t.byte_range().end)
            .fold(self.header_len, u64::max)
    }

    /// Checks every tensor's byte range against the total file size, without the bytes: lets a
    /// chunked loader reject a bad file before downloading its data.
    pub fn validate_file_size(&self, file_size: u64) -> Result<()> {
        for t in &self.tensors {
            let end = t.byte_range().end;
            if end > file_size {
                return Err(GgufError::TensorOutOfBounds {
                    name: t.name().to_owned(),
                    end,
                    file_size,
                });
            }
        }
        Ok(())
    }
}

fn parse_impl(prefix: &[u8], file_size: Option<u64>) -> Result<Parsed> {
    let mut c = Cursor::new(prefix, file_size);
    match parse_header(&mut c) {
        Ok(h) => Ok(Parsed::Complete(Box::new(h))),
        Err(Halt::NeedMoreBytes(at_least)) => Ok(Parsed::NeedMoreBytes { at_least }),
        Err(Halt::Error(e)) => Err(e),
    }
}

fn parse_header(c: &mut Cursor) -> Step<GgufHeader> {
    check_magic(c)?;
    let version = c.u32(&|| "header field 'version'".into())?;
    check_version(version)?;
    let tensor_count = c.u64(&|| "header field 'tensor_count'".into())?;
    let kv_count = c.u64(&|| "header field 'metadata_kv_count'".into())?;
    // Reject absurd counts before reading (or allocating for) a single entry.
    c.require_count(kv_count, MIN_KV_BYTES, &|| {
        "header field 'metadata_kv_count'".into()
    })?;
    c.require_count(tensor_count, MIN_TENSOR_INFO_BYTES, &|| {
        "header field 'tensor_count'".into()
    })?;

    let metadata = read_metadata(c, kv_count)?;
    let alignment = alignment(&metadata)?;

    c.require_count(tensor_count, MIN_TENSOR_INFO_BYTES, &|| {
        "header field 'tensor_count'".into()
    })?;
    let n = usize::try_from(tensor_count).unwrap_or(0);
    let mut tensors = Vec::with_capacity(n);
    let mut tensor_index = HashMap::with_capacity(n);
    for i in 0..tensor_count {
        let info = read_tensor_info(c, i, alignment)?;
        if tensor_index
            .insert(info.name().to_owned(), tensors.len())
            .is_some()
        {
            return Err(GgufError::DuplicateTensor(info.name().to_owned()).into());
        }
        tensors.push(info);
    }

    let header_len = c.pos();
    let data_offset = header_len
        .checked_next_multiple_of(alignment)
        .ok_or_else(|| GgufError::Overflow {
            what: "data section start".into(),
        })?;
    for t in &mut tensors {
        t.place(data_offset)?;
    }
    check_no_overlap(&tensors)?;
    Ok(GgufHeader {
        version,
        alignment,
        header_len,
        data_offset,
        metadata,
        tensors,
        tensor_index,
    })
}

/// Two tensors sharing bytes would let a write to one corrupt the other (and make the file a
/// polyglot), and no converter produces that, so it is an error. Empty tensors own no bytes and
/// cannot overlap anything. Gaps are fine: they are alignment padding.
fn check_no_overlap(tensors: &[TensorInfo]) -> Result<()> {
    let mut by_start: Vec<&TensorInfo> = tensors.iter().filter(|t| t.n_bytes() > 0).collect();
    by_start.sort_by_key(|t| t.byte_range().start);
    for pair in by_start.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b.byte_range().start < a.byte_range().end {
            return Err(GgufError::OverlappingTensors {
                first: a.name().to_owned(),
                first_range: a.byte_range(),
                second: b.name().to_owned(),
                second_range: b.byte_range(),
            });
        }
    }
    Ok(())
}

/// Compares whatever magic bytes are present, so even a 2-byte prefix of a non-GGUF file
/// fails fast instead of asking for more.
fn check_magic(c: &mut Cursor) -> Step<()> {
    let found = c.peek_upto(4);
    if !GGUF_MAGIC.starts_with(found) {
        return Err(GgufError::BadMagic {
            found: found.to_vec(),
        }
        .into());
    }
    c.take(4, &|| "magic".into())?;
    Ok(())
}

fn check_version(version: u32) -> Step<()> {
    match version {
        2 | 3 => Ok(()),
        1 => Err(GgufError::VersionOneUnsupported.into()),
        // A big-endian file written by a big-endian host has its version byte-swapped.
        v if matches!(v.swap_bytes(), 1..=3) => Err(GgufError::BigEndian {
            swapped: v.swap_bytes(),
        }
        .into()),
        v => Err(GgufError::UnsupportedVersion(v).into()),
    }
}

fn alignment(metadata: &Metadata) -> Result<u64> {
    match metadata.get(ALIGNMENT_KEY) {
        None => Ok(DEFAULT_ALIGNMENT),
        Some(MetadataValue::U32(a)) if a.is_power_of_two() => Ok(u64::from(*a)),
        Some(MetadataValue::U32(a)) => Err(GgufError::BadAlignment(u64::from(*a))),
        Some(v) => Err(GgufError::AlignmentType(v.value_type().name())),
    }
}
