//! HAR 1.x, streamed: a scanner walks the document's structure (`log`, its `version`, its
//! `entries`) and cuts each element of `log.entries` out as it is read, so a file of any size is
//! held one entry at a time; each entry is then deserialized on its own (from its bytes, where
//! serde reads fastest), so a malformed entry is located and skipped and the rest read on.
//! Inside an entry the scanner only counts braces outside strings, at `memchr`'s speed over the
//! long base64 bodies HARs are made of. `content.text` is already decoded (HAR stores bodies
//! decompressed whatever `Content-Encoding` says) or base64 with `encoding`. Fields beginning
//! with `_`, and any other field, are ignored.

use std::borrow::Cow;
use std::io::BufRead;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;

use super::input::Problem;
use super::{Exchange, Place};

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow, rename = "startedDateTime", default)]
    started: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    request: Option<Request<'a>>,
    #[serde(borrow, default)]
    response: Option<Response<'a>>,
}

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow)]
    url: Cow<'a, str>,
    #[serde(borrow, default)]
    headers: Vec<Header<'a>>,
    #[serde(borrow, rename = "postData", default)]
    post_data: Option<Content<'a>>,
}

#[derive(Deserialize)]
struct Response<'a> {
    status: i64,
    #[serde(borrow, default)]
    headers: Vec<Header<'a>>,
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
}

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Content<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    encoding: Option<Cow<'a, str>>,
    #[serde(default)]
    size: Option<i64>,
}

/// Bytes read at a time.
const CHUNK: usize = 1 << 20;
/// An entry longer than this is skipped (located), never held whole.
pub const MAX_ENTRY: usize = 256 * 1024 * 1024;

/// Read the HAR on `reader`.
pub(super) fn read(
    file: &Arc<str>,
    mut reader: Box<dyn BufRead + '_>,
    exchange: &mut dyn FnMut(Exchange),
    problem: &mut dyn FnMut(Problem),
) {
    let mut scan = Scanner::default();
    let mut on_entry = |index: usize, bytes: &[u8]| match serde_json::from_slice::<Entry<'_>>(bytes)
    {
        Err(e) => problem(Problem::new(
            file,
            Some(format!("entry {index}")),
            format!(
                "not a HAR entry ({}): not checked",
                e.to_string().split(" at line ").next().unwrap_or_default()
            ),
        )),
        Ok(entry) => match to_exchange(file, index, entry) {
            Ok(ex) => exchange(ex),
            Err(why) => problem(Problem::new(file, Some(format!("entry {index}")), why)),
        },
    };
    let mut chunk = vec![0u8; CHUNK];
    let outcome = loop {
        let n = match std::io::Read::read(&mut reader, &mut chunk) {
            Ok(0) => break scan.end(),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(Stop::Read(e.to_string())),
        };
        if let Err(stop) = scan.feed(&chunk[..n], &mut on_entry) {
            break Err(stop);
        }
    };
    let entries = scan.entries;
    if let Err(stop) = outcome {
        let (line, column) = scan.place();
        let at = Some(format!("{line}:{column}"));
        let message = match stop {
            Stop::Truncated => format!(
                "truncated: the file ends inside the HAR, after {entries} entries were read (they were checked)"
            ),
            Stop::Syntax(what) => {
                format!("not JSON: {what} (after {entries} entries, which were checked)")
            }
            Stop::NoLog => "no `log` object: not a HAR file".into(),
            Stop::Version(v) => format!("HAR version {v}: only HAR 1.x is read"),
            Stop::Read(e) => format!("cannot read on: {e}"),
        };
        problem(Problem::new(file, at, message));
    }
    for index in scan.too_long {
        problem(Problem::new(
            file,
            Some(format!("entry {index}")),
            format!("longer than {MAX_ENTRY} bytes: not checked"),
        ));
    }
}

/// Why the scan stopped.
#[derive(Debug)]
enum Stop {
    Truncated,
    Syntax(String),
    NoLog,
    Version(String),
    Read(String),
}

/// The key an object's member has, as far as the scan cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    None,
    Log,
    Entries,
    Version,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// An object: the key of the member being read, and whether a key comes next.
    Object {
        key: Key,
        expect_key: bool,
    },
    Array,
}

