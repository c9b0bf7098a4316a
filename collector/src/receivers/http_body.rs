//! Request bodies of the HTTP receivers: `Content-Type` and `Content-Encoding` handling with
//! a bound on the decompressed size, so a small gzip bomb cannot expand into unbounded
//! memory. The on-the-wire size is bounded separately by axum's body limit (HTTP 413).

use std::io::Read;

use bytes::Bytes;
use flate2::read::{MultiGzDecoder, ZlibDecoder};
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::HeaderMap;

/// Bodies larger than this are decompressed on the blocking pool rather than on a runtime
/// worker thread, which must not stall for long.
const INLINE_DECOMPRESS_MAX: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("unsupported Content-Encoding {0:?}: use gzip, deflate or none")]
    UnsupportedEncoding(String),
    #[error("decompressed request body exceeds {0} bytes")]
    TooLarge(usize),
    #[error("request body is not valid {encoding} data: {reason}")]
    Corrupt {
        encoding: &'static str,
        reason: String,
    },
}

/// The media type of `Content-Type` without parameters, lowercased (`application/json`
/// for `Application/JSON; charset=utf-8`); empty when absent.
pub fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Deflate,
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, BodyError> {
    let Some(value) = headers.get(CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let text = value
        .to_str()
        .map_err(|_| {
            BodyError::UnsupportedEncoding(String::from_utf8_lossy(value.as_bytes()).into())
        })?
        .trim()
        .to_ascii_lowercase();
    match text.as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        "deflate" => Ok(Encoding::Deflate),
        _ => Err(BodyError::UnsupportedEncoding(text)),
    }
}

/// The request body after undoing its `Content-Encoding`, at most `limit` bytes.
pub async fn decoded_body(
    headers: &HeaderMap,
    body: Bytes,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let enc = encoding(headers)?;
    if enc == Encoding::Identity {
        return Ok(body);
    }
    if body.len() <= INLINE_DECOMPRESS_MAX {
        return decompress(enc, &body, limit);
    }
    tokio::task::spawn_blocking(move || decompress(enc, &body, limit))
        .await
        .unwrap_or_else(|e| {
            Err(BodyError::Corrupt {
                encoding: "compressed",
                reason: format!("decompression task failed: {e}"),
            })
        })
}

fn decompress(enc: Encoding, body: &[u8], limit: usize) -> Result<Bytes, BodyError> {
    let (reader, name): (Box<dyn Read + '_>, &'static str) = match enc {
        Encoding::Identity => return Ok(Bytes::copy_from_slice(body)),
        Encoding::Gzip => (Box::new(MultiGzDecoder::new(body)), "gzip"),
        Encoding::Deflate => (Box::new(ZlibDecoder::new(body)), "deflate"),
    };
    // Read one byte past the limit to tell "exactly at the limit" from "over it".
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::Corrupt {
            encoding: name,
            reason: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(BodyError::TooLarge(limit));
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use http::HeaderValue;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Bytes {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        Bytes::from(enc.finish().unwrap())
    }

    fn headers(encoding: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_ENCODING, HeaderValue::from_str(encoding).unwrap());
        h
    }

    #[tokio::test]
    async fn gunzips_within_limit_and_refuses_bombs() {
        let data = vec![b'a'; 10_000];
        let out = decoded_body(&headers("gzip"), gzip(&data), 10_000)
            .await
            .unwrap();
        assert_eq!(out.len(), 10_000);
        let err = decoded_body(&headers("gzip"), gzip(&data), 9_999)
            .await
            .unwrap_err();
        assert!(matches!(err, BodyError::TooLarge(9_999)));
        let err = decoded_body(&headers("gzip"), Bytes::from_static(b"nope"), 100)
            .await
            .unwrap_err();
        assert!(matches!(err, BodyError::Corrupt { .. }));
        let err = decoded_body(&headers("br"), Bytes::new(), 100)
            .await
            .unwrap_err();
        assert!(matches!(err, BodyError::UnsupportedEncoding(_)));
    }

    #[test]
    fn media_type_ignores_parameters_and_case() {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(media_type(&h), "application/json");
        assert_eq!(media_type(&HeaderMap::new()), "");
    }
}
