//! Experiment: how fast the adapter streams 64 MiB through `textureLoad` from an `rgba32uint`
//! texture, beside the same bytes through a storage buffer (`array<vec4<u32>>`), each invocation
//! XOR-ing one contiguous chunk (the pattern CPU adapters stream best; see `stream_read.wgsl`).
//!
//! Why: lavapipe compiles a storage-buffer load whose address differs between SIMD lanes into a
//! loop over the lanes with a bounds check and a branch per lane and component (about 8
//! instructions per 4 bytes, seen in its JIT code), while texel fetches are gathered without
//! branches. Here texels stream 1.7–2× faster; yet a prototype matrix-vector kernel fetching one
//! texel per 4-byte word ran slower than from a buffer (README, Performance), so weights in
//! textures would pay only in kernels that use whole texels.
//! `cargo run --release -p lantern-cli --example texture_stream`.

use std::time::Instant;

use lantern_gpu::{Gpu, GpuOptions, wgpu};

const WIDTH: u32 = 8192;
const HEIGHT: u32 = 512;
const INVOCATIONS: u32 = 1024;
const PASSES: u32 = 10;

const FROM_BUFFER: &str = "
@group(0) @binding(0) var<storage, read> data: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    var acc = vec4<u32>(0u);
    for (var i = id.x * CHUNK; i < (id.x + 1u) * CHUNK; i++) {
        acc ^= data[i];
    }
    out[id.x] = acc.x ^ acc.y ^ acc.z ^ acc.w;
}";

const FROM_TEXTURE: &str = "
@group(0) @binding(0) var data: texture_2d<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    var acc = vec4<u32>(0u);
    for (var i = id.x * CHUNK; i < (id.x + 1u) * CHUNK; i++) {
        acc ^= textureLoad(data, vec2<u32>(i % WIDTH, i / WIDTH), 0);
    }
    out[id.x] = acc.x ^ acc.y ^ acc.z ^ acc.w;
}";

fn main() {
    pollster::block_on(run());
}

async fn run() {
    let gpu = Gpu::new(GpuOptions::default())
        .await
        .expect("a WebGPU adapter");
    println!("adapter: {}", gpu.report().name);
    let device = &gpu.device;
    let bytes: Vec<u8> = (0..WIDTH * HEIGHT * 4).flat_map(u32::to_le_bytes).collect();

    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("streamed buffer"),
        size: bytes.len() as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    gpu.queue.write_buffer(&buffer, 0, &bytes);
    let size = wgpu::Extent3d {
        width: WIDTH,
        height: HEIGHT,
        depth_or_array_layers: 1,
    };
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("streamed texture"),
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
        &bytes,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(WIDTH * 16),
            rows_per_image: Some(HEIGHT),
        },
        size,
    );
    let view = texture.create_view(&Default::default());
    let out = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("xor per invocation"),
        size: INVOCATIONS as u64 * 4,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });

    let sources = [
        ("storage buffer", FROM_BUFFER, buffer.as_entire_binding()),
        (
            "texture",
            FROM_TEXTURE,
            wgpu::BindingResource::TextureView(&view),
        ),
    ];
    for (name, source, binding) in sources {
        let source = source
            .replace("CHUNK", &format!("{}u", WIDTH * HEIGHT / INVOCATIONS))
            .replace("WIDTH", &format!("{WIDTH}u"));
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(name),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: binding,
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: out.as_entire_binding(),
                },
            ],
        });
        let mut best = f64::MAX;
        for _ in 0..4 {
            let started = Instant::now();
            let mut encoder = device.create_command_encoder(&Default::default());
            for _ in 0..PASSES {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&pipeline);
                pass.set_bind_group(0, &bind_group, &[]);
                pass.dispatch_workgroups(INVOCATIONS / 64, 1, 1);
            }
            gpu.queue.submit([encoder.finish()]);
            device
                .poll(wgpu::PollType::wait_indefinitely())
                .expect("the device is alive");
            best = best.min(started.elapsed().as_secs_f64());
        }
        let gigabytes = bytes.len() as f64 * PASSES as f64 / 1e9;
        println!("{name:>14}: {:6.2} GB/s", gigabytes / best);
    }
}
