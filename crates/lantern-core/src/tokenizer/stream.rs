//! Turning generated tokens into text as they arrive, one whole character at a time.
//!
//! Byte-level vocabularies split a character such as 🦀 (four bytes) or 中 (three) over several
//! tokens, and SentencePiece falls back to `<0xF0>`-style byte tokens. Printing each token's
//! bytes as they come would show broken characters; holding everything back until the end would
//! defeat streaming. So the stream keeps the bytes of an unfinished character and releases them
//! as soon as the character is complete.

use super::{Tokenizer, error::Result};

#[derive(Clone, Debug, Default)]
pub struct TextStream {
    pending: Vec<u8>,
    skip_special: bool,
}

impl TextStream {
    /// `skip_special`: leave control tokens (`<|im_end|>`, BOS) out of the text.
    pub fn new(skip_special: bool) -> Self {
        TextStream {
            pending: Vec::new(),
            skip_special,
        }
    }

    /// Adds a token; returns the text that is now complete (possibly empty).
    pub fn push(&mut self, tokenizer: &Tokenizer, id: u32) -> Result<String> {
        let bytes = tokenizer.token_bytes(id)?;
        if !(self.skip_special && tokenizer.is_hidden_by_default(id)) {
            self.pending.extend_from_slice(bytes);
        }
        Ok(self.take_complete())
    }

    /// Adds raw bytes (for callers that hold token bytes already).
    pub fn push_bytes(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        self.take_complete()
    }

    /// Ends the stream: an unfinished character left over becomes U+FFFD.
    pub fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }

    /// Bytes held back, waiting for the rest of a character.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    fn take_complete(&mut self) -> String {
        let mut text = String::new();
        let mut consumed = 0;
        loop {
            match std::str::from_utf8(&self.pending[consumed..]) {
                Ok(valid) => {
                    text.push_str(valid);
                    consumed = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid_end = consumed + e.valid_up_to();
                    // SAFETY-free: from_utf8 just said these bytes are valid.
                    text.push_str(
                        std::str::from_utf8(&self.pending[consumed..valid_end])
                            .expect("prefix reported valid"),
                    );
                    match e.error_len() {
                        // Bytes that can never start or continue a character: say so, go on.
                        Some(bad) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            consumed = valid_end + bad;
                        }
                        // A character cut short at the end: keep it for the next token.
                        None => {
                            consumed = valid_end;
                            break;
                        }
                    }
                }
            }
        }
        self.pending.drain(..consumed);
        text
    }
}
