//! Pure, synchronous translation between the Ollama wire format ([`crate::ollama`]) and Open
//! WebUI's OpenAI-style one ([`crate::openai`]): requests ([`request`]), non-streamed replies
//! ([`response`]), streamed replies ([`stream`]), model metadata ([`models`]) and images
//! ([`images`]).
//!
//! Data in, data out: no async, no I/O, no logging, no configuration. The only impurity is the
//! clock, read for `created_at` ([`now_rfc3339`]) and for the instant the first token arrives.
//! Decisions that depend on the model (is it Ollama-backed, does it exist) belong to the caller,
//! which passes their outcome in ([`ReplyOptions`], the upstream model id).

pub mod images;
pub mod models;
pub mod request;
pub mod response;
pub mod stream;
mod think;
mod tools;

#[cfg(test)]
mod captures;

use std::time::Instant;

use chrono::{SecondsFormat, Utc};

use crate::ollama::{ChatResponse, Message, Metrics, ToolCall};
use crate::openai::Usage;

pub use request::{chat_request, generate_request};
pub use response::completion_response;
pub use stream::StreamTranslator;

/// A request that cannot be translated. Both cases are the client's fault (HTTP 400).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TranslateError {
    /// Malformed or invalid input (bad role, image, format, think value, …).
    #[error("{0}")]
    BadRequest(String),
    /// Something the remote model cannot do, e.g. `"m" does not support insert`.
    #[error("{0}")]
    Unsupported(String),
}

/// A reply that cannot be translated. Raised mid-stream, so the caller ends the stream with an
/// `{"error": …}` line (or answers 502 when nothing was written yet).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StreamError {
    /// An in-band `data: {"error": …}` event; the message is the one upstream gave.
    #[error("{0}")]
    Upstream(String),
    /// A chunk or body that is not the JSON we expect.
    #[error("invalid upstream chunk: {0}")]
    Decode(String),
    /// Assembled tool call arguments that are not a JSON object.
    #[error("invalid tool call arguments: {0}")]
    ToolArguments(String),
}

/// The current time as Ollama writes `created_at`: RFC 3339, UTC (`Z`), nanoseconds.
pub fn now_rfc3339() -> String {
    rfc3339_nanos(std::time::SystemTime::now())
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (what chrono writes for `SecondsFormat::Nanos` in UTC),
/// formatted by hand: it runs for every streamed line.
pub fn rfc3339_nanos(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let (secs, nanos) = (d.as_secs(), d.subsec_nanos());
    let (y, m, day) = civil_from_days(secs / 86_400);
    if y > 9999 {
        return chrono::DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Nanos, true);
    }
    let rem = secs % 86_400;
    let mut b = *b"0000-00-00T00:00:00.000000000Z";
    let put = |b: &mut [u8], mut v: u64| {
        for c in b.iter_mut().rev() {
            *c = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut b[0..4], y);
    put(&mut b[5..7], m);
    put(&mut b[8..10], day);
    put(&mut b[11..13], rem / 3600);
    put(&mut b[14..16], rem / 60 % 60);
    put(&mut b[17..19], rem % 60);
    put(&mut b[20..29], u64::from(nanos));
    String::from_utf8(b.to_vec()).unwrap_or_default()
}

/// Year, month, day of a count of days since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// What the reply translators need to know about the request.
#[derive(Debug, Clone)]
pub struct ReplyOptions {
    /// The model exactly as the client sent it; echoed on every line.
    pub model: String,
    /// The client sent `think: false`: reasoning text is dropped from the reply.
    pub drop_thinking: bool,
}

/// Measured instants, for the final line's durations.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// When the request was received.
    pub started: Instant,
    /// When the upstream response headers arrived, if they did.
    pub first_byte: Option<Instant>,
    /// When the reply ended.
    pub ended: Instant,
}

/// Maps an OpenAI `finish_reason` onto Ollama's `done_reason`: `length` stays, everything else
/// (`stop`, `tool_calls`, `function_call`, `content_filter`, unknown, none) is `stop`.
pub(crate) fn done_reason(finish_reason: Option<&str>) -> String {
    match finish_reason {
        Some("length") => "length",
        _ => "stop",
    }
    .to_owned()
}

/// Counts and durations for a final line.
///
/// Durations (ns): total = ended − started; load = first_byte − started (0 without headers);
/// prompt_eval = first_token − first_byte; eval = ended − first_token, never below 1 so that
/// `eval_count / eval_duration` stays finite. `first_token` defaults to `ended`. Counts come from
/// `usage` (Ollama's own fields first); without them `eval_count` is `pieces`, an estimate, and
/// `prompt_eval_count` is left out.
pub(crate) fn final_metrics(
    timing: &Timing,
    first_token: Option<Instant>,
    usage: Option<Usage>,
    pieces: u64,
) -> Metrics {
    let first_byte = timing.first_byte.unwrap_or(timing.started);
    let first_token = first_token.unwrap_or(timing.ended);
    let eval_count = usage.and_then(|u| u.eval_count.or(u.completion_tokens));
    Metrics {
        total_duration: Some(nanos(timing.ended, timing.started)),
        load_duration: Some(timing.first_byte.map_or(0, |fb| nanos(fb, timing.started))),
        prompt_eval_count: usage.and_then(|u| u.prompt_eval_count.or(u.prompt_tokens)),
        prompt_eval_duration: Some(nanos(first_token, first_byte)),
        eval_count: Some(eval_count.unwrap_or(pieces)),
        eval_duration: Some(nanos(timing.ended, first_token).max(1)),
    }
}

