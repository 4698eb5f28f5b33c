//! A response body's content codings undone (RFC 9110 §8.4), so the checks read what the
//! target meant to say.
//!
//! errcontract sends no `Accept-Encoding`, which by RFC 9110 makes every coding acceptable;
//! a target may then compress its errors. gzip, deflate and br are undone, in the reverse of
//! the order they were applied; the decoded body is held to the same cap as the wire body, so
//! a small bomb cannot exhaust memory.

use std::io::Read;

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A coding errcontract does not know.
    #[error(
        "the body has Content-Encoding: {0}, which errcontract cannot decode (it decodes gzip, deflate and br)"
    )]
    Unknown(String),
    /// The bytes are not what the coding says.
    #[error("the body does not decode as Content-Encoding: {coding}: {detail}")]
    Corrupt {
        /// The coding.
        coding: String,
        /// What the decoder said.
        detail: String,
    },
    /// Decoded, the body is larger than the cap.
    #[error("the body, decoded from {coding}, is larger than {limit} bytes (ERRCONTRACT_MAX_BODY)")]
    TooLarge {
        /// The coding.
        coding: String,
        /// The cap.
        limit: usize,
    },
}

/// The body with every coding of `content_encoding` (header values, comma-joined) undone;
/// `None` when there is none to undo.
pub fn decode(
    content_encoding: &str,
    body: &[u8],
    limit: usize,
) -> Result<Option<Vec<u8>>, DecodeError> {
    let codings: Vec<String> = content_encoding
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    if codings.is_empty() {
        return Ok(None);
    }
    let mut body = body.to_vec();
    for coding in codings.iter().rev() {
        body = match coding.as_str() {
            "gzip" | "x-gzip" => {
                read_capped(flate2::read::MultiGzDecoder::new(&body[..]), coding, limit)?
            }
            // "deflate" is the zlib format, but servers have long sent raw deflate under it too.
            "deflate" => read_capped(flate2::read::ZlibDecoder::new(&body[..]), coding, limit)
                .or_else(|_| {
                    read_capped(flate2::read::DeflateDecoder::new(&body[..]), coding, limit)
                })?,
            "br" => read_capped(
                brotli_decompressor::Decompressor::new(&body[..], 4096),
                coding,
                limit,
            )?,
            other => return Err(DecodeError::Unknown(other.to_string())),
        };
    }
    Ok(Some(body))
}

fn read_capped(reader: impl Read, coding: &str, limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Corrupt {
            coding: coding.to_string(),
            detail: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge {
            coding: coding.to_string(),
            limit,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("in memory");
        e.finish().expect("in memory")
    }

    #[test]
    fn codings_are_undone_in_reverse_order_and_identity_is_nothing() {
        let body = br#"{"error":{}}"#;
        let decoded =
            |coding: &str, bytes: &[u8]| decode(coding, bytes, 100).map(Option::unwrap_or_default);
        assert_eq!(decoded("gzip", &gzip(body)).as_deref(), Ok(&body[..]));
        assert_eq!(
            decoded("gzip, gzip", &gzip(&gzip(body))).as_deref(),
            Ok(&body[..])
        );
        assert_eq!(decode("identity", body, 100), Ok(None));
        assert_eq!(decode("", body, 100), Ok(None));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(body).expect("in memory");
        assert_eq!(
            decoded("Deflate", &z.finish().expect("in memory")).as_deref(),
            Ok(&body[..])
        );
    }

    #[test]
    fn a_bomb_stops_at_the_cap_and_garbage_or_an_unknown_coding_says_so() {
        let bomb = gzip(&vec![b' '; 1_000_000]);
        assert!(bomb.len() < 10_000);
        assert!(matches!(
            decode("gzip", &bomb, 1000),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(
            decode("br", b"not brotli", 1000),
            Err(DecodeError::Corrupt { .. })
        ));
        assert_eq!(
            decode("zstd", b"x", 10),
            Err(DecodeError::Unknown("zstd".into()))
        );
    }
}
