// Attention for CPU adapters (lavapipe, SwiftShader), decode and prefill: the same result as
// attention.wgsl, shaped for a CPU that runs invocations as SIMD lanes, where attention.wgsl's
// workgroup of key tiles spent its time on barriers (each one a switch between the workgroup's
// SIMD groups), on a few lanes walking a tile's scores alone, and on reading scores back from
// workgroup memory (a gather across lanes per load on a CPU adapter).
//
//   q:       [T, n_heads, HEAD_DIM], query token t at position start + t
//   caches:  [max_ctx, n_kv_heads, HEAD_DIM], keys 0 .. start + T written
//   out:     [T, n_heads, HEAD_DIM]                         when n_chunks == 1
//            [T * n_heads, n_chunks, HEAD_DIM + 2] partials when n_chunks > 1 (attention_merge.wgsl)
//
// A query at position p sees keys max(0, p - window + 1) ..= p (window 0: from key 0). The keys
// any query sees, `first` ..= start + T - 1, are cut into n_chunks chunks of chunk_keys.
//
// One invocation per (token, set of ROWS query heads sharing a kv head, chunk of keys), with no
// workgroup memory and no barrier: it keeps its heads' queries (times the scale), running maxima
// m, sums l and outputs in private arrays, and for each key of its chunk that its token sees
// computes the ROWS scores (each key vec4 loaded once for all ROWS heads), folds them into m and
// l (online softmax: a new maximum rescales what was accumulated by alpha = exp(m_old - m_new)),
// and adds p · v to the outputs (each value vec4 loaded once for all ROWS heads). Its chunk ends
// as attention.wgsl's does: divided by l when it is the only one, else stored as (m, l,
// outputs) for the merge. A chunk with no key its token sees keeps m = NEG, l = 0 and outputs
// zeros.
//
// Every loop over heads and dimensions is unrolled (`// unroll`), so the private arrays are
// indexed by constants: lavapipe keeps them in registers and SwiftShader makes each access one
// plain load rather than a gather. ROWS * HEAD_VEC4S is at most 64 (the launcher's choice).
//
// Specializable: WG_SIZE, ROWS, HEAD_DIM, HEAD_VEC4S (HEAD_DIM / 4, a literal so that loops over
// it can be unrolled).

struct Params {
    n_heads: u32,
    n_kv_heads: u32,
    // The position of query token 0.
    start: u32,
    // The first key any query sees (sliding-window layers; 0 otherwise): chunk 0's first.
    first: u32,
    n_chunks: u32,
    // Keys per chunk (the last chunks may have fewer, or none).
    chunk_keys: u32,
    // Sets of ROWS heads per kv head: ceil(group / ROWS).
    row_sets: u32,
    tokens: u32,
    scale: f32,
    // 0: no soft-capping.
    softcap: f32,
    // Keys a query sees at most (sliding-window layers; 0: all before it).
    window: u32,
    _pad: u32,
}

const WG_SIZE: u32 = 8u;
const ROWS: u32 = 3u;
const HEAD_DIM: u32 = 64u;
const HEAD_VEC4S: u32 = 16u;
const NEG: f32 = -0x1.fffffep+127f;
// Past |s / cap| = 15, tanh is 1 to f32 precision; clamping keeps tanh's sinh/cosh finite.
const TANH_LIMIT: f32 = 15.0;

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> k_cache: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> v_cache: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// Private to the invocation, not function-local: a loop body's `var` is re-initialised on every
// iteration, and these live across the key loop.
var<private> q_scaled: array<vec4<f32>, ROWS * HEAD_VEC4S>;
var<private> acc: array<vec4<f32>, ROWS * HEAD_VEC4S>;
var<private> row_max: array<f32, ROWS>;
var<private> row_sum: array<f32, ROWS>;