/// An entry being cut out.
#[derive(Default)]
struct Cut {
    bytes: Vec<u8>,
    /// Braces open (0 when the entry is a scalar or array, which ends at `,` or `]`).
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Longer than [`MAX_ENTRY`]: read to its end, not kept.
    skipping: bool,
}

/// The scanner's state across chunks.
#[derive(Default)]
struct Scanner {
    stack: Vec<Open>,
    /// A string (key or value) being read outside entries, and whether it is a key.
    string: Option<(Vec<u8>, bool, bool)>,
    cut: Option<Cut>,
    log_seen: bool,
    /// Entries cut so far.
    entries: usize,
    too_long: Vec<usize>,
    /// Lines and bytes since the last newline, of what was scanned.
    lines: usize,
    column: usize,
    root_done: bool,
}

impl Scanner {
    fn place(&self) -> (usize, usize) {
        (self.lines + 1, self.column + 1)
    }

    fn in_entries(&self) -> bool {
        matches!(
            self.stack.as_slice(),
            [
                Open::Object { key: Key::Log, .. },
                Open::Object {
                    key: Key::Entries,
                    ..
                },
                Open::Array
            ]
        )
    }

    fn at_version(&self) -> bool {
        matches!(
            self.stack.as_slice(),
            [
                Open::Object { key: Key::Log, .. },
                Open::Object {
                    key: Key::Version,
                    expect_key: false
                }
            ]
        )
    }

    fn count(&mut self, bytes: &[u8]) {
        match memchr::memrchr(b'\n', bytes) {
            Some(last) => {
                self.lines += memchr::memchr_iter(b'\n', bytes).count();
                self.column = bytes.len() - last - 1;
            }
            None => self.column += bytes.len(),
        }
    }

    fn end(&mut self) -> Result<(), Stop> {
        if self.cut.is_some() || self.string.is_some() || !self.stack.is_empty() {
            return Err(Stop::Truncated);
        }
        if !self.log_seen {
            return Err(Stop::NoLog);
        }
        Ok(())
    }

    fn feed(
        &mut self,
        mut bytes: &[u8],
        on_entry: &mut dyn FnMut(usize, &[u8]),
    ) -> Result<(), Stop> {
        while !bytes.is_empty() {
            let used = if self.cut.is_some() {
                self.cut_on(bytes, on_entry)
            } else if self.string.is_some() {
                self.string_on(bytes)?
            } else {
                self.structure(bytes, on_entry)?
            };
            self.count(&bytes[..used]);
            bytes = &bytes[used..];
        }
        Ok(())
    }

    /// Inside an entry: to its end, or the end of `bytes`. Returns the bytes used.
    fn cut_on(&mut self, bytes: &[u8], on_entry: &mut dyn FnMut(usize, &[u8])) -> usize {
        let cut = self.cut.as_mut().expect("cutting");
        let mut i = 0;
        let mut done = None;
        while i < bytes.len() {
            if cut.in_string {
                if cut.escaped {
                    cut.escaped = false;
                    i += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                    None => {
                        i = bytes.len();
                    }
                    Some(j) => {
                        if bytes[i + j] == b'\\' {
                            cut.escaped = true;
                        } else {
                            cut.in_string = false;
                        }
                        i += j + 1;
                    }
                }
                continue;
            }
            match memchr::memchr3(b'"', b'{', b'}', &bytes[i..]) {
                None => {
                    i = bytes.len();
                }
                Some(j) => {
                    let at = i + j;
                    i = at + 1;
                    match bytes[at] {
                        b'"' => cut.in_string = true,
                        b'{' => cut.depth += 1,
                        _ => {
                            cut.depth = cut.depth.saturating_sub(1);
                            if cut.depth == 0 {
                                done = Some(i);
                                break;
                            }
                        }
                    }
                }
            }
        }
        let used = done.unwrap_or(i);
        if !cut.skipping {
            if cut.bytes.len() + used > MAX_ENTRY {
                cut.skipping = true;
                cut.bytes = Vec::new();
            } else {
                cut.bytes.extend_from_slice(&bytes[..used]);
            }
        }
        if done.is_some() {
            let cut = self.cut.take().expect("cutting");
            if cut.skipping {
                self.too_long.push(self.entries);
            } else {
                on_entry(self.entries, &cut.bytes);
            }
            self.entries += 1;
        }
        used
    }

