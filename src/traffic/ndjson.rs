//! Our own exchange format: one JSON object per line (`schemas/exchange.schema.json`), what
//! `errcontract proxy --record` writes and `errcontract traffic` reads. A body is `body` (UTF-8
//! text) or `body_base64`; neither means it was not recorded. Credentials are never written:
//! their header values are `[REDACTED]`, and every key known is redacted from bodies and URLs.

use std::io::{BufRead, Write};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::input::Problem;
use super::{Exchange, Place, is_credential};
use crate::redact::Secrets;

/// A line longer than this is skipped (located), never read whole into memory.
pub const MAX_LINE: usize = 64 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
#[serde(expecting = "an exchange object")]
struct Record {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time: Option<String>,
    request: Half,
    response: Half,
}

#[derive(Serialize, Deserialize)]
#[serde(expecting = "a request or response object")]
struct Half {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
    /// The keys the recorder took out of this response, by label.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    keys_redacted: Vec<String>,
}

impl Half {
    fn body(&self) -> Option<Bytes> {
        match (&self.body, &self.body_base64) {
            (Some(text), _) => Some(Bytes::copy_from_slice(text.as_bytes())),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .ok()
                .map(Bytes::from),
            (None, None) => None,
        }
    }
}

/// Read the NDJSON on `reader`, line by line.
pub(super) fn read(
    file: &Arc<str>,
    mut reader: Box<dyn BufRead + '_>,
    exchange: &mut dyn FnMut(Exchange),
    problem: &mut dyn FnMut(Problem),
) {
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        number += 1;
        let too_long = match read_line(&mut reader, &mut line, MAX_LINE) {
            Ok(None) => return,
            Ok(Some(too_long)) => too_long,
            Err(e) => {
                problem(Problem::new(
                    file,
                    Some(format!("{number}:1")),
                    format!("cannot read on: {e}"),
                ));
                return;
            }
        };
        if too_long {
            problem(Problem::new(
                file,
                Some(format!("{number}:1")),
                format!("the line is longer than {MAX_LINE} bytes: skipped"),
            ));
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Err(e) => problem(Problem::new(
                file,
                Some(format!("{number}:{}", e.column())),
                format!(
                    "not an exchange ({}): skipped",
                    e.to_string().split(" at line ").next().unwrap_or_default()
                ),
            )),
            Ok(r) => match to_exchange(file, number, r) {
                Ok(ex) => exchange(ex),
                Err(why) => problem(Problem::new(file, Some(format!("{number}:1")), why)),
            },
        }
    }
}

