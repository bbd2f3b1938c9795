// A prelude, prepended to the kernels that reduce a row in one workgroup (rms_norm,
// add_rms_norm, attention_inputs; see `kernel_source!(NAME after "workgroup_sum")`): the sum of
// one value per invocation, in log2(WG_SIZE) steps through workgroup memory. WG_SIZE, a power of
// two, is the kernel's own constant.

var<workgroup> partial: array<f32, WG_SIZE>;

// The sum of every invocation's `value`, returned to all of them. Call in uniform control flow.
fn workgroup_sum(li: u32, value: f32) -> f32 {
    partial[li] = value;
    for (var stride = WG_SIZE / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (li < stride) {
            partial[li] += partial[li + stride];
        }
    }
    workgroupBarrier();
    let sum = partial[0];
    // Everyone has read the sum before a next call overwrites it.
    workgroupBarrier();
    return sum;
}