/// Nanoseconds from `earlier` to `later`, 0 if `later` is not later.
fn nanos(later: Instant, earlier: Instant) -> u64 {
    let d = later.saturating_duration_since(earlier);
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// An assistant message with the given parts.
pub(crate) fn assistant(
    content: String,
    thinking: Option<String>,
    tool_calls: Vec<ToolCall>,
) -> Message {
    Message {
        role: "assistant".to_owned(),
        content,
        thinking,
        tool_calls,
        ..Message::default()
    }
}

/// A `done: false` chat line carrying `message`.
pub(crate) fn chat_line(model: &str, message: Message) -> ChatResponse {
    ChatResponse {
        model: model.to_owned(),
        created_at: now_rfc3339(),
        message,
        done: false,
        done_reason: None,
        metrics: Metrics::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_nanos_matches_chrono() {
        use std::time::UNIX_EPOCH;
        let secs = [
            0u64,
            59,
            86_399,
            951_782_400,
            1_709_251_199,
            1_709_251_200,
            4_102_444_800,
            253_402_300_799,
        ];
        for (i, s) in secs.into_iter().enumerate() {
            let t = UNIX_EPOCH + Duration::new(s, (i as u32) * 123_456_789 % 1_000_000_000);
            let want = chrono::DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Nanos, true);
            assert_eq!(rfc3339_nanos(t), want);
        }
    }

    fn timing(load_ms: Option<u64>, total_ms: u64) -> (Timing, Instant) {
        let started = Instant::now();
        let t = Timing {
            started,
            first_byte: load_ms.map(|ms| started + Duration::from_millis(ms)),
            ended: started + Duration::from_millis(total_ms),
        };
        (t, started)
    }

    #[test]
    fn now_is_utc_with_nanoseconds() {
        let s = now_rfc3339();
        assert!(s.ends_with('Z'), "{s}");
        let frac = s.split('.').nth(1).unwrap();
        assert_eq!(frac.len(), 10, "{s}"); // 9 digits + Z
        assert!(chrono::DateTime::parse_from_rfc3339(&s).is_ok());
    }

    #[test]
    fn done_reason_mapping() {
        let cases = [
            (Some("stop"), "stop"),
            (Some("length"), "length"),
            (Some("tool_calls"), "stop"),
            (Some("function_call"), "stop"),
            (Some("content_filter"), "stop"),
            (Some("other"), "stop"),
            (None, "stop"),
        ];
        for (input, want) in cases {
            assert_eq!(done_reason(input), want, "{input:?}");
        }
    }

    #[test]
    fn metrics_from_usage_and_instants() {
        let (t, started) = timing(Some(100), 1000);
        let first = started + Duration::from_millis(300);
        let usage = Usage {
            prompt_tokens: Some(8),
            completion_tokens: Some(9),
            ..Usage::default()
        };
        let m = final_metrics(&t, Some(first), Some(usage), 3);
        assert_eq!(m.total_duration, Some(1_000_000_000));
        assert_eq!(m.load_duration, Some(100_000_000));
        assert_eq!(m.prompt_eval_duration, Some(200_000_000));
        assert_eq!(m.eval_duration, Some(700_000_000));
        assert_eq!(m.prompt_eval_count, Some(8));
        assert_eq!(m.eval_count, Some(9));
    }

    #[test]
    fn ollama_usage_fields_win() {
        let (t, _) = timing(None, 10);
        let usage = Usage {
            prompt_tokens: Some(1),
            completion_tokens: Some(2),
            prompt_eval_count: Some(8),
            eval_count: Some(4),
        };
        let m = final_metrics(&t, None, Some(usage), 0);
        assert_eq!((m.prompt_eval_count, m.eval_count), (Some(8), Some(4)));
    }

    #[test]
    fn without_usage_counts_pieces_and_never_divides_by_zero() {
        let (t, _) = timing(None, 0);
        let m = final_metrics(&t, None, None, 5);
        assert_eq!(m.prompt_eval_count, None);
        assert_eq!(m.eval_count, Some(5));
        assert_eq!(m.load_duration, Some(0));
        assert_eq!(m.eval_duration, Some(1));
        let json = serde_json::to_value(m).unwrap();
        assert!(
            json.as_object().unwrap().values().all(|v| v.is_u64()),
            "{json}"
        );
    }

    #[test]
    fn instants_out_of_order_saturate() {
        let (mut t, started) = timing(Some(500), 100);
        t.ended = started; // ended before first byte
        let m = final_metrics(&t, Some(started + Duration::from_secs(1)), None, 1);
        assert_eq!(m.total_duration, Some(0));
        assert_eq!(m.eval_duration, Some(1));
    }

    #[test]
    fn chat_line_shape() {
        let line = chat_line("m", assistant("hi".into(), None, Vec::new()));
        let mut v = serde_json::to_value(line).unwrap();
        v["created_at"] = "T".into();
        assert_eq!(
            v,
            serde_json::json!({"model":"m","created_at":"T",
                "message":{"role":"assistant","content":"hi"},"done":false})
        );
    }
}
