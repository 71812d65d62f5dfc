//! Ollama images (raw base64, or data URLs from lenient clients) → OpenAI image data URLs.
//!
//! Images are megabytes, so the string is taken by value and never copied: whitespace is removed
//! in place (only when there is any), validation is a byte scan, and only a short prefix is
//! decoded to sniff the real type from its magic bytes. The `data:` prefix itself is written at
//! serialization time by [`ImageData`]'s `Display`.

use base64::Engine as _;

use super::TranslateError;
use crate::openai::ImageData;

/// Base64 characters decoded to sniff the type (96 bytes, enough for every image signature).
const SNIFF_CHARS: usize = 128;

/// MIME type used when the bytes are not recognised (what Ollama's OpenAI layer assumes too).
const DEFAULT_MIME: &str = "image/jpeg";

/// Converts one image: a `data:<type>;base64,<data>` URL is checked and passed through; raw
/// standard base64 (padded, whitespace allowed) gets its MIME type sniffed from the decoded
/// bytes (PNG, JPEG, GIF, WebP, BMP, TIFF, HEIC, AVIF, …; unknown → `image/jpeg`).
pub fn image_data(mut s: String) -> Result<ImageData, TranslateError> {
    if s.bytes().any(|b| b.is_ascii_whitespace()) {
        s.retain(|c| !c.is_ascii_whitespace());
    }
    if s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("data:")) {
        check_data_url(&s)?;
        return Ok(ImageData::DataUrl(s));
    }
    if !is_base64(s.as_bytes()) {
        return Err(invalid("not valid base64"));
    }
    let mime = sniff(&s);
    Ok(ImageData::Base64 { mime, data: s })
}

fn invalid(why: &str) -> TranslateError {
    TranslateError::BadRequest(format!("invalid image: {why}"))
}

/// A data URL must be `data:<type>[;params];base64,<valid base64>`.
fn check_data_url(url: &str) -> Result<(), TranslateError> {
    let Some((header, payload)) = url.split_once(',') else {
        return Err(invalid("malformed data URL"));
    };
    let is_b64 = header.len() >= 7
        && header
            .get(header.len() - 7..)
            .is_some_and(|t| t.eq_ignore_ascii_case(";base64"));
    if !is_b64 {
        return Err(invalid("data URL is not base64"));
    }
    if !is_base64(payload.as_bytes()) {
        return Err(invalid("not valid base64"));
    }
    Ok(())
}

/// Standard-alphabet base64 with padding: non-empty, a multiple of 4 long, at most two `=` and
/// only at the end. A byte scan; nothing is decoded.
fn is_base64(b: &[u8]) -> bool {
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take(2).take_while(|&&c| c == b'=').count();
    b[..b.len() - pad].iter().all(|&c| ALPHABET[usize::from(c)])
}

/// `ALPHABET[byte]` is true for `A–Z a–z 0–9 + /`.
static ALPHABET: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
        i += 1;
    }
    t
};

/// The image type from the first decoded bytes; [`DEFAULT_MIME`] when unknown.
fn sniff(b64: &str) -> &'static str {
    let prefix = &b64[..b64.len().min(SNIFF_CHARS)];
    base64::engine::general_purpose::STANDARD
        .decode(prefix)
        .ok()
        .and_then(|bytes| infer::get(&bytes))
        .filter(|t| t.matcher_type() == infer::MatcherType::Image)
        .map_or(DEFAULT_MIME, |t| t.mime_type())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

    fn b64(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    fn url(s: &str) -> Result<String, TranslateError> {
        image_data(s.to_string()).map(|d| d.to_string())
    }

    #[test]
    fn sniffs_types_from_magic_bytes() {
        let mut webp = b"RIFF\x24\0\0\0WEBPVP8 ".to_vec();
        webp.extend_from_slice(&[0; 16]);
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&[0x3a, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28, 0, 0, 0]);
        let cases: Vec<(String, &str)> = vec![
            (PNG_1X1.to_string(), "image/png"),
            (
                b64(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0]),
                "image/jpeg",
            ),
            (b64(b"GIF89a\x01\0\x01\0\0\0\0"), "image/gif"),
            (b64(&webp), "image/webp"),
            (b64(&bmp), "image/bmp"),
            (b64(b"just some text, not an image"), "image/jpeg"),
            (b64(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3"), "image/jpeg"),
        ];
        for (data, mime) in cases {
            let got = url(&data).unwrap();
            assert_eq!(got, format!("data:{mime};base64,{data}"));
        }
    }

    #[test]
    fn whitespace_is_stripped_in_place() {
        let wrapped = format!(" {}\n{}\r\n", &PNG_1X1[..40], &PNG_1X1[40..]);
        assert_eq!(
            url(&wrapped).unwrap(),
            format!("data:image/png;base64,{PNG_1X1}")
        );
    }

    #[test]
    fn data_urls_pass_through() {
        for u in [
            format!("data:image/png;base64,{PNG_1X1}"),
            format!("DATA:image/webp;BASE64,{PNG_1X1}"),
            format!("data:image/png;name=x.png;base64,{PNG_1X1}"),
        ] {
            match image_data(u.clone()).unwrap() {
                ImageData::DataUrl(got) => assert_eq!(got, u),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn invalid_images_are_bad_requests() {
        let cases = [
            ("", "invalid image: not valid base64"),
            ("   ", "invalid image: not valid base64"),
            ("abc", "invalid image: not valid base64"),
            ("ab!d", "invalid image: not valid base64"),
            ("ab-_", "invalid image: not valid base64"),
            ("a===", "invalid image: not valid base64"),
            ("ab=d", "invalid image: not valid base64"),
            ("data:image/png;base64,", "invalid image: not valid base64"),
            (
                "data:image/png;base64,@@@@",
                "invalid image: not valid base64",
            ),
            (
                "data:image/png,rawbytes",
                "invalid image: data URL is not base64",
            ),
            ("data:image/png;base64", "invalid image: malformed data URL"),
        ];
        for (input, msg) in cases {
            assert_eq!(
                url(input),
                Err(TranslateError::BadRequest(msg.into())),
                "{input:?}"
            );
        }
    }

    #[test]
    fn padding_forms() {
        for ok in ["QQ==", "QUI=", "QUJD", "QUJDRA=="] {
            assert!(is_base64(ok.as_bytes()), "{ok}");
        }
        for bad in ["QQ", "Q===", "=QQQ", "QQ=Q"] {
            assert!(!is_base64(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn large_image_is_not_copied() {
        let data = STANDARD.encode([0xFFu8, 0xD8, 0xFF, 0xDB].repeat(1 << 18));
        let ptr = data.as_ptr();
        match image_data(data).unwrap() {
            ImageData::Base64 { mime, data } => {
                assert_eq!(mime, "image/jpeg");
                assert_eq!(data.as_ptr(), ptr, "the String was moved, not copied");
            }
            other => panic!("{other:?}"),
        }
    }
}
