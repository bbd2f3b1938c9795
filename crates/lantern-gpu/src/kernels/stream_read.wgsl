// Bandwidth probe: reads every 16-byte word of a buffer exactly once and folds it into an XOR per
// workgroup, so the loads cannot be optimised away and nearly nothing is written. Consecutive
// invocations read consecutive words (the pattern memory systems stream fastest), and each
// invocation strides over the whole grid, so a fixed number of workgroups covers any size.
//
// The XOR of all outputs equals the XOR of all input words whatever the partition, which is what
// its test checks. Specializable: WG_SIZE (a power of two).

struct Params {
    words: u32, // 16-byte words to read
}

const WG_SIZE: u32 = 256u;

@group(0) @binding(0) var<storage, read> data: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<u32, WG_SIZE>;

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let group = wg.x + wg.y * groups.x;
    let stride = groups.x * groups.y * WG_SIZE;
    var acc = vec4<u32>(0u);
    for (var i = group * WG_SIZE + li; i < params.words; i += stride) {
        acc ^= data[i];
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
