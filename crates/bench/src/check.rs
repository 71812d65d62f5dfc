//! What the fake upstream says and how every response is validated: the content of each
//! streamed piece, incremental NDJSON (proxy) and SSE (direct) checks that report when the first
//! content arrived, and whole-body checks. Pure: bytes in, verdicts out.

use serde::de::IgnoredAny;
use serde::Deserialize;
use std::borrow::Cow;

/// The text of streamed piece `i`: a few tokens.
pub fn piece(i: usize) -> String {
    format!("tok{i} lorem ")
}

/// The whole answer of a reply of `n` pieces.
pub fn answer(n: usize) -> String {
    (0..n).map(piece).collect()
}

/// Which Ollama reply shape carries the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `/api/chat`: `message.content`.
    Chat,
    /// `/api/generate`: `response`.
    Generate,
}

#[derive(Deserialize)]
struct Msg<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct OllamaLine<'a> {
    #[serde(borrow, default)]
    message: Option<Msg<'a>>,
    #[serde(borrow, default)]
    response: Option<Cow<'a, str>>,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

impl OllamaLine<'_> {
    fn text(&self, field: Field) -> Option<&str> {
        match field {
            Field::Chat => self.message.as_ref()?.content.as_deref(),
            Field::Generate => self.response.as_deref(),
        }
    }
}

fn parse_line(line: &[u8], field: Field) -> Result<(String, bool), String> {
    let l: OllamaLine = serde_json::from_slice(line).map_err(|e| {
        format!(
            "bad NDJSON line ({e}): {}",
            String::from_utf8_lossy(&line[..line.len().min(120)])
        )
    })?;
    if let Some(err) = l.error {
        return Err(format!("error line: {err}"));
    }
    Ok((l.text(field).unwrap_or("").to_owned(), l.done))
}

/// Cuts `bytes` into `\n`-terminated lines, joining a line split across calls through
/// `pending` (which keeps the unterminated tail), and hands each whole line to `line`.
fn split_lines(
    pending: &mut Vec<u8>,
    mut bytes: &[u8],
    mut line: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), String> {
    while let Some(pos) = bytes.iter().position(|&b| b == b'\n') {
        let (head, rest) = bytes.split_at(pos);
        if pending.is_empty() {
            line(head)?;
        } else {
            let mut joined = std::mem::take(pending);
            joined.extend_from_slice(head);
            line(&joined)?;
        }
        bytes = &rest[1..];
    }
    pending.extend_from_slice(bytes);
    Ok(())
}

/// Validates an NDJSON stream fed in arbitrary pieces.
#[derive(Debug)]
pub struct NdjsonCheck {
    field: Field,
    pending: Vec<u8>,
    content: String,
    lines: usize,
    done: bool,
}

impl NdjsonCheck {
    /// A check for replies of this shape.
    pub fn new(field: Field) -> Self {
        NdjsonCheck {
            field,
            pending: Vec::new(),
            content: String::new(),
            lines: 0,
            done: false,
        }
    }

    /// Feeds bytes as they arrive. Returns true once any content has arrived.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<bool, String> {
        let mut pending = std::mem::take(&mut self.pending);
        let fed = split_lines(&mut pending, bytes, |line| self.line(line));
        self.pending = pending;
        fed.map(|()| !self.content.is_empty())
    }

    fn line(&mut self, line: &[u8]) -> Result<(), String> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        if self.done {
            return Err("a line after the done line".into());
        }
        let (text, done) = parse_line(line, self.field)?;
        self.content.push_str(&text);
        self.lines += 1;
        self.done = done;
        Ok(())
    }

    /// The stream ended: it must have ended with `done: true` and carried `expected`.
    pub fn finish(self, expected: &str) -> Result<usize, String> {
        if !self.pending.iter().all(u8::is_ascii_whitespace) {
            return Err("the stream ended inside a line".into());
        }
        if !self.done {
            return Err(format!("no done line after {} lines", self.lines));
        }
        same_content(&self.content, expected)?;
        Ok(self.lines)
    }
}

fn same_content(got: &str, expected: &str) -> Result<(), String> {
    if got == expected {
        return Ok(());
    }
    Err(format!(
        "content incomplete: got {} bytes, expected {}",
        got.len(),
        expected.len()
    ))
}

/// A streamed chunk's `delta` or a whole completion's `message`: only the text is checked.
#[derive(Deserialize)]
struct Text<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ChunkChoice<'a> {
    #[serde(borrow)]
    delta: Text<'a>,
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    choices: Vec<ChunkChoice<'a>>,
}

