//! The GPU model's weights: every matrix a [`QuantMatrix`] in its GGUF format (repacked, never
//! dequantized), every norm vector an f32 tensor, each checked against the shape the config
//! implies.
//!
//! Loading is built around [`TensorStream`]: the header comes first and says what to allocate,
//! then the file's bytes arrive in chunks of any size and are routed to their tensors as they
//! come (matrices through their [`MatrixWriter`]s, vectors gathered until complete). A whole
//! file in memory is just one source of chunks; a browser download is another.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use lantern_core::GgmlType;
use lantern_core::config::ModelConfig;
use lantern_core::gguf::{GgufHeader, TensorStream};
use lantern_gpu::quant::{MatrixWriter, QuantMatrix, WeightFormat};
use lantern_gpu::{Gpu, Tensor};

use super::chunks::ChunkSource;
use super::{ModelError, Result};

/// The weight format the GPU kernels read for a GGUF tensor type, or `None` when they have no
/// decoder for it.
pub fn weight_format(ty: GgmlType) -> Option<WeightFormat> {
    Some(match ty {
        GgmlType::F32 => WeightFormat::F32,
        GgmlType::F16 => WeightFormat::F16,
        GgmlType::Q8_0 => WeightFormat::Q8_0,
        GgmlType::Q4_0 => WeightFormat::Q4_0,
        GgmlType::Q4_1 => WeightFormat::Q4_1,
        GgmlType::Q5_0 => WeightFormat::Q5_0,
        GgmlType::Q4_K => WeightFormat::Q4_K,
        GgmlType::Q6_K => WeightFormat::Q6_K,
        _ => return None,
    })
}

pub(super) struct Layer {
    pub attn_norm: Tensor,
    /// The q, k and v projections as 1 to 3 matrices whose rows, in order, are q's, k's and v's:
    /// one stacked matrix when the file stores all three in one format (SmolLM2), else runs of
    /// alike neighbours (Gemma 3's Q8_0 v beside Q5_0 q and k: two). See [`stack_runs`].
    pub qkv: Vec<QuantMatrix>,
    pub o: QuantMatrix,
    pub q_norm: Option<Tensor>,
    pub k_norm: Option<Tensor>,
    pub post_attn_norm: Option<Tensor>,
    pub ffn_norm: Tensor,
    pub ffn: FeedForward,
    pub down: QuantMatrix,
    pub post_ffn_norm: Option<Tensor>,
}

/// The feed-forward block's input projections.
pub(super) enum FeedForward {
    /// Gate and up stacked into one `[2·ffn, hidden]` matrix (gate rows first), used whenever
    /// the file stores both in the same format.
    Stacked(QuantMatrix),
    /// Gate and up of different formats, as two products.
    Gated { gate: QuantMatrix, up: QuantMatrix },
    /// No gate (a plain activation of up).
    Plain(QuantMatrix),
}

impl FeedForward {
    fn matrices(&self) -> Vec<&QuantMatrix> {
        match self {
            FeedForward::Stacked(m) | FeedForward::Plain(m) => vec![m],
            FeedForward::Gated { gate, up } => vec![gate, up],
        }
    }
}

pub(super) struct Weights {
    pub embedding: QuantMatrix,
    /// `None` when the output projection is tied to the embedding.
    pub output: Option<QuantMatrix>,
    pub output_norm: Tensor,
    pub layers: Vec<Layer>,
}

impl Weights {
    /// GPU bytes of the matrices a decode step reads: every layer's, and the output projection
    /// (the embedding gather reads one row, which is negligible).
    pub fn decode_bytes(&self) -> u64 {
        let layers: u64 = self.layer_matrices().map(QuantMatrix::size_bytes).sum();
        layers + self.output_projection().size_bytes()
    }

    /// Every layer's weight matrices: what each token is multiplied by.
    pub fn layer_matrices(&self) -> impl Iterator<Item = &QuantMatrix> {
        self.layers
            .iter()
            .flat_map(|l| l.qkv.iter().chain([&l.o, &l.down]).chain(l.ffn.matrices()))
    }

    /// The output projection: its own matrix, or the embedding when the two are tied.
    pub fn output_projection(&self) -> &QuantMatrix {
        self.output.as_ref().unwrap_or(&self.embedding)
    }

    /// GPU bytes of every weight.
    pub fn total_bytes(&self) -> u64 {
        let vectors: u64 = self
            .layers
            .iter()
            .flat_map(|l| {
                [&l.attn_norm, &l.ffn_norm]
                    .into_iter()
                    .chain(&l.q_norm)
                    .chain(&l.k_norm)
                    .chain(&l.post_attn_norm)
                    .chain(&l.post_ffn_norm)
            })
            .map(Tensor::size_bytes)
            .sum();
        // The embedding is already counted when it doubles as the output projection.
        let untied_embedding = self
            .output
            .as_ref()
            .map_or(0, |_| self.embedding.size_bytes());
        self.decode_bytes() + untied_embedding + self.output_norm.size_bytes() + vectors
    }
}

