//! Experiment: decode's Q8_0 matrix-vector product (SmolLM2's 49152×576 output projection) with
//! its quants read from an `rgba32uint` texture, beside the same kernel reading them from a
//! storage buffer as `vec4<u32>`: the same arithmetic (quant_blocks.wgsl's placed bytes, one f32
//! scale per 32-value unit), 8 rows per invocation as on CPU adapters; with x from a storage
//! buffer or a uniform block, and the scales from a buffer or an `r32float` texture. Checks that
//! every variant gives the same bits.
//!
//! Why: lavapipe compiles a storage load whose address differs between SIMD lanes into a loop
//! over the lanes with a branch per lane and component, a texel fetch or a uniform load into a
//! gather without branches (see `texture_stream.rs`). Measured on a 2-vCPU machine
//! (2026-12-02): on lavapipe 50–54 ms per product from a buffer, 28–32 from the texture, 15–17
//! from the texture with x uniform; on SwiftShader 45–55 against 38–43 ms (README, Performance).
//! `cargo run --release -p lantern-cli --example texture_matvec`.

use std::time::Instant;

use lantern_gpu::{Gpu, GpuOptions, wgpu};

const ROWS: u32 = 49152;
const UNITS: u32 = 18; // 576 columns
const ROWS_PER_TEXEL_ROW: u32 = 64;
const TEXELS_PER_ROW: u32 = UNITS * 2;
const PRODUCTS: u32 = 10;

const COMMON: &str = "
X_AND_SCALES
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn placed_bytes(word: u32) -> vec4<f32> {
    let top = (vec4<u32>(word) * vec4<u32>(0x1000000u, 0x10000u, 0x100u, 1u)) & vec4<u32>(0xff000000u);
    return vec4<f32>(bitcast<vec4<i32>>(top));
}

fn quad_dot(q: vec4<u32>, xi: u32) -> f32 {
    return dot(placed_bytes(q.x), x[xi]) + dot(placed_bytes(q.y), x[xi + 1u])
        + dot(placed_bytes(q.z), x[xi + 2u]) + dot(placed_bytes(q.w), x[xi + 3u]);
}

@compute @workgroup_size(16)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let first = id.x * 8u;
    var acc = array<f32, 8>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var unit = 0u; unit < UNITS; unit++) {
        let xi = unit * 8u;
        ROW_LOOP
    }
    ROW_STORE
}";

const FROM_BUFFER: &str = "
@group(0) @binding(0) var<storage, read> quads: array<vec4<u32>>;
fn quad(row: u32, unit: u32, i: u32) -> vec4<u32> {
    return quads[(row * UNITS + unit) * 2u + i];
}";

const FROM_TEXTURE: &str = "
@group(0) @binding(0) var quads: texture_2d<u32>;
fn quad(row: u32, unit: u32, i: u32) -> vec4<u32> {
    let at = vec2<u32>((row % ROWS_PER_TEXEL_ROW) * TEXELS_PER_ROW + unit * 2u + i, row / ROWS_PER_TEXEL_ROW);
    return textureLoad(quads, at, 0);
}";

const BUFFER_X: &str = "
@group(0) @binding(1) var<storage, read> scales: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
fn scale(row: u32, unit: u32) -> f32 { return scales[row * UNITS + unit]; }";

const UNIFORM_X: &str = "
@group(0) @binding(1) var<storage, read> scales: array<f32>;
@group(0) @binding(2) var<uniform> x: array<vec4<f32>, 144>;
fn scale(row: u32, unit: u32) -> f32 { return scales[row * UNITS + unit]; }";

const UNIFORM_X_SCALE_TEXTURE: &str = "
@group(0) @binding(1) var scales: texture_2d<f32>;
@group(0) @binding(2) var<uniform> x: array<vec4<f32>, 144>;
fn scale(row: u32, unit: u32) -> f32 { return textureLoad(scales, vec2<u32>((row % ROWS_PER_TEXEL_ROW) * UNITS + unit, row / ROWS_PER_TEXEL_ROW), 0).x; }";

fn source(reader: &str, x_and_scales: &str) -> String {
    let row_loop: String = (0..8)
        .map(|r| {
            format!(
                "acc[{r}] += (quad_dot(quad(first + {r}u, unit, 0u), xi) + quad_dot(quad(first + {r}u, unit, 1u), xi + 4u)) * scale(first + {r}u, unit);\n"
            )
        })
        .collect();
    let row_store: String = (0..8)
        .map(|r| format!("y[first + {r}u] = acc[{r}];\n"))
        .collect();
    format!("{reader}\n{COMMON}")
        .replace("X_AND_SCALES", x_and_scales)
        .replace("ROW_LOOP", &row_loop)
        .replace("ROW_STORE", &row_store)
        .replace("ROWS_PER_TEXEL_ROW", &format!("{ROWS_PER_TEXEL_ROW}u"))
        .replace("TEXELS_PER_ROW", &format!("{TEXELS_PER_ROW}u"))
        .replace("UNITS", &format!("{UNITS}u"))
}

