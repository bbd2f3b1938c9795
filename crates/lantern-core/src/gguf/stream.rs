//! Routing a model file's bytes to its tensors as they arrive, so that a browser can stream a
//! download straight into GPU buffers without ever holding the whole file.
//!
//! The loader parses the header from the first bytes ([`GgufHeader::parse`] says how many it
//! needs), then feeds every following chunk, of whatever size the network delivers, to a
//! [`TensorStream`]. Each chunk comes back as zero-copy pieces `(tensor, offset in tensor,
//! bytes)`, ready for `queue.writeBuffer`; padding and header bytes are skipped.

use std::ops::Range;

use super::GgufHeader;

/// A slice of one tensor's data found in a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorPiece<'c> {
    /// Index into [`GgufHeader::tensors`].
    pub tensor: usize,
    /// Where `bytes` go within the tensor's data.
    pub offset: u64,
    pub bytes: &'c [u8],
    /// This piece completes the tensor.
    pub completes: bool,
}

pub struct TensorStream {
    /// (tensor index, absolute byte range), by position in the file.
    ranges: Vec<(usize, Range<u64>)>,
    /// The next tensor not yet complete.
    next: usize,
    /// Absolute file position of the next byte to be fed.
    position: u64,
}

impl TensorStream {
    /// `start`: the file position of the first byte that will be fed (0 to feed the whole file,
    /// or the number of bytes already consumed to parse the header).
    pub fn new(header: &GgufHeader, start: u64) -> Self {
        let mut ranges: Vec<(usize, Range<u64>)> = header
            .tensors()
            .iter()
            .enumerate()
            .map(|(i, t)| (i, t.byte_range()))
            .collect();
        ranges.sort_by_key(|(i, r)| (r.start, *i));
        let mut stream = TensorStream {
            ranges,
            next: 0,
            position: start,
        };
        stream.skip_finished();
        stream
    }

    /// File position of the next byte expected.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Every tensor's data has been seen.
    pub fn is_complete(&self) -> bool {
        self.next == self.ranges.len()
    }

    /// Bytes still needed to complete every tensor.
    pub fn remaining(&self) -> u64 {
        self.ranges
            .iter()
            .map(|(_, r)| r.end)
            .max()
            .map_or(0, |end| end.saturating_sub(self.position))
    }

    /// Takes the next chunk of the file and returns the tensor data in it, in file order.
    pub fn feed<'c>(&mut self, chunk: &'c [u8]) -> Vec<TensorPiece<'c>> {
        let chunk_start = self.position;
        let chunk_end = chunk_start.saturating_add(chunk.len() as u64);
        let mut pieces = Vec::new();
        let mut i = self.next;
        while let Some((tensor, range)) = self.ranges.get(i) {
            if range.start >= chunk_end {
                break;
            }
            let from = range.start.max(chunk_start);
            let to = range.end.min(chunk_end);
            if from < to {
                pieces.push(TensorPiece {
                    tensor: *tensor,
                    offset: from - range.start,
                    bytes: &chunk[(from - chunk_start) as usize..(to - chunk_start) as usize],
                    completes: to == range.end,
                });
            }
            i += 1;
        }
        self.position = chunk_end;
        self.skip_finished();
        pieces
    }

    fn skip_finished(&mut self) {
        while let Some((_, range)) = self.ranges.get(self.next) {
            // Empty tensors are complete without bytes.
            if range.end > self.position && !range.is_empty() {
                break;
            }
            self.next += 1;
        }
    }
}
