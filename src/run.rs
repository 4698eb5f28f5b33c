//! Running one case against a target: preconditions, steps, captures, polling, the client-side
//! rate limit, waiting out unexpected 429s, deadlines, and the case's outcome.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::case::{Auth, Case, Expect, Feature, RequestSpec, Requirement, Role, Step};
use crate::check::{self, CheckContext, CheckName, Finding, Verdict};
use crate::contract::Contract;
use crate::probe::{Exchange, Outgoing, Probe, TransportError};
use crate::redact::Secrets;
use crate::settings::Settings;

/// The bearer token sent for role `malformed`: not an `sk_` key.
pub const MALFORMED_TOKEN: &str = "malformed-errcontract-token";

/// The target under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// Whether this is the built-in reference server (all roles and features; nothing billable).
    pub reference: bool,
    /// Keys by role.
    pub keys: BTreeMap<Role, String>,
    /// Features the target offers.
    pub features: BTreeSet<Feature>,
    /// Every key, for redaction and leak detection.
    pub secrets: Secrets,
}

impl Target {
    /// A target with these keys; the secrets are derived from them.
    pub fn new(
        base_url: &str,
        reference: bool,
        keys: BTreeMap<Role, String>,
        features: BTreeSet<Feature>,
    ) -> Self {
        let mut secrets = Secrets::new();
        for (role, key) in &keys {
            secrets.add(role.env_var().unwrap_or("ERRCONTRACT_API_KEY"), key);
        }
        Target {
            base_url: base_url.trim_end_matches('/').to_string(),
            reference,
            keys,
            features,
            secrets,
        }
    }
}

/// What a case came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// A check failed, at this step.
    Failed {
        /// Index of the failing step.
        step: usize,
    },
    /// The target cannot serve the case (a key, a feature, billing), with why.
    Ignored(String),
    /// No verdict could be reached (throttled past the budget, run deadline), with why.
    Inconclusive(String),
}

/// One step as it ran.
#[derive(Debug, Clone)]
pub struct StepRecord {
    /// Pointer of the step in the case file (`` or `/steps/N`).
    pub base: String,
    /// The last exchange of the step (the terminal one, for a poll).
    pub exchange: Option<Exchange>,
    /// Requests the step sent (polls and throttled resends included).
    pub requests: usize,
    /// What the checks found on the last exchange.
    pub verdict: Verdict,
    /// Path template of the request, for coverage.
    pub endpoint: String,
}

/// Everything known about one case's run.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// `area/name`.
    pub name: String,
    /// The outcome.
    pub outcome: Outcome,
    /// Steps that ran, in order.
    pub steps: Vec<StepRecord>,
    /// Notes (extra fields, waits for Retry-After).
    pub notes: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

