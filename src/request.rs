//! The exact request a step sends, resolved from its case (captured values filled in, the
//! role's key as the bearer token, the body), and its reproduction, recorded when it is built:
//! a curl command that sends the same bytes, with keys as `$ERRCONTRACT_*` variables. Later
//! stages show this record; none of them rebuilds a request from the case.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;

use crate::case::{Auth, RequestSpec, Role};
use crate::target::Target;

/// The bearer token sent for role `malformed`: not an `sk_` key.
pub const MALFORMED_TOKEN: &str = "malformed-errcontract-token";

/// Values captured by earlier steps, by placeholder name.
pub type Vars = BTreeMap<String, String>;

/// A request to send, fully resolved, with its reproduction.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: &'static str,
    /// The absolute URL, query included.
    pub url: String,
    /// Headers in order (the Authorization value is a secret and is redacted when shown).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Option<Bytes>,
    /// A shell command that sends the same request: `curl …`, keys as variables.
    pub curl: String,
}

impl Request {
    /// The bearer token, if the request carries one.
    pub fn bearer(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.split_once(' ').map_or(v.as_str(), |(_, t)| t).trim())
    }

    /// The path and query, without scheme and host.
    pub fn path_and_query(&self) -> &str {
        // `scheme://host[:port]/path?query`: what follows the third slash.
        self.url
            .match_indices('/')
            .nth(2)
            .map_or("", |(i, _)| &self.url[i..])
    }
}

/// Where the body comes from, which decides how its reproduction is written.
enum BodySource {
    /// Text of the case file (`json`, `body`): shown as is.
    Literal,
    /// Generated (`body_size`): shown as the command that generates the same bytes.
    Sized(usize),
}

/// Resolve `spec` against `target` with the values captured so far.
pub fn build(spec: &RequestSpec, vars: &Vars, target: &Target) -> Request {
    let mut path = spec.path.clone();
    for (name, value) in vars {
        let encoded = percent_encoding::utf8_percent_encode(value, SEGMENT).to_string();
        path = path.replace(&format!("{{{name}}}"), &encoded);
    }
    let mut url = format!("{}{}", target.base_url, path);
    if !spec.query.is_empty() {
        let q: Vec<String> = spec
            .query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    percent_encoding::utf8_percent_encode(k, SEGMENT),
                    percent_encoding::utf8_percent_encode(v, SEGMENT)
                )
            })
            .collect();
        url = format!("{url}?{}", q.join("&"));
    }
    // The URL as the client serializes it onto the wire (it percent-encodes what the query
    // encoding above leaves, such as `'`), so the request, its report and its curl line carry
    // the same bytes.
    if let Ok(parsed) = reqwest::Url::parse(&url) {
        url = parsed.to_string();
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    let authorization = match &spec.auth {
        Auth::Role(Role::None) => None,
        Auth::Role(Role::Malformed) => Some(format!("Bearer {MALFORMED_TOKEN}")),
        Auth::Role(role) => target.keys.get(role).map(|k| format!("Bearer {k}")),
        Auth::Explicit { authorization } => Some(authorization.clone()),
    };
    // The key of a role is shown as its variable in the reproduction; other tokens are no secret.
    let mut key_var = None;
    if let Some(a) = authorization {
        headers.push(("Authorization".into(), a));
        if let Auth::Role(role) = &spec.auth {
            key_var = role.env_var();
        }
    }
    let has_content_type = spec
        .headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("content-type"));
    let json_body = |headers: &mut Vec<(String, String)>| {
        if !has_content_type {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
    };
    let body = if let Some(json) = &spec.json {
        json_body(&mut headers);
        // A Value always serializes.
        Some((
            Bytes::from(serde_json::to_vec(json).unwrap_or_default()),
            BodySource::Literal,
        ))
    } else if let Some(raw) = &spec.body {
        Some((Bytes::from(raw.clone()), BodySource::Literal))
    } else if let Some(size) = spec.body_size {
        json_body(&mut headers);
        Some((sized_body(size), BodySource::Sized(size)))
    } else {
        None
    };
    for (k, v) in &spec.headers {
        headers.push((k.clone(), v.clone()));
    }
    let method = spec.method.as_str();
    let curl = curl(
        method,
        &url,
        &headers,
        key_var,
        body.as_ref().map(|(b, s)| (b, s)),
    );
    Request {
        method,
        url,
        headers,
        body: body.map(|(b, _)| b),
        curl,
    }
}

const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The shortest generated body: `{"padding":""}`.
const SIZED_FRAME: usize = 14;

