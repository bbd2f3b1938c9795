// Bandwidth probe: reads every 16-byte word of a buffer exactly once and folds it into an XOR per
// workgroup, so the loads cannot be optimised away and nearly nothing is written.
//
// Two access patterns, since adapters stream fastest in different ones (the probe keeps the
// better):
// - CHUNKED = 0 (GPUs): consecutive invocations read consecutive words, and each invocation
//   strides over the whole grid, so a fixed number of workgroups covers any size;
// - CHUNKED = 1 (CPU adapters, which run a workgroup's invocations as SIMD lanes of one thread):
//   each invocation reads one contiguous chunk, a stream its core's prefetcher can follow.
//   lavapipe streams 3-4× faster this way.
//
// The XOR of all outputs equals the XOR of all input words whatever the partition, which is what
// its test checks. Specializable: WG_SIZE (a power of two), CHUNKED.
//
// The data is read as weights are, through `weight_quad`: where the adapter keeps weights in
// textures (`Gpu::weights_in_textures`), the probe also reads a weight matrix's texture, its
// launcher replacing `weight_quad` with weight_texture.wgsl's, so the roofline is what weights
// stream at from either.

struct Params {
    words: u32, // 16-byte words to read
}

const WG_SIZE: u32 = 256u;
const CHUNKED: u32 = 0u;

@group(0) @binding(0) var<storage, read> weight_quads: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

// Texels per row of a weight texture (`quant::WEIGHT_TEXTURE_WIDTH`).
const WEIGHT_TEXTURE_WIDTH: u32 = 2048u;

fn weight_quad(i: u32) -> vec4<u32> {
    return weight_quads[i];
}

var<workgroup> partial: array<u32, WG_SIZE>;

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let group = wg.x + wg.y * groups.x;
    let invocations = groups.x * groups.y * WG_SIZE;
    let invocation = group * WG_SIZE + li;
    var acc = vec4<u32>(0u);
    if (CHUNKED == 1u) {
        let chunk = (params.words + invocations - 1u) / invocations;
        let start = min(invocation * chunk, params.words);
        let end = min(start + chunk, params.words);
        for (var i = start; i < end; i++) {
            acc ^= weight_quad(i);
        }
    } else {
        for (var i = invocation; i < params.words; i += invocations) {
            acc ^= weight_quad(i);
        }
    }
    partial[li] = acc.x ^ acc.y ^ acc.z ^ acc.w;
    for (var half = WG_SIZE / 2u; half > 0u; half /= 2u) {
        workgroupBarrier();
        if (li < half) {
            partial[li] ^= partial[li + half];
        }
    }
    if (li == 0u) {
        out[group] = partial[0];
    }
}
