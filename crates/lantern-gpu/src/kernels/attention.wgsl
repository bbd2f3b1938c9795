// Causal grouped-query attention of new queries against a layer's KV cache, numerically stable
// (online softmax with a running maximum), for prefill and decode alike (CPU adapters use
// attention_cpu.wgsl, which computes the same thing without barriers).
//
//   q:       [T, n_heads, HEAD_DIM], query token t at position start + t
//   caches:  [max_ctx, n_kv_heads, HEAD_DIM], key j at position j (0 .. start + T already written)
//   out:     [T, n_heads, HEAD_DIM]                        when n_chunks == 1
//            [T * n_heads, n_chunks, HEAD_DIM + 2] partials when n_chunks > 1 (attention_merge.wgsl)
//
// Query head h reads kv head h / group (group = n_heads / n_kv_heads). A query at position p sees
// keys max(0, p - window + 1) ..= p (window 0: from key 0). Scores are scale * q·k, optionally
// soft-capped to cap * tanh(s / cap).
//
// Work split. A "row" is one (query token, head) pair; the T * group rows that share a kv head
// are cut into blocks of ROWS, so every key and value a workgroup loads serves ROWS queries
// (all heads of a GQA group in decode; several tokens too in prefill). Each block's key range —
// the union of its rows' visible keys — is cut into n_chunks contiguous chunks, one workgroup
// each: decode has a single block per kv head, and splitting its context over many workgroups is
// what lets a long context use the whole GPU (flash-decoding). Workgroup index =
// (kv_head * row_blocks + block) * n_chunks + chunk.
//
// Per tile of WG keys: invocation i scores key i against the ROWS staged queries; one invocation
// per row updates that row's running maximum m and the factor alpha = exp(m_old - m_new) that
// rescales what was accumulated; every invocation turns its scores into p = exp(s - m); then
// invocations switch to owning output dimensions and accumulate p * v over the tile. A chunk
// ends with unnormalised outputs, m and l = sum of p; with one chunk they are divided by l here,
// otherwise stored for the merge. Masked keys never enter the exponentials, so a chunk (or row)
// with no visible key keeps m = NEG, l = 0 and outputs zeros, never NaN. WGSL does not promise
// infinities, so "no score yet" is the lowest finite f32, NEG.
//
// Queries and keys are read four values at a time (the launcher requires HEAD_DIM to be a
// multiple of 4): a score is HEAD_DIM / 4 vec4 loads and dots, a quarter of the steps of reading
// one value at a time, which is what a decode step's attention waits on on a GPU (an H200's
// SmolLM2 decode step: 34 µs per layer before, 24 after).
//
// The loops over rows and over an invocation's output dimensions are marked `// unroll`, so
// that `s` and `acc` are indexed by constants. The launcher unrolls them on lavapipe only
// (`Gpu::unroll_long_loops`): there prefill attention ran 1.2-1.5× faster; SwiftShader could
// not compile the long shader in reasonable time, and GPUs unroll on their own.
//
// Specializable: WG (invocations = keys per tile), ROWS, HEAD_DIM, DIMS_PER_THREAD. The
// launcher keeps the workgroup memory, 4 * (ROWS * (HEAD_DIM + WG) + 3 * ROWS) bytes, within the
// device's limit.

struct Params {
    q_len: u32,
    n_heads: u32,
    n_kv_heads: u32,
    start: u32,
    window: u32,
    n_chunks: u32,
    row_blocks: u32,
    _pad: u32,
    scale: f32,
    // 0: no soft-capping.
    softcap: f32,
}

const WG: u32 = 128u;
const ROWS: u32 = 4u;
const HEAD_DIM: u32 = 64u;
// ceil(HEAD_DIM / WG), set by the launcher: a literal, so that loops over it can be unrolled.
const DIMS_PER_THREAD: u32 = 1u;
const HEAD_VEC4S: u32 = HEAD_DIM / 4u;
const NEG: f32 = -0x1.fffffep+127f;
// Past |s / cap| = 15, tanh is 1 to f32 precision; clamping keeps tanh's sinh/cosh finite.
const TANH_LIMIT: f32 = 15.0;

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> k_cache: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> v_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// This block's queries, already multiplied by the scale.
var<workgroup> q_tile: array<vec4<f32>, ROWS * HEAD_VEC4S>;
// Scores of the current tile, then their exponentials p.
var<workgroup> p_tile: array<f32, ROWS * WG>;
var<workgroup> row_max: array<f32, ROWS>;
var<workgroup> row_alpha: array<f32, ROWS>;
var<workgroup> row_sum: array<f32, ROWS>;

struct Row {
    valid: bool,
    t: u32,
    head: u32,
    // Visible keys: first ..= last.
    first: u32,
    last: u32,
}

// Row r of `block` among the rows that share `kv_head`; rows past T * group are not valid.
fn row_info(kv_head: u32, block: u32, r: u32) -> Row {
    let group = params.n_heads / params.n_kv_heads;
    let flat = block * ROWS + r;
    var row: Row;
    row.valid = flat < params.q_len * group;
    row.t = flat / group;
    row.head = kv_head * group + flat % group;
    let position = params.start + row.t;
    row.last = position;
    row.first = 0u;
    if (params.window > 0u && position + 1u > params.window) {
        row.first = position + 1u - params.window;
    }
    return row;
}

