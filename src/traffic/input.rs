//! One traffic file (or stdin) opened and read exchange by exchange: gzip undone when its magic
//! bytes say so, HAR told from our NDJSON by its first key (`log`), every problem located.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use super::{Exchange, har, ndjson};

/// Read buffer: large enough that a HAR is read in few system calls.
const BUFFER: usize = 256 * 1024;

/// A problem with the input, located: it never stops the other exchanges of a file from being
/// checked, unless it ends the file (not JSON, truncated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, as given (`-`: stdin).
    pub file: Arc<str>,
    /// Where: `line:column`, or `entry N`.
    pub at: Option<String>,
    /// What is wrong, and what was done about it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) if at.starts_with("entry") => {
                write!(f, "{}: {at}: {}", self.file, self.message)
            }
            Some(at) => write!(f, "{}:{at}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl Problem {
    pub(super) fn new(file: &Arc<str>, at: Option<String>, message: impl Into<String>) -> Self {
        Problem {
            file: file.clone(),
            at,
            message: message.into(),
        }
    }
}

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Har,
    Ndjson,
}

/// Read every exchange of `file` (`-`: stdin), handing each to `exchange` and each problem to
/// `problem` as it is met; the file's reading goes on past a bad entry or line.
pub fn read(file: &str, exchange: &mut dyn FnMut(Exchange), problem: &mut dyn FnMut(Problem)) {
    let name: Arc<str> = Arc::from(file);
    let raw: Box<dyn Read> = if file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(file) {
            Ok(f) => Box::new(f),
            Err(e) => {
                problem(Problem::new(&name, None, format!("cannot read it: {e}")));
                return;
            }
        }
    };
    let mut reader = BufReader::with_capacity(BUFFER, raw);
    let gzip = match reader.fill_buf() {
        Ok(head) => head.starts_with(&[0x1f, 0x8b]),
        Err(e) => {
            problem(Problem::new(&name, None, format!("cannot read it: {e}")));
            return;
        }
    };
    let mut reader: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::with_capacity(
            BUFFER,
            flate2::bufread::MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    };
    match detect(&mut reader) {
        Ok(Format::Har) => har::read(&name, reader, exchange, problem),
        Ok(Format::Ndjson) => ndjson::read(&name, reader, exchange, problem),
        Err(message) => problem(Problem::new(&name, Some("1:1".into()), message)),
    }
}

/// HAR or NDJSON, from the first key of the first object: an exchange's own keys (`time`,
/// `request`, `response`) are NDJSON, anything else (`log`, a `comment` before it) HAR. A
/// UTF-8 byte order mark, as some Windows tools write, is dropped.
fn detect(reader: &mut dyn BufRead) -> Result<Format, String> {
    if reader
        .fill_buf()
        .is_ok_and(|h| h.starts_with(b"\xef\xbb\xbf"))
    {
        reader.consume(3);
    }
    let head = match reader.fill_buf() {
        Ok(h) => h,
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    let mut bytes = head.iter().copied().skip_while(u8::is_ascii_whitespace);
    match bytes.next() {
        None => return Err("empty: no HAR and no NDJSON exchange".into()),
        Some(b'{') => {}
        Some(_) => {
            return Err(
                "not HAR or NDJSON: a traffic file is a JSON object (HAR's `{\"log\": …}`, or one exchange per line)"
                    .into(),
            );
        }
    }
    let mut bytes = bytes.skip_while(u8::is_ascii_whitespace);
    if bytes.next() == Some(b'"') {
        let key: Vec<u8> = bytes.take_while(|b| *b != b'"').collect();
        if matches!(key.as_slice(), b"time" | b"request" | b"response") {
            return Ok(Format::Ndjson);
        }
        return Ok(Format::Har);
    }
    Ok(Format::Ndjson)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn read_text(bytes: &[u8]) -> (Vec<Exchange>, Vec<String>) {
        // A file of its own per call (tests run in parallel), removed when read.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("errcontract-input-{}-{n}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let (mut got, mut problems) = (Vec::new(), Vec::new());
        read(path.to_str().unwrap(), &mut |e| got.push(e), &mut |p| {
            problems.push(p.to_string().replace(path.to_str().unwrap(), "F"))
        });
        let _ = std::fs::remove_file(&path);
        (got, problems)
    }

    const HAR: &str = r#"{"log": {"version": "1.2", "creator": {"name": "mitmproxy", "version": "11"}, "entries": [
      {"startedDateTime": "2026-12-01T10:00:00Z", "_custom": {"x": 1},
       "request": {"method": "POST", "url": "https://api.example/v2/images/generations", "headers": [{"name": "Content-Type", "value": "application/json"}], "postData": {"mimeType": "application/json", "text": "{}"}},
       "response": {"status": 400, "headers": [{"name": "Content-Type", "value": "application/json"}, {"name": "Content-Encoding", "value": "gzip"}], "content": {"size": 2, "mimeType": "application/json", "text": "e30=", "encoding": "base64"}}},
      {"request": {"method": "GET", "url": "https://api.example/v2/models"}},
      {"request": {"method": "GET", "url": "https://api.example/v2/models"}, "response": {"status": 404, "headers": [], "content": {"size": 10, "mimeType": "application/json"}}}
    ]}}"#;

    #[test]
    fn a_har_is_read_entry_by_entry_and_a_bad_entry_is_located() {
        let (got, problems) = read_text(HAR.as_bytes());
        assert_eq!(got.len(), 2, "{problems:?}");
        assert_eq!(got[0].response_body.as_deref(), Some(&b"{}"[..]));
        assert_eq!(got[0].response_headers[0].0, "content-type");
        assert_eq!(got[0].request_body.as_deref(), Some(&b"{}"[..]));
        assert_eq!(
            got[1].response_body, None,
            "a body left out is not recorded"
        );
        assert_eq!(problems, ["F: entry 1: no response: not checked"]);
    }

    #[test]
    fn gzip_is_undone_and_a_later_minor_version_is_read() {
        let har = HAR.replace("\"1.2\"", "\"1.3\"");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(har.as_bytes()).unwrap();
        let (got, _) = read_text(&gz.finish().unwrap());
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn bad_files_are_located_never_a_panic() {
        let (_, p) = read_text(HAR.replace("\"1.2\"", "\"2.0\"").as_bytes());
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("HAR version 2.0"), "{p:?}");
        let (got, p) = read_text(&HAR.as_bytes()[..HAR.len() - 40]);
        assert_eq!(got.len(), 1, "entries before the cut are checked");
        assert!(p.iter().any(|p| p.contains("truncated")), "{p:?}");
        let (_, p) = read_text(b"hello");
        assert_eq!(
            p,
            [
                "F:1:1: not HAR or NDJSON: a traffic file is a JSON object (HAR's `{\"log\": …}`, or one exchange per line)"
            ]
        );
        let (_, p) = read_text(b"");
        assert_eq!(p.len(), 1);
        let (_, p) = read_text(br#"{"log": {"entries": [1, {"request": 3}]}}"#);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("F: entry 0: "), "{p:?}");
    }
}
