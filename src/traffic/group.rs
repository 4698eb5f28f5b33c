//! Exchanges checked and grouped: each error (or video poll) goes through the case-free checks
//! and is counted in its group, one per endpoint of the contract (and `other`) and code. A
//! group is one trial; what it keeps is compact (counts, the failed checks, the first failing
//! exchange's evidence and a bounded list of the others), so memory stays flat however much
//! traffic passes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use bytes::Bytes;

use crate::check::{
    CheckContext, CheckName, CheckSet, Finding, Observed, check_observed, redacted_when_recorded,
};
use crate::contract::Contract;
use crate::probe::Incoming;
use crate::redact::Secrets;
use crate::request::Request;

use super::{Exchange, TRIAL_PREFIX, is_credential};

/// Failing exchanges a group lists by place; the rest are counted.
const LISTED: usize = 20;
/// Bytes of a body kept in the evidence.
const EXCERPT: usize = 4096;
/// Distinct keys learnt from the traffic at most (each makes the redaction's matcher anew).
const MAX_LEARNT: usize = 256;
/// The label a key found in the traffic is redacted as.
const TRAFFIC_KEY: &str = "a key in the traffic";

/// The row of a request that matches no endpoint of the contract.
pub const OTHER_ROW: &str = "other";

/// One failing exchange, redacted, as a report shows it.
#[derive(Debug, Clone)]
pub struct Shown {
    /// Where it is (`file: entry N`, `file:LINE`, `exchange N`).
    pub place: String,
    /// When it started, as recorded.
    pub time: Option<String>,
    /// The method.
    pub method: String,
    /// The URL, redacted.
    pub url: String,
    /// The request's headers, credentials masked.
    pub request_headers: Vec<(String, String)>,
    /// The request's body excerpt, redacted.
    pub request_body: Option<String>,
    /// The request body's whole length.
    pub request_bytes: usize,
    /// The status.
    pub status: u16,
    /// The response's headers, credentials masked.
    pub response_headers: Vec<(String, String)>,
    /// The response's body excerpt, redacted (empty when not recorded).
    pub response_body: String,
    /// The response body's whole length.
    pub response_bytes: usize,
}

/// One trial: the exchanges of one endpoint and code.
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// `traffic::<endpoint>::<code>`.
    pub trial: String,
    /// Exchanges checked.
    pub exchanges: usize,
    /// Of those, the ones that broke the contract.
    pub failing: usize,
    /// Exchanges whose body was not recorded (their body checks skipped).
    pub body_not_recorded: usize,
    /// Every check that failed, in any exchange.
    pub failed: BTreeSet<CheckName>,
    /// The first failing exchange's findings, then the first finding of each other check.
    pub findings: Vec<Finding>,
    /// The checks that ran.
    pub applied: CheckSet,
    /// Notes (extra fields), each once.
    pub notes: BTreeSet<String>,
    /// One line per failing exchange (at most [`LISTED`]), with its findings.
    pub listed: Vec<String>,
    /// The first failing exchange.
    pub first: Option<Shown>,
}

impl Group {
    /// The failure text of a group that broke the contract, redacted.
    pub fn message(&self) -> String {
        let mut out = format!(
            "{}: {} of {} exchange{} broke the contract:\n",
            self.trial,
            self.failing,
            self.exchanges,
            if self.exchanges == 1 { "" } else { "s" }
        );
        for line in &self.listed {
            out.push_str(line);
        }
        if self.failing > self.listed.len() {
            out.push_str(&format!(
                "  … and {} more failing exchange(s) not listed\n",
                self.failing - self.listed.len()
            ));
        }
        out
    }
}

/// What one exchange came to, for the proxy's live line and the coverage matrix.
#[derive(Debug, Clone)]
pub struct Break {
    /// The trial it was counted in.
    pub trial: String,
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The table's code it carried, if any.
    pub code: Option<String>,
    /// The line to show when it broke the contract (`None`: it held).
    pub line: Option<String>,
}

/// The exchanges checked so far, grouped.
pub struct Checker<'c> {
    contract: &'c Contract,
    /// The configured keys, and every bearer token the traffic carried.
    secrets: Secrets,
    groups: BTreeMap<String, Group>,
    /// Keys learnt from the traffic.
    learnt: usize,
    /// Exchanges read.
    pub exchanges: usize,
    /// Of those, checked (errors and video polls).
    pub checked: usize,
    /// Checked exchanges whose body was not recorded.
    pub body_not_recorded: usize,
    /// Checked exchanges whose request carried no `Authorization` (a sanitized capture): the
    /// echo of the request's own key could not be checked.
    pub key_not_recorded: usize,
    /// What is the API's traffic.
    pub scope: Scope,
    /// Exchanges left out: another host, or outside the API's paths.
    pub out_of_scope: usize,
}