/// What the config expects a tensor to be.
#[derive(Clone, Copy)]
enum Expect {
    /// `rows` outputs of `cols` inputs (GGUF shape `[cols, rows]`).
    Matrix {
        rows: usize,
        cols: usize,
    },
    Vector {
        len: usize,
    },
}

/// A filled tensor.
enum Loaded {
    /// A matrix, and how many of the file's tensors it stacks (their rows in order).
    Matrix(QuantMatrix, usize),
    Vector(Tensor),
}

/// Where a tensor's bytes go while the file streams in.
enum Target {
    /// Rows of one of the matrices allocated from the header (all of them, or the rows a
    /// stacked tensor takes).
    Matrix {
        index: usize,
        rows: std::ops::Range<usize>,
    },
    /// Index into the vectors being gathered.
    Vector(usize),
}

/// Every tensor the decoder reads, by GGUF name, with the shape the config implies.
fn plan(c: &ModelConfig) -> Vec<(String, Expect)> {
    let hidden = c.hidden_size as usize;
    let (hd, q_dim, kv_dim) = (
        c.head_dim as usize,
        (c.n_heads * c.head_dim) as usize,
        (c.n_kv_heads * c.head_dim) as usize,
    );
    let ffn = c.ffn_size as usize;
    let m = |rows, cols| Expect::Matrix { rows, cols };
    let v = |len| Expect::Vector { len };
    let mut plan = vec![
        (
            "token_embd.weight".to_owned(),
            m(c.vocab_size as usize, hidden),
        ),
        ("output_norm.weight".to_owned(), v(hidden)),
    ];
    if !c.tied_output {
        plan.push(("output.weight".to_owned(), m(c.vocab_size as usize, hidden)));
    }
    for i in 0..c.n_layers {
        let t = |name: &str| format!("blk.{i}.{name}.weight");
        plan.extend([
            (t("attn_norm"), v(hidden)),
            (t("attn_q"), m(q_dim, hidden)),
            (t("attn_k"), m(kv_dim, hidden)),
            (t("attn_v"), m(kv_dim, hidden)),
            (t("attn_output"), m(hidden, q_dim)),
            (t("ffn_norm"), v(hidden)),
            (t("ffn_up"), m(ffn, hidden)),
            (t("ffn_down"), m(hidden, ffn)),
        ]);
        if c.gated_ffn {
            plan.push((t("ffn_gate"), m(ffn, hidden)));
        }
        if c.attention.qk_norm {
            plan.extend([(t("attn_q_norm"), v(hd)), (t("attn_k_norm"), v(hd))]);
        }
    }
    plan
}

/// Optional per-layer norms: loaded when the file has them (Gemma's sandwich norms).
fn optional_plan(c: &ModelConfig) -> Vec<(String, Expect)> {
    let hidden = c.hidden_size as usize;
    (0..c.n_layers)
        .flat_map(|i| {
            ["post_attention_norm", "post_ffw_norm"].map(|n| {
                (
                    format!("blk.{i}.{n}.weight"),
                    Expect::Vector { len: hidden },
                )
            })
        })
        .collect()
}

