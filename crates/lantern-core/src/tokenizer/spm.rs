//! SentencePiece-style BPE over vocabulary scores (Llama 1/2, Mistral, Phi-3, Gemma): spaces
//! become `▁`, then adjacent pieces whose concatenation is a token merge, highest score first;
//! characters that are no token fall back to `<0xXX>` byte tokens.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::vocab::Vocab;

/// SentencePiece's visible space.
pub(crate) const SPACE: &str = "\u{2581}";

pub(crate) struct SentencePiece {
    scores: Vec<f32>,
    /// `<0xXX>` tokens, for characters that are not in the vocabulary.
    byte_ids: [Option<u32>; 256],
    unknown: Option<u32>,
}

#[derive(Clone, Copy)]
struct Symbol {
    start: usize,
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

/// A candidate merge; the queue pops the highest score, then the leftmost.
struct Candidate {
    score: f32,
    left: usize,
    right: usize,
    len: usize,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then(Reverse(self.left).cmp(&Reverse(other.left)))
    }
}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}

impl SentencePiece {
    pub(crate) fn new(vocab: &Vocab, scores: Vec<f32>, unknown: Option<u32>) -> Self {
        let mut byte_ids = [None; 256];
        for (byte, slot) in byte_ids.iter_mut().enumerate() {
            *slot = vocab.id(&format!("<0x{byte:02X}>"));
        }
        SentencePiece {
            scores,
            byte_ids,
            unknown,
        }
    }

    /// Encodes one fragment of raw text (no special tokens in it). `space_prefix`: whether to
    /// put a space before it, as SentencePiece does at the start of text.
    pub(crate) fn encode(&self, vocab: &Vocab, text: &str, space_prefix: bool, out: &mut Vec<u32>) {
        let mut escaped = String::with_capacity(text.len() + 3);
        if space_prefix {
            escaped.push_str(SPACE);
        }
        escaped.push_str(&text.replace(' ', SPACE));

        let starts: Vec<usize> = escaped.char_indices().map(|(i, _)| i).collect();
        let n = starts.len();
        let mut symbols: Vec<Symbol> = (0..n)
            .map(|i| Symbol {
                start: starts[i],
                len: starts.get(i + 1).unwrap_or(&escaped.len()) - starts[i],
                prev: i.checked_sub(1),
                next: (i + 1 < n).then_some(i + 1),
            })
            .collect();

        let mut queue = BinaryHeap::new();
        let candidate = |symbols: &[Symbol], left: usize, right: usize| {
            let (l, r) = (symbols[left], symbols[right]);
            let len = l.len + r.len;
            let id = vocab.id(&escaped[l.start..l.start + len])?;
            Some(Candidate {
                score: *self.scores.get(id as usize)?,
                left,
                right,
                len,
            })
        };
        for left in 1..n {
            queue.extend(candidate(&symbols, left - 1, left));
        }
        while let Some(c) = queue.pop() {
            let (l, r) = (symbols[c.left], symbols[c.right]);
            // Stale: one side merged since (a merged-away symbol has length 0; a grown one no
            // longer sums to the candidate's length).
            if l.len == 0 || r.len == 0 || l.len + r.len != c.len {
                continue;
            }
            symbols[c.left].len = c.len;
            symbols[c.left].next = r.next;
            symbols[c.right].len = 0;
            if let Some(next) = r.next {
                symbols[next].prev = Some(c.left);
            }
            if let Some(prev) = l.prev {
                queue.extend(candidate(&symbols, prev, c.left));
            }
            if let Some(next) = r.next {
                queue.extend(candidate(&symbols, c.left, next));
            }
        }

        let mut at = (n > 0).then_some(0);
        while let Some(i) = at {
            let s = symbols[i];
            let piece = &escaped[s.start..s.start + s.len];
            match vocab.id(piece) {
                Some(id) => out.push(id),
                None => {
                    for byte in piece.bytes() {
                        out.extend(self.byte_ids[byte as usize].or(self.unknown));
                    }
                }
            }
            at = s.next;
        }
    }
}

/// The byte of a `<0xXX>` token.
pub(crate) fn byte_token_value(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}