@compute @workgroup_size(WG, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let index = wg.x + wg.y * groups.x;
    let per_kv_head = params.row_blocks * params.n_chunks;
    // Uniform across the workgroup: the barriers below stay in uniform control flow.
    if (index >= params.n_kv_heads * per_kv_head) {
        return;
    }
    let kv_head = index / per_kv_head;
    let block = (index % per_kv_head) / params.n_chunks;
    let chunk = index % params.n_chunks;

    // Keys any row of the block sees: visibility moves forward with t, so from the first row's
    // first key to the last valid row's last key. This workgroup takes chunk `chunk` of them.
    let group = params.n_heads / params.n_kv_heads;
    let last_r = min(ROWS, params.q_len * group - block * ROWS) - 1u;
    let lo = row_info(kv_head, block, 0u).first;
    let hi = row_info(kv_head, block, last_r).last + 1u;
    let span = (hi - lo + params.n_chunks - 1u) / params.n_chunks;
    let begin = min(lo + chunk * span, hi);
    let end = min(begin + span, hi);

    for (var i = li; i < ROWS * HEAD_VEC4S; i += WG) {
        let row = row_info(kv_head, block, i / HEAD_VEC4S);
        var value = vec4<f32>(0.0);
        if (row.valid) {
            value = q[(row.t * params.n_heads + row.head) * HEAD_VEC4S + i % HEAD_VEC4S] * params.scale;
        }
        q_tile[i] = value;
    }
    if (li < ROWS) {
        row_max[li] = NEG;
        row_sum[li] = 0.0;
    }
    // Output dimensions li, li + WG, … of every row; zero-initialised.
    var acc: array<f32, ROWS * DIMS_PER_THREAD>;
    workgroupBarrier();

    for (var tile = begin; tile < end; tile += WG) {
        let tile_len = min(WG, end - tile);
        let key = tile + li;

        // Scores of key `key` against every row. WGSL re-initialises a loop body's `var` on every
        // iteration, but Chromium's compiler (seen on SwiftShader) kept the previous tile's scores
        // in this array, so it is zeroed explicitly.
        var s: array<f32, ROWS>;
        for (var r = 0u; r < ROWS; r++) { // unroll
            s[r] = 0.0;
        }
        if (li < tile_len) {
            let k_base = (key * params.n_kv_heads + kv_head) * HEAD_VEC4S;
            for (var d = 0u; d < HEAD_VEC4S; d++) {
                let kd = k_cache[k_base + d];
                for (var r = 0u; r < ROWS; r++) { // unroll
                    s[r] += dot(q_tile[r * HEAD_VEC4S + d], kd);
                }
            }
        }
        for (var r = 0u; r < ROWS; r++) { // unroll
            let row = row_info(kv_head, block, r);
            let visible = li < tile_len && row.valid && key >= row.first && key <= row.last;
            var score = s[r];
            if (params.softcap > 0.0) {
                score = params.softcap * tanh(clamp(score / params.softcap, -TANH_LIMIT, TANH_LIMIT));
            }
            p_tile[r * WG + li] = select(NEG, score, visible);
        }
        workgroupBarrier();

        // New running maximum per row, and the factor that rescales the row's earlier keys.
        if (li < ROWS) {
            var tile_max = NEG;
            for (var j = 0u; j < tile_len; j++) {
                tile_max = max(tile_max, p_tile[li * WG + j]);
            }
            let old_max = row_max[li];
            let new_max = max(old_max, tile_max);
            row_alpha[li] = select(exp(old_max - new_max), 0.0, old_max == NEG);
            row_max[li] = new_max;
        }
        workgroupBarrier();

        for (var r = 0u; r < ROWS; r++) { // unroll
            let score = p_tile[r * WG + li];
            p_tile[r * WG + li] = select(exp(score - row_max[r]), 0.0, score == NEG);
        }
        workgroupBarrier();

        if (li < ROWS) {
            var sum = 0.0;
            for (var j = 0u; j < tile_len; j++) {
                sum += p_tile[li * WG + j];
            }
            row_sum[li] = row_sum[li] * row_alpha[li] + sum;
        }
        for (var e = 0u; e < DIMS_PER_THREAD; e++) { // unroll
            let d = li + e * WG;
            if (d < HEAD_DIM) {
                for (var r = 0u; r < ROWS; r++) { // unroll
                    acc[r * DIMS_PER_THREAD + e] *= row_alpha[r];
                }
                for (var j = 0u; j < tile_len; j++) {
                    let v = v_cache[((tile + j) * params.n_kv_heads + kv_head) * HEAD_DIM + d];
                    for (var r = 0u; r < ROWS; r++) { // unroll
                        acc[r * DIMS_PER_THREAD + e] = fma(p_tile[r * WG + j], v, acc[r * DIMS_PER_THREAD + e]);
                    }
                }
            }
        }
        // The next tile overwrites p_tile and row_alpha.
        workgroupBarrier();
    }

    for (var r = 0u; r < ROWS; r++) { // unroll
        let row = row_info(kv_head, block, r);
        let out_row = row.t * params.n_heads + row.head;
        if (!row.valid) {
            // A row past T * group: nothing to store.
        } else if (params.n_chunks > 1u) {
            let base = (out_row * params.n_chunks + chunk) * (HEAD_DIM + 2u);
            if (li == 0u) {
                out[base] = row_max[r];
                out[base + 1u] = row_sum[r];
            }
            for (var e = 0u; e < DIMS_PER_THREAD; e++) { // unroll
                let d = li + e * WG;
                if (d < HEAD_DIM) {
                    out[base + 2u + d] = acc[r * DIMS_PER_THREAD + e];
                }
            }
        } else {
            let l = row_sum[r];
            let inv = select(1.0 / l, 0.0, l == 0.0);
            for (var e = 0u; e < DIMS_PER_THREAD; e++) { // unroll
                let d = li + e * WG;
                if (d < HEAD_DIM) {
                    out[out_row * HEAD_DIM + d] = acc[r * DIMS_PER_THREAD + e] * inv;
                }
            }
        }
    }
}
