//! Stop sequences over streamed text: a stop string may arrive split across tokens, so text that
//! could be the start of one is held back until it is clearly not, and the stop string itself is
//! never shown.

#[derive(Debug)]
pub(super) struct StopMatcher {
    stops: Vec<String>,
    /// Text received but not yet released (it may begin a stop string).
    held: String,
}

/// What one piece of text led to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Matched {
    /// Text safe to show now (possibly empty).
    Continue(String),
    /// A stop string was completed: the text before it, and which stop it was.
    Stop { text: String, stop: String },
}

impl StopMatcher {
    pub(super) fn new(stops: &[String]) -> Self {
        StopMatcher {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            held: String::new(),
        }
    }

    pub(super) fn push(&mut self, text: &str) -> Matched {
        self.held.push_str(text);
        // The earliest occurrence of any stop wins.
        let found = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()).map(|at| (at, s)))
            .min_by_key(|(at, _)| *at);
        if let Some((at, stop)) = found {
            let text = self.held[..at].to_owned();
            let stop = stop.clone();
            self.held.clear();
            return Matched::Stop { text, stop };
        }
        // Keep the longest tail that is a proper prefix of some stop string.
        let keep = self
            .stops
            .iter()
            .map(|s| longest_suffix_prefix(&self.held, s))
            .max()
            .unwrap_or(0);
        let release_to = self.held.len() - keep;
        let released = self.held[..release_to].to_owned();
        self.held.drain(..release_to);
        Matched::Continue(released)
    }

    /// The held-back tail, at the end of generation (it did not turn into a stop string).
    pub(super) fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `stop`, on char boundaries.
fn longest_suffix_prefix(text: &str, stop: &str) -> usize {
    let max = text.len().min(stop.len().saturating_sub(1));
    (1..=max)
        .rev()
        .find(|&n| {
            let start = text.len() - n;
            text.is_char_boundary(start) && stop.starts_with(&text[start..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stops(list: &[&str]) -> StopMatcher {
        StopMatcher::new(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn a_stop_split_across_pieces_is_caught_and_hidden() {
        let mut m = stops(&["\nUser:"]);
        assert_eq!(m.push("Hello"), Matched::Continue("Hello".into()));
        assert_eq!(m.push(" there\nUs"), Matched::Continue(" there".into()));
        assert_eq!(
            m.push("er: hi"),
            Matched::Stop {
                text: String::new(),
                stop: "\nUser:".into()
            }
        );
    }

    #[test]
    fn a_false_start_is_released() {
        let mut m = stops(&["</s>"]);
        assert_eq!(m.push("a </"), Matched::Continue("a ".into()));
        assert_eq!(m.push("b>"), Matched::Continue("</b>".into()));
        assert_eq!(m.push("<"), Matched::Continue(String::new()));
        assert_eq!(m.finish(), "<");
    }

    #[test]
    fn earliest_of_several_stops_wins_and_text_before_it_is_kept() {
        let mut m = stops(&["STOP", "xyz"]);
        assert_eq!(
            m.push("abc xyz STOP"),
            Matched::Stop {
                text: "abc ".into(),
                stop: "xyz".into()
            }
        );
    }

    #[test]
    fn multibyte_text_is_never_cut_inside_a_character() {
        let mut m = stops(&["日本語"]);
        assert_eq!(m.push("東京日本"), Matched::Continue("東京".into()));
        assert_eq!(m.finish(), "日本");
    }
}