/// A JSON object of exactly `size` bytes (at least 14): `{"padding":"aaa…"}`.
pub fn sized_body(size: usize) -> Bytes {
    let filler = size.saturating_sub(SIZED_FRAME);
    let mut body = Vec::with_capacity(size.max(SIZED_FRAME));
    body.extend_from_slice(b"{\"padding\":\"");
    body.resize(12 + filler, b'a');
    body.extend_from_slice(b"\"}");
    Bytes::from(body)
}

/// The curl command that sends exactly `headers` and `body`: curl's own defaults that would
/// change the request are turned off (globbing, the form content type, `@file` bodies), and
/// the first header, when `key_var` names it, shows the key as that variable.
fn curl(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    key_var: Option<&str>,
    body: Option<(&Bytes, &BodySource)>,
) -> String {
    let mut parts = vec!["curl -i -g".to_string()];
    match method {
        "HEAD" => parts.push("-I".into()),
        "GET" if body.is_none() => {}
        _ => parts.push(format!("-X {method}")),
    }
    parts.push(quote(url));
    for (index, (name, value)) in headers.iter().enumerate() {
        parts.push(match key_var {
            Some(var) if index == 0 => format!("-H \"{name}: Bearer ${var}\""),
            // curl drops a header given with an empty value; `name;` sends it empty.
            _ if value.is_empty() => format!("-H {}", quote(&format!("{name};"))),
            _ => format!("-H {}", quote(&format!("{name}: {value}"))),
        });
    }
    let Some((bytes, source)) = body else {
        return parts.join(" ");
    };
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        // With a body, curl would add a form content type the suite never sent.
        parts.push("-H 'Content-Type:'".into());
    }
    let literal = std::str::from_utf8(bytes).ok().filter(|t| {
        !t.starts_with('@') && !t.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
    });
    match (source, literal) {
        (BodySource::Literal, Some(text)) => {
            parts.push(format!("--data-binary {}", quote(text)));
            parts.join(" ")
        }
        (BodySource::Literal, None) => {
            parts.push("--data-binary @-".into());
            format!("printf '{}' | {}", printf_escape(bytes), parts.join(" "))
        }
        (BodySource::Sized(size), _) => {
            parts.push("--data-binary @-".into());
            format!(
                "{{ printf '{{\"padding\":\"'; head -c {} /dev/zero | tr '\\0' a; printf '\"}}'; }} | {}",
                size.saturating_sub(SIZED_FRAME),
                parts.join(" ")
            )
        }
    }
}

/// Bytes as a `printf` format that prints exactly them: octal escapes for everything that is
/// not plain printable ASCII, and `%`, `\` and `'` escaped.
fn printf_escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'%' => out.push_str("%%"),
            b'\\' => out.push_str("\\\\"),
            b' '..=b'~' if b != b'\'' => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// `s` in single quotes for a POSIX shell.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The command that reruns one case against the same target and cases directory.
pub fn rerun_command(
    trial_name: &str,
    target: &Target,
    cases_dir: Option<&Path>,
    expectations: Option<&Path>,
) -> String {
    let mut prefix = String::new();
    if !target.reference {
        prefix.push_str(&format!(
            "ERRCONTRACT_BASE_URL={} ",
            quote(&target.base_url)
        ));
    }
    if let Some(dir) = cases_dir {
        prefix.push_str(&format!(
            "ERRCONTRACT_CASES={} ",
            quote(&dir.display().to_string())
        ));
    }
    if let Some(file) = expectations {
        prefix.push_str(&format!(
            "ERRCONTRACT_EXPECTATIONS={} ",
            quote(&file.display().to_string())
        ));
    }
    // A name with a space, `[0]` or another shell character is quoted, so it reaches the
    // harness as one exact name.
    let plain = trial_name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-.:/".contains(c));
    let name = if plain {
        trial_name.to_string()
    } else {
        quote(trial_name)
    };
    format!("{prefix}cargo test --test contract -- --exact {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_bodies_have_the_size_asked() {
        assert_eq!(sized_body(4097).len(), 4097);
        assert_eq!(sized_body(14).as_ref(), br#"{"padding":""}"#);
        assert!(serde_json::from_slice::<serde_json::Value>(&sized_body(100)).is_ok());
    }

    #[test]
    fn printf_escape_keeps_every_byte() {
        assert_eq!(printf_escape(b"a%b\\c'd\0\n"), "a%%b\\\\c\\047d\\000\\012");
    }

    #[test]
    fn the_path_and_query_come_without_the_host() {
        let r = Request {
            method: "GET",
            url: "http://127.0.0.1:9/v2/models?x=1".into(),
            headers: vec![("Authorization".into(), "Bearer sk_abc".into())],
            body: None,
            curl: String::new(),
        };
        assert_eq!(r.path_and_query(), "/v2/models?x=1");
        assert_eq!(r.bearer(), Some("sk_abc"));
    }
}
