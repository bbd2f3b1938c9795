//! Byte-level BPE (GPT-2 family: GPT-2, Llama 3, Qwen 2, SmolLM): pre-tokenize into words, write
//! each word in the byte-level alphabet, then apply merges lowest rank first.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use super::byte_level;
use super::error::Result;
use super::pretokenize::{PreTokenizer, PreTokenizerKind};
use super::vocab::Vocab;

#[derive(Clone, Copy)]
struct Merge {
    rank: u32,
    result: u32,
}

pub(crate) struct BytePairEncoder {
    pre: PreTokenizer,
    /// (left id, right id) → merge. Merges whose parts or result are not tokens can never produce
    /// a token, so they are dropped at load.
    merges: HashMap<(u32, u32), Merge>,
    /// The token of each byte's one-character string.
    byte_ids: [Option<u32>; 256],
}

/// A symbol in a word being merged: a doubly linked list over the word's bytes.
#[derive(Clone, Copy)]
struct Symbol {
    id: Option<u32>,
    prev: Option<usize>,
    next: Option<usize>,
    alive: bool,
}

impl BytePairEncoder {
    pub(crate) fn new(vocab: &Vocab, merges: &[String], pre: PreTokenizerKind) -> Result<Self> {
        let mut byte_ids = [None; 256];
        for (byte, slot) in byte_ids.iter_mut().enumerate() {
            *slot = vocab.id(byte_level::byte_to_char(byte as u8).encode_utf8(&mut [0; 4]));
        }
        let mut table = HashMap::with_capacity(merges.len());
        for (rank, merge) in merges.iter().enumerate() {
            // "left right"; the search starts after the first byte so that a left part that is
            // itself a space (non-byte-level vocabularies) still splits correctly.
            let Some(space) = merge.bytes().skip(1).position(|b| b == b' ') else {
                continue;
            };
            let (left, right) = (&merge[..space + 1], &merge[space + 2..]);
            let (Some(l), Some(r)) = (vocab.id(left), vocab.id(right)) else {
                continue;
            };
            let Some(result) = vocab.id(&format!("{left}{right}")) else {
                continue;
            };
            table.entry((l, r)).or_insert(Merge {
                rank: rank as u32,
                result,
            });
        }
        Ok(BytePairEncoder {
            pre: PreTokenizer::new(pre)?,
            merges: table,
            byte_ids,
        })
    }

    pub(crate) fn pre_tokenizer(&self) -> PreTokenizerKind {
        self.pre.kind()
    }

    pub(crate) fn encode(&self, vocab: &Vocab, text: &str, out: &mut Vec<u32>) -> Result<()> {
        for word in self.pre.split(text)? {
            if self.pre.kind().ignores_merges() {
                let mapped: String = word.bytes().map(byte_level::byte_to_char).collect();
                if let Some(id) = vocab.id(&mapped) {
                    out.push(id);
                    continue;
                }
            }
            self.merge_word(word.as_bytes(), out);
        }
        Ok(())
    }

    fn merge_word(&self, word: &[u8], out: &mut Vec<u32>) {
        let n = word.len();
        let mut symbols: Vec<Symbol> = word
            .iter()
            .enumerate()
            .map(|(i, &b)| Symbol {
                id: self.byte_ids[b as usize],
                prev: i.checked_sub(1),
                next: (i + 1 < n).then_some(i + 1),
                alive: true,
            })
            .collect();
        // Min-heap on (rank, left position): the lowest rank merges first, leftmost on ties.
        // Entries go stale when a neighbour merges; they are checked when popped.
        let mut queue = BinaryHeap::new();
        let candidate = |symbols: &[Symbol], left: usize, right: usize| {
            let (l, r) = (symbols[left].id?, symbols[right].id?);
            let merge = self.merges.get(&(l, r))?;
            Some(Reverse((merge.rank, left, right, l, r)))
        };
        for left in 1..n {
            queue.extend(candidate(&symbols, left - 1, left));
        }
        while let Some(Reverse((_, left, right, l, r))) = queue.pop() {
            let (a, b) = (symbols[left], symbols[right]);
            let current = a.alive && b.alive && a.next == Some(right);
            if !current || a.id != Some(l) || b.id != Some(r) {
                continue;
            }
            let merged = self.merges[&(l, r)].result;
            symbols[left].id = Some(merged);
            symbols[left].next = b.next;
            symbols[right].alive = false;
            if let Some(next) = b.next {
                symbols[next].prev = Some(left);
            }
            if let Some(prev) = a.prev {
                queue.extend(candidate(&symbols, prev, left));
            }
            if let Some(next) = b.next {
                queue.extend(candidate(&symbols, left, next));
            }
        }
        // A byte with no token of its own (only in a malformed vocabulary) is dropped, as
        // llama.cpp drops it.
        let mut at = (n > 0).then_some(0);
        while let Some(i) = at {
            out.extend(symbols[i].id);
            at = symbols[i].next;
        }
    }
}
