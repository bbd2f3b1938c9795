//! GGUF metadata values and typed lookups.
//!
//! Raw values are kept exactly as stored (`MetadataValue`), so nothing is lost for tools that
//! dump or re-write files; the typed getters add the conversions model code actually wants
//! (e.g. "any integer type that fits in u32", since converters disagree on integer widths).

use std::collections::HashMap;

use super::error::{GgufError, Result};

/// The value type ids of the GGUF spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetadataType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl MetadataType {
    pub const fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => Self::U8,
            1 => Self::I8,
            2 => Self::U16,
            3 => Self::I16,
            4 => Self::U32,
            5 => Self::I32,
            6 => Self::F32,
            7 => Self::Bool,
            8 => Self::String,
            9 => Self::Array,
            10 => Self::U64,
            11 => Self::I64,
            12 => Self::F64,
            _ => return None,
        })
    }

    pub const fn id(self) -> u32 {
        self as u32
    }

    /// The spec's name for the type (`"UINT32"`), used in error messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::U8 => "UINT8",
            Self::I8 => "INT8",
            Self::U16 => "UINT16",
            Self::I16 => "INT16",
            Self::U32 => "UINT32",
            Self::I32 => "INT32",
            Self::F32 => "FLOAT32",
            Self::Bool => "BOOL",
            Self::String => "STRING",
            Self::Array => "ARRAY",
            Self::U64 => "UINT64",
            Self::I64 => "INT64",
            Self::F64 => "FLOAT64",
        }
    }

    /// Smallest possible encoding of one value of this type: the bound used to reject absurd
    /// counts before looping or allocating (a string is at least its 8-byte length; an array at
    /// least its 4-byte element type and 8-byte count).
    pub const fn min_encoded_size(self) -> u64 {
        match self {
            Self::U8 | Self::I8 | Self::Bool => 1,
            Self::U16 | Self::I16 => 2,
            Self::U32 | Self::I32 | Self::F32 => 4,
            Self::U64 | Self::I64 | Self::F64 | Self::String => 8,
            Self::Array => 12,
        }
    }
}

/// One metadata value as stored in the file.
#[derive(Clone, Debug, PartialEq)]
pub enum MetadataValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(MetadataArray),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// A metadata array. Elements are stored per type rather than as `Vec<MetadataValue>` so a
/// 49k-entry token list costs one `Vec<String>` and a hostile u8 array cannot blow up 32x in
/// memory. GGUF allows arrays of arrays, whose inner arrays may each have their own type.
#[derive(Clone, Debug, PartialEq)]
pub enum MetadataArray {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
    String(Vec<String>),
    Array(Vec<MetadataArray>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
}

impl MetadataValue {
    pub fn value_type(&self) -> MetadataType {
        match self {
            Self::U8(_) => MetadataType::U8,
            Self::I8(_) => MetadataType::I8,
            Self::U16(_) => MetadataType::U16,
            Self::I16(_) => MetadataType::I16,
            Self::U32(_) => MetadataType::U32,
            Self::I32(_) => MetadataType::I32,
            Self::F32(_) => MetadataType::F32,
            Self::Bool(_) => MetadataType::Bool,
            Self::String(_) => MetadataType::String,
            Self::Array(_) => MetadataType::Array,
            Self::U64(_) => MetadataType::U64,
            Self::I64(_) => MetadataType::I64,
            Self::F64(_) => MetadataType::F64,
        }
    }