/// Validates an OpenAI SSE stream (the direct path) fed in arbitrary pieces.
#[derive(Debug, Default)]
pub struct SseCheck {
    pending: Vec<u8>,
    content: String,
    events: usize,
    done: bool,
}

impl SseCheck {
    /// Feeds bytes as they arrive. Returns true once any content has arrived.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<bool, String> {
        let mut pending = std::mem::take(&mut self.pending);
        let fed = split_lines(&mut pending, bytes, |line| self.line(line));
        self.pending = pending;
        fed.map(|()| !self.content.is_empty())
    }

    fn line(&mut self, line: &[u8]) -> Result<(), String> {
        let Some(data) = line.strip_prefix(b"data:") else {
            return Ok(());
        };
        let data = data.strip_prefix(b" ").unwrap_or(data);
        if self.done {
            return Err("an event after [DONE]".into());
        }
        self.events += 1;
        if data == b"[DONE]" {
            self.done = true;
            return Ok(());
        }
        let chunk: Chunk =
            serde_json::from_slice(data).map_err(|e| format!("bad SSE chunk: {e}"))?;
        if let Some(text) = chunk
            .choices
            .first()
            .and_then(|c| c.delta.content.as_deref())
        {
            self.content.push_str(text);
        }
        Ok(())
    }

    /// The stream ended: it must have ended with `[DONE]` and carried `expected`.
    pub fn finish(self, expected: &str) -> Result<usize, String> {
        if !self.done {
            return Err(format!("no [DONE] after {} events", self.events));
        }
        same_content(&self.content, expected)?;
        Ok(self.events)
    }
}

/// A whole (non-streamed) Ollama reply.
pub fn ollama_reply(body: &[u8], field: Field, expected: &str) -> Result<(), String> {
    let trimmed = body.strip_suffix(b"\n").unwrap_or(body);
    let (text, done) = parse_line(trimmed, field)?;
    if !done {
        return Err("reply is not done".into());
    }
    same_content(&text, expected)
}

#[derive(Deserialize)]
struct CompletionChoice<'a> {
    #[serde(borrow)]
    message: Text<'a>,
}

#[derive(Deserialize)]
struct Completion<'a> {
    #[serde(borrow)]
    choices: Vec<CompletionChoice<'a>>,
}

/// A whole OpenAI chat completion (the direct path).
pub fn openai_reply(body: &[u8], expected: &str) -> Result<(), String> {
    let c: Completion = serde_json::from_slice(body).map_err(|e| format!("bad completion: {e}"))?;
    let text = c
        .choices
        .first()
        .and_then(|c| c.message.content.as_deref())
        .unwrap_or("");
    same_content(text, expected)
}

#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    models: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    data: Option<Vec<IgnoredAny>>,
}

