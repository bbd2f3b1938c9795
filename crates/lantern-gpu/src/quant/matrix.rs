//! [`QuantMatrix`]: a rows×cols weight matrix in its repacked layout, in exactly-sized buffers,
//! split by whole rows when it exceeds what one buffer or binding may hold.

use super::{Repacker, WeightFormat};
use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::pool::{Binding, STORAGE};

/// A weight matrix W of `rows`×`cols` values (GGUF shape `[cols, rows]`: each row is `cols`
/// consecutive values, `cols / block_len` blocks), stored quantized.
///
/// Buffers come straight from the device, not from the size-class pool: weights live as long as
/// the model, and the pool's up-to-25% slack would break the memory budget (weights ≤ 1.1× their
/// GGUF bytes). When the matrix is larger than `maxStorageBufferBindingSize` or `maxBufferSize`
/// (on lavapipe 128 MiB, less than Gemma 3's 180 MB embedding), it is split by whole rows into
/// [`WeightPart`]s of nearly equal size, and the launchers dispatch once per part. WebGPU has no
/// arrays of storage buffers, so binding several parts in one dispatch would need one binding slot
/// per part in every kernel; a dispatch per part costs a few microseconds per large matrix.
pub struct QuantMatrix {
    what: String,
    format: WeightFormat,
    rows: usize,
    cols: usize,
    parts: Vec<WeightPart>,
}

/// Rows `first_row .. first_row + rows` of a [`QuantMatrix`] in one buffer, repacked, row-major.
pub struct WeightPart {
    buffer: wgpu::Buffer,
    first_row: usize,
    rows: usize,
    /// Byte offset of this part's first row in the repacked matrix.
    start: u64,
}

impl WeightPart {
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    pub fn first_row(&self) -> usize {
        self.first_row
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn size_bytes(&self) -> u64 {
        self.buffer.size()
    }
}

impl Binding for WeightPart {
    fn binding(&self) -> wgpu::BindingResource<'_> {
        self.buffer.as_entire_binding()
    }
}

impl QuantMatrix {
    /// Allocates an uninitialised matrix; fill it through [`Self::writer`]. `what` names the
    /// tensor in errors and buffer labels.
    pub fn new(
        gpu: &Gpu,
        what: &str,
        format: WeightFormat,
        rows: usize,
        cols: usize,
    ) -> Result<QuantMatrix> {
        Self::with_part_limit(gpu, what, format, rows, cols, u64::MAX)
    }

    /// As [`Self::new`], with no part larger than `max_part_bytes` (besides the device limits).
    /// Lets tests exercise the split cheaply; a loader could also use it to keep buffers small.
    pub fn with_part_limit(
        gpu: &Gpu,
        what: &str,
        format: WeightFormat,
        rows: usize,
        cols: usize,
        max_part_bytes: u64,
    ) -> Result<QuantMatrix> {
        if cols == 0 || !cols.is_multiple_of(format.block_len()) {
            return Err(GpuError::Shape(format!(
                "{what}: a {format} row holds whole blocks of {} values, but it has {cols} columns",
                format.block_len()
            )));
        }
        let row_bytes = format
            .repacked_row_bytes(cols)
            .expect("cols is a whole number of blocks");
        rows.checked_mul(cols)
            .and_then(|_| (rows as u64).checked_mul(row_bytes))
            .ok_or_else(|| {
                GpuError::Shape(format!("{what}: {rows}×{cols} overflows a buffer size"))
            })?;

        let limits = gpu.limits();
        let (device_limit, limit_name) =
            if limits.max_storage_buffer_binding_size <= limits.max_buffer_size {
                (
                    limits.max_storage_buffer_binding_size,
                    "one storage binding (maxStorageBufferBindingSize)",
                )
            } else {
                (limits.max_buffer_size, "one buffer (maxBufferSize)")
            };
        let part_limit = device_limit.min(max_part_bytes);
        if row_bytes > part_limit {
            return Err(GpuError::TooLarge {
                what: format!("{what}: one row of {cols} {format} values"),
                requested: row_bytes,
                limit: part_limit,
                limit_name: if part_limit < device_limit {
                    "one weight part (the limit asked for)"
                } else {
                    limit_name
                },
            });
        }

        // As few parts as the limit allows, with the rows spread evenly over them.
        let max_rows = (part_limit / row_bytes) as usize;
        let count = rows.div_ceil(max_rows);
        let per_part = if count == 0 { 0 } else { rows.div_ceil(count) };
        let mut parts = Vec::with_capacity(count);
        let mut first_row = 0;
        while first_row < rows {
            let part_rows = per_part.min(rows - first_row);
            let label = if count == 1 {
                what.to_string()
            } else {
                format!("{what} (part {} of {count})", parts.len() + 1)
            };
            let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&label),
                size: part_rows as u64 * row_bytes,
                usage: STORAGE,
                mapped_at_creation: false,
            });
            parts.push(WeightPart {
                buffer,
                first_row,
                rows: part_rows,
                start: first_row as u64 * row_bytes,
            });
            first_row += part_rows;
        }
        Ok(QuantMatrix {
            what: what.to_string(),
            format,
            rows,
            cols,
            parts,
        })
    }

    /// Allocates and fills a matrix from its complete GGUF bytes.
    pub fn upload(
        gpu: &Gpu,
        what: &str,
        format: WeightFormat,
        rows: usize,
        cols: usize,
        gguf: &[u8],
    ) -> Result<QuantMatrix> {
        let matrix = Self::new(gpu, what, format, rows, cols)?;
        let mut writer = matrix.writer(gpu);
        writer.write(gguf)?;
        writer.finish()?;
        Ok(matrix)
    }

    /// Starts streaming the matrix's GGUF bytes in, in chunks of any size.
    pub fn writer<'a>(&'a self, gpu: &'a Gpu) -> MatrixWriter<'a> {
        self.rows_writer(gpu, 0..self.rows)
            .expect("every matrix holds its own rows")
    }

    /// Starts streaming the GGUF bytes of rows `rows` only: another tensor's rows stacked into
    /// this matrix (a model stacks its gate and up projections to run both as one product).
    pub fn rows_writer<'a>(
        &'a self,
        gpu: &'a Gpu,
        rows: std::ops::Range<usize>,
    ) -> Result<MatrixWriter<'a>> {
        if rows.start > rows.end || rows.end > self.rows {
            return Err(GpuError::Shape(format!(
                "{}: rows {rows:?} of a matrix of {} rows",
                self.what, self.rows
            )));
        }
        let row_bytes = self.repacked_row_bytes();
        Ok(MatrixWriter {
            gpu,
            matrix: self,
            repacker: Repacker::new(self.format, self.cols)?,
            rows: rows.len() as u64,
            received: 0,
            written: rows.start as u64 * row_bytes,
            end: rows.end as u64 * row_bytes,
            unflushed: 0,
            scratch: Vec::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.what
    }

    pub fn format(&self) -> WeightFormat {
        self.format
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn parts(&self) -> &[WeightPart] {
        &self.parts
    }

    /// Blocks per row.
    pub fn row_blocks(&self) -> usize {
        self.cols / self.format.block_len()
    }

    /// Bytes of one row in the repacked layout (the module docs').
    pub fn repacked_row_bytes(&self) -> u64 {
        self.format
            .repacked_row_bytes(self.cols)
            .expect("cols was checked at creation")
    }

    /// GPU memory the matrix occupies.
    pub fn size_bytes(&self) -> u64 {
        self.parts.iter().map(WeightPart::size_bytes).sum()
    }

    /// Bytes of the same matrix in the GGUF file.
    pub fn gguf_bytes(&self) -> u64 {
        self.rows as u64 * self.row_blocks() as u64 * self.format.gguf_block_bytes() as u64
    }
}

/// Streams a matrix's GGUF bytes (or a range of its rows') into its buffers: each chunk is
/// repacked and written with `queue.write_buffer`, split at part boundaries. Call
/// [`MatrixWriter::finish`] at the end.
pub struct MatrixWriter<'a> {
    gpu: &'a Gpu,
    matrix: &'a QuantMatrix,
    repacker: Repacker,
    /// Rows this writer fills.
    rows: u64,
    /// GGUF bytes received so far.
    received: u64,
    /// Where the next repacked byte goes, up to `end`.
    written: u64,
    end: u64,
    /// Bytes written since the last submission.
    unflushed: u64,
    scratch: Vec<u8>,
}

