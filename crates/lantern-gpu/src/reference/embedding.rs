//! The embedding gather on the CPU: rows of an already dequantized table, times the scale.

/// `out[t, :] = table[ids[t], :] * scale` for a row-major `[rows, cols]` table.
pub fn embedding(table: &[f32], cols: usize, ids: &[u32], scale: f32) -> Vec<f32> {
    ids.iter()
        .flat_map(|&id| {
            let row = &table[id as usize * cols..(id as usize + 1) * cols];
            row.iter().map(move |&v| (v as f64 * scale as f64) as f32)
        })
        .collect()
}
