// workgroup_sum.wgsl's function for workgroups of a single invocation (WG_SIZE = 1), which
// replaces it where the adapter prefers that (`Gpu::lone_row_reductions`: SwiftShader, which runs
// a shader with a barrier anywhere in it as coroutines; see `ops::launch::row_reduction`): the
// invocation walks its whole row, and the sum is its own.

fn workgroup_sum(li: u32, value: f32) -> f32 {
    return value;
}
