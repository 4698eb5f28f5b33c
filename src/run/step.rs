//! One step of a case: build its request, send it within the budget (waiting out a throttling
//! answer the step did not expect, within the throttle budget), poll until a terminal state
//! when asked, check the answer, and capture values for later steps.

use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::case::{Auth, Expect, Poll, Step};
use crate::check::{self, CheckContext, CheckName, Checked, Finding};
use crate::probe::{Exchange, TransportError};
use crate::request::{self, Request, Vars};

use super::{AskedToWait, Clock, Inconclusive, Runner, StepRecord, StillProcessing};

/// A step as it ran.
pub(super) struct Ran {
    pub record: StepRecord,
    /// Notes for the case (waits, extra fields).
    pub notes: Vec<String>,
    pub end: End,
}

/// How a step ended.
pub(super) enum End {
    /// It was checked; these values were captured for later steps.
    Checked(Vars),
    /// No verdict could be reached.
    Inconclusive(Inconclusive),
}

/// Answers to one request, once throttling answers were waited out.
struct Sent {
    exchange: Exchange,
    requests: usize,
    notes: Vec<String>,
}

/// Each wait between polls is this much longer than the last, up to [`POLL_INTERVAL_CAP`] (or
/// the case's own interval, when longer): a job of minutes is not asked about ten times a second.
const POLL_BACKOFF: f64 = 1.5;

/// The longest wait between polls, unless the case's interval or a `Retry-After` is longer.
const POLL_INTERVAL_CAP: Duration = Duration::from_secs(10);

impl Runner {
    pub(super) async fn step(
        &self,
        base: &str,
        step: &Step,
        vars: &Vars,
        clock: &Clock,
        billable: bool,
    ) -> Ran {
        let request = request::build(&step.request, vars, &self.target);
        let expect_at = format!("{base}/expect");
        let mut record = StepRecord {
            base: base.to_string(),
            method: request.method,
            endpoint: step.request.path.clone(),
            status: None,
            code: None,
            expected: step.expect.code.clone(),
            requests: 0,
            applied: check::CheckSet::default(),
            findings: Vec::new(),
            exchange: None,
        };
        let checked = match &step.poll {
            None => self
                .send_patiently(request, step, clock, billable)
                .await
                .map(|sent| {
                    let verdict = self.check(&sent.exchange, Some((&step.expect, &expect_at)));
                    (sent, verdict)
                }),
            Some(poll) => {
                self.poll(request, step, poll, &expect_at, clock, billable)
                    .await
            }
        };
        let (sent, mut verdict) = match checked {
            Ok(x) => x,
            Err((why, requests, notes)) => {
                record.requests = requests;
                return Ran {
                    record,
                    notes,
                    end: End::Inconclusive(why),
                };
            }
        };
        let captured = if verdict.passed() {
            let (vars, missing) = capture(step, base, verdict.body.as_ref());
            verdict.findings.extend(missing);
            vars
        } else {
            Vars::new()
        };
        let mut notes = sent.notes;
        notes.extend(verdict.notes);
        record.requests = sent.requests;
        record.status = sent.exchange.response.as_ref().ok().map(|r| r.status);
        record.code = verdict.code.clone().or_else(|| {
            verdict
                .body
                .as_ref()
                .and_then(|b| b.pointer("/error/code"))
                .and_then(Value::as_str)
                .map(String::from)
        });
        record.applied = verdict.applied;
        record
            .applied
            .insert_if(CheckName::Capture, !step.capture.is_empty());
        record
            .applied
            .insert_if(CheckName::Poll, step.poll.is_some());
        record.findings = verdict.findings;
        // The exchange is evidence for a failure; a passing one is dropped here.
        if !record.findings.is_empty() {
            record.exchange = Some(Box::new(sent.exchange));
        }
        Ran {
            record,
            notes,
            end: End::Checked(captured),
        }
    }

