//! CPU reference of `ops::top_k`: sort every (id, value) pair and keep the first k.

use std::cmp::Ordering;

/// The `k` largest values of `logits` with their ids (all of them when `k` ≥ the length),
/// value descending, ties to the lower id; −0 equals +0 (so they tie), −inf ranks below every
/// finite value. Values are returned exactly as given.
pub fn top_k(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut pairs: Vec<(u32, f32)> = logits
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as u32, v))
        .collect();
    pairs.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(Ordering::Equal)
            .then(a.0.cmp(&b.0))
    });
    pairs.truncate(k);
    pairs
}

#[cfg(test)]
mod tests {
    #[test]
    fn by_hand() {
        let inf = f32::NEG_INFINITY;
        let v = [1.0, 3.0, inf, 3.0, -0.0, 0.0];
        assert_eq!(
            super::top_k(&v, 4),
            vec![(1, 3.0), (3, 3.0), (0, 1.0), (4, -0.0)]
        );
        assert_eq!(super::top_k(&v, 10).last(), Some(&(2, inf)));
    }
}
