//! [`QuantMatrix`]: a rows×cols weight matrix in its repacked layout, in exactly-sized buffers
//! (or textures), split by whole rows when it exceeds what one buffer, binding or texture may hold.

use super::{Repacker, WeightFormat};
use crate::device::Gpu;
use crate::error::{GpuError, Result};
use crate::kernel::Specialization;
use crate::pool::{Binding, STORAGE};

/// Where a matrix's repacked words live; the kernels read either (see
/// [`QuantMatrix::specialization`]), and the choice is the adapter's ([`Gpu::weight_storage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightStorage {
    /// A storage buffer per part.
    Buffer,
    /// An `rgba32uint` texture per part, read as a read-only storage texture, holding the part's
    /// words in order, four per texel, [`WEIGHT_TEXTURE_WIDTH`] texels per texture row (fewer when
    /// the part fits in one row).
    Texture,
}

/// Texels per row of a weight texture: 32 KiB, so that the last row's padding is small beside a
/// matrix (at most 2% of SmolLM2's weights in all), and a texture of WebGPU's guaranteed 8192
/// rows holds 256 MiB. A power of two, so that kernels find a texel with a mask and a shift.
pub const WEIGHT_TEXTURE_WIDTH: u32 = 2048;

/// Bytes of one texel of a weight texture (`rgba32uint`).
const TEXEL_BYTES: u64 = 16;

/// What a kernel reading weights from textures uses in place of its buffer reads.
const WEIGHT_TEXTURE_FUNCTIONS: &str = include_str!("../kernels/weight_texture.wgsl");

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
    storage: WeightStorage,
    rows: usize,
    cols: usize,
    parts: Vec<WeightPart>,
}

/// Rows `first_row .. first_row + rows` of a [`QuantMatrix`] in one buffer or texture, repacked,
/// row-major.
pub struct WeightPart {
    memory: PartMemory,
    first_row: usize,
    rows: usize,
    /// Byte offset of this part's first row in the repacked matrix.
    start: u64,
    /// Repacked bytes of its rows.
    bytes: u64,
}

enum PartMemory {
    Buffer(wgpu::Buffer),
    Texture {
        texture: wgpu::Texture,
        view: wgpu::TextureView,
    },
}

impl WeightPart {
    pub fn first_row(&self) -> usize {
        self.first_row
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// GPU memory the part takes: its rows' bytes, and in a texture the rest of its last row.
    pub fn size_bytes(&self) -> u64 {
        match &self.memory {
            PartMemory::Buffer(buffer) => buffer.size(),
            PartMemory::Texture { texture, .. } => {
                u64::from(texture.width()) * u64::from(texture.height()) * TEXEL_BYTES
            }
        }
    }

    /// Writes `data` at byte `offset` of the part's rows.
    fn write(&self, queue: &wgpu::Queue, offset: u64, data: &[u8]) {
        match &self.memory {
            PartMemory::Buffer(buffer) => queue.write_buffer(buffer, offset, data),
            PartMemory::Texture { texture, .. } => write_texels(queue, texture, offset, data),
        }
    }
}

impl Binding for WeightPart {
    fn binding(&self) -> wgpu::BindingResource<'_> {
        match &self.memory {
            PartMemory::Buffer(buffer) => buffer.as_entire_binding(),
            PartMemory::Texture { view, .. } => wgpu::BindingResource::TextureView(view),
        }
    }
}

