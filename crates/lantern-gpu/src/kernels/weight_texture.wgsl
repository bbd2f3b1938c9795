// Weight reads for a matrix part kept in an `rgba32uint` texture (`quant::WeightStorage::Texture`)
// instead of a storage buffer: the launcher declares `weights` (and quant_matvec.wgsl's
// `weight_quads`) as `texture_storage_2d<rgba32uint, read>` and these functions replace
// quant_blocks.wgsl's and quant_matvec.wgsl's of the same names. The part's words are laid out in
// order: texel t holds words 4t .. 4t+3 and sits at (t % WEIGHT_TEXTURE_WIDTH,
// t / WEIGHT_TEXTURE_WIDTH).
//
// Why: lavapipe compiles a storage-buffer load whose address differs between its SIMD lanes into
// a loop over the lanes with a branch and a bounds check per lane and component, and a texel
// load into a gather. A storage texture, not a sampled one (`texture_2d`), whose loads lavapipe
// compiles into a call that works out each lane's mip level (see `Gpu::weights_in_textures`).

fn weight_word(i: u32) -> u32 {
    return four_words(i - i % 4u)[i % 4u];
}

fn four_words(i: u32) -> vec4<u32> {
    let t = i / 4u;
    return textureLoad(weights, vec2<u32>(t % WEIGHT_TEXTURE_WIDTH, t / WEIGHT_TEXTURE_WIDTH));
}

fn weight_quad(i: u32) -> vec4<u32> {
    return textureLoad(weight_quads, vec2<u32>(i % WEIGHT_TEXTURE_WIDTH, i / WEIGHT_TEXTURE_WIDTH));
}
