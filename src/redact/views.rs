//! The texts a secret can hide in: a text itself, and the text with its escapes undone.
//!
//! A target may send a key back JSON-escaped (`\/`, every character as `\uXXXX`), with its bytes
//! percent-encoded or as `\xHH`, or broken across lines; any reader of that text sees the key.
//! A [`View`] is the text with those escapes undone and line breaks removed, each of its bytes
//! remembering the span of the original it came from, so a secret found in the view is
//! redacted in the original. Two rounds catch one encoding inside another (a percent-encoded
//! key in a JSON string that escapes `%` as `\u0025`).

/// How many times escapes are undone: each round peels one layer.
const ROUNDS: usize = 2;

/// A text with its escapes undone, and where each byte came from.
pub(super) struct View {
    /// The decoded bytes (not necessarily UTF-8: a percent escape can make any byte).
    pub bytes: Vec<u8>,
    /// For each decoded byte, the byte range of the original it stands for.
    spans: Vec<(usize, usize)>,
}

impl View {
    /// The original range covered by the decoded bytes `start..end`.
    pub fn original(&self, start: usize, end: usize) -> (usize, usize) {
        (self.spans[start].0, self.spans[end - 1].1)
    }
}

/// Which escapes a view undoes; line breaks are dropped in every view.
#[derive(Clone, Copy)]
struct Undo {
    /// `\uXXXX`, `\/`, `\\`, `\"`, `\n`, `\r`, `\xHH`.
    backslash: bool,
    /// `%HH`.
    percent: bool,
}

