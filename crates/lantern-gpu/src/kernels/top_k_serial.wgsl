// Exact top-k for CPU adapters (`Gpu::cpu_workgroups`): the same result as top_k.wgsl, with no
// workgroup memory and no barrier. Each invocation keeps the k best of its own candidates in
// private memory, sorted, and inserts a candidate only when it beats the k-th (after the first
// few hundred candidates, almost never: one comparison per candidate). top_k.wgsl's k rounds
// of tree reductions cost a barrier per step, which a CPU adapter pays by switching between
// every SIMD slice of the workgroup: SwiftShader spent 17 ms per decode step on Gemma 3's
// 262,144 logits that way.
//
// Two dispatches of this one file (PAIRS specialized):
//
// - scan (PAIRS = false): invocation g of `stride` takes logits g, g + stride, … and writes its
//   top k as a sorted run of k pairs (the launcher gives each invocation at least k logits).
// - merge (PAIRS = true): one invocation (stride 1) takes every pair of those runs.
//
// A vector short enough for one invocation is scanned straight into the output (one dispatch).
// Candidates compare as top_k_order.wgsl (prepended) orders them; output pairs are (id, value
// bits), interleaved.

struct Params {
    // scan: logits; merge: pairs (runs × k)
    n: u32,
    k: u32,
    // invocations taking candidates, each every stride-th from its own index
    stride: u32,
    _pad: u32,
}

const WG_SIZE: u32 = 8u;
const PAIRS: bool = false;
// The most k kept (specialized to ops::top_k::MAX_K).
const MAX_K: u32 = 64u;

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

// This invocation's best candidates so far, best first: `count` of them, the k-th (once there
// are k) also in `last`, what a candidate must beat to be kept.
var<private> kept_value: array<u32, MAX_K>;
var<private> kept_id: array<u32, MAX_K>;
var<private> count: u32;
var<private> last: Candidate;

// Candidate i: logit i, or pair i of the runs.
fn candidate(i: u32) -> Candidate {
    if (PAIRS) {
        return Candidate(input[2u * i + 1u], input[2u * i]);
    }
    return Candidate(input[i], i);
}

// Keeps candidate c if it beats the k-th kept one (or fewer than k are kept).
fn keep(c: Candidate) {
    if (count == params.k && !before(c.value, c.id, last.value, last.id)) {
        return;
    }
    // Shift the kept candidates it beats one place down (the k-th falls off), then place it.
    var at = min(count, params.k - 1u);
    while (at > 0u && before(c.value, c.id, kept_value[at - 1u], kept_id[at - 1u])) {
        kept_value[at] = kept_value[at - 1u];
        kept_id[at] = kept_id[at - 1u];
        at -= 1u;
    }
    kept_value[at] = c.value;
    kept_id[at] = c.id;
    count = min(count + 1u, params.k);
    if (count == params.k) {
        last = Candidate(kept_value[params.k - 1u], kept_id[params.k - 1u]);
    }
}

// Candidates taken per chunk: one bit each in a mask.
const CHUNK: u32 = 32u;

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let first = gid.x;
    if (first >= params.stride) {
        return;
    }
    let stride = params.stride;
    // The candidates come in chunks of CHUNK: a first loop only compares each with the k-th kept
    // one and marks those that beat it, and a second keeps the marked ones. CPU adapters run
    // every statement of a loop's body for all their SIMD lanes, masked, whether or not a lane
    // takes a branch: with `keep` inside the first loop, its insertion (loads from private
    // arrays indexed at run time) cost every candidate, now it costs every chunk.
    for (var chunk = first; chunk < params.n; chunk += CHUNK * stride) {
        // Marked: every candidate while fewer than k are kept, then those at least as large as
        // the k-th kept (`keep` breaks ties by id).
        let filling = count < params.k;
        let bar = bitcast<f32>(last.value);
        var marked = 0u;
        for (var j = 0u; j < CHUNK; j += 1u) {
            let i = chunk + j * stride;
            if (i < params.n && (filling || bitcast<f32>(candidate(i).value) >= bar)) {
                marked |= 1u << j;
            }
        }
        while (marked != 0u) {
            let j = firstTrailingBit(marked);
            marked &= marked - 1u;
            keep(candidate(chunk + j * stride));
        }
    }
    // k kept: every invocation has at least k candidates (the launcher's runs).
    for (var j = 0u; j < params.k; j += 1u) {
        let at = 2u * (first * params.k + j);
        output[at] = kept_id[j];
        output[at + 1u] = kept_value[j];
    }
}