    async fn poll(
        &self,
        request: Request,
        step: &Step,
        poll: &Poll,
        expect_at: &str,
        clock: &Clock,
        billable: bool,
    ) -> Result<(Sent, Checked), (Inconclusive, usize, Vec<String>)> {
        let started = Instant::now();
        let budget = Duration::from_millis(poll.timeout_ms).max(self.settings.poll_budget);
        let mut interval = Duration::from_millis(poll.interval_ms);
        let longest = interval.max(POLL_INTERVAL_CAP);
        let mut requests = 0;
        let mut notes = Vec::new();
        let mut request = request;
        loop {
            let mut sent = match self.send_patiently(request, step, clock, billable).await {
                Ok(s) => s,
                Err((why, n, more)) => {
                    notes.extend(more);
                    return Err((why, requests + n, notes));
                }
            };
            requests += sent.requests;
            notes.append(&mut sent.notes);
            let intermediate = self.check(&sent.exchange, None);
            let state = intermediate
                .body
                .as_ref()
                .and_then(|b| b.pointer(&poll.field))
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            let terminal = state.as_ref().is_some_and(|s| poll.terminal.contains(s));
            let response = sent.exchange.response.as_ref().ok();
            let ok_response = response.is_some_and(|r| (200..300).contains(&r.status));
            if terminal || !ok_response || !intermediate.passed() {
                let verdict = self.check(&sent.exchange, Some((&step.expect, expect_at)));
                return Ok((
                    Sent {
                        requests,
                        notes,
                        ..sent
                    },
                    verdict,
                ));
            }
            // The target's own word on when to look again wins over the backoff.
            let asked = response
                .and_then(|r| r.header("retry-after"))
                .and_then(|h| check::parse_retry_after(h, SystemTime::now()).ok())
                .map(Duration::from_secs);
            let wait = asked.unwrap_or(interval);
            if started.elapsed() + wait > budget {
                let why = Inconclusive::StillProcessing(Box::new(StillProcessing {
                    field: poll.field.clone(),
                    state: state.unwrap_or_else(|| format!("(no {})", poll.field)),
                    polls: requests,
                    after: started.elapsed(),
                    budget,
                }));
                return Err((why, requests, notes));
            }
            // The next poll is the same request: take it back from this exchange.
            request = sent.exchange.request;
            clock.off_the_clock(tokio::time::sleep(wait)).await;
            interval = interval.mul_f64(POLL_BACKOFF).min(longest);
        }
    }

    /// Send one request within the budget; when the target answers with its throttling status
    /// to a step that does not expect it, wait its Retry-After and send again, within the
    /// throttle budget. A throttling answer that itself breaks the contract is returned for
    /// checking, never waited out.
    ///
    /// A connection that closed before any byte of the answer (a keep-alive connection the
    /// server closed while idle) gets the request sent again, once, on a fresh connection, with
    /// a note; unless the request bills if accepted (`billable` and not a `GET`): it may have
    /// been processed, and the case ends inconclusive. An answer that began and broke off is
    /// never sent again: that is the target's failure.
    async fn send_patiently(
        &self,
        request: Request,
        spec: &Step,
        clock: &Clock,
        billable: bool,
    ) -> Result<Sent, (Inconclusive, usize, Vec<String>)> {
        let expect = &spec.expect;
        let table = &self.contract.table;
        let expects_throttle = table.is_throttle_status(expect.status);
        let budget = self.settings.throttle_budget;
        let mut waited = Duration::ZERO;
        let mut requests = 0;
        let mut notes = Vec::new();
        let mut request = request;
        let mut resent = false;
        loop {
            let exchange = match self
                .send(request, spec, expects_throttle, clock, resent)
                .await
            {
                Ok(exchange) => exchange,
                Err(why) => return Err((why, requests, notes)),
            };
            requests += 1;
            if let (Err(TransportError::Closed(detail)), false) = (&exchange.response, resent) {
                let method = exchange.request.method;
                if billable && method != "GET" {
                    let why = Inconclusive::ClosedBeforeAnswer {
                        method,
                        endpoint: spec.request.path.clone(),
                    };
                    return Err((why, requests, notes));
                }
                notes.push(format!(
                    "the connection closed before any byte of the answer to {method} {} ({detail}); sent again once on a fresh connection",
                    spec.request.path
                ));
                resent = true;
                request = exchange.request;
                continue;
            }
            let throttled = !expects_throttle
                && matches!(&exchange.response, Ok(r) if table.is_throttle_status(r.status));
            if !throttled {
                return Ok(Sent {
                    exchange,
                    requests,
                    notes,
                });
            }
            let verdict = self.check(&exchange, None);
            let retry_after = exchange
                .response
                .as_ref()
                .ok()
                .and_then(|r| r.header("retry-after"))
                .and_then(|h| check::parse_retry_after(h, SystemTime::now()).ok());
            let (true, Some(secs)) = (verdict.passed(), retry_after) else {
                return Ok(Sent {
                    exchange,
                    requests,
                    notes,
                });
            };
            let wait = Duration::from_secs(secs).max(Duration::from_millis(250));
            if waited + wait > budget {
                let status = exchange.response.as_ref().map_or(0, |r| r.status);
                let why = Inconclusive::Throttled {
                    status,
                    code: verdict.code.unwrap_or_default(),
                    waited,
                    budget,
                    next_retry_after: secs,
                };
                return Err((why, requests, notes));
            }
            notes.push(format!(
                "throttled: waited {secs} s (Retry-After) and sent again"
            ));
            request = exchange.request;
            clock.off_the_clock(tokio::time::sleep(wait)).await;
            waited += wait;
        }
    }

