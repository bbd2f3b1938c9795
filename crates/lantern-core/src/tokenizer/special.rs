//! Splitting text around special tokens before the tokenizer's own algorithm runs.
//!
//! The rule is llama.cpp's (which mirrors Hugging Face's added-token handling): special tokens
//! are tried longest first, and every occurrence of one cuts the text fragments around it.
//! User-defined tokens are always cut out; control and unknown tokens only when the caller asks to
//! parse special tokens (chat prompts do; raw user text should not, or a user could type
//! `<|im_end|>` and end their own turn).

use super::vocab::{TokenKind, Vocab};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fragment<'t> {
    Text(&'t str),
    Token(u32),
}

pub(crate) struct SpecialTokens {
    /// (text, id, matched even without `parse_special`), longest text first.
    tokens: Vec<(String, u32, bool)>,
}

impl SpecialTokens {
    pub(crate) fn from_vocab(vocab: &Vocab) -> Self {
        let mut tokens: Vec<(String, u32, bool)> = vocab
            .iter()
            .filter(|(_, text, kind)| kind.is_special() && !text.is_empty())
            .map(|(id, text, kind)| (text.to_owned(), id, kind == TokenKind::UserDefined))
            .collect();
        // Longest first, so `<|im_start|>` wins over a `<|` token; ties by id keep it stable.
        tokens.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        SpecialTokens { tokens }
    }

    pub(crate) fn split<'t>(&self, text: &'t str, parse_special: bool) -> Vec<Fragment<'t>> {
        let mut fragments = vec![Fragment::Text(text)];
        if text.is_empty() {
            return Vec::new();
        }
        for (special, id, always) in &self.tokens {
            if !(parse_special || *always) {
                continue;
            }
            // Most special tokens never occur: check cheaply before rebuilding the list.
            let occurs = fragments
                .iter()
                .any(|f| matches!(f, Fragment::Text(t) if t.contains(special.as_str())));
            if !occurs {
                continue;
            }
            let mut next = Vec::with_capacity(fragments.len() + 2);
            for fragment in fragments {
                let Fragment::Text(mut rest) = fragment else {
                    next.push(fragment);
                    continue;
                };
                while let Some(at) = rest.find(special.as_str()) {
                    if at > 0 {
                        next.push(Fragment::Text(&rest[..at]));
                    }
                    next.push(Fragment::Token(*id));
                    rest = &rest[at + special.len()..];
                }
                if !rest.is_empty() {
                    next.push(Fragment::Text(rest));
                }
            }
            fragments = next;
        }
        fragments
    }
}
