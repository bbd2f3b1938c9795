// Exact top-k of a vector of f32 logits: the k largest (id, value) pairs, by value descending,
// ties to the lower id. Argmax is the k = 1 case.
//
// Two dispatches of this one file (MERGE specialized):
//
// - select (MERGE = false): workgroup w owns the slice [w·WG_SIZE·items, (w+1)·WG_SIZE·items) of
//   the logits; invocation i owns the slice's elements i, i + WG_SIZE, … (`items` of them, so the
//   reads are coalesced). Each workgroup writes its own top-k as a sorted run of k pairs.
// - merge (MERGE = true): one workgroup; invocation i owns run i and merges the runs' heads.
//
// Both stages run the same loop: every invocation keeps its best not-yet-taken candidate, k
// rounds each reduce those to the workgroup's best in log2(WG_SIZE) steps through workgroup
// memory, the winner is written out, and only its owner advances (re-scanning its own few
// elements in select, stepping to the next pair of its sorted run in merge). So a round costs
// one tree reduction, whatever the slice length, and nothing but 3·WG_SIZE words of workgroup
// memory is needed for any k.
//
// Values are moved as raw bits and compared as top_k_order.wgsl (prepended) orders them.
// Output pairs are (id, value bits), interleaved. CPU adapters run top_k_serial.wgsl instead.

struct Params {
    // select: logits; merge: runs
    n: u32,
    k: u32,
    // select: elements per invocation, ≤ 32 (one bit each in `taken`)
    items: u32,
    _pad: u32,
}

const WG_SIZE: u32 = 256u;
const MERGE: bool = false;

@group(0) @binding(0) var<storage, read> input: array<u32>;
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> best_value: array<u32, WG_SIZE>;
var<workgroup> best_id: array<u32, WG_SIZE>;
var<workgroup> best_owner: array<u32, WG_SIZE>;

// select: the best of this invocation's elements whose bit in `taken` is clear.
fn best_untaken(first: u32, taken: u32) -> Candidate {
    var best = Candidate(0u, NONE);
    for (var j = 0u; j < params.items; j += 1u) {
        let id = first + j * WG_SIZE;
        if (id < params.n && (taken & (1u << j)) == 0u) {
            let value = input[id];
            if (before(value, id, best.value, best.id)) {
                best = Candidate(value, id);
            }
        }
    }
    return best;
}

// merge: pair `head` of run `run`, or NONE past its end (or for an invocation without a run).
fn run_head(run: u32, head: u32) -> Candidate {
    if (run >= params.n || head >= params.k) {
        return Candidate(0u, NONE);
    }
    let at = 2u * (run * params.k + head);
    return Candidate(input[at + 1u], input[at]);
}

@compute @workgroup_size(WG_SIZE, 1, 1)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let first = wg.x * WG_SIZE * params.items + li;
    var taken = 0u;
    var head = 0u;
    var mine: Candidate;
    if (MERGE) {
        mine = run_head(li, 0u);
    } else {
        mine = best_untaken(first, 0u);
    }

    for (var round = 0u; round < params.k; round += 1u) {
        best_value[li] = mine.value;
        best_id[li] = mine.id;
        best_owner[li] = li;
        for (var stride = WG_SIZE / 2u; stride > 0u; stride /= 2u) {
            workgroupBarrier();
            if (li < stride) {
                let o = li + stride;
                if (before(best_value[o], best_id[o], best_value[li], best_id[li])) {
                    best_value[li] = best_value[o];
                    best_id[li] = best_id[o];
                    best_owner[li] = best_owner[o];
                }
            }
        }
        workgroupBarrier();
        let winner = best_owner[0];
        if (li == 0u) {
            let at = 2u * (wg.x * params.k + round);
            output[at] = best_id[0];
            output[at + 1u] = best_value[0];
        }
        // Everyone has read slot 0 before the next round overwrites it.
        workgroupBarrier();
        if (winner == li && mine.id != NONE) {
            if (MERGE) {
                head += 1u;
                mine = run_head(li, head);
            } else {
                // The winner is one of this invocation's elements: mark it by its index j.
                taken |= 1u << ((mine.id - first) / WG_SIZE);
                mine = best_untaken(first, taken);
            }
        }
    }
}