    /// Send one request when the budget lets it; a hold longer than the case may wait ends the
    /// case at once, saying what the target asked.
    async fn send(
        &self,
        request: Request,
        spec: &Step,
        expects_throttle: bool,
        clock: &Clock,
        fresh: bool,
    ) -> Result<Exchange, Inconclusive> {
        let template = &spec.request.path;
        let may_wait = self.may_wait();
        // Interrupted: nothing more is sent; the case ends when the grace is over.
        self.not_after_a_signal().await;
        let admitted = clock
            .off_the_clock(
                self.budget
                    .admit(&request, template, expects_throttle, may_wait),
            )
            .await;
        let admitted = admitted.map_err(|held| {
            Inconclusive::AskedToWait(Box::new(AskedToWait {
                secs: held.wait.as_secs_f64().round() as u64,
                by: held.by,
                method: request.method,
                endpoint: template.clone(),
                role: match &spec.request.auth {
                    Auth::Role(role) => Some(*role),
                    Auth::Explicit { .. } => None,
                },
                may_wait,
            }))
        })?;
        self.not_after_a_signal().await;
        clock.sent();
        let sent = std::time::Instant::now();
        let exchange = if fresh {
            self.probe.send_fresh(request).await
        } else {
            self.probe.send(request).await
        };
        self.liveness.observe(sent, &exchange.response);
        let response = exchange.response.as_ref().ok();
        let throttled = response.is_some_and(|r| self.contract.table.is_throttle_status(r.status));
        self.budget.observe(admitted, response, throttled);
        Ok(exchange)
    }

    /// Never returns once the run is interrupted: the case is ended from above.
    async fn not_after_a_signal(&self) {
        if self.interrupt.raised().is_some() {
            std::future::pending::<()>().await;
        }
    }

    /// How long a request may be held back for the budget: the throttle budget, and never past
    /// the run deadline.
    fn may_wait(&self) -> Duration {
        let left = self
            .settings
            .run_deadline
            .saturating_sub(self.started.elapsed());
        self.settings.throttle_budget.min(left)
    }

    fn check(&self, exchange: &Exchange, expect: Option<(&Expect, &str)>) -> Checked {
        let ctx = CheckContext {
            contract: &self.contract,
            expect,
            secrets: &self.target.secrets,
            request: Some(&exchange.request),
            now: SystemTime::now(),
        };
        match &exchange.response {
            Ok(resp) => check::check_response(&ctx, resp),
            Err(e) => {
                let mut applied = check::CheckSet::default();
                applied.insert(CheckName::Transport);
                Checked {
                    findings: vec![transport_finding(e, expect)],
                    applied,
                    ..Checked::default()
                }
            }
        }
    }
}

fn transport_finding(e: &TransportError, expect: Option<(&Expect, &str)>) -> Finding {
    let expected = match expect {
        Some((e, _)) => format!("a complete HTTP response (status {})", e.status),
        None => "a complete HTTP response".into(),
    };
    let finding = Finding::new(
        CheckName::Transport,
        expected,
        format!("{} ({})", e, e.kind()),
    );
    match expect {
        Some((_, at)) => finding.at(format!("{at}/status")),
        None => finding,
    }
}

/// The values a step captures from its checked body, and a `capture` finding for each missing.
fn capture(step: &Step, base: &str, body: Option<&Value>) -> (Vars, Vec<Finding>) {
    let mut vars = Vars::new();
    let mut missing = Vec::new();
    for (name, pointer) in &step.capture {
        let found = body.and_then(|b| b.pointer(pointer));
        match found {
            Some(Value::String(s)) if !s.is_empty() => {
                vars.insert(name.clone(), s.clone());
            }
            Some(Value::Number(n)) => {
                vars.insert(name.clone(), n.to_string());
            }
            other => {
                let actual = other.map_or_else(|| "(missing)".to_string(), Value::to_string);
                missing.push(
                    Finding::new(
                        CheckName::Capture,
                        format!(
                            "a non-empty string or number at {pointer} to capture as {{{name}}}"
                        ),
                        actual,
                    )
                    .at(format!("{base}/capture/{}", crate::locate::escape(name))),
                );
            }
        }
    }
    (vars, missing)
}
