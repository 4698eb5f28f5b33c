//! Generation ids, output sizes, signed download URLs and the tiny files behind them.

use std::time::{SystemTime, UNIX_EPOCH};

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Crockford's base32 alphabet (upper case, no I, L, O, U), as ULIDs use.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh generation id: `req-` and a 26-character ULID (48-bit millisecond time, 80 random
/// bits), so ids sort by creation time like the documented `req-01HXYZ…` examples.
pub(crate) fn generation_id(rng: &SystemRandom) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
        & 0xFFFF_FFFF_FFFF;
    let mut random = [0u8; 10];
    // SystemRandom fails only without an OS entropy source; ids then differ by time alone,
    // and `Videos::submit` re-draws any id it already holds.
    let _ = rng.fill(&mut random);
    let mut value: u128 = u128::from(millis) << 80;
    for (i, b) in random.iter().enumerate() {
        value |= u128::from(*b) << (8 * (9 - i));
    }
    let mut out = String::with_capacity(30);
    out.push_str("req-");
    for i in (0..26).rev() {
        out.push(CROCKFORD[((value >> (5 * i)) & 31) as usize] as char);
    }
    out
}

/// `W:H` → (W, H).
pub(crate) fn parse_aspect(ratio: &str) -> Option<(u32, u32)> {
    let (w, h) = ratio.split_once(':')?;
    let (w, h) = (w.parse().ok()?, h.parse().ok()?);
    (w > 0 && h > 0).then_some((w, h))
}

/// A resolution label: `2K` is a long edge of 2048 pixels, `1080p` a short edge of 1080.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolution {
    LongEdge(u32),
    ShortEdge(u32),
}

pub(crate) fn parse_resolution(label: &str) -> Option<Resolution> {
    if let Some(k) = label.strip_suffix('K') {
        let k: u32 = k.parse().ok()?;
        (1..=16)
            .contains(&k)
            .then_some(Resolution::LongEdge(k * 1024))
    } else {
        let p: u32 = label.strip_suffix('p')?.parse().ok()?;
        (1..=8640).contains(&p).then_some(Resolution::ShortEdge(p))
    }
}

/// Output width and height for an aspect ratio and a resolution label (both from the catalog,
/// which is checked at load; anything unparsable falls back to a square 1024).
pub(crate) fn dimensions(aspect: &str, resolution: &str) -> (u32, u32) {
    let (Some((w, h)), Some(res)) = (parse_aspect(aspect), parse_resolution(resolution)) else {
        return (1024, 1024);
    };
    let scale = |edge: u32, num: u32, den: u32| -> u32 {
        ((u64::from(edge) * u64::from(num) + u64::from(den) / 2) / u64::from(den)) as u32
    };
    match res {
        Resolution::LongEdge(edge) if w >= h => (edge, scale(edge, h, w)),
        Resolution::LongEdge(edge) => (scale(edge, w, h), edge),
        Resolution::ShortEdge(edge) if w >= h => (scale(edge, w, h), edge),
        Resolution::ShortEdge(edge) => (edge, scale(edge, h, w)),
    }
}

/// A file kind a download URL can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Png,
    Jpeg,
    Webp,
    Mp4,
}

impl FileKind {
    const ALL: [FileKind; 4] = [FileKind::Png, FileKind::Jpeg, FileKind::Webp, FileKind::Mp4];

    /// For an image `output_format` value.
    pub(crate) fn for_output_format(format: &str) -> FileKind {
        match format {
            "png" => FileKind::Png,
            "webp" => FileKind::Webp,
            _ => FileKind::Jpeg,
        }
    }

    pub(crate) fn mime_type(self) -> &'static str {
        match self {
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Webp => "image/webp",
            FileKind::Mp4 => "video/mp4",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            FileKind::Png => "png",
            FileKind::Jpeg => "jpeg",
            FileKind::Webp => "webp",
            FileKind::Mp4 => "mp4",
        }
    }

    /// The file served for every download of this kind: a valid 1x1 image, or for video a
    /// minimal ISO-BMFF file (`ftyp` + `moov`, no tracks).
    pub(crate) fn bytes(self) -> &'static [u8] {
        match self {
            FileKind::Png => include_bytes!("assets/pixel.png"),
            FileKind::Jpeg => include_bytes!("assets/pixel.jpg"),
            FileKind::Webp => include_bytes!("assets/pixel.webp"),
            FileKind::Mp4 => include_bytes!("assets/empty.mp4"),
        }
    }
}