/// Which exchanges of a capture are the API's: a browser's HAR holds every host it talked to.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The API's hosts (`--host`): every exchange with them, whatever its path. Empty: an
    /// exchange is the API's when its path is below `/v2/`, the API's own, on any host.
    pub hosts: Vec<String>,
}

impl Scope {
    /// Whether `ex` is the API's. An exchange with no host (the proxy's, a recording's path)
    /// is the upstream's, so the API's.
    pub fn holds(&self, ex: &Exchange) -> bool {
        match ex.host() {
            None => true,
            Some(host) if !self.hosts.is_empty() => {
                self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
            }
            Some(_) => {
                let path = ex.path();
                path == "/v2" || path.starts_with("/v2/")
            }
        }
    }
}

impl<'c> Checker<'c> {
    /// A checker of `contract`, redacting `secrets` (the configured keys).
    pub fn new(contract: &'c Contract, secrets: Secrets) -> Self {
        Checker {
            contract,
            secrets,
            groups: BTreeMap::new(),
            learnt: 0,
            exchanges: 0,
            checked: 0,
            body_not_recorded: 0,
            key_not_recorded: 0,
            scope: Scope::default(),
            out_of_scope: 0,
        }
    }

    /// The secrets known so far: the configured keys and the traffic's own.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Take a key from the traffic (`Authorization` and the API-key fields) as a secret, so
    /// nothing written shows it; whether the request carried one. Cookies are masked where
    /// they are shown, never learnt: a browser capture holds thousands.
    pub fn learn_key(&mut self, headers: &[(String, String)]) -> bool {
        let mut any = false;
        for (name, value) in headers.iter().filter(|(n, _)| is_credential(n)) {
            any = true;
            let key = ["authorization", "x-api-key", "api-key"]
                .iter()
                .any(|k| name.eq_ignore_ascii_case(k));
            if key && self.learnt < MAX_LEARNT {
                let token = value
                    .split_once(' ')
                    .map_or(value.as_str(), |(_, t)| t)
                    .trim();
                if self.secrets.label_of(token).is_none() {
                    self.secrets.add(TRAFFIC_KEY, token);
                    self.learnt += 1;
                }
            }
        }
        any
    }