// Four outputs from index i: `out` is read as floats, since partial rows of HEAD_DIM + 2 values
// do not start on vec4 boundaries.
fn store4(i: u32, o: vec4<f32>) {
    out[i] = o.x;
    out[i + 1u] = o.y;
    out[i + 2u] = o.z;
    out[i + 3u] = o.w;
}

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let task = (wg.x + wg.y * groups.x) * WG_SIZE + li;
    let token_tasks = params.n_kv_heads * params.row_sets * params.n_chunks;
    if (task >= params.tokens * token_tasks) {
        return;
    }
    let token = task / token_tasks;
    let chunk = task % params.n_chunks;
    let row_set = (task % token_tasks) / params.n_chunks;
    let kv_head = row_set / params.row_sets;
    let group = params.n_heads / params.n_kv_heads;
    // Heads kv_head * group + first_in_group + r; those past the group repeat its last head and
    // are not stored.
    let first_in_group = (row_set % params.row_sets) * ROWS;
    let last_head = kv_head * group + group - 1u;
    let first_head = kv_head * group + first_in_group;

    // The keys of the chunk that this token sees: none when begin >= end.
    let position = params.start + token;
    var token_first = 0u;
    if (params.window > 0u && position + 1u > params.window) {
        token_first = position + 1u - params.window;
    }
    let chunk_first = params.first + chunk * params.chunk_keys;
    let begin = max(chunk_first, token_first);
    let end = min(chunk_first + params.chunk_keys, position + 1u);

    for (var r = 0u; r < ROWS; r++) { // unroll
        let head = min(first_head + r, last_head);
        for (var d = 0u; d < HEAD_VEC4S; d++) { // unroll
            q_scaled[r * HEAD_VEC4S + d] = q[(token * params.n_heads + head) * HEAD_VEC4S + d] * params.scale;
            acc[r * HEAD_VEC4S + d] = vec4<f32>(0.0);
        }
        row_max[r] = NEG;
        row_sum[r] = 0.0;
    }

    for (var key = begin; key < end; key++) {
        let base = (key * params.n_kv_heads + kv_head) * HEAD_VEC4S;
        var s: array<f32, ROWS>;
        for (var r = 0u; r < ROWS; r++) { // unroll
            s[r] = 0.0;
        }
        for (var d = 0u; d < HEAD_VEC4S; d++) { // unroll
            let kd = k_cache[base + d];
            for (var r = 0u; r < ROWS; r++) { // unroll
                s[r] += dot(q_scaled[r * HEAD_VEC4S + d], kd);
            }
        }
        var p: array<f32, ROWS>;
        var alpha: array<f32, ROWS>;
        for (var r = 0u; r < ROWS; r++) { // unroll
            var score = s[r];
            if (params.softcap > 0.0) {
                score = params.softcap * tanh(clamp(score / params.softcap, -TANH_LIMIT, TANH_LIMIT));
            }
            let new_max = max(row_max[r], score);
            // exp(NEG - score) is 0 in f32: the first key rescales nothing.
            alpha[r] = exp(row_max[r] - new_max);
            p[r] = exp(score - new_max);
            row_sum[r] = fma(row_sum[r], alpha[r], p[r]);
            row_max[r] = new_max;
        }
        for (var d = 0u; d < HEAD_VEC4S; d++) { // unroll
            let vd = v_cache[base + d];
            for (var r = 0u; r < ROWS; r++) { // unroll
                acc[r * HEAD_VEC4S + d] = fma(acc[r * HEAD_VEC4S + d], vec4<f32>(alpha[r]), p[r] * vd);
            }
        }
    }

    for (var r = 0u; r < ROWS; r++) { // unroll
        let head = first_head + r;
        if (head <= last_head) {
            let row = token * params.n_heads + head;
            if (params.n_chunks > 1u) {
                let at = (row * params.n_chunks + chunk) * (HEAD_DIM + 2u);
                out[at] = row_max[r];
                out[at + 1u] = row_sum[r];
                for (var d = 0u; d < HEAD_VEC4S; d++) { // unroll
                    store4(at + 2u + 4u * d, acc[r * HEAD_VEC4S + d]);
                }
            } else {
                let l = row_sum[r];
                let inv = select(1.0 / l, 0.0, l == 0.0);
                for (var d = 0u; d < HEAD_VEC4S; d++) { // unroll
                    store4(row * HEAD_DIM + 4u * d, acc[r * HEAD_VEC4S + d] * inv);
                }
            }
        }
    }
}