/// One line into `line`, without its newline; `None` at the end. `Some(true)`: the line was
/// longer than `max` and was skipped to its end, never held.
fn read_line(
    reader: &mut dyn BufRead,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<bool>> {
    let mut any = false;
    let mut too_long = false;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !too_long {
            if line.len() + chunk.len() > max {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(buf.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(Some(too_long));
        }
    }
}

fn to_exchange(file: &Arc<str>, line: usize, r: Record) -> Result<Exchange, String> {
    let (Some(method), Some(url)) = (&r.request.method, &r.request.url) else {
        return Err("the request has no method or url: skipped".into());
    };
    let Some(status) = r.response.status else {
        return Err("the response has no status: skipped".into());
    };
    let lower = |h: &[(String, String)]| {
        h.iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect()
    };
    Ok(Exchange {
        place: Place::Line {
            file: file.clone(),
            line,
        },
        time: r.time.clone(),
        method: method.clone(),
        url: url.clone(),
        request_headers: lower(&r.request.headers),
        request_body: r.request.body(),
        status,
        response_headers: lower(&r.response.headers),
        response_body: r.response.body(),
        keys_redacted: r.response.keys_redacted.clone(),
    })
}

/// One exchange as a line of NDJSON (with its newline), credentials masked and `secrets`
/// redacted everywhere.
pub fn record_line(ex: &Exchange, secrets: &Secrets) -> String {
    let headers = |h: &[(String, String)]| super::group::masked(h, secrets);
    let half = |body: Option<&Bytes>| match body.map(|b| std::str::from_utf8(b)) {
        None => (None, None),
        Some(Ok(text)) => (Some(secrets.redact(text)), None),
        Some(Err(_)) => (
            None,
            body.map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        ),
    };
    // What the response carried of any key, said in the record as the keys are taken out,
    // so `traffic` on the recording finds the leak the proxy saw.
    let mut keys_redacted = ex.keys_redacted.clone();
    if let Some(text) = ex
        .response_body
        .as_ref()
        .map(|b| String::from_utf8_lossy(b))
    {
        keys_redacted.extend(secrets.found_in(&text));
    }
    for (name, value) in &ex.response_headers {
        if !is_credential(name) {
            keys_redacted.extend(secrets.found_in(value));
        }
    }
    keys_redacted.sort();
    keys_redacted.dedup();
    let (req_body, req_b64) = half(ex.request_body.as_ref());
    let (resp_body, resp_b64) = half(ex.response_body.as_ref());
    let record = Record {
        time: ex.time.clone(),
        request: Half {
            method: Some(ex.method.clone()),
            url: Some(secrets.redact(&ex.url)),
            status: None,
            headers: headers(&ex.request_headers),
            body: req_body,
            body_base64: req_b64,
            keys_redacted: Vec::new(),
        },
        response: Half {
            method: None,
            url: None,
            status: Some(ex.status),
            headers: headers(&ex.response_headers),
            body: resp_body,
            body_base64: resp_b64,
            keys_redacted,
        },
    };
    let mut line = serde_json::to_string(&record).unwrap_or_default();
    line.push('\n');
    line
}

/// The `--record` file: each exchange written and flushed as a line of its own, so a kill
/// leaves every exchange before it whole.
pub struct Recorder {
    out: std::fs::File,
}

impl Recorder {
    /// Create (or truncate) `path`.
    pub fn create(path: &std::path::Path) -> std::io::Result<Recorder> {
        Ok(Recorder {
            out: std::fs::File::create(path)?,
        })
    }

    /// Append one exchange.
    pub fn write(&mut self, ex: &Exchange, secrets: &Secrets) -> std::io::Result<()> {
        self.out.write_all(record_line(ex, secrets).as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(key: &str) -> Exchange {
        Exchange {
            place: Place::Live { n: 1 },
            time: Some("2026-12-01T10:00:00Z".into()),
            method: "POST".into(),
            url: "http://127.0.0.1:1/v2/images/generations".into(),
            request_headers: vec![("authorization".into(), format!("Bearer {key}"))],
            request_body: Some(Bytes::from_static(b"{}")),
            status: 400,
            response_headers: vec![("content-type".into(), "application/json".into())],
            response_body: Some(Bytes::from(format!("{{\"k\":\"{key}\"}}"))),
            keys_redacted: Vec::new(),
        }
    }

    #[test]
    fn a_line_too_long_is_skipped_without_being_held() {
        let text = format!("{}\nshort\n", "x".repeat(100_000));
        let mut reader = std::io::BufReader::with_capacity(1024, text.as_bytes());
        let mut line = Vec::new();
        assert_eq!(read_line(&mut reader, &mut line, 4096).unwrap(), Some(true));
        assert!(line.capacity() <= 8192, "{}", line.capacity());
        line.clear();
        assert_eq!(
            read_line(&mut reader, &mut line, 4096).unwrap(),
            Some(false)
        );
        assert_eq!(line, b"short");
        line.clear();
        assert_eq!(read_line(&mut reader, &mut line, 4096).unwrap(), None);
    }

    #[test]
    fn a_recorded_line_reads_back_without_its_key() {
        let key = "sk_live_recorded_0123456789";
        let mut secrets = Secrets::new();
        secrets.add("ERRCONTRACT_API_KEY", key);
        let line = record_line(&exchange(key), &secrets);
        assert!(!line.contains(key), "{line}");
        let file: Arc<str> = Arc::from("r.ndjson");
        let (mut got, mut problems) = (Vec::new(), Vec::new());
        let text = format!("{line}\nnot json\n{{\"request\":{{}},\"response\":{{}}}}\n{line}");
        read(
            &file,
            Box::new(std::io::Cursor::new(text.into_bytes())),
            &mut |e| got.push(e),
            &mut |p| problems.push(p.to_string()),
        );
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].place, Place::Line { file, line: 5 });
        assert_eq!(got[0].status, 400);
        assert_eq!(got[0].request_headers[0].1, "[REDACTED]");
        // The key the response carried is gone from the body, and the record says so.
        assert_eq!(
            got[0].keys_redacted,
            vec!["ERRCONTRACT_API_KEY".to_string()]
        );
        assert_eq!(
            got[0].response_body.as_deref(),
            Some(&b"{\"k\":\"[REDACTED:ERRCONTRACT_API_KEY]\"}"[..])
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("r.ndjson:3:"), "{problems:?}");
        assert!(
            problems[1].starts_with("r.ndjson:4:1: the request has no method"),
            "{problems:?}"
        );
    }
}