    /// The value as a wide integer if it has an integer type (bool is not an integer here).
    pub fn as_integer(&self) -> Option<i128> {
        Some(match *self {
            Self::U8(v) => v.into(),
            Self::I8(v) => v.into(),
            Self::U16(v) => v.into(),
            Self::I16(v) => v.into(),
            Self::U32(v) => v.into(),
            Self::I32(v) => v.into(),
            Self::U64(v) => v.into(),
            Self::I64(v) => v.into(),
            _ => return None,
        })
    }
}

impl MetadataArray {
    pub fn element_type(&self) -> MetadataType {
        match self {
            Self::U8(_) => MetadataType::U8,
            Self::I8(_) => MetadataType::I8,
            Self::U16(_) => MetadataType::U16,
            Self::I16(_) => MetadataType::I16,
            Self::U32(_) => MetadataType::U32,
            Self::I32(_) => MetadataType::I32,
            Self::F32(_) => MetadataType::F32,
            Self::Bool(_) => MetadataType::Bool,
            Self::String(_) => MetadataType::String,
            Self::Array(_) => MetadataType::Array,
            Self::U64(_) => MetadataType::U64,
            Self::I64(_) => MetadataType::I64,
            Self::F64(_) => MetadataType::F64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::I8(v) => v.len(),
            Self::U16(v) => v.len(),
            Self::I16(v) => v.len(),
            Self::U32(v) => v.len(),
            Self::I32(v) => v.len(),
            Self::F32(v) => v.len(),
            Self::Bool(v) => v.len(),
            Self::String(v) => v.len(),
            Self::Array(v) => v.len(),
            Self::U64(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The key/value section of a GGUF header, in file order, with O(1) lookup by key.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    entries: Vec<(String, MetadataValue)>,
    index: HashMap<String, usize>,
}

impl Metadata {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Metadata {
            entries: Vec::with_capacity(n),
            index: HashMap::with_capacity(n),
        }
    }

    /// Adds an entry; duplicate keys are rejected (as llama.cpp does) because which one wins
    /// would otherwise be an accident of the reader.
    pub(crate) fn insert(&mut self, key: String, value: MetadataValue) -> Result<()> {
        if self.index.contains_key(&key) {
            return Err(GgufError::DuplicateKey(key));
        }
        self.index.insert(key.clone(), self.entries.len());
        self.entries.push((key, value));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &MetadataValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.index
            .get(key)
            .and_then(|&i| self.entries.get(i))
            .map(|(_, v)| v)
    }

    fn require(&self, key: &str) -> Result<&MetadataValue> {
        self.get(key)
            .ok_or_else(|| GgufError::MissingKey(key.to_owned()))
    }

    fn wrong_type(key: &str, expected: &'static str, found: &MetadataValue) -> GgufError {
        let found = match found {
            MetadataValue::Array(a) => array_type_name(a.element_type()),
            v => v.value_type().name(),
        };
        GgufError::WrongType {
            key: key.to_owned(),
            expected,
            found,
        }
    }

    pub fn get_str(&self, key: &str) -> Result<&str> {
        match self.require(key)? {
            MetadataValue::String(s) => Ok(s),
            v => Err(Self::wrong_type(key, "STRING", v)),
        }
    }

    /// Any integer type whose value fits in u32 (converters write counts as u32, i32 or u64).
    pub fn get_u32(&self, key: &str) -> Result<u32> {
        self.get_int(key, "u32")
    }

    /// Any integer type whose value fits in u64.
    pub fn get_u64(&self, key: &str) -> Result<u64> {
        self.get_int(key, "u64")
    }

    /// Any integer type whose value fits in i64.
    pub fn get_i64(&self, key: &str) -> Result<i64> {
        self.get_int(key, "i64")
    }

    fn get_int<T: TryFrom<i128>>(&self, key: &str, target: &'static str) -> Result<T> {
        let value = self.require(key)?;
        let wide = value
            .as_integer()
            .ok_or_else(|| Self::wrong_type(key, "an integer type", value))?;
        T::try_from(wide).map_err(|_| GgufError::OutOfRange {
            key: key.to_owned(),
            value: wide.to_string(),
            target,
        })
    }

    /// FLOAT32, or FLOAT64 narrowed to f32 (hyper-parameters such as epsilons are used as f32).
    pub fn get_f32(&self, key: &str) -> Result<f32> {
        match self.require(key)? {
            MetadataValue::F32(v) => Ok(*v),
            MetadataValue::F64(v) => Ok(*v as f32),
            v => Err(Self::wrong_type(key, "FLOAT32", v)),
        }
    }

    pub fn get_bool(&self, key: &str) -> Result<bool> {
        match self.require(key)? {
            MetadataValue::Bool(v) => Ok(*v),
            v => Err(Self::wrong_type(key, "BOOL", v)),
        }
    }

    /// Any array, raw.
    pub fn get_array(&self, key: &str) -> Result<&MetadataArray> {
        match self.require(key)? {
            MetadataValue::Array(a) => Ok(a),
            v => Err(Self::wrong_type(key, "ARRAY", v)),
        }
    }

    pub fn get_str_array(&self, key: &str) -> Result<&[String]> {
        match self.get_array(key)? {
            MetadataArray::String(v) => Ok(v),
            a => Err(self.wrong_array(key, "ARRAY of STRING", a)),
        }
    }

    pub fn get_f32_array(&self, key: &str) -> Result<&[f32]> {
        match self.get_array(key)? {
            MetadataArray::F32(v) => Ok(v),
            a => Err(self.wrong_array(key, "ARRAY of FLOAT32", a)),
        }
    }

    pub fn get_i32_array(&self, key: &str) -> Result<&[i32]> {
        match self.get_array(key)? {
            MetadataArray::I32(v) => Ok(v),
            a => Err(self.wrong_array(key, "ARRAY of INT32", a)),
        }
    }

    fn wrong_array(&self, key: &str, expected: &'static str, a: &MetadataArray) -> GgufError {
        GgufError::WrongType {
            key: key.to_owned(),
            expected,
            found: array_type_name(a.element_type()),
        }
    }
}

fn array_type_name(elem: MetadataType) -> &'static str {
    match elem {
        MetadataType::U8 => "ARRAY of UINT8",
        MetadataType::I8 => "ARRAY of INT8",
        MetadataType::U16 => "ARRAY of UINT16",
        MetadataType::I16 => "ARRAY of INT16",
        MetadataType::U32 => "ARRAY of UINT32",
        MetadataType::I32 => "ARRAY of INT32",
        MetadataType::F32 => "ARRAY of FLOAT32",
        MetadataType::Bool => "ARRAY of BOOL",
        MetadataType::String => "ARRAY of STRING",
        MetadataType::Array => "ARRAY of ARRAY",
        MetadataType::U64 => "ARRAY of UINT64",
        MetadataType::I64 => "ARRAY of INT64",
        MetadataType::F64 => "ARRAY of FLOAT64",
    }
}
