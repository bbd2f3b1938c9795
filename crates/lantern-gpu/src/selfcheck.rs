//! The self-check the page and `lantern selfcheck` run: every kernel on a few awkward shapes,
//! compared with its CPU reference on the device the user actually has.

use serde::Serialize;

use crate::device::Gpu;
use crate::error::Result;
use crate::ops;
use crate::testing::{Comparison, Rng, compare_matmul, compare_softmax};

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub kernel: &'static str,
    pub shape: String,
    #[serde(flatten)]
    pub comparison: Comparison,
}

#[derive(Clone, Debug, Serialize)]
pub struct SelfCheckReport {
    pub passed: bool,
    pub checks: Vec<Check>,
}

impl std::fmt::Display for SelfCheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.checks {
            writeln!(
                f,
                "{} {:<8} {:<14} max |error| {:.2e} ({:.0}% of tolerance)",
                if c.comparison.passed { "ok  " } else { "FAIL" },
                c.kernel,
                c.shape,
                c.comparison.max_abs_error,
                c.comparison.worst_ratio * 100.0
            )?;
        }
        write!(
            f,
            "self-check {}",
            if self.passed { "passed" } else { "FAILED" }
        )
    }
}

/// Matmul shapes (M, K, N): a vector-matrix product, a matrix-vector product, and sizes that are not
/// multiples of the 64×64×16 tile.
const MATMUL_SHAPES: [(usize, usize, usize); 3] = [(1, 130, 67), (67, 129, 1), (70, 33, 100)];
/// Softmax shapes (rows, cols): one value, a single wide row, many odd rows.
const SOFTMAX_SHAPES: [(usize, usize); 3] = [(1, 1), (1, 1000), (37, 129)];

pub async fn run(gpu: &Gpu) -> Result<SelfCheckReport> {
    let mut rng = Rng::new(0x1a47e4);
    let mut checks = Vec::new();
    for (m, k, n) in MATMUL_SHAPES {
        let (a, b) = (rng.vec(m * k, -1.0, 1.0), rng.vec(k * n, -1.0, 1.0));
        let mut batch = gpu.batch("self-check matmul");
        let c = ops::matmul(
            &mut batch,
            &gpu.upload("A", &a, &[m, k])?,
            &gpu.upload("B", &b, &[k, n])?,
        )?;
        let out = batch.submit_and_read(&c).await?;
        checks.push(Check {
            kernel: "matmul",
            shape: format!("{m}x{k}·{k}x{n}"),
            comparison: compare_matmul(&out, &a, &b, m, k, n),
        });
    }
    for (rows, cols) in SOFTMAX_SHAPES {
        let x = rng.vec(rows * cols, -8.0, 8.0);
        let mut batch = gpu.batch("self-check softmax");
        let y = ops::softmax(&mut batch, &gpu.upload("x", &x, &[rows, cols])?)?;
        let out = batch.submit_and_read(&y).await?;
        checks.push(Check {
            kernel: "softmax",
            shape: format!("{rows}x{cols}"),
            comparison: compare_softmax(&out, &x, rows, cols),
        });
    }
    let passed = checks.iter().all(|c| c.comparison.passed);
    Ok(SelfCheckReport { passed, checks })
}