    /// Check one exchange, if it is an error or a video poll, and count it in its group.
    /// Dates in it (`Retry-After`, `X-RateLimit-Reset`) are read against when it was answered
    /// (its `Date`, else when it started), `now` when neither was recorded.
    pub fn observe(&mut self, ex: &Exchange, now: SystemTime) -> Option<Break> {
        let now = answered_at(ex).unwrap_or(now);
        self.exchanges += 1;
        // Every exchange's key is learnt, checked or not: a recording redacts it too.
        let mut has_key = self.learn_key(&ex.request_headers);
        for key in ex.query_keys() {
            has_key = true;
            if self.learnt < MAX_LEARNT && self.secrets.label_of(&key).is_none() {
                self.secrets.add(TRAFFIC_KEY, &key);
                self.learnt += 1;
            }
        }
        if !self.scope.holds(ex) {
            self.out_of_scope += 1;
            return None;
        }
        let path = ex.path();
        let endpoint = self
            .contract
            .endpoints
            .iter()
            .find(|e| e.matches(&ex.method, path));
        let what = if ex.status >= 400 {
            Observed::Error
        } else if endpoint.is_some_and(|e| e.poll)
            && ex.method.eq_ignore_ascii_case("GET")
            && (200..300).contains(&ex.status)
        {
            Observed::Poll
        } else {
            return None;
        };
        self.checked += 1;
        if !has_key {
            self.key_not_recorded += 1;
        }
        // A HEAD, a 204 and a 304 have no body by HTTP's rules: nothing to check in one.
        let bodiless = ex.method.eq_ignore_ascii_case("HEAD") || matches!(ex.status, 204 | 304);
        let recorded = ex.response_body.is_some() && !bodiless;
        if !recorded {
            self.body_not_recorded += 1;
        }
        let request = Request {
            method: static_method(&ex.method),
            url: ex.url.clone(),
            headers: ex.request_headers.clone(),
            body: ex.request_body.clone(),
            curl: String::new(),
        };
        let resp = Incoming {
            status: ex.status,
            reason: String::new(),
            version: "HTTP/1.1".into(),
            headers: ex.response_headers.clone(),
            body: ex.response_body.clone().unwrap_or_default(),
            decoded_from: None,
        };
        let ctx = CheckContext {
            contract: self.contract,
            expect: None,
            secrets: &self.secrets,
            request: Some(&request),
            now,
        };
        let mut verdict = check_observed(&ctx, &resp, what, recorded);
        redacted_when_recorded(&mut verdict, &ex.keys_redacted);
        let row = endpoint.map_or_else(|| OTHER_ROW.to_string(), |e| e.label());
        // Only the table's codes name a group: a name never carries what a target made up.
        let code = verdict
            .code
            .as_deref()
            .filter(|c| self.contract.table.get(c).is_some());
        let code_part = match (code, what, &verdict.code) {
            (Some(c), _, _) => c,
            (None, _, Some(_)) => "unknown_code",
            (None, Observed::Error, None) => "no_code",
            (None, Observed::Poll, None) => "no_error",
        };
        let trial = format!("{TRIAL_PREFIX}{row}::{code_part}");
        let group = self.groups.entry(trial.clone()).or_insert_with(|| Group {
            trial: trial.clone(),
            ..Group::default()
        });
        group.exchanges += 1;
        group.applied = group.applied.union(verdict.applied);
        if !recorded {
            group.body_not_recorded += 1;
        }
        for note in &verdict.notes {
            if group.notes.len() < LISTED {
                group.notes.insert(note.clone());
            }
        }
        let mut line = None;
        if !verdict.passed() {
            group.failing += 1;
            let head = format!(
                "{} {}{} {} → {}",
                ex.place,
                ex.time
                    .as_deref()
                    .map_or(String::new(), |t| format!("({t}) ")),
                ex.method,
                self.secrets.redact(path),
                ex.status
            );
            let mut text = format!("  {head}\n");
            for f in &verdict.findings {
                text.push_str(&format!(
                    "    {}: expected {}, got {}\n",
                    f.check,
                    f.expected,
                    self.secrets.redact(&f.actual)
                ));
                for d in &f.detail {
                    text.push_str(&format!("      {}\n", self.secrets.redact(d)));
                }
            }
            let failed_now: BTreeSet<CheckName> =
                verdict.findings.iter().map(|f| f.check).collect();
            if group.first.is_none() {
                group.first = Some(shown(ex, &self.secrets));
                group.findings = verdict.findings.clone();
            } else {
                for f in &verdict.findings {
                    if !group.failed.contains(&f.check) {
                        group.findings.push(f.clone());
                    }
                }
            }
            group.failed.extend(failed_now);
            if group.listed.len() < LISTED {
                group.listed.push(text.clone());
            }
            line = Some(format!("{trial}: {}", text.trim_start().trim_end()));
        }
        Some(Break {
            trial,
            method: ex.method.clone(),
            path: path.to_string(),
            code: code.map(String::from),
            line,
        })
    }

    /// The groups, by trial name.
    pub fn into_groups(self) -> (Vec<Group>, Secrets) {
        (self.groups.into_values().collect(), self.secrets)
    }
}

/// When the exchange was answered, as recorded: its `Date`, else when it started.
fn answered_at(ex: &Exchange) -> Option<SystemTime> {
    let date = ex
        .response_headers
        .iter()
        .find(|(n, _)| n == "date")
        .and_then(|(_, v)| httpdate::parse_http_date(v).ok());
    date.or_else(|| {
        let t = time::OffsetDateTime::parse(
            ex.time.as_deref()?,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()?;
        Some(SystemTime::from(t))
    })
}

/// The method as the request type holds it.
fn static_method(method: &str) -> &'static str {
    const METHODS: [&str; 9] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT",
    ];
    METHODS
        .iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .copied()
        .unwrap_or("OTHER")
}

/// Headers with credentials masked and every value redacted.
pub(super) fn masked(headers: &[(String, String)], secrets: &Secrets) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            let v = if is_credential(n) {
                "[REDACTED]".to_string()
            } else {
                secrets.redact(v)
            };
            (n.clone(), v)
        })
        .collect()
}

/// A body's first bytes, redacted before the cut.
fn excerpt(body: &Bytes, secrets: &Secrets) -> String {
    secrets.excerpt(body, EXCERPT)
}