/// Allocates every tensor from the header, streams the file's bytes from `source` into them, and
/// checks that each tensor arrived whole.
pub(super) async fn load(
    gpu: &Gpu,
    header: &GgufHeader,
    c: &ModelConfig,
    source: &mut impl ChunkSource,
) -> Result<Weights> {
    // Header first: check and allocate everything before any data arrives. Matrices are kept
    // apart from the vectors so that their writers can borrow them while vectors fill up; each
    // is kept under its first tensor's name with the number of tensors it stacks.
    let mut targets: HashMap<usize, Target> = HashMap::new();
    let mut matrices: Vec<(String, QuantMatrix, usize)> = Vec::new();
    let mut vectors: Vec<(String, usize, Vec<u8>)> = Vec::new();
    let find = |name: &str| header.tensors().iter().position(|t| t.name() == name);
    let expected: HashMap<String, Expect> = plan(c).into_iter().collect();
    let mut stacked = HashSet::new();
    for run in stack_groups(c)
        .iter()
        .flat_map(|g| stack_runs(header, &find, g))
    {
        let mut rows = 0;
        let mut cols = 0;
        for name in &run {
            let (index, info) = find(name)
                .map(|i| (i, &header.tensors()[i]))
                .expect("in a run");
            let Some(&Expect::Matrix { rows: r, cols: c }) = expected.get(name) else {
                unreachable!("stack groups are planned matrices");
            };
            check_shape(name, info.shape(), &[c as u64, r as u64])?;
            let part = Target::Matrix {
                index: matrices.len(),
                rows: rows..rows + r,
            };
            targets.insert(index, part);
            (rows, cols) = (rows + r, c);
        }
        let ty = header.tensors()[find(&run[0]).expect("in a run")].ggml_type();
        let format = weight_format(ty).ok_or_else(|| ModelError::UnsupportedTensorType {
            name: run[0].clone(),
            ty,
        })?;
        let matrix = QuantMatrix::new(gpu, &stacked_label(&run), format, rows, cols)?;
        matrices.push((run[0].clone(), matrix, run.len()));
        stacked.extend(run);
    }
    let required = plan(c).into_iter().map(|p| (p, true));
    let optional = optional_plan(c).into_iter().map(|p| (p, false));
    for ((name, expect), required) in required.chain(optional) {
        if stacked.contains(&name) {
            continue;
        }
        let Some(index) = find(&name) else {
            if required {
                return Err(ModelError::MissingTensor(name));
            }
            continue;
        };
        let info = &header.tensors()[index];
        let unsupported = || ModelError::UnsupportedTensorType {
            name: name.clone(),
            ty: info.ggml_type(),
        };
        match expect {
            Expect::Matrix { rows, cols } => {
                check_shape(&name, info.shape(), &[cols as u64, rows as u64])?;
                let format = weight_format(info.ggml_type()).ok_or_else(unsupported)?;
                let matrix = QuantMatrix::new(gpu, &name, format, rows, cols)?;
                targets.insert(
                    index,
                    Target::Matrix {
                        index: matrices.len(),
                        rows: 0..rows,
                    },
                );
                matrices.push((name, matrix, 1));
            }
            Expect::Vector { len } => {
                check_shape(&name, info.shape(), &[len as u64])?;
                if info.ggml_type() != GgmlType::F32 {
                    return Err(unsupported());
                }
                targets.insert(index, Target::Vector(vectors.len()));
                vectors.push((name, len, Vec::with_capacity(len * 4)));
            }
        }
    }

    // Then the data, in file order. A tensor's writer lives from its first piece to its last.
    {
        let mut writers: HashMap<usize, MatrixWriter<'_>> = HashMap::new();
        let mut stream = TensorStream::new(header, 0);
        while !stream.is_complete() {
            let Some(chunk) = source.next_chunk().await? else {
                return Err(ModelError::Truncated {
                    missing_bytes: stream.remaining(),
                });
            };
            for piece in stream.feed(&chunk) {
                match targets.get(&piece.tensor) {
                    None => {} // a tensor the decoder does not read
                    Some(Target::Matrix { index, rows }) => {
                        let writer = match writers.entry(piece.tensor) {
                            Entry::Occupied(writer) => writer.into_mut(),
                            Entry::Vacant(slot) => {
                                slot.insert(matrices[*index].1.rows_writer(gpu, rows.clone())?)
                            }
                        };
                        writer.write(piece.bytes)?;
                        if piece.completes {
                            let writer = writers.remove(&piece.tensor).expect("inserted above");
                            writer.finish()?;
                        }
                    }
                    Some(&Target::Vector(i)) => vectors[i].2.extend_from_slice(piece.bytes),
                }
            }
        }
    }

    let mut loaded = HashMap::with_capacity(targets.len());
    for (name, matrix, stacks) in matrices {
        loaded.insert(name, Loaded::Matrix(matrix, stacks));
    }
    for (name, len, bytes) in vectors {
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let tensor = gpu.upload(&name, &values, &[len])?;
        loaded.insert(name, Loaded::Vector(tensor));
    }
    assemble(c, loaded)
}

/// Projections of one input, in output order, that are stacked into one matrix when the file
/// stores neighbours in one format: a single product (one dispatch, one pass over the input)
/// then computes them all, each output the same dot product as apart.
fn stack_groups(c: &ModelConfig) -> Vec<Vec<String>> {
    (0..c.n_layers)
        .flat_map(|i| {
            let t = |name: &str| format!("blk.{i}.{name}.weight");
            let mut groups = vec![vec![t("attn_q"), t("attn_k"), t("attn_v")]];
            if c.gated_ffn {
                groups.push(vec![t("ffn_gate"), t("ffn_up")]);
            }
            groups
        })
        .collect()
}