/// Signs and checks download URLs with a key made at start-up, so URLs are stateless: the
/// server keeps no record per file, and a URL from another server run is simply invalid.
pub(crate) struct Signer {
    key: hmac::Key,
}

impl Signer {
    pub(crate) fn new(rng: &SystemRandom) -> std::io::Result<Self> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, rng)
            .map_err(|_| std::io::Error::other("no system randomness for the signing key"))?;
        Ok(Signer { key })
    }

    fn message(id: &str, index: u32, exp: i64, kind: FileKind) -> String {
        // The file kind is signed too, so the URL itself says which file to serve.
        format!("{id}/{index}/{exp}/{}", kind.tag())
    }

    /// `{base}/v2/downloads/{id}/{index}?exp=<unix>&sig=<hex>`.
    pub(crate) fn url(&self, base: &str, id: &str, index: u32, exp: i64, kind: FileKind) -> String {
        let tag = hmac::sign(&self.key, Self::message(id, index, exp, kind).as_bytes());
        format!(
            "{base}/v2/downloads/{id}/{index}?exp={exp}&sig={}",
            hex(tag.as_ref())
        )
    }

    /// The file kind a URL was signed for, if `sig` is a valid signature of it. Expiry is the
    /// caller's business.
    pub(crate) fn verify(&self, id: &str, index: u32, exp: i64, sig_hex: &str) -> Option<FileKind> {
        let sig = unhex(sig_hex)?;
        FileKind::ALL.into_iter().find(|kind| {
            hmac::verify(
                &self.key,
                Self::message(id, index, exp, *kind).as_bytes(),
                &sig,
            )
            .is_ok()
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// RFC 3339 with milliseconds and `Z`, like the documented `2026-05-02T12:30:00.000Z`.
pub(crate) fn iso8601(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let millis = t.millisecond();
    // Rfc3339 formatting fails only for years outside 0..=9999.
    let seconds = t
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned());
    match seconds.strip_suffix('Z') {
        Some(head) => format!("{head}.{millis:03}Z"),
        None => seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_req_and_26_crockford_characters() {
        let rng = SystemRandom::new();
        let a = generation_id(&rng);
        let b = generation_id(&rng);
        assert_ne!(a, b);
        let tail = a.strip_prefix("req-").unwrap();
        assert_eq!(tail.len(), 26);
        assert!(tail.bytes().all(|c| CROCKFORD.contains(&c)), "{a}");
    }

    #[test]
    fn sizes_follow_aspect_and_resolution() {
        assert_eq!(dimensions("1:1", "2K"), (2048, 2048));
        assert_eq!(dimensions("16:9", "2K"), (2048, 1152));
        assert_eq!(dimensions("9:16", "1K"), (576, 1024));
        assert_eq!(dimensions("16:9", "1080p"), (1920, 1080));
        assert_eq!(dimensions("9:16", "720p"), (720, 1280));
    }

    #[test]
    fn signatures_verify_only_unchanged() {
        let rng = SystemRandom::new();
        let signer = Signer::new(&rng).unwrap();
        let url = signer.url("http://x", "req-A", 0, 100, FileKind::Webp);
        let sig = url.rsplit("sig=").next().unwrap();
        assert_eq!(signer.verify("req-A", 0, 100, sig), Some(FileKind::Webp));
        assert_eq!(signer.verify("req-A", 1, 100, sig), None);
        assert_eq!(signer.verify("req-A", 0, 101, sig), None);
        assert_eq!(signer.verify("req-A", 0, 100, "zz"), None);
    }

    #[test]
    fn timestamps_have_milliseconds() {
        let t = OffsetDateTime::from_unix_timestamp(1_777_725_000).unwrap();
        assert_eq!(iso8601(t), "2026-05-02T12:30:00.000Z");
    }
}