fn shown(ex: &Exchange, secrets: &Secrets) -> Shown {
    Shown {
        place: ex.place.to_string(),
        time: ex.time.clone(),
        method: ex.method.clone(),
        url: secrets.redact(&ex.url),
        request_headers: masked(&ex.request_headers, secrets),
        request_body: ex.request_body.as_ref().map(|b| excerpt(b, secrets)),
        request_bytes: ex.request_body.as_ref().map_or(0, Bytes::len),
        status: ex.status,
        response_headers: masked(&ex.response_headers, secrets),
        response_body: ex
            .response_body
            .as_ref()
            .map_or_else(String::new, |b| excerpt(b, secrets)),
        response_bytes: ex.response_body.as_ref().map_or(0, Bytes::len),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::contract::default_schemas_dir;
    use crate::traffic::Place;

    fn contract() -> Contract {
        Contract::load(&default_schemas_dir()).expect("schemas load")
    }

    fn exchange(status: u16, body: Option<&str>, key: Option<&str>) -> Exchange {
        let mut request_headers =
            vec![("content-type".to_string(), "application/json".to_string())];
        if let Some(k) = key {
            request_headers.push(("authorization".into(), format!("Bearer {k}")));
        }
        Exchange {
            place: Place::Entry {
                file: Arc::from("t.har"),
                index: 3,
            },
            time: Some("2026-12-01T10:00:00Z".into()),
            method: "POST".into(),
            url: "https://api.example/v2/images/generations".into(),
            request_headers,
            request_body: Some(Bytes::from_static(b"{\"prompt\":\"x\"}")),
            status,
            response_headers: vec![("content-type".into(), "application/json".into())],
            response_body: body.map(|b| Bytes::copy_from_slice(b.as_bytes())),
            keys_redacted: Vec::new(),
        }
    }

    fn body(code: &str, message: &str) -> String {
        serde_json::json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code, "doc_url": "https://docs.getimg.ai/guides/errors"}}).to_string()
    }

    #[test]
    fn errors_are_grouped_by_endpoint_and_code_and_a_break_is_located() {
        let c = contract();
        let (code, row) = c
            .table
            .codes()
            .map(|code| (code, c.table.get(code).unwrap()))
            .find(|(_, r)| r.status == 400)
            .unwrap();
        let mut checker = Checker::new(&c, Secrets::new());
        let now = SystemTime::now();
        let good = exchange(
            row.status,
            Some(&body(code, "Bad value.")),
            Some("sk_live_abcdef123456"),
        );
        assert!(checker.observe(&good, now).unwrap().line.is_none());
        let mut bad = exchange(500, Some(&body(code, "Bad value.")), None);
        bad.place = Place::Line {
            file: Arc::from("r.ndjson"),
            line: 7,
        };
        let seen = checker.observe(&bad, now).unwrap();
        let line = seen.line.expect("a break");
        assert!(
            line.starts_with("traffic::POST /v2/images/generations::"),
            "{line}"
        );
        assert!(
            line.contains(": r.ndjson:7 (2026-12-01T10:00:00Z) POST /v2/images/generations → 500"),
            "{line}"
        );
        assert!(line.contains("table"), "{line}");
        let ok = exchange(200, Some("{}"), None);
        assert!(
            checker.observe(&ok, now).is_none(),
            "a success is not checked"
        );
        assert_eq!(
            (checker.exchanges, checker.checked, checker.key_not_recorded),
            (3, 2, 1)
        );
        let (groups, _) = checker.into_groups();
        assert_eq!(groups.len(), 1);
        assert_eq!(
            groups[0].trial,
            format!("traffic::POST /v2/images/generations::{code}")
        );
        assert_eq!((groups[0].exchanges, groups[0].failing), (2, 1));
        assert!(groups[0].failed.contains(&CheckName::Table));
    }

    #[test]
    fn a_key_in_the_traffic_is_never_shown() {
        let c = contract();
        let mut checker = Checker::new(&c, Secrets::new());
        let key = "sk_live_0123456789abcdefXYZ";
        let ex = exchange(
            401,
            Some(&format!("{{\"error\":\"bad key {key}\"}}")),
            Some(key),
        );
        let seen = checker.observe(&ex, SystemTime::now()).unwrap();
        let line = seen.line.expect("a break");
        assert!(!line.contains(key), "{line}");
        assert!(line.contains("no_leak"), "{line}");
        let (groups, _) = checker.into_groups();
        let first = groups[0].first.as_ref().unwrap();
        let all = format!("{first:?}{}", groups[0].message());
        assert!(!all.contains(key), "{all}");
        assert_eq!(
            groups[0].trial,
            "traffic::POST /v2/images/generations::no_code"
        );
    }

    #[test]
    fn a_body_not_recorded_is_counted_not_failed() {
        let c = contract();
        let mut checker = Checker::new(&c, Secrets::new());
        let seen = checker
            .observe(&exchange(500, None, None), SystemTime::now())
            .unwrap();
        assert!(seen.line.is_none());
        assert_eq!(checker.body_not_recorded, 1);
    }
}
