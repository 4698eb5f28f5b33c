//! `no_leak`: an error tells the client nothing about the server's insides. The raw body and the
//! headers must carry no API key (in any encoded form, escapes undone) and not the request's own
//! bearer token; the message (or
//! the whole body, when it is not JSON) no stack trace, source location, internal path or host,
//! or URL with credentials. What the request itself sent may be quoted back.

use std::sync::OnceLock;

use regex::{Regex, RegexSet};
use serde_json::Value;

use super::{CheckContext, CheckName, Finding};

/// The leak patterns, each with what it reveals, and a set of them all so a clean message costs
/// one scan. Each pattern alone is compiled only when the set says it matched: most runs never
/// need one, and compiling all of them costs more than checking thousands of responses.
struct Patterns {
    any: RegexSet,
    each: Vec<(OnceLock<Regex>, &'static str, &'static str)>,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let list: [(&str, &'static str); 6] = [
            (
                r#"Traceback \(most recent call last\)|\bFile "[^"\n]+", line \d+|panicked at |panic: runtime error|stack backtrace:|Exception in thread|goroutine \d+ \[|^\s*at [\w$.<>]+\(|\n\s*at [\w$./<>]+[(:]|\n\s+at [^\n]*:\d+:\d+|\bat [\w$.]+\([\w$.]+\.(java|kt|cs|js|ts):\d+\)"#,
                "a stack trace",
            ),
            (
                r"[\w./-]+\.(rs|go|py|js|mjs|cjs|jsx|ts|tsx|java|rb|php|cs|cpp|cc|c|h|hpp|kt|scala|swift|ex|exs):\d+",
                "a source file and line",
            ),
            (
                r#"(^|[\s'"(=:])/(home|Users|usr|var|srv|opt|etc|root|tmp|src|app|data|mnt|run|workspace|build|proc)/[\w./-]+|\bfile:///[\w./-]+"#,
                "an internal file path",
            ),
            (r"\b[A-Za-z]:\\[\w\\. -]+", "an internal file path"),
            (
                r"\blocalhost(:\d+)?\b|\b127\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|\b10\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|\b192\.168\.\d{1,3}\.\d{1,3}\b|\b172\.(1[6-9]|2\d|3[01])\.\d{1,3}\.\d{1,3}\b|\b169\.254\.\d{1,3}\.\d{1,3}\b|\[(::1|f[cd][0-9a-f]{2}:[0-9a-f:]*)\]|[\w-]+\.(internal|local|svc\.cluster\.local|corp|lan)\b",
                "an internal host",
            ),
            (
                r"\b[a-z][a-z0-9+.-]*://[^\s/@:]+:[^\s/@]+@[^\s/]+",
                "a URL with credentials",
            ),
        ];
        Patterns {
            any: RegexSet::new(list.iter().map(|(re, _)| *re)).expect("leak patterns compile"),
            each: list
                .iter()
                .map(|(re, what)| (OnceLock::new(), *re, *what))
                .collect(),
        }
    })
}

/// An error response: `raw` is its body as text, `body` the body when it parsed, `headers` its
/// headers.
pub(super) fn check(
    ctx: &CheckContext<'_>,
    raw: &str,
    body: Option<&Value>,
    headers: &[(String, String)],
) -> Option<Finding> {
    let message = body
        .and_then(|b| b.pointer("/error/message"))
        .and_then(Value::as_str);
    let token = Token::of(ctx);
    let mut problems = keys(ctx, &token, "the body", raw);
    for (name, value) in headers {
        problems.extend(keys(ctx, &token, &format!("the header {name}"), value));
    }
    problems.extend(insides(
        ctx,
        message.unwrap_or(if body.is_none() { raw } else { "" }),
    ));
    finding(problems)
}

