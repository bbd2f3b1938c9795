// The order of top-k candidates, shared by top_k.wgsl and top_k_serial.wgsl (their launcher
// prepends this file). Values are moved as raw bits (array<u32>), so the output holds the
// input's exact values (-0 stays -0); they are compared as f32 (-0 == +0, ties by id, as the CPU
// reference). An empty slot (fewer elements than k) is NONE and loses to everything, -inf
// included.

const NONE: u32 = 0xffffffffu;

// Whether candidate a (value bits, id) ranks before candidate b.
fn before(a_value: u32, a_id: u32, b_value: u32, b_id: u32) -> bool {
    if (a_id == NONE) {
        return false;
    }
    if (b_id == NONE) {
        return true;
    }
    let a = bitcast<f32>(a_value);
    let b = bitcast<f32>(b_value);
    return a > b || (a == b && a_id < b_id);
}

struct Candidate {
    value: u32,
    id: u32,
}