    /// A string outside entries, to its closing quote.
    fn string_on(&mut self, bytes: &[u8]) -> Result<usize, Stop> {
        let (text, is_key, escaped) = self.string.as_mut().expect("a string");
        let mut i = 0;
        while i < bytes.len() {
            if *escaped {
                *escaped = false;
                text.push(bytes[i]);
                i += 1;
                continue;
            }
            match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                None => {
                    if text.len() < 64 {
                        text.extend_from_slice(&bytes[i..bytes.len().min(i + 64)]);
                    }
                    return Ok(bytes.len());
                }
                Some(j) => {
                    if text.len() < 64 {
                        text.extend_from_slice(&bytes[i..i + j]);
                    }
                    if bytes[i + j] == b'\\' {
                        *escaped = true;
                        i += j + 1;
                        continue;
                    }
                    let (text, is_key) = (std::mem::take(text), *is_key);
                    self.string = None;
                    self.string_done(&text, is_key)?;
                    return Ok(i + j + 1);
                }
            }
        }
        Ok(bytes.len())
    }

    fn string_done(&mut self, text: &[u8], is_key: bool) -> Result<(), Stop> {
        if is_key {
            let depth = self.stack.len();
            let key = match (depth, text) {
                (1, b"log") => {
                    self.log_seen = true;
                    Key::Log
                }
                (2, b"entries")
                    if self.stack[0]
                        == (Open::Object {
                            key: Key::Log,
                            expect_key: false,
                        }) =>
                {
                    Key::Entries
                }
                (2, b"version")
                    if self.stack[0]
                        == (Open::Object {
                            key: Key::Log,
                            expect_key: false,
                        }) =>
                {
                    Key::Version
                }
                _ => Key::Other,
            };
            if let Some(Open::Object { key: k, expect_key }) = self.stack.last_mut() {
                *k = key;
                *expect_key = false;
            }
            return Ok(());
        }
        if self.at_version() {
            let version = String::from_utf8_lossy(text).into_owned();
            // A later minor version is read; another major is not HAR as we know it.
            if !(version.starts_with("1.") || version == "1") {
                return Err(Stop::Version(version));
            }
        }
        Ok(())
    }

    /// Outside entries and strings: one token. Returns the bytes used.
    fn structure(
        &mut self,
        bytes: &[u8],
        on_entry: &mut dyn FnMut(usize, &[u8]),
    ) -> Result<usize, Stop> {
        let b = bytes[0];
        if self.root_done && !b.is_ascii_whitespace() {
            return Err(Stop::Syntax("more after the HAR's end".into()));
        }
        match b {
            b' ' | b'\t' | b'\r' | b'\n' | b':' => {}
            b',' => {
                if let Some(Open::Object { expect_key, .. }) = self.stack.last_mut() {
                    *expect_key = true;
                }
            }
            b'{' | b'[' if self.in_entries() => {
                // A non-object element is cut out too, and refused by its own parse.
                self.cut = Some(Cut {
                    depth: 0,
                    ..Cut::default()
                });
                if b == b'[' {
                    return Err(Stop::Syntax("an entry that is an array".into()));
                }
                return Ok(0);
            }
            b'{' => self.stack.push(Open::Object {
                key: Key::None,
                expect_key: true,
            }),
            b'[' => self.stack.push(Open::Array),
            b'}' | b']' => {
                let open = self.stack.pop();
                let fits = matches!(
                    (b, open),
                    (b'}', Some(Open::Object { .. })) | (b']', Some(Open::Array))
                );
                if !fits {
                    return Err(Stop::Syntax(format!("unexpected `{}`", b as char)));
                }
                if self.stack.is_empty() {
                    self.root_done = true;
                }
            }
            b'"' => {
                let is_key = matches!(
                    self.stack.last(),
                    Some(Open::Object {
                        expect_key: true,
                        ..
                    })
                );
                self.string = Some((Vec::new(), is_key, false));
            }
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' if self.in_entries() => {
                // A scalar where an entry should be: refused by its own parse, located.
                let end = bytes
                    .iter()
                    .position(|c| !matches!(c, b'-' | b'+' | b'.' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z'))
                    .unwrap_or(bytes.len());
                on_entry(self.entries, &bytes[..end]);
                self.entries += 1;
                return Ok(end);
            }
            b'-'
            | b'+'
            | b'.'
            | b'e'
            | b'E'
            | b'0'..=b'9'
            | b't'
            | b'r'
            | b'u'
            | b'f'
            | b'a'
            | b'l'
            | b's'
            | b'n'
                if !self.stack.is_empty() => {}
            other => {
                return Err(Stop::Syntax(format!("unexpected {:?}", char::from(other))));
            }
        }
        Ok(1)
    }
}