fn main() {
    pollster::block_on(run());
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn storage(gpu: &Gpu, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.len() as u64,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::UNIFORM
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    gpu.queue.write_buffer(&buffer, 0, bytes);
    buffer
}

async fn read(gpu: &Gpu, buffer: &wgpu::Buffer) -> Vec<f32> {
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: buffer.size(),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, buffer.size());
    gpu.queue.submit([encoder.finish()]);
    staging.slice(..).map_async(wgpu::MapMode::Read, |_| {});
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("the device is alive");
    staging
        .slice(..)
        .get_mapped_range()
        .expect("mapped")
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

async fn run() {
    let gpu = Gpu::new(GpuOptions::default())
        .await
        .expect("a WebGPU adapter");
    println!("adapter: {}", gpu.report().name);
    let device = &gpu.device;
    let words = (ROWS * UNITS * 8) as usize;
    let quants: Vec<u8> = (0..words as u32)
        .flat_map(|i| i.wrapping_mul(2654435761).to_le_bytes())
        .collect();
    let scales: Vec<f32> = (0..ROWS * UNITS)
        .map(|i| 1e-9 * (1 + i % 7) as f32)
        .collect();
    let x: Vec<f32> = (0..UNITS * 32)
        .map(|i| ((i % 13) as f32 - 6.0) / 8.0)
        .collect();
    let quad_buffer = storage(&gpu, "quants", &quants);
    let scale_buffer = storage(&gpu, "scales", &f32_bytes(&scales));
    let x_buffer = storage(&gpu, "x", &f32_bytes(&x));
    let size = wgpu::Extent3d {
        width: ROWS_PER_TEXEL_ROW * TEXELS_PER_ROW,
        height: ROWS / ROWS_PER_TEXEL_ROW,
        depth_or_array_layers: 1,
    };
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("quants"),
        size,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Uint,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    gpu.queue.write_texture(
        texture.as_image_copy(),
        &quants,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(size.width * 16),
            rows_per_image: Some(size.height),
        },
        size,
    );
    let view = texture.create_view(&Default::default());
    let scale_size = wgpu::Extent3d {
        width: UNITS * ROWS_PER_TEXEL_ROW,
        height: ROWS / ROWS_PER_TEXEL_ROW,
        depth_or_array_layers: 1,
    };
    let scale_texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("scales"),
        size: scale_size,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::R32Float,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    gpu.queue.write_texture(
        scale_texture.as_image_copy(),
        &f32_bytes(&scales),
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(scale_size.width * 4),
            rows_per_image: Some(scale_size.height),
        },
        scale_size,
    );
    let scale_view = scale_texture.create_view(&Default::default());

    let mut results = Vec::new();
    let readers = [
        (
            "quants from a buffer",
            FROM_BUFFER,
            quad_buffer.as_entire_binding(),
            BUFFER_X,
            scale_buffer.as_entire_binding(),
        ),
        (
            "quants from a texture",
            FROM_TEXTURE,
            wgpu::BindingResource::TextureView(&view),
            BUFFER_X,
            scale_buffer.as_entire_binding(),
        ),
        (
            "texture, x uniform",
            FROM_TEXTURE,
            wgpu::BindingResource::TextureView(&view),
            UNIFORM_X,
            scale_buffer.as_entire_binding(),
        ),
        (
            "texture, x uniform, scales texture",
            FROM_TEXTURE,
            wgpu::BindingResource::TextureView(&view),
            UNIFORM_X_SCALE_TEXTURE,
            wgpu::BindingResource::TextureView(&scale_view),
        ),
        (
            "buffer, x uniform",
            FROM_BUFFER,
            quad_buffer.as_entire_binding(),
            UNIFORM_X,
            scale_buffer.as_entire_binding(),
        ),
    ];
    for (name, reader, binding, x_and_scales, scale_binding) in readers {
        let y = storage(&gpu, "y", &vec![0u8; ROWS as usize * 4]);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(source(reader, x_and_scales).into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let entries = [
            binding,
            scale_binding,
            x_buffer.as_entire_binding(),
            y.as_entire_binding(),
        ];
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(name),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries
                .into_iter()
                .enumerate()
                .map(|(i, resource)| wgpu::BindGroupEntry {
                    binding: i as u32,
                    resource,
                })
                .collect::<Vec<_>>(),
        });
        let mut best = f64::MAX;
        for _ in 0..4 {
            let started = Instant::now();
            let mut encoder = device.create_command_encoder(&Default::default());
            for _ in 0..PRODUCTS {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, &bind_group, &[]);
                pass.dispatch_workgroups(ROWS / 8 / 16, 1, 1);
            }
            gpu.queue.submit([encoder.finish()]);
            device
                .poll(wgpu::PollType::wait_indefinitely())
                .expect("the device is alive");
            best = best.min(started.elapsed().as_secs_f64());
        }
        let ms = best * 1e3 / PRODUCTS as f64;
        let gigabytes = quants.len() as f64 / 1e9;
        println!(
            "{name:>34}: {ms:7.3} ms per product, {:5.2} GB/s of quants",
            gigabytes / (ms / 1e3)
        );
        results.push(read(&gpu, &y).await);
    }
    let same = results.iter().all(|other| {
        results[0]
            .iter()
            .zip(other)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    });
    println!("same results: {same}");
}