/// Writes `data` (whole texels: repacked rows are padded to 16 bytes) at byte `offset` of a weight
/// texture's words in order: the rest of a partly written texture row, whole rows, then the
/// start of one.
fn write_texels(queue: &wgpu::Queue, texture: &wgpu::Texture, offset: u64, mut data: &[u8]) {
    debug_assert!(
        offset.is_multiple_of(TEXEL_BYTES) && (data.len() as u64).is_multiple_of(TEXEL_BYTES)
    );
    let width = u64::from(texture.width());
    let mut texel = offset / TEXEL_BYTES;
    while !data.is_empty() {
        let texels = data.len() as u64 / TEXEL_BYTES;
        let (x, y) = (texel % width, texel / width);
        let (copy_width, copy_rows) = if x == 0 && texels >= width {
            (width, texels / width)
        } else {
            ((width - x).min(texels), 1)
        };
        let bytes = (copy_width * copy_rows * TEXEL_BYTES) as usize;
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: wgpu::Origin3d {
                    x: x as u32,
                    y: y as u32,
                    z: 0,
                },
                aspect: wgpu::TextureAspect::All,
            },
            &data[..bytes],
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some((copy_width * TEXEL_BYTES) as u32),
                rows_per_image: Some(copy_rows as u32),
            },
            wgpu::Extent3d {
                width: copy_width as u32,
                height: copy_rows as u32,
                depth_or_array_layers: 1,
            },
        );
        data = &data[bytes..];
        texel += copy_width * copy_rows;
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
        let storage = gpu.weight_storage();
        let (device_limit, limit_name) = if storage == WeightStorage::Texture {
            (
                u64::from(WEIGHT_TEXTURE_WIDTH)
                    * u64::from(limits.max_texture_dimension_2d)
                    * TEXEL_BYTES,
                "one weight texture (maxTextureDimension2D)",
            )
        } else if limits.max_storage_buffer_binding_size <= limits.max_buffer_size {
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
            let bytes = part_rows as u64 * row_bytes;
            let memory = match storage {
                WeightStorage::Buffer => {
                    PartMemory::Buffer(gpu.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some(&label),
                        size: bytes,
                        usage: STORAGE,
                        mapped_at_creation: false,
                    }))
                }
                WeightStorage::Texture => weight_texture(gpu, &label, bytes),
            };
            parts.push(WeightPart {
                memory,
                first_row,
                rows: part_rows,
                start: first_row as u64 * row_bytes,
                bytes,
            });
            first_row += part_rows;
        }
        Ok(QuantMatrix {
            what: what.to_string(),
            format,
            storage,
            rows,
            cols,
            parts,
        })
    }

    /// The specialization of a quantized kernel for this matrix: its format's, and for weights
    /// in textures, the kernel's weight variables `variables` (`weights`, and quant_matvec's
    /// `weight_quads`) declared as textures and its weight reads replaced by
    /// `kernels/weight_texture.wgsl`'s.
    pub(crate) fn specialization(&self, variables: &[&'static str]) -> Specialization {
        self.storage_specialization(self.format.specialization(), variables)
    }

    /// `spec` with what reading this matrix's storage takes (see [`Self::specialization`]).
    pub(crate) fn storage_specialization(
        &self,
        spec: Specialization,
        variables: &[&'static str],
    ) -> Specialization {
        if self.storage == WeightStorage::Buffer {
            return spec;
        }
        variables
            .iter()
            .fold(spec, |spec, &name| {
                spec.declare(
                    name,
                    format!("var {name}: texture_storage_2d<rgba32uint, read>"),
                )
            })
            .u32("WEIGHT_TEXTURE_WIDTH", WEIGHT_TEXTURE_WIDTH)
            .replace_functions(WEIGHT_TEXTURE_FUNCTIONS)
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

    pub fn storage(&self) -> WeightStorage {
        self.storage
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

/// A texture for a part of `bytes` (whole texels): [`WEIGHT_TEXTURE_WIDTH`] texels wide, or as
/// wide as the part when it fits in one row.
fn weight_texture(gpu: &Gpu, label: &str, bytes: u64) -> PartMemory {
    let texels = bytes / TEXEL_BYTES;
    let width = texels.clamp(1, u64::from(WEIGHT_TEXTURE_WIDTH));
    let texture = gpu.device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width: width as u32,
            height: texels.div_ceil(width).max(1) as u32,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Uint,
        usage: wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    PartMemory::Texture { texture, view }
}

/// Streams a matrix's GGUF bytes (or a range of its rows') into its buffers or textures: each
/// chunk is repacked and written with `queue.write_buffer` (`write_texture`), split at part
/// boundaries. Call [`MatrixWriter::finish`] at the end.
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
                let n = ((part.bytes - offset) as usize).min(data.len());
                part.write(&self.gpu.queue, offset, &data[..n]);
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
