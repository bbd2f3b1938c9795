// Appends this step's keys and values ([T, kv_heads, head_dim] each) to a layer's preallocated
// cache ([max_ctx, kv_heads, head_dim] each) at rows position .. position + T: both copies in one
// dispatch. The launcher checks that the rows fit the cache.

struct Params {
    // T * kv_heads * head_dim: values to copy from each of k and v.
    n: u32,
    // position * kv_heads * head_dim: where row `position` starts in the caches.
    offset: u32,
}

const WG_SIZE: u32 = 256u;

@group(0) @binding(0) var<storage, read> k: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> v_cache: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let i = (wg.x + wg.y * groups.x) * WG_SIZE + li;
    if (i < params.n) {
        k_cache[params.offset + i] = k[i];
        v_cache[params.offset + i] = v[i];
    }
}