pub(super) fn finding(problems: Vec<String>) -> Option<Finding> {
    (!problems.is_empty()).then(|| {
        Finding::new(
            CheckName::NoLeak,
            "an error message with no stack trace, internal path or host, or API key",
            problems.join("; "),
        )
    })
}

/// The request's own bearer token, looked up once per response.
enum Token {
    /// No token, or one too short to tell from ordinary text.
    None,
    /// One of the configured keys: found where its label is.
    Known(String),
    /// A value of the case's own, searched for as it is.
    Own(crate::redact::Secrets),
}

impl Token {
    fn of(ctx: &CheckContext<'_>) -> Self {
        // A token that short would match ordinary text; the configured keys are covered anyway.
        let Some(token) = ctx
            .request
            .and_then(|r| r.bearer())
            .filter(|t| t.len() >= 8)
        else {
            return Token::None;
        };
        match ctx.secrets.label_of(token) {
            Some(label) => Token::Known(label.to_string()),
            None => Token::Own(crate::redact::Secrets::literal("token", token)),
        }
    }
}

/// The keys and the request's bearer token in `text` (`where` it is), in any form.
fn keys(ctx: &CheckContext<'_>, token: &Token, place: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let found = ctx.secrets.found_in(text);
    if !found.is_empty() {
        problems.push(format!(
            "{place} contains the API key of {}",
            found.join(", ")
        ));
    }
    let echoed = match token {
        Token::None => false,
        Token::Known(label) => found.contains(label),
        Token::Own(own) => !own.found_in(text).is_empty(),
    };
    if echoed {
        problems.push(format!("{place} echoes the request's own bearer token"));
    }
    problems
}

/// Keys and the bearer token searched for in `raw`; traces, paths and hosts in `message`.
pub(super) fn scan(ctx: &CheckContext<'_>, raw: &str, message: &str) -> Option<Finding> {
    let mut problems = keys(ctx, &Token::of(ctx), "the body", raw);
    problems.extend(insides(ctx, message));
    finding(problems)
}

