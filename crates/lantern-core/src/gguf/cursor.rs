//! Bounds-checked little-endian reads over a possibly incomplete prefix of a GGUF file.
//!
//! Every read first asks "do these bytes exist?". When the whole file size is known, a read
//! past it is a hard error naming the field; when only a prefix is at hand, it is a request
//! for more bytes. Keeping that decision in one place is what lets the same parser serve both
//! `GgufFile::open` and streaming loads.

use super::error::GgufError;

/// Why parsing stopped early.
pub(crate) enum Halt {
    /// The prefix ends before the header does; at least this many bytes are needed in total.
    NeedMoreBytes(u64),
    Error(GgufError),
}

impl From<GgufError> for Halt {
    fn from(e: GgufError) -> Self {
        Halt::Error(e)
    }
}

pub(crate) type Step<T> = Result<T, Halt>;

/// Describes the field being read, formatted only when a message is needed (hot loops read
/// hundreds of thousands of strings, so contexts must be free until they fail).
pub(crate) type What<'w> = &'w dyn Fn() -> String;

pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Total file size when known; reads beyond it are errors rather than "need more".
    file_size: Option<u64>,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], file_size: Option<u64>) -> Self {
        Cursor {
            buf,
            pos: 0,
            file_size,
        }
    }

    pub fn pos(&self) -> u64 {
        self.pos as u64
    }

    /// The end position of an `n`-byte read starting here, if those bytes are in the buffer.
    fn end_of(&self, n: u64, what: What) -> Step<usize> {
        let end = self
            .pos()
            .checked_add(n)
            .ok_or_else(|| GgufError::Overflow { what: what() })?;
        if let Some(file_size) = self.file_size
            && end > file_size
        {
            return Err(GgufError::Truncated {
                what: what(),
                end,
                file_size,
            }
            .into());
        }
        match usize::try_from(end) {
            Ok(end) if end <= self.buf.len() => Ok(end),
            _ => Err(Halt::NeedMoreBytes(end)),
        }
    }

    pub fn take(&mut self, n: u64, what: What) -> Step<&'a [u8]> {
        let end = self.end_of(n, what)?;
        // `end_of` guarantees pos <= end <= buf.len(); `get` keeps that promise panic-free.
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or(Halt::NeedMoreBytes(end as u64))?;
        self.pos = end;
        Ok(bytes)
    }

    pub fn array<const N: usize>(&mut self, what: What) -> Step<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, what)?);
        Ok(out)
    }

    pub fn u32(&mut self, what: What) -> Step<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: What) -> Step<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Checks, before anything is allocated or looped over, that `count` entries of at least
    /// `min_each` bytes can possibly follow. This is what stops a header claiming 2^40 tensors
    /// from making us reserve memory or spin on a 1 KiB file.
    pub fn require_count(&self, count: u64, min_each: u64, what: What) -> Step<()> {
        let min_bytes = count
            .checked_mul(min_each)
            .ok_or_else(|| GgufError::CountOverflow {
                what: what(),
                count,
                min_each,
            })?;
        let end = self
            .pos()
            .checked_add(min_bytes)
            .ok_or_else(|| GgufError::CountOverflow {
                what: what(),
                count,
                min_each,
            })?;
        if let Some(file_size) = self.file_size
            && end > file_size
        {
            return Err(GgufError::CountTooLarge {
                what: what(),
                count,
                min_bytes,
                available: file_size.saturating_sub(self.pos()),
            }
            .into());
        }
        if end > self.buf.len() as u64 {
            return Err(Halt::NeedMoreBytes(end));
        }
        Ok(())
    }

    /// A GGUF string: u64 byte length, then UTF-8 bytes. Invalid UTF-8 is an error rather than
    /// being replaced, because lossy decoding would silently corrupt token vocabularies.
    pub fn string(&mut self, what: What) -> Step<String> {
        let len = self.u64(&|| format!("{}: string length", what()))?;
        let bytes = self.take(len, &|| format!("{}: string of {len} bytes", what()))?;
        // The bytes exist, so this allocation is bounded by the input size.
        String::from_utf8(bytes.to_vec())
            .map_err(|_| GgufError::InvalidUtf8 { what: what() }.into())
    }
}

impl<'a> Cursor<'a> {
    /// Up to `n` bytes from the current position, without consuming or requiring them.
    pub fn peek_upto(&self, n: usize) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        rest.get(..n).unwrap_or(rest)
    }
}
