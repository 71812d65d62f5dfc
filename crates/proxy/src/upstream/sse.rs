//! Server-Sent Events decoding: bytes as they arrive → the `data` payload of each event.
//!
//! Pure and synchronous; the client feeds it body chunks. Follows the SSE spec where it matters
//! for Open WebUI and the backends it relays: lines end in `\n`, `\r\n` or `\r` (also when the
//! pair is split across chunks); `data:` loses one optional leading space; several `data` lines
//! of one event are joined with `\n`; a blank line dispatches; lines starting with `:` are
//! comments; `event`, `id`, `retry` and unknown fields are ignored; an event without data is not
//! dispatched; a UTF-8 BOM at the very start is skipped; invalid UTF-8 is replaced (lossy).
//! The pending line plus the pending event may not exceed a cap, so a hostile or broken upstream
//! cannot make the proxy buffer without bound. `[DONE]` is an ordinary payload here; the caller
//! decides what it means.

/// Decoding failure.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SseError {
    /// The pending line or event grew past the configured cap.
    #[error("upstream event larger than {0} bytes")]
    TooLarge(usize),
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Incremental SSE decoder for one response body.
#[derive(Debug)]
pub struct SseDecoder {
    max: usize,
    /// Bytes of the current, unfinished line.
    line: Vec<u8>,
    /// `data` of the current event so far.
    data: String,
    has_data: bool,
    /// The last chunk ended in `\r`: a `\n` starting the next one belongs to it.
    skip_lf: bool,
    /// No line completed yet (the BOM may still be ahead).
    at_start: bool,
}