/// Input is repacked this many bytes at a time, so a huge chunk needs no huge scratch copy.
const REPACK_STEP: usize = 1 << 20;
/// `write_buffer` stages data until the next submission; submitting this often bounds the staging
/// memory an upload holds, instead of keeping a second copy of every weight until the first batch.
/// An empty submission costs microseconds, so the bound can be tight.
pub const FLUSH_BYTES: u64 = 8 << 20;

impl MatrixWriter<'_> {
    /// Repacks and uploads the rows `chunk` completes; a partial row waits for the next chunk.
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let expected = self.rows * self.repacker.row_bytes() as u64;
        if self.received + chunk.len() as u64 > expected {
            return Err(GpuError::Shape(format!(
                "{}: more data than a {}×{} {} matrix holds ({expected} bytes)",
                self.matrix.what, self.rows, self.matrix.cols, self.matrix.format,
            )));
        }
        self.received += chunk.len() as u64;
        for piece in chunk.chunks(REPACK_STEP) {
            self.scratch.clear();
            self.repacker.push(piece, &mut self.scratch);
            debug_assert!(self.written + self.scratch.len() as u64 <= self.end);
            let mut data = &self.scratch[..];
            while !data.is_empty() {
                // Parts are contiguous in the repacked matrix; find the one `written` falls in.
                let part = self
                    .matrix
                    .parts
                    .iter()
                    .rfind(|p| p.start <= self.written)
                    .expect("written < total, so some part starts at or before it");
                let offset = self.written - part.start;
                let n = ((part.size_bytes() - offset) as usize).min(data.len());
                self.gpu
                    .queue
                    .write_buffer(&part.buffer, offset, &data[..n]);
                data = &data[n..];
                self.written += n as u64;
                self.unflushed += n as u64;
            }
            if self.unflushed >= FLUSH_BYTES {
                self.gpu.queue.submit(std::iter::empty());
                self.unflushed = 0;
            }
        }
        Ok(())
    }

    /// Checks that exactly the whole matrix arrived.
    pub fn finish(self) -> Result<()> {
        let what = &self.matrix.what;
        let arrived = self.repacker.finish().map_err(|e| match e {
            GpuError::Shape(message) => GpuError::Shape(format!("{what}: {message}")),
            other => other,
        })?;
        if arrived != self.rows {
            return Err(GpuError::Shape(format!(
                "{what}: only {arrived} of {} rows arrived",
                self.rows
            )));
        }
        Ok(())
    }
}