fn to_exchange(file: &Arc<str>, index: usize, entry: Entry<'_>) -> Result<Exchange, String> {
    let Some(request) = entry.request else {
        return Err("no request: not checked".into());
    };
    let Some(response) = entry.response else {
        return Err("no response: not checked".into());
    };
    // Browsers write status 0 for a request that got no answer (blocked, aborted).
    let status = u16::try_from(response.status)
        .ok()
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| format!("no response (status {}): not checked", response.status))?;
    Ok(Exchange {
        place: Place::Entry {
            file: file.clone(),
            index,
        },
        time: entry.started.map(Cow::into_owned),
        method: request.method.into_owned(),
        url: request.url.into_owned(),
        request_headers: headers(request.headers),
        request_body: request.post_data.and_then(body),
        status,
        response_headers: headers(response.headers),
        response_body: response.content.and_then(body),
        keys_redacted: Vec::new(),
    })
}

fn headers(list: Vec<Header<'_>>) -> Vec<(String, String)> {
    list.into_iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.into_owned()))
        .collect()
}

/// The bytes of a content, or `None` when it was not recorded.
fn body(content: Content<'_>) -> Option<Bytes> {
    let text = match content.text {
        // An empty text of a non-empty body: the capture left it out.
        Some(t) if t.is_empty() && content.size.unwrap_or(0) > 0 => return None,
        Some(t) => t,
        None => return None,
    };
    if content.encoding.as_deref() == Some("base64") {
        return base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .ok()
            .map(Bytes::from);
    }
    Some(Bytes::from(text.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The entries a document's bytes give, fed `step` bytes at a time.
    fn cut(doc: &str, step: usize) -> (Vec<String>, Result<(), String>) {
        let mut scan = Scanner::default();
        let mut got = Vec::new();
        let mut on = |_: usize, b: &[u8]| got.push(String::from_utf8_lossy(b).into_owned());
        let mut outcome = Ok(());
        for chunk in doc.as_bytes().chunks(step) {
            if let Err(e) = scan.feed(chunk, &mut on) {
                outcome = Err(format!("{e:?}"));
                break;
            }
        }
        if outcome.is_ok() {
            outcome = scan.end().map_err(|e| format!("{e:?}"));
        }
        (got, outcome)
    }

    #[test]
    fn entries_are_cut_whole_whatever_the_chunks_and_the_strings_inside() {
        let a =
            r#"{"request": {"url": "/x?q={\"}"}, "response": {"content": {"text": "}}{{\\\"\\"}}}"#;
        let b = r#"{"_custom": [1, {"k": "]"}]}"#;
        let doc = format!(
            "{{\"creator\": {{\"entries\": [9]}}, \"log\": {{\"comment\": \"{{[\", \"version\": \"1.3\", \"entries\": [{a}, {b}], \"pages\": []}}}}\n"
        );
        for step in [1, 2, 3, 7, 4096] {
            let (got, outcome) = cut(&doc, step);
            assert_eq!(outcome, Ok(()), "step {step}");
            assert_eq!(got, [a, b], "step {step}");
        }
        let (_, outcome) = cut(&doc.replace("1.3", "3.0"), 5);
        assert_eq!(outcome, Err("Version(\"3.0\")".into()));
        let (got, outcome) = cut(&doc[..doc.len() - 10], 5);
        assert_eq!((got.len(), outcome), (2, Err("Truncated".into())));
    }
}