impl SseDecoder {
    /// A decoder that refuses events (pending line + data) over `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        SseDecoder {
            max: max_event_bytes,
            line: Vec::new(),
            data: String::new(),
            has_data: false,
            skip_lf: false,
            at_start: true,
        }
    }

    /// Feeds bytes as they arrive; the data of every event completed by them is appended to
    /// `out` (lines of one event joined by `\n`).
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<String>) -> Result<(), SseError> {
        if self.skip_lf && !chunk.is_empty() {
            self.skip_lf = false;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
        }
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', chunk) {
            let (line, rest) = chunk.split_at(pos);
            let mut rest = &rest[1..];
            if chunk[pos] == b'\r' {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    None => self.skip_lf = true,
                    Some(_) => {}
                }
            }
            let event = if self.line.is_empty() {
                self.check(line.len())?;
                self.line_done(line)
            } else {
                self.append(line)?;
                let pending = std::mem::take(&mut self.line);
                let event = self.line_done(&pending);
                self.line = pending;
                self.line.clear();
                event
            };
            out.extend(event);
            chunk = rest;
        }
        self.append(chunk)
    }

    /// At end of input: the last event if the stream ended without the blank line after it.
    /// The decoder is then empty and may be reused.
    pub fn finish(&mut self) -> Option<String> {
        let pending = std::mem::take(&mut self.line);
        if !pending.is_empty() {
            self.line_done(&pending); // not blank, so it cannot dispatch
        }
        let last = self.take_event();
        self.skip_lf = false;
        self.at_start = true;
        last
    }

    fn check(&self, extra: usize) -> Result<(), SseError> {
        if self.line.len() + self.data.len() + extra > self.max {
            return Err(SseError::TooLarge(self.max));
        }
        Ok(())
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        self.check(bytes.len())?;
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    /// Handles one complete line; returns an event's data when the line is blank.
    fn line_done(&mut self, line: &[u8]) -> Option<String> {
        let line = if std::mem::replace(&mut self.at_start, false) {
            line.strip_prefix(BOM).unwrap_or(line)
        } else {
            line
        };
        if line.is_empty() {
            return self.take_event();
        }
        if line[0] == b':' {
            return None;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        if field == b"data" {
            if self.has_data {
                self.data.push('\n');
            }
            match std::str::from_utf8(value) {
                Ok(text) => self.data.push_str(text),
                Err(_) => self.data.push_str(&String::from_utf8_lossy(value)),
            }
            self.has_data = true;
        }
        None
    }

    fn take_event(&mut self) -> Option<String> {
        if !std::mem::replace(&mut self.has_data, false) {
            return None;
        }
        Some(std::mem::take(&mut self.data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Capture 46 (tool call stream), the body exactly as Open WebUI sent it.
    const CAPTURE_46: &str = concat!(
        "data: {\"id\": \"chatcmpl-7c8f7da3cdcd5e0f\", \"object\": \"chat.completion.chunk\", \"created\": 1700000000, \"model\": \"fake-tools\", \"choices\": [{\"index\": 0, \"delta\": {\"role\": \"assistant\", \"content\": \"\"}, \"finish_reason\": null}]}\n\n",
        "data: {\"id\": \"chatcmpl-7c8f7da3cdcd5e0f\", \"object\": \"chat.completion.chunk\", \"created\": 1700000000, \"model\": \"fake-tools\", \"choices\": [{\"index\": 0, \"delta\": {\"tool_calls\": [{\"index\": 0, \"id\": \"call_fe6f439057f3\", \"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": \"\"}}]}, \"finish_reason\": null}]}\n\n",
        "data: {\"id\": \"chatcmpl-7c8f7da3cdcd5e0f\", \"object\": \"chat.completion.chunk\", \"created\": 1700000000, \"model\": \"fake-tools\", \"choices\": [{\"index\": 0, \"delta\": {\"tool_calls\": [{\"index\": 0, \"function\": {\"arguments\": \"{\\\"query\\\": \\\"Why is the sky bl\"}}]}, \"finish_reason\": null}]}\n\n",
        "data: {\"id\": \"chatcmpl-7c8f7da3cdcd5e0f\", \"object\": \"chat.completion.chunk\", \"created\": 1700000000, \"model\": \"fake-tools\", \"choices\": [{\"index\": 0, \"delta\": {\"tool_calls\": [{\"index\": 0, \"function\": {\"arguments\": \"ue? Answer briefly please.\\\"}\"}}]}, \"finish_reason\": null}]}\n\n",
        "data: {\"id\": \"chatcmpl-7c8f7da3cdcd5e0f\", \"object\": \"chat.completion.chunk\", \"created\": 1700000000, \"model\": \"fake-tools\", \"choices\": [{\"index\": 0, \"delta\": {}, \"finish_reason\": \"tool_calls\"}]}\n\n",
        "data: {\"id\": \"chatcmpl-7c8f7da3cdcd5e0f\", \"object\": \"chat.completion.chunk\", \"created\": 1700000000, \"model\": \"fake-tools\", \"choices\": [], \"usage\": {\"prompt_tokens\": 8, \"completion_tokens\": 5, \"total_tokens\": 13}}\n\n",
        "data: [DONE]\n\n",
    );

    fn decode(chunks: &[&[u8]]) -> (Vec<String>, Option<String>) {
        let mut d = SseDecoder::new(1 << 20);
        let mut out = Vec::new();
        for c in chunks {
            d.feed(c, &mut out).unwrap();
        }
        let last = d.finish();
        (out, last)
    }

    fn events(body: &str) -> Vec<String> {
        let (mut out, last) = decode(&[body.as_bytes()]);
        out.extend(last);
        out
    }

    #[test]
    fn capture_46_whole() {
        let got = events(CAPTURE_46);
        assert_eq!(got.len(), 7);
        assert!(got[0].starts_with("{\"id\": \"chatcmpl-7c8f7da3cdcd5e0f\""));
        assert!(got[2].contains(r#"{\"query\": \"Why is the sky bl"#));
        assert_eq!(got[6], "[DONE]");
        assert!(got.iter().all(|e| !e.contains('\n')));
    }

    #[test]
    fn capture_46_split_at_every_byte_boundary() {
        let body = CAPTURE_46.as_bytes();
        let want = events(CAPTURE_46);
        for i in 0..=body.len() {
            let (out, last) = decode(&[&body[..i], &body[i..]]);
            assert_eq!((out, last), (want.clone(), None), "split at {i}");
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(decode(&bytes), (want, None));
    }

    #[test]
    fn line_endings_and_crlf_split_across_chunks() {
        let want = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        for body in [
            "data: a\n\ndata: b\n\ndata: c\n\n",
            "data: a\r\n\r\ndata: b\r\n\r\ndata: c\r\n\r\n",
            "data: a\r\rdata: b\r\rdata: c\r\r",
            "data: a\n\r\ndata: b\r\n\ndata: c\r\r\n",
        ] {
            assert_eq!(events(body), want, "{body:?}");
            let b = body.as_bytes();
            for i in 0..=b.len() {
                let (mut out, last) = decode(&[&b[..i], &b[i..]]);
                out.extend(last);
                assert_eq!(out, want, "{body:?} split at {i}");
            }
        }
    }

    #[test]
    fn crlf_split_inside_a_multi_line_event() {
        let body = b"data: a\r\ndata: b\r\n\r\n";
        for i in 0..=body.len() {
            let (out, last) = decode(&[&body[..i], &body[i..]]);
            assert_eq!(
                (out, last),
                (vec!["a\nb".to_string()], None),
                "split at {i}"
            );
        }
    }

    #[test]
    fn spec_cases() {
        let cases: &[(&str, &[&str])] = &[
            ("data: x\ndata:  y\ndata\ndata:z\n\n", &["x\n y\n\nz"]),
            (
                ": keep-alive\n\ndata: a\n: comment inside\ndata: b\n\n",
                &["a\nb"],
            ),
            ("event: message\nid: 7\nretry: 100\ndata: a\n\n", &["a"]),
            ("event: ping\n\nid: 3\n\n\n\n", &[]),
            ("data\n\n", &[""]),
            ("data:\n\ndata: \n\n", &["", ""]),
            ("dataX: nope\nDATA: nope\n data: nope\n\n", &[]),
            (
                "\u{FEFF}data: bom\n\ndata: \u{FEFF}kept\n\n",
                &["bom", "\u{FEFF}kept"],
            ),
            ("data: {\"a\": \"b: c\"}\n\n", &["{\"a\": \"b: c\"}"]),
            (
                "data: no blank line at the end",
                &["no blank line at the end"],
            ),
            ("data: a\ndata: b\n", &["a\nb"]),
            ("data: [DONE]\n\n", &["[DONE]"]),
        ];
        for (body, want) in cases {
            assert_eq!(events(body), *want, "{body:?}");
        }
    }

    #[test]
    fn bom_split_across_chunks() {
        let (out, _) = decode(&[b"\xEF", b"\xBB", b"\xBFdata: x\n", b"\n"]);
        assert_eq!(out, ["x"]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let (out, _) = decode(&[b"data: a\xFFb\xC3\n\n"]);
        assert_eq!(out, ["a\u{FFFD}b\u{FFFD}"]);
    }

    #[test]
    fn too_large() {
        let mut d = SseDecoder::new(16);
        let mut out = Vec::new();
        assert_eq!(d.feed(b"data: 0123456789\n\n", &mut out), Ok(()));
        assert_eq!(out, ["0123456789"]);
        assert_eq!(
            d.feed(b"data: 0123456789ABCDEF", &mut out),
            Err(SseError::TooLarge(16))
        );
        let mut d = SseDecoder::new(16);
        assert_eq!(
            d.feed(b"data: 0123456\ndata: 0123456\n", &mut out),
            Err(SseError::TooLarge(16))
        );
        let mut d = SseDecoder::new(16);
        for _ in 0..20 {
            d.feed(b"data", &mut out)
                .map_err(|e| assert_eq!(e, SseError::TooLarge(16)))
                .ok();
        }
        assert!(d.feed(b"x", &mut out).is_err());
        assert_eq!(
            SseError::TooLarge(16).to_string(),
            "upstream event larger than 16 bytes"
        );
    }

    #[test]
    fn finish_resets() {
        let mut d = SseDecoder::new(64);
        let mut out = Vec::new();
        d.feed(b"data: a", &mut out).unwrap();
        assert_eq!(d.finish().as_deref(), Some("a"));
        assert_eq!(d.finish(), None);
        d.feed(b"data: b\n\n", &mut out).unwrap();
        assert_eq!(out, ["b"]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512), cut in 0usize..512) {
            let mut d = SseDecoder::new(256);
            let mut out = Vec::new();
            let cut = cut.min(bytes.len());
            let _ = d.feed(&bytes[..cut], &mut out);
            let _ = d.feed(&bytes[cut..], &mut out);
            let _ = d.finish();
        }

        #[test]
        fn splitting_never_changes_the_events(body in "(data: [a-z ]{0,8}\r?\n|: c\n|\r?\n){0,12}", cut in 0usize..200) {
            let cut = cut.min(body.len());
            let whole = decode(&[body.as_bytes()]);
            let split = decode(&[&body.as_bytes()[..cut], &body.as_bytes()[cut..]]);
            proptest::prop_assert_eq!(whole, split);
        }
    }
}
