//! Splits `<think>…</think>` reasoning out of answer text, chunk by chunk.
//!
//! Some backends put their reasoning into `content` between `<think>` and `</think>` instead of
//! a separate `reasoning_content` field. The rules:
//! - Only a `<think>` at the **start** of the answer (after optional whitespace) opens
//!   reasoning; a `<think>` later in the answer is ordinary text (models quote tags too).
//! - Everything up to the first `</think>` is thinking; everything after it is content, with the
//!   whitespace right after each tag dropped (as Ollama's own parser does).
//! - Tags may be split across chunks. Text is held back only while it could still be a partial
//!   tag: at the start, whitespace plus a prefix of `<think>`; while thinking, the longest suffix
//!   that is a prefix of `</think>`. Once the answer is known to be plain content, chunks pass
//!   through untouched (moved, not copied).
//! - A `</think>` without an opening tag is not recognised (the answer is already streaming).
//!
//! Owns no I/O and knows nothing of wire types.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// What one piece of input turned into. Empty parts are `None`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Split {
    /// Reasoning text.
    pub(crate) thinking: Option<String>,
    /// Answer text.
    pub(crate) content: Option<String>,
}

impl Split {
    fn add(slot: &mut Option<String>, text: String) {
        if text.is_empty() {
            return;
        }
        match slot {
            Some(s) => s.push_str(&text),
            None => *slot = Some(text),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Nothing but whitespace seen yet.
    Start,
    /// Just after `<think>`: skipping whitespace.
    ThinkStart,
    /// Inside the reasoning.
    Thinking,
    /// Just after `</think>`: skipping whitespace.
    AfterThink,
    /// Plain answer text; no more tag handling.
    Content,
}

/// The splitter's state across chunks.
#[derive(Debug)]
pub(crate) struct ThinkSplitter {
    state: State,
    held: String,
}

impl ThinkSplitter {
    /// A splitter at the start of an answer.
    pub(crate) fn new() -> Self {
        ThinkSplitter {
            state: State::Start,
            held: String::new(),
        }
    }

    /// Feeds one chunk of content.
    pub(crate) fn push(&mut self, text: String) -> Split {
        let mut out = Split::default();
        if self.state == State::Content {
            Split::add(&mut out.content, text);
            return out;
        }
        let text = if self.held.is_empty() {
            text
        } else {
            let mut held = std::mem::take(&mut self.held);
            held.push_str(&text);
            held
        };
        self.process(text, &mut out);
        out
    }

    /// End of the answer: releases held-back text as what it turned out to be.
    pub(crate) fn finish(&mut self) -> Split {
        let held = std::mem::take(&mut self.held);
        let mut out = Split::default();
        match self.state {
            State::Start => Split::add(&mut out.content, held),
            State::Thinking => Split::add(&mut out.thinking, held),
            State::ThinkStart | State::AfterThink | State::Content => {}
        }
        out
    }

    fn process(&mut self, mut text: String, out: &mut Split) {
        loop {
            match self.state {
                State::Content => return Split::add(&mut out.content, text),
                State::Start => {
                    let trimmed = text.trim_start();
                    if let Some(rest) = trimmed.strip_prefix(OPEN) {
                        let skip = text.len() - rest.len();
                        text.drain(..skip);
                        self.state = State::ThinkStart;
                    } else if OPEN.starts_with(trimmed) {
                        self.held = text;
                        return;
                    } else {
                        self.state = State::Content;
                    }
                }
                State::ThinkStart | State::AfterThink => {
                    let skip = text.len() - text.trim_start().len();
                    if skip == text.len() {
                        return; // whitespace only: keep skipping
                    }
                    text.drain(..skip);
                    self.state = match self.state {
                        State::ThinkStart => State::Thinking,
                        _ => State::Content,
                    };
                }
                State::Thinking => {
                    if let Some(i) = text.find(CLOSE) {
                        let rest = text.split_off(i + CLOSE.len());
                        text.truncate(i);
                        Split::add(&mut out.thinking, text);
                        self.state = State::AfterThink;
                        text = rest;
                    } else {
                        let keep = partial_suffix(&text, CLOSE);
                        if keep > 0 {
                            self.held = text.split_off(text.len() - keep);
                        }
                        return Split::add(&mut out.thinking, text);
                    }
                }
            }
        }
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `tag` (ASCII).
fn partial_suffix(text: &str, tag: &str) -> usize {
    let max = (tag.len() - 1).min(text.len());
    (1..=max)
        .rev()
        .find(|&k| text.ends_with(&tag[..k]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks`, then finishes; returns (thinking, content) joined.
    fn run(chunks: &[&str]) -> (String, String) {
        let mut s = ThinkSplitter::new();
        let (mut thinking, mut content) = (String::new(), String::new());
        let mut take = |sp: Split| {
            thinking.push_str(sp.thinking.as_deref().unwrap_or(""));
            content.push_str(sp.content.as_deref().unwrap_or(""));
        };
        for c in chunks {
            take(s.push((*c).to_string()));
        }
        take(s.finish());
        (thinking, content)
    }

    #[test]
    fn table() {
        let cases: &[(&[&str], &str, &str)] = &[
            (&["hello", " world"], "", "hello world"),
            (&["<think>plan</think>answer"], "plan", "answer"),
            (&["<think>\nplan\n</think>\n\nanswer"], "plan\n", "answer"),
            (&["\n <think>plan</think>answer"], "plan", "answer"),
            (
                &["<thi", "nk>pl", "an</th", "ink>ans", "wer"],
                "plan",
                "answer",
            ),
            (
                &[
                    "<", "t", "h", "i", "n", "k", ">", "x", "<", "/", "think", ">", "y",
                ],
                "x",
                "y",
            ),
            (&["a <think>b</think>"], "", "a <think>b</think>"),
            (
                &["answer", "<think>x</think>"],
                "",
                "answer<think>x</think>",
            ),
            (&["<thinking>x"], "", "<thinking>x"),
            (&["<thin"], "", "<thin"),
            (&["  "], "", "  "),
            (&["<think>unfinished </thi"], "unfinished </thi", ""),
            (&["<think>a</b> < </think", ">c"], "a</b> < ", "c"),
            (&["<think></think>"], "", ""),
            (&["<think>", "</think>", "   ", "x"], "", "x"),
            (&["<think>x</think>y</think>z"], "x", "y</think>z"),
            (&["<think>é😀</think>ü"], "é😀", "ü"),
        ];
        for (chunks, thinking, content) in cases {
            assert_eq!(
                run(chunks),
                (thinking.to_string(), content.to_string()),
                "{chunks:?}"
            );
        }
    }

    #[test]
    fn every_split_point_gives_the_same_result() {
        let text = " <think>\nstep one </ step two\n</think>\n\nThe answer < 3 </think>";
        let want = run(&[text]);
        for i in 1..text.len() {
            if text.is_char_boundary(i) {
                assert_eq!(run(&[&text[..i], &text[i..]]), want, "split at {i}");
            }
        }
        let bytes: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = bytes.iter().map(String::as_str).collect();
        assert_eq!(run(&refs), want);
    }

    #[test]
    fn content_passes_through_without_holding() {
        let mut s = ThinkSplitter::new();
        assert_eq!(s.push("Hi".into()).content.as_deref(), Some("Hi"));
        assert_eq!(s.push("<".into()).content.as_deref(), Some("<"));
        assert_eq!(s.finish(), Split::default());
    }

    #[test]
    fn holds_only_a_possible_partial_tag() {
        let mut s = ThinkSplitter::new();
        assert_eq!(
            s.push("<think>abc</".into()).thinking.as_deref(),
            Some("abc")
        );
        assert_eq!(s.push("x".into()).thinking.as_deref(), Some("</x"));
    }

    #[test]
    fn partial_suffix_lengths() {
        assert_eq!(partial_suffix("abc</thin", CLOSE), 6);
        assert_eq!(partial_suffix("abc<", CLOSE), 1);
        assert_eq!(partial_suffix("abc", CLOSE), 0);
        assert_eq!(partial_suffix("", CLOSE), 0);
        assert_eq!(partial_suffix("é<", CLOSE), 1);
    }
}