impl CaseResult {
    /// The findings of the failing step.
    pub fn findings(&self) -> &[Finding] {
        match self.outcome {
            Outcome::Failed { step } => self
                .steps
                .get(step)
                .map(|s| s.verdict.findings.as_slice())
                .unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// Runs cases; one per process, shared by every trial.
pub struct Runner {
    probe: Probe,
    contract: Arc<Contract>,
    target: Target,
    settings: Settings,
    limiter: Option<DefaultDirectRateLimiter>,
    inflight: Semaphore,
    started: Instant,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("target", &self.target.base_url)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner over one client.
    pub fn new(probe: Probe, contract: Arc<Contract>, target: Target, settings: Settings) -> Self {
        let limiter = rate_quota(settings.rps).map(RateLimiter::direct);
        Runner {
            inflight: Semaphore::new(settings.concurrency.max(1)),
            probe,
            contract,
            target,
            settings,
            limiter,
            started: Instant::now(),
        }
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The contract.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// Why the target cannot serve this case, if it cannot.
    pub fn precondition(&self, case: &Case) -> Option<String> {
        for req in case.requirements() {
            match req {
                Requirement::Role(role) => {
                    if let Some(var) = role.env_var()
                        && !self.target.keys.contains_key(&role)
                    {
                        return Some(format!("needs a {} key: set {var}", role.as_str()));
                    }
                }
                Requirement::Feature(f) => {
                    if !self.target.features.contains(&f) {
                        return Some(format!(
                            "needs the target feature {}: add it to ERRCONTRACT_FEATURES if the target has it",
                            f.as_str()
                        ));
                    }
                }
            }
        }
        if case.spec.billable_if_accepted && !self.target.reference && !self.settings.allow_billable
        {
            return Some("billable if the target wrongly accepts it: set ERRCONTRACT_ALLOW_BILLABLE=1 to send it".into());
        }
        None
    }

    /// Run one case to its outcome.
    pub async fn run_case(&self, case: &Case) -> CaseResult {
        let started = Instant::now();
        let mut result = CaseResult {
            name: case.name.clone(),
            outcome: Outcome::Passed,
            steps: Vec::new(),
            notes: Vec::new(),
            elapsed: Duration::ZERO,
        };
        if let Some(why) = self.precondition(case) {
            result.outcome = Outcome::Ignored(why);
            return result;
        }
        if self.started.elapsed() > self.settings.run_deadline {
            result.outcome = Outcome::Inconclusive(format!(
                "inconclusive: the run deadline ({:?}, ERRCONTRACT_RUN_DEADLINE_S) passed before this case started",
                self.settings.run_deadline
            ));
            return result;
        }
        let deadline = self.settings.case_deadline;
        if tokio::time::timeout(deadline, self.run_steps(case, &mut result))
            .await
            .is_err()
        {
            let finding = Finding {
                check: CheckName::Transport,
                expected_at: None,
                expected: format!(
                    "the case done within {deadline:?} (ERRCONTRACT_CASE_DEADLINE_S)"
                ),
                actual: "the case deadline passed".into(),
                detail: Vec::new(),
            };
            let step = result.steps.len();
            result.steps.push(StepRecord {
                base: case
                    .steps
                    .get(step)
                    .map(|(b, _)| b.clone())
                    .unwrap_or_default(),
                exchange: None,
                requests: 0,
                verdict: Verdict {
                    findings: vec![finding],
                    ..Verdict::default()
                },
                endpoint: String::new(),
            });
            result.outcome = Outcome::Failed { step };
        }
        result.elapsed = started.elapsed();
        result
    }

    async fn run_steps(&self, case: &Case, result: &mut CaseResult) {
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        for (index, (base, step)) in case.steps.iter().enumerate() {
            let outgoing = self.build(&step.request, &vars);
            let mut record = StepRecord {
                base: base.clone(),
                exchange: None,
                requests: 0,
                verdict: Verdict::default(),
                endpoint: step.request.path.clone(),
            };
            let expect_at = format!("{base}/expect");
            let flow = match &step.poll {
                None => {
                    self.send_checked(outgoing, &step.expect, &expect_at, &mut record, result)
                        .await
                }
                Some(_) => {
                    self.poll(step, outgoing, &expect_at, &mut record, result)
                        .await
                }
            };
            match flow {
                Flow::Inconclusive(why) => {
                    result.steps.push(record);
                    result.outcome = Outcome::Inconclusive(why);
                    return;
                }
                Flow::Done => {}
            }
            if record.verdict.passed() {
                capture(step, base, &mut record, &mut vars);
            }
            result.notes.extend(record.verdict.notes.iter().cloned());
            let failed = !record.verdict.passed();
            result.steps.push(record);
            if failed {
                result.outcome = Outcome::Failed { step: index };
                return;
            }
        }
    }

    /// Send once (waiting out unexpected 429s) and check against `expect`.
    async fn send_checked(
        &self,
        outgoing: Outgoing,
        expect: &Expect,
        expect_at: &str,
        record: &mut StepRecord,
        result: &mut CaseResult,
    ) -> Flow {
        let exchange = match self
            .send_patiently(outgoing, expect.status, record, result)
            .await
        {
            Ok(x) => x,
            Err(flow) => return flow,
        };
        record.verdict = self.check(&exchange, Some((expect, expect_at)));
        record.exchange = Some(exchange);
        Flow::Done
    }

    async fn poll(
        &self,
        step: &Step,
        outgoing: Outgoing,
        expect_at: &str,
        record: &mut StepRecord,
        result: &mut CaseResult,
    ) -> Flow {
        let Some(poll) = &step.poll else {
            return Flow::Done;
        };
        let started = Instant::now();
        let timeout = Duration::from_millis(poll.timeout_ms);
        loop {
            let exchange = match self
                .send_patiently(outgoing.clone(), step.expect.status, record, result)
                .await
            {
                Ok(x) => x,
                Err(flow) => return flow,
            };
            let intermediate = self.check(&exchange, None);
            let state = intermediate
                .body
                .as_ref()
                .and_then(|b| b.pointer(&poll.field))
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            let terminal = state.as_ref().is_some_and(|s| poll.terminal.contains(s));
            let ok_response = exchange
                .response
                .as_ref()
                .is_ok_and(|r| (200..300).contains(&r.status));
            if terminal || !ok_response || !intermediate.passed() {
                record.verdict = self.check(&exchange, Some((&step.expect, expect_at)));
                record.exchange = Some(exchange);
                return Flow::Done;
            }
            let last_state = state.unwrap_or_else(|| format!("(no {})", poll.field));
            if started.elapsed() + Duration::from_millis(poll.interval_ms) > timeout {
                let mut verdict = intermediate;
                verdict.findings.push(Finding {
                    check: CheckName::Poll,
                    expected_at: Some(format!("{}/poll/terminal", record.base)),
                    expected: format!(
                        "{} reaching one of {:?} within {} ms",
                        poll.field, poll.terminal, poll.timeout_ms
                    ),
                    actual: format!(
                        "still {last_state:?} after {} polls in {} ms",
                        record.requests,
                        started.elapsed().as_millis()
                    ),
                    detail: Vec::new(),
                });
                record.verdict = verdict;
                record.exchange = Some(exchange);
                return Flow::Done;
            }
            tokio::time::sleep(Duration::from_millis(poll.interval_ms)).await;
        }
    }

    /// Send one request under the rate limit; when the target answers 429 to a step that does
    /// not expect it, wait its Retry-After and send again, within the throttle budget. A 429
    /// that itself breaks the contract is returned for checking, never waited out.
    async fn send_patiently(
        &self,
        outgoing: Outgoing,
        expected_status: u16,
        record: &mut StepRecord,
        result: &mut CaseResult,
    ) -> Result<Exchange, Flow> {
        let budget = self.settings.throttle_budget;
        let mut waited = Duration::ZERO;
        loop {
            let exchange = self.send(outgoing.clone()).await;
            record.requests += 1;
            let throttled =
                matches!(&exchange.response, Ok(r) if r.status == 429) && expected_status != 429;
            if !throttled {
                return Ok(exchange);
            }
            let verdict = self.check(&exchange, None);
            let retry_after = exchange
                .response
                .as_ref()
                .ok()
                .and_then(|r| r.header("retry-after"))
                .and_then(|h| check::parse_retry_after(h, SystemTime::now()).ok());
            let (true, Some(secs)) = (verdict.passed(), retry_after) else {
                return Ok(exchange);
            };
            let wait = Duration::from_secs(secs).max(Duration::from_millis(250));
            if waited + wait > budget {
                return Err(Flow::Inconclusive(format!(
                    "inconclusive: throttled: the target kept answering 429 rate_limit; waited {waited:?} of the {budget:?} budget (ERRCONTRACT_THROTTLE_BUDGET_S), next Retry-After {secs} s"
                )));
            }
            result.notes.push(format!(
                "throttled: waited {secs} s (Retry-After) and sent again"
            ));
            tokio::time::sleep(wait).await;
            waited += wait;
        }
    }

    async fn send(&self, outgoing: Outgoing) -> Exchange {
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        // The semaphore is never closed, so acquire only fails if it were; then send unbounded.
        let _permit = self.inflight.acquire().await.ok();
        self.probe.send(outgoing).await
    }

    fn check(&self, exchange: &Exchange, expect: Option<(&Expect, &str)>) -> Verdict {
        let ctx = CheckContext {
            contract: &self.contract,
            expect,
            secrets: &self.target.secrets,
            request: Some(&exchange.request),
            now: SystemTime::now(),
        };
        match &exchange.response {
            Ok(resp) => check::check_response(&ctx, resp),
            Err(e) => Verdict {
                findings: vec![transport_finding(e, expect)],
                ..Verdict::default()
            },
        }
    }

    /// Resolve a request spec into what goes on the wire.
    pub fn build(&self, spec: &RequestSpec, vars: &BTreeMap<String, String>) -> Outgoing {
        let mut path = spec.path.clone();
        for (name, value) in vars {
            let encoded = percent_encoding::utf8_percent_encode(value, SEGMENT).to_string();
            path = path.replace(&format!("{{{name}}}"), &encoded);
        }
        let mut url = format!("{}{}", self.target.base_url, path);
        if !spec.query.is_empty() {
            let q: Vec<String> = spec
                .query
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        percent_encoding::utf8_percent_encode(k, QUERY),
                        percent_encoding::utf8_percent_encode(v, QUERY)
                    )
                })
                .collect();
            url = format!("{url}?{}", q.join("&"));
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        let authorization = match &spec.auth {
            Auth::Role(Role::None) => None,
            Auth::Role(Role::Malformed) => Some(format!("Bearer {MALFORMED_TOKEN}")),
            Auth::Role(role) => self.target.keys.get(role).map(|k| format!("Bearer {k}")),
            Auth::Explicit { authorization } => Some(authorization.clone()),
        };
        if let Some(a) = authorization {
            headers.push(("Authorization".into(), a));
        }
        let has_content_type = spec
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"));
        let body = if let Some(json) = &spec.json {
            if !has_content_type {
                headers.push(("Content-Type".into(), "application/json".into()));
            }
            // A Value always serializes.
            Some(Bytes::from(serde_json::to_vec(json).unwrap_or_default()))
        } else if let Some(raw) = &spec.body {
            Some(Bytes::from(raw.clone()))
        } else if let Some(size) = spec.body_size {
            if !has_content_type {
                headers.push(("Content-Type".into(), "application/json".into()));
            }
            Some(sized_body(size))
        } else {
            None
        };
        for (k, v) in &spec.headers {
            headers.push((k.clone(), v.clone()));
        }
        Outgoing {
            method: spec.method.as_str().to_string(),
            url,
            headers,
            body,
        }
    }
}

enum Flow {
    Done,
    Inconclusive(String),
}

const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const QUERY: &percent_encoding::AsciiSet = SEGMENT;

fn rate_quota(rps: f64) -> Option<Quota> {
    if rps <= 0.0 {
        return None;
    }
    let period = Duration::from_secs_f64(1.0 / rps);
    Quota::with_period(period).map(|q| q.allow_burst(NonZeroU32::MIN))
}

/// A JSON object of exactly `size` bytes (at least 14): `{"padding":"aaa…"}`.
pub fn sized_body(size: usize) -> Bytes {
    let filler = size.saturating_sub(14);
    let mut body = Vec::with_capacity(size.max(14));
    body.extend_from_slice(b"{\"padding\":\"");
    body.resize(12 + filler, b'a');
    body.extend_from_slice(b"\"}");
    Bytes::from(body)
}

fn transport_finding(e: &TransportError, expect: Option<(&Expect, &str)>) -> Finding {
    Finding {
        check: CheckName::Transport,
        expected_at: expect.map(|(_, at)| format!("{at}/status")),
        expected: match expect {
            Some((e, _)) => format!("a complete HTTP response (status {})", e.status),
            None => "a complete HTTP response".into(),
        },
        actual: format!("{} ({})", e, e.kind()),
        detail: Vec::new(),
    }
}

fn capture(step: &Step, base: &str, record: &mut StepRecord, vars: &mut BTreeMap<String, String>) {
    for (name, pointer) in &step.capture {
        let value = record
            .verdict
            .body
            .as_ref()
            .and_then(|b| b.pointer(pointer))
            .and_then(|v| match v {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
        match value {
            Some(v) => {
                vars.insert(name.clone(), v);
            }
            None => record.verdict.findings.push(Finding {
                check: CheckName::Capture,
                expected_at: Some(format!("{base}/capture/{}", crate::locate::escape(name))),
                expected: format!(
                    "a non-empty string or number at {pointer} to capture as {{{name}}}"
                ),
                actual: match record
                    .verdict
                    .body
                    .as_ref()
                    .and_then(|b| b.pointer(pointer))
                {
                    Some(v) => v.to_string(),
                    None => "(missing)".into(),
                },
                detail: Vec::new(),
            }),
        }
    }
}