/// The runs of at least two neighbours of `group` that the file has, each run in one format.
/// A missing tensor ends a run (the unstacked path reports it).
fn stack_runs(
    header: &GgufHeader,
    find: &impl Fn(&str) -> Option<usize>,
    group: &[String],
) -> Vec<Vec<String>> {
    let mut runs: Vec<(Option<GgmlType>, Vec<String>)> = Vec::new();
    for name in group {
        let ty = find(name).map(|i| header.tensors()[i].ggml_type());
        match runs.last_mut() {
            Some((last, run)) if ty.is_some() && *last == ty => run.push(name.clone()),
            _ => runs.push((ty, vec![name.clone()])),
        }
    }
    runs.into_iter()
        .filter(|(_, run)| run.len() > 1)
        .map(|(_, run)| run)
        .collect()
}

/// A stacked matrix's name for errors and memory reports: `blk.0.attn_q+attn_k+attn_v.weight`.
fn stacked_label(run: &[String]) -> String {
    let short = |name: &str| {
        let rest = name.splitn(3, '.').nth(2).unwrap_or(name);
        rest.strip_suffix(".weight").unwrap_or(rest).to_owned()
    };
    let layer = run[0].strip_suffix(&format!("{}.weight", short(&run[0])));
    let shorts: Vec<String> = run.iter().map(|n| short(n)).collect();
    format!("{}{}.weight", layer.unwrap_or(""), shorts.join("+"))
}

fn check_shape(name: &str, got: &[u64], expected: &[u64]) -> Result<()> {
    if got == expected {
        return Ok(());
    }
    Err(ModelError::Shape {
        name: name.to_owned(),
        expected: expected.to_vec(),
        got: got.to_vec(),
    })
}

/// Loaded tensors by name, taken out one by one into the model's structure.
struct Take(HashMap<String, Loaded>);

impl Take {
    /// The matrix loaded as `name` alone; an error when it is missing or stacked with others.
    fn matrix(&mut self, name: &str) -> Result<QuantMatrix> {
        match self.0.remove(name) {
            Some(Loaded::Matrix(m, 1)) => Ok(m),
            _ => Err(ModelError::MissingTensor(name.to_owned())),
        }
    }

    /// The matrices holding `names`' rows in order: one per stacked run or lone tensor.
    fn stacked(&mut self, names: &[String]) -> Result<Vec<QuantMatrix>> {
        let mut matrices = Vec::new();
        let mut next = 0;
        while let Some(name) = names.get(next) {
            match self.0.remove(name) {
                Some(Loaded::Matrix(m, stacks)) => {
                    matrices.push(m);
                    next += stacks;
                }
                _ => return Err(ModelError::MissingTensor(name.clone())),
            }
        }
        Ok(matrices)
    }

    fn optional_vector(&mut self, name: &str) -> Option<Tensor> {
        match self.0.remove(name) {
            Some(Loaded::Vector(v)) => Some(v),
            _ => None,
        }
    }

    fn vector(&mut self, name: &str) -> Result<Tensor> {
        self.optional_vector(name)
            .ok_or_else(|| ModelError::MissingTensor(name.to_owned()))
    }
}

/// Moves the loaded tensors into the model's structure.
fn assemble(c: &ModelConfig, loaded: HashMap<String, Loaded>) -> Result<Weights> {
    let mut take = Take(loaded);
    let layers = (0..c.n_layers)
        .map(|i| {
            let t = |name: &str| format!("blk.{i}.{name}.weight");
            Ok(Layer {
                attn_norm: take.vector(&t("attn_norm"))?,
                qkv: take.stacked(&[t("attn_q"), t("attn_k"), t("attn_v")])?,
                o: take.matrix(&t("attn_output"))?,
                q_norm: take.optional_vector(&t("attn_q_norm")),
                k_norm: take.optional_vector(&t("attn_k_norm")),
                post_attn_norm: take.optional_vector(&t("post_attention_norm")),
                ffn_norm: take.vector(&t("ffn_norm"))?,
                ffn: if !c.gated_ffn {
                    FeedForward::Plain(take.matrix(&t("ffn_up"))?)
                } else {
                    let mut gate_up = take.stacked(&[t("ffn_gate"), t("ffn_up")])?;
                    match (gate_up.pop(), gate_up.pop()) {
                        (Some(up), Some(gate)) => FeedForward::Gated { gate, up },
                        (Some(stacked), None) => FeedForward::Stacked(stacked),
                        _ => unreachable!("two names give one or two matrices"),
                    }
                },
                down: take.matrix(&t("ffn_down"))?,
                post_ffn_norm: take.optional_vector(&t("post_ffw_norm")),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let output = (!c.tied_output)
        .then(|| take.matrix("output.weight"))
        .transpose()?;
    Ok(Weights {
        embedding: take.matrix("token_embd.weight")?,
        output,
        output_norm: take.vector("output_norm.weight")?,
        layers,
    })
}