/// Stack traces, source locations, internal paths and hosts, and URLs with credentials in
/// `message`, unless the request itself sent them.
fn insides(ctx: &CheckContext<'_>, message: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let Patterns { any, each } = patterns();
    for index in any.matches(message).iter() {
        let (compiled, pattern, what) = &each[index];
        // The set compiled this very pattern, so it compiles alone too.
        let re = compiled.get_or_init(|| Regex::new(pattern).expect("leak pattern compiles"));
        // What the request itself sent (an unknown path, a model name) may be quoted back.
        let echoed = |m: &str| {
            ctx.request.is_some_and(|r| {
                // The path and query only: the target's own host is no excuse to name it.
                r.path_and_query().contains(m.trim_start_matches('/'))
                    || r.body
                        .as_ref()
                        .is_some_and(|b| String::from_utf8_lossy(b).contains(m))
            })
        };
        if let Some(m) = re.find_iter(message).find(|m| !echoed(m.as_str().trim())) {
            let excerpt: String = m.as_str().chars().take(80).collect();
            problems.push(format!(
                "the message carries {what}: {:?}",
                ctx.secrets.redact(excerpt.trim())
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::check::testing::{context, request};
    use crate::redact::Secrets;

    const KEY: &str = "sk_live_test_0123456789abcdef";

    fn secrets() -> Secrets {
        let mut s = Secrets::new();
        s.add("ERRCONTRACT_API_KEY", KEY);
        s
    }

    /// The finding's text for an error whose message is `message`.
    fn leak(message: &str) -> Option<String> {
        let secrets = secrets();
        let body = json!({"error": {"message": message}});
        check(
            &context(&secrets, None, None),
            &body.to_string(),
            Some(&body),
            &[],
        )
        .map(|f| {
            assert_eq!(f.check, CheckName::NoLeak);
            assert_eq!(
                f.expected,
                "an error message with no stack trace, internal path or host, or API key"
            );
            f.actual
        })
    }

    #[test]
    fn a_plain_message_passes() {
        assert_eq!(
            leak("Unsupported resolution '4K' for model 'seedream-5-lite'."),
            None
        );
        assert_eq!(
            leak("See https://docs.getimg.ai/guides/errors at 10:30."),
            None
        );
    }

    #[test]
    fn each_kind_of_leak_is_named_with_an_excerpt() {
        let cases = [
            (
                "Traceback (most recent call last): boom",
                "a stack trace: \"Traceback (most recent call last)\"",
            ),
            (
                "thread 'main' panicked at src/main.rs:3:5",
                "a stack trace: \"panicked at\"",
            ),
            (
                "failed in handlers/images.py:42",
                "a source file and line: \"handlers/images.py:42\"",
            ),
            (
                "cannot open /var/lib/app/models.db",
                "an internal file path: \"/var/lib/app/models.db\"",
            ),
            (
                "cannot open C:\\srv\\app\\models.db",
                "an internal file path: \"C:\\\\srv\\\\app\\\\models.db\"",
            ),
            (
                "upstream 10.0.3.7 refused",
                "an internal host: \"10.0.3.7\"",
            ),
            (
                "upstream gpu-3.svc.cluster.local refused",
                "an internal host: \"gpu-3.svc.cluster.local\"",
            ),
            (
                "via postgres://app:hunter22@db/images",
                "a URL with credentials: \"postgres://app:hunter22@db\"",
            ),
        ];
        for (message, what) in cases {
            let carries = format!("the message carries {what}");
            let actual = leak(message).unwrap_or_default();
            assert!(actual.starts_with(&carries), "{message}: {actual}");
        }
    }

    #[test]
    fn an_api_key_anywhere_in_the_body_is_named_by_its_label_and_redacted() {
        assert_eq!(
            leak(&format!("bad key {KEY}")).as_deref(),
            Some("the body contains the API key of ERRCONTRACT_API_KEY")
        );
        let found = leak(&format!("via https://u:{KEY}@api.internal/x")).unwrap_or_default();
        assert!(found.contains("[REDACTED:ERRCONTRACT_API_KEY]"), "{found}");
        assert!(!found.contains(KEY), "{found}");
    }

    /// A key a target sends back escaped (as PHP's `json_encode` does, or each character as
    /// `\uXXXX`) is the key to any JSON reader, so the case must fail.
    #[test]
    fn an_api_key_escaped_in_json_fails_no_leak() {
        let every_u: String = KEY
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        for raw in [
            format!(r#"{{"error":{{"message":"bad key {every_u}"}}}}"#),
            format!(
                r#"{{"error":{{"message":"bad key {}"}}}}"#,
                KEY.replace('_', "\\u005f")
            ),
        ] {
            let body: Value = serde_json::from_str(&raw).expect("valid JSON");
            let secrets = secrets();
            let found = check(&context(&secrets, None, None), &raw, Some(&body), &[]);
            assert_eq!(
                found.map(|f| f.actual).as_deref(),
                Some("the body contains the API key of ERRCONTRACT_API_KEY"),
                "{raw}"
            );
        }
    }

    #[test]
    fn an_api_key_echoed_only_in_a_response_header_fails_no_leak() {
        let secrets = secrets();
        let headers = [
            ("content-type".to_string(), "application/json".to_string()),
            ("x-debug-auth".to_string(), format!("Bearer {KEY}")),
        ];
        let raw = r#"{"error":{"message":"bad key"}}"#;
        let body: Value = serde_json::from_str(raw).expect("valid JSON");
        let found = check(&context(&secrets, None, None), raw, Some(&body), &headers);
        assert_eq!(
            found.map(|f| f.actual).as_deref(),
            Some("the header x-debug-auth contains the API key of ERRCONTRACT_API_KEY")
        );
    }

    #[test]
    fn the_requests_own_bearer_token_must_not_come_back() {
        let secrets = Secrets::new();
        let sent = request("https://api.example/v2/models", "tok_0123456789", None);
        let ctx = context(&secrets, Some(&sent), None);
        let raw = r#"{"error":{"message":"bad token tok_0123456789"}}"#;
        assert_eq!(
            scan(&ctx, raw, "").map(|f| f.actual).as_deref(),
            Some("the body echoes the request's own bearer token")
        );
        let short = request("https://api.example/v2/models", "tok_1", None);
        let ctx = context(&secrets, Some(&short), None);
        assert_eq!(scan(&ctx, "bad token tok_1", ""), None);
        let ctx = context(&secrets, Some(&sent), None);
        assert_eq!(
            scan(&ctx, r"bad token tok\u005f0123456789", "")
                .map(|f| f.actual)
                .as_deref(),
            Some("the body echoes the request's own bearer token")
        );
    }

    #[test]
    fn a_cases_own_token_is_found_encoded_and_in_every_header() {
        // The token is no configured key: it is searched for as a literal, in each of its forms.
        let secrets = Secrets::new();
        let token = "case-key-00004242";
        let sent = request("https://api.example/v2/models", token, None);
        let ctx = context(&secrets, Some(&sent), None);
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("user:{token}"));
        for (raw, what) in [
            (format!("basic {b64}"), "base64 inside a longer blob"),
            ("case%2Dkey%2D00004242".to_string(), "percent-encoded"),
            (token.bytes().map(|b| format!("{b:02X}")).collect(), "hex"),
        ] {
            assert_eq!(
                scan(&ctx, &raw, "").map(|f| f.actual).as_deref(),
                Some("the body echoes the request's own bearer token"),
                "{what}: {raw}"
            );
        }
        let headers = vec![
            ("x-request-id".to_string(), "abc".to_string()),
            ("x-debug".to_string(), format!("auth={token}")),
        ];
        let found = check(&ctx, "{}", Some(&json!({})), &headers).map(|f| f.actual);
        assert_eq!(
            found.as_deref(),
            Some("the header x-debug echoes the request's own bearer token")
        );
        assert_eq!(check(&ctx, "{}", Some(&json!({})), &headers[..1]), None);
    }

    #[test]
    fn what_the_request_sent_may_be_quoted_back_but_not_its_host() {
        let secrets = Secrets::new();
        let sent = request(
            "http://localhost:8080/v2/app/images.py:1",
            "tok_0123456789",
            Some(r#"{"model": "/home/me/model"}"#),
        );
        let ctx = context(&secrets, Some(&sent), None);
        assert_eq!(scan(&ctx, "", "No route /v2/app/images.py:1"), None);
        assert_eq!(scan(&ctx, "", "Unknown model /home/me/model"), None);
        assert_eq!(
            scan(&ctx, "", "Upstream localhost:8080 is down")
                .map(|f| f.actual)
                .as_deref(),
            Some("the message carries an internal host: \"localhost:8080\"")
        );
    }

    #[test]
    fn a_body_that_is_not_json_is_scanned_whole_and_a_json_body_by_its_message() {
        let secrets = Secrets::new();
        let ctx = context(&secrets, None, None);
        let html = "<pre>stack backtrace:\n   0: main</pre>";
        assert_eq!(
            check(&ctx, html, None, &[]).map(|f| f.actual).as_deref(),
            Some("the message carries a stack trace: \"stack backtrace:\"")
        );
        let body = json!({"error": {"code": "x"}, "debug": "/var/log/app.log"});
        assert_eq!(check(&ctx, &body.to_string(), Some(&body), &[]), None);
    }

    #[test]
    fn several_leaks_are_one_finding() {
        let found = leak("panicked at src/lib.rs:9:1").unwrap_or_default();
        assert_eq!(
            found,
            "the message carries a stack trace: \"panicked at\"; the message carries a source file and line: \"src/lib.rs:9\""
        );
    }
}