/// An `/api/tags` (`models`) or `/api/models` (`data`) list with `expected` entries.
pub fn listing(body: &[u8], expected: usize) -> Result<(), String> {
    let l: Listing = serde_json::from_slice(body).map_err(|e| format!("bad model list: {e}"))?;
    let n = l.models.or(l.data).map(|v| v.len());
    match n {
        Some(n) if n == expected => Ok(()),
        Some(n) => Err(format!("model list has {n} entries, expected {expected}")),
        None => Err("no model list in the reply".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_line(text: &str, done: bool) -> String {
        let v = serde_json::json!({"model":"m","message":{"role":"assistant","content":text},"done":done});
        format!("{v}\n")
    }

    fn stream(n: usize) -> String {
        let mut s: String = (0..n).map(|i| chat_line(&piece(i), false)).collect();
        s.push_str(&chat_line("", true));
        s
    }

    #[test]
    fn ndjson_fed_at_every_split_point_passes() {
        let body = stream(3);
        let bytes = body.as_bytes();
        for cut in 0..=bytes.len() {
            let mut c = NdjsonCheck::new(Field::Chat);
            c.feed(&bytes[..cut]).unwrap();
            assert!(c.feed(&bytes[cut..]).unwrap());
            assert_eq!(c.finish(&answer(3)).unwrap(), 4, "cut at {cut}");
        }
    }

    #[test]
    fn ndjson_feed_reports_first_content() {
        let mut c = NdjsonCheck::new(Field::Chat);
        assert!(!c.feed(chat_line("", false).as_bytes()).unwrap());
        assert!(!c.feed(b"{\"message\":{\"content\":\"x").unwrap());
        assert!(c.feed(b"\"},\"done\":false}\n").unwrap());
    }

    #[test]
    fn ndjson_failures() {
        let cases: Vec<(String, &str)> = vec![
            (chat_line("a", false), "no done line"),
            (stream(2), "content incomplete"),
            (
                format!("{}{}", stream(3), chat_line("", true)),
                "after the done line",
            ),
            (
                format!("{}{{\"error\":\"boom\"}}\n", chat_line("a", false)),
                "error line",
            ),
            ("not json\n".into(), "bad NDJSON line"),
            (format!("{}{{\"done\":", stream(3)), "inside a line"),
        ];
        for (body, want) in cases {
            let mut c = NdjsonCheck::new(Field::Chat);
            let err = c
                .feed(body.as_bytes())
                .and_then(|_| c.finish(&answer(3)).map(|_| true));
            let msg = err.unwrap_err();
            assert!(msg.contains(want), "{body:?}: {msg}");
        }
    }

    #[test]
    fn generate_lines_carry_response() {
        let body =
            "{\"response\":\"tok0 lorem \",\"done\":false}\n{\"response\":\"\",\"done\":true}\n";
        let mut c = NdjsonCheck::new(Field::Generate);
        assert!(c.feed(body.as_bytes()).unwrap());
        assert_eq!(c.finish(&answer(1)).unwrap(), 2);
        let mut c = NdjsonCheck::new(Field::Chat);
        c.feed(body.as_bytes()).unwrap();
        assert!(c.finish(&answer(1)).is_err());
    }

    fn sse(n: usize) -> String {
        let mut s = String::from(": comment\n\n");
        for i in 0..n {
            let v = serde_json::json!({"choices":[{"index":0,"delta":{"content":piece(i)}}]});
            s.push_str(&format!("data: {v}\n\n"));
        }
        s.push_str(
            "data: {\"choices\":[],\"usage\":{\"completion_tokens\":3}}\n\ndata: [DONE]\n\n",
        );
        s
    }

    #[test]
    fn sse_fed_at_every_split_point_passes() {
        let body = sse(3);
        let bytes = body.as_bytes();
        for cut in 0..=bytes.len() {
            let mut c = SseCheck::default();
            c.feed(&bytes[..cut]).unwrap();
            assert!(c.feed(&bytes[cut..]).unwrap());
            assert_eq!(c.finish(&answer(3)).unwrap(), 5, "cut at {cut}");
        }
    }

    #[test]
    fn sse_failures() {
        let mut c = SseCheck::default();
        c.feed(sse(3).trim_end_matches("data: [DONE]\n\n").as_bytes())
            .unwrap();
        assert!(c.finish(&answer(3)).unwrap_err().contains("no [DONE]"));
        let mut c = SseCheck::default();
        let twice = format!("{}data: [DONE]\n\n", sse(1));
        assert!(c
            .feed(twice.as_bytes())
            .unwrap_err()
            .contains("after [DONE]"));
        let mut c = SseCheck::default();
        assert!(c
            .feed(b"data: {oops\n")
            .unwrap_err()
            .contains("bad SSE chunk"));
    }

    #[test]
    fn whole_replies() {
        let ok = chat_line(&answer(2), true);
        assert!(ollama_reply(ok.as_bytes(), Field::Chat, &answer(2)).is_ok());
        assert!(ollama_reply(ok.as_bytes(), Field::Chat, &answer(3)).is_err());
        let not_done = chat_line(&answer(2), false);
        assert!(ollama_reply(not_done.as_bytes(), Field::Chat, &answer(2)).is_err());
        let c =
            serde_json::json!({"choices":[{"message":{"role":"assistant","content":answer(2)}}]});
        assert!(openai_reply(c.to_string().as_bytes(), &answer(2)).is_ok());
        assert!(openai_reply(b"{}", &answer(2)).is_err());
    }

    #[test]
    fn listings() {
        assert!(listing(br#"{"models":[{"name":"a"},{}]}"#, 2).is_ok());
        assert!(listing(br#"{"object":"list","data":[{"id":"a"}]}"#, 1).is_ok());
        assert!(listing(br#"{"models":[]}"#, 1)
            .unwrap_err()
            .contains("0 entries"));
        assert!(listing(br#"{"x":1}"#, 1).is_err());
        assert!(listing(b"nope", 1).is_err());
    }
}
