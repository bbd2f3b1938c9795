// Second pass of split (flash-decoding) attention: merges the n_chunks partial results of each
// (token, head) row that attention.wgsl wrote — each chunk's running maximum m_c, sum l_c and
// unnormalised output o_c — into the final output:
//   M = max m_c,  w_c = exp(m_c - M),  out = sum(w_c * o_c) / sum(w_c * l_c).
// A chunk that saw no visible key has m_c = NEG and l_c = 0 and gets weight 0; a row where no
// chunk saw one gives zeros.
//
//   partials: [rows, n_chunks, head_dim + 2] as (m, l, o[head_dim]);  out: [rows, head_dim]
//
// One workgroup per row. `main` computes the chunk weights once into workgroup memory, then each
// invocation sums its output dimensions over the chunks. `main_without_barrier` (CPU adapters)
// has every invocation compute the weights it needs itself, n_chunks exponentials each instead of
// n_chunks / WG_SIZE, with no workgroup memory and no barrier: on SwiftShader the barrier made
// the merge of SmolLM2's decode attention cost more than the attention (~0.37 ms a layer at 136
// positions). Specializable: WG_SIZE, MAX_CHUNKS (the launcher never splits into more).

struct Params {
    rows: u32,
    n_chunks: u32,
    head_dim: u32,
}

const WG_SIZE: u32 = 64u;
const MAX_CHUNKS: u32 = 256u;
const NEG: f32 = -0x1.fffffep+127f;

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> weight: array<f32, MAX_CHUNKS>;

// The largest of a row's chunk maxima. Every invocation finds it itself: n_chunks reads of the
// same addresses.
fn largest_max(base: u32, stride: u32) -> f32 {
    var m = NEG;
    for (var c = 0u; c < params.n_chunks; c++) {
        m = max(m, partials[base + c * stride]);
    }
    return m;
}

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row = wg.x + wg.y * groups.x;
    if (row >= params.rows) {
        return;
    }
    let stride = params.head_dim + 2u;
    let base = row * params.n_chunks * stride;
    let m = largest_max(base, stride);
    for (var c = li; c < params.n_chunks; c += WG_SIZE) {
        let mc = partials[base + c * stride];
        weight[c] = select(exp(mc - m), 0.0, mc == NEG);
    }
    workgroupBarrier();

    var l = 0.0;
    for (var c = 0u; c < params.n_chunks; c++) {
        l = fma(weight[c], partials[base + c * stride + 1u], l);
    }
    let inv = select(1.0 / l, 0.0, l == 0.0);
    for (var d = li; d < params.head_dim; d += WG_SIZE) {
        var o = 0.0;
        for (var c = 0u; c < params.n_chunks; c++) {
            o = fma(weight[c], partials[base + c * stride + 2u + d], o);
        }
        out[row * params.head_dim + d] = o * inv;
    }
}

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main_without_barrier(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row = wg.x + wg.y * groups.x;
    if (row >= params.rows) {
        return;
    }
    let stride = params.head_dim + 2u;
    let base = row * params.n_chunks * stride;
    let m = largest_max(base, stride);
    for (var d = li; d < params.head_dim; d += WG_SIZE) {
        var l = 0.0;
        var o = 0.0;
        for (var c = 0u; c < params.n_chunks; c++) {
            let at = base + c * stride;
            let mc = partials[at];
            let w = select(exp(mc - m), 0.0, mc == NEG);
            l = fma(w, partials[at + 1u], l);
            o = fma(w, partials[at + 2u + d], o);
        }
        out[row * params.head_dim + d] = o * select(1.0 / l, 0.0, l == 0.0);
    }
}
