//! The reference's weights: every tensor dequantized to f32 and checked against the shape the
//! config implies.

use lantern_core::config::ModelConfig;
use lantern_core::gguf::GgufFile;
use lantern_core::quant::dequantize_to_vec;

use super::{ReferenceError, Result, math};

/// Row-major: `rows` output features of `cols` inputs each (a GGUF `[cols, rows]` tensor).
pub(super) struct Matrix {
    pub(super) rows: usize,
    pub(super) cols: usize,
    data: Vec<f32>,
}

impl Matrix {
    pub(super) fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    pub(super) fn matvec(&self, x: &[f32]) -> Vec<f32> {
        assert_eq!(x.len(), self.cols, "matvec input length");
        (0..self.rows)
            .map(|r| math::dot(self.row(r), x) as f32)
            .collect()
    }
}

pub(super) struct Layer {
    pub(super) attn_norm: Vec<f32>,
    pub(super) q: Matrix,
    pub(super) k: Matrix,
    pub(super) v: Matrix,
    pub(super) o: Matrix,
    pub(super) q_norm: Option<Vec<f32>>,
    pub(super) k_norm: Option<Vec<f32>>,
    pub(super) post_attn_norm: Option<Vec<f32>>,
    pub(super) ffn_norm: Vec<f32>,
    pub(super) gate: Option<Matrix>,
    pub(super) up: Matrix,
    pub(super) down: Matrix,
    pub(super) post_ffn_norm: Option<Vec<f32>>,
}

pub struct Weights {
    pub(super) embedding: Matrix,
    pub(super) output: Option<Matrix>,
    pub(super) output_norm: Vec<f32>,
    pub(super) layers: Vec<Layer>,
}

struct Reader<'f, 'a> {
    file: &'f GgufFile<'a>,
    norm_offset: f32,
}

impl Reader<'_, '_> {
    fn has(&self, name: &str) -> bool {
        self.file.header().tensor(name).is_some()
    }

    fn load(&self, name: &str, shape: &[u64]) -> Result<Vec<f32>> {
        let info = self
            .file
            .header()
            .tensor(name)
            .ok_or_else(|| ReferenceError::MissingTensor(name.to_owned()))?;
        if info.shape() != shape {
            return Err(ReferenceError::Shape {
                name: name.to_owned(),
                expected: shape.to_vec(),
                got: info.shape().to_vec(),
            });
        }
        let tensor_error = |reason: String| ReferenceError::Tensor {
            name: name.to_owned(),
            reason,
        };
        let bytes = self
            .file
            .tensor_data(info)
            .map_err(|e| tensor_error(e.to_string()))?;
        dequantize_to_vec(info.ggml_type(), bytes, info.n_elements() as usize)
            .map_err(|e| tensor_error(e.to_string()))
    }

    fn matrix(&self, name: &str, cols: usize, rows: usize) -> Result<Matrix> {
        Ok(Matrix {
            rows,
            cols,
            data: self.load(name, &[cols as u64, rows as u64])?,
        })
    }

    /// Norm weights get the config's offset (Gemma's `1 + w` when not baked into the file).
    fn norm(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        let mut w = self.load(name, &[len as u64])?;
        w.iter_mut().for_each(|v| *v += self.norm_offset);
        Ok(w)
    }

    fn optional_norm(&self, name: &str, len: usize) -> Result<Option<Vec<f32>>> {
        self.has(name).then(|| self.norm(name, len)).transpose()
    }
}

impl Weights {
    pub fn from_gguf(file: &GgufFile, c: &ModelConfig) -> Result<Self> {
        let r = Reader {
            file,
            norm_offset: c.norm.weight_offset,
        };
        let hidden = c.hidden_size as usize;
        let vocab = c.vocab_size as usize;
        let (hd, q_dim, kv_dim) = (
            c.head_dim as usize,
            (c.n_heads * c.head_dim) as usize,
            (c.n_kv_heads * c.head_dim) as usize,
        );
        let ffn = c.ffn_size as usize;
        let layers = (0..c.n_layers)
            .map(|i| {
                let t = |name: &str| format!("blk.{i}.{name}.weight");
                Ok(Layer {
                    attn_norm: r.norm(&t("attn_norm"), hidden)?,
                    q: r.matrix(&t("attn_q"), hidden, q_dim)?,
                    k: r.matrix(&t("attn_k"), hidden, kv_dim)?,
                    v: r.matrix(&t("attn_v"), hidden, kv_dim)?,
                    o: r.matrix(&t("attn_output"), q_dim, hidden)?,
                    q_norm: if c.attention.qk_norm {
                        Some(r.norm(&t("attn_q_norm"), hd)?)
                    } else {
                        None
                    },
                    k_norm: if c.attention.qk_norm {
                        Some(r.norm(&t("attn_k_norm"), hd)?)
                    } else {
                        None
                    },
                    post_attn_norm: r.optional_norm(&t("post_attention_norm"), hidden)?,
                    ffn_norm: r.norm(&t("ffn_norm"), hidden)?,
                    gate: if c.gated_ffn {
                        Some(r.matrix(&t("ffn_gate"), hidden, ffn)?)
                    } else {
                        None
                    },
                    up: r.matrix(&t("ffn_up"), hidden, ffn)?,
                    down: r.matrix(&t("ffn_down"), ffn, hidden)?,
                    post_ffn_norm: r.optional_norm(&t("post_ffw_norm"), hidden)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let output = if c.tied_output {
            None
        } else {
            Some(r.matrix("output.weight", hidden, vocab)?)
        };
        Ok(Weights {
            embedding: r.matrix("token_embd.weight", hidden, vocab)?,
            output,
            output_norm: r.norm("output_norm.weight", hidden)?,
            layers,
        })
    }
}