/// The decoded views of `text`, none when it has nothing to undo. One family of escapes at a
/// time first, since a text may hold what looks like the other (`%Aa` in a JSON string, a
/// backslash in a URL), then both, in as many rounds as it takes to peel one encoding inside
/// another.
pub(super) fn views(text: &[u8]) -> Vec<View> {
    let has = |b: &[u8], c: u8| b.contains(&c);
    let (backslash, percent) = (has(text, b'\\'), has(text, b'%'));
    if !backslash && !percent && !has(text, b'\n') && !has(text, b'\r') {
        return Vec::new();
    }
    let mut out: Vec<View> = Vec::new();
    let keep = |view: View, out: &mut Vec<View>| {
        if view.bytes != text && !out.iter().any(|v| v.bytes == view.bytes) {
            out.push(view);
        }
    };
    for (b, p) in [(false, false), (true, false), (false, true)] {
        if (b && !backslash) || (p && !percent) {
            continue;
        }
        let (bytes, spans) = undo(
            text,
            Undo {
                backslash: b,
                percent: p,
            },
        );
        keep(View { bytes, spans }, &mut out);
    }
    if !backslash && !percent {
        return out;
    }
    let both = Undo {
        backslash: true,
        percent: true,
    };
    let mut last: Option<View> = None;
    for _ in 0..ROUNDS {
        let source = last.as_ref().map_or(text, |v| v.bytes.as_slice());
        let (bytes, spans) = undo(source, both);
        if bytes == source {
            break;
        }
        let spans = match &last {
            // Spans of this round point into the previous view: map them on to the original.
            Some(prev) => spans
                .into_iter()
                .map(|(s, e)| prev.original(s, e))
                .collect(),
            None => spans,
        };
        if let Some(prev) = last.replace(View { bytes, spans }) {
            keep(prev, &mut out);
        }
    }
    if let Some(view) = last {
        keep(view, &mut out);
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn hex_byte(s: &[u8]) -> Option<u8> {
    Some(hex(*s.first()?)? << 4 | hex(*s.get(1)?)?)
}

fn hex_unit(s: &[u8]) -> Option<u32> {
    let s = s.get(..4)?;
    s.iter()
        .try_fold(0u32, |acc, &b| Some(acc << 4 | u32::from(hex(b)?)))
}

/// One round: raw line breaks dropped, and the escapes `how` names undone (JSON string escapes
/// with surrogate pairs, `\n` and `\r` dropped; `\xHH`; `%HH`). Anything else is kept as it is.
fn undo(src: &[u8], how: Undo) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut bytes = Vec::with_capacity(src.len());
    let mut spans = Vec::with_capacity(src.len());
    let mut emit = |out: &[u8], span: (usize, usize)| {
        for &b in out {
            bytes.push(b);
            spans.push(span);
        }
    };
    let mut i = 0;
    while i < src.len() {
        let rest = &src[i..];
        let (decoded, used): (Option<Vec<u8>>, usize) = match rest {
            [b'\n' | b'\r', ..] => (Some(Vec::new()), 1),
            [b'%', h @ ..] if how.percent => match hex_byte(h) {
                Some(b) => (Some(vec![b]), 3),
                None => (None, 1),
            },
            _ if !how.backslash => (None, 1),
            [b'\\', b'n' | b'r', ..] => (Some(Vec::new()), 2),
            [b'\\', c @ (b'/' | b'\\' | b'"' | b'\''), ..] => (Some(vec![*c]), 2),
            [b'\\', b't', ..] => (Some(vec![b'\t']), 2),
            [b'\\', b'x', h @ ..] => match hex_byte(h) {
                Some(b) => (Some(vec![b]), 4),
                None => (None, 1),
            },
            [b'\\', b'u', h @ ..] => match hex_unit(h) {
                Some(high @ 0xD800..=0xDBFF) => match rest.get(6..8) {
                    Some(b"\\u") => match hex_unit(&rest[8..]) {
                        Some(low @ 0xDC00..=0xDFFF) => {
                            let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                            (char::from_u32(c).map(utf8), 12)
                        }
                        _ => (None, 1),
                    },
                    _ => (None, 1),
                },
                Some(unit) => match char::from_u32(unit) {
                    Some('\n' | '\r') => (Some(Vec::new()), 6),
                    Some(c) => (Some(utf8(c)), 6),
                    None => (None, 1),
                },
                None => (None, 1),
            },
            _ => (None, 1),
        };
        match decoded {
            Some(out) => emit(&out, (i, i + used)),
            None => emit(&src[i..i + used], (i, i + used)),
        }
        i += used;
    }
    (bytes, spans)
}

fn utf8(c: char) -> Vec<u8> {
    c.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(text: &str) -> Vec<String> {
        views(text.as_bytes())
            .iter()
            .map(|v| String::from_utf8_lossy(&v.bytes).into_owned())
            .collect()
    }

    /// The view of `text` whose bytes are `wanted`.
    fn view(text: &[u8], wanted: &[u8]) -> View {
        views(text)
            .into_iter()
            .find(|v| v.bytes == wanted)
            .unwrap_or_else(|| panic!("no view {wanted:?}"))
    }

    #[test]
    fn each_escape_is_undone_and_points_at_its_original() {
        assert!(decoded(r"sk\/a\u0062\x63%64").contains(&"sk/abcd".to_string()));
        assert_eq!(decoded("sk_a\nb\r\nc"), ["sk_abc"]);
        assert_eq!(decoded(r"\ud83d\ude00!"), ["\u{1f600}!"]);
        assert_eq!(view(br"x\u0041y", b"xAy").original(1, 2), (1, 7));
    }

    #[test]
    fn one_family_at_a_time_so_the_other_is_left_as_written() {
        // A JSON string holding `%Aa`, and a raw text holding a backslash before a quote.
        assert!(decoded(r"sk_%Aa\nb").contains(&"sk_%Aab".to_string()));
        assert!(decoded("k\\\n\"x").contains(&"k\\\"x".to_string()));
    }

    #[test]
    fn a_second_round_peels_an_encoding_inside_another() {
        assert!(decoded(r"a\u00252Fb").contains(&"a/b".to_string()));
        assert_eq!(view(br"a\u00252Fb", b"a/b").original(1, 2), (1, 9));
    }

    #[test]
    fn text_with_nothing_to_undo_has_no_view() {
        assert!(decoded("plain text, no escapes").is_empty());
        assert!(decoded(r"100% \u12 \x").is_empty());
        assert!(decoded(r"\ud83d alone").is_empty());
    }
}
