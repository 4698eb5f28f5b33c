//! A traffic check as a library call, printing nothing: settings → the contract → the known
//! failures → the report directory → exchanges (from files, or the proxy) into the checks
//! (`traffic::Checker`) → each group judged by the gate as a case is → the same `finish` as a
//! run, so verdicts, guards, reports and exit codes are a run's.

use std::sync::Arc;
use std::time::SystemTime;

use crate::contract::Contract;
use crate::gate::{self, Guard, KnownFailures, Subject};
use crate::redact::Secrets;
use crate::report::{self, Came, Entry, Evidence, Matrix, Sent};
use crate::run::Outcome;
use crate::settings::Settings;
use crate::traffic::{self, Break, Checker, Exchange, Group, Problem};

use super::{Finished, Judging, Output, Results, SetupError, finish};

/// Problems with the input kept to show; the rest are counted.
const PROBLEMS_KEPT: usize = 100;

/// The trial name of a traffic file nothing could be read from, before the file as given.
const UNREADABLE: &str = "traffic::unreadable::";

/// What a traffic check read and came to.
#[derive(Debug)]
pub struct TrafficOutcome {
    /// The closing text, guards, reports and exit code, as a run's.
    pub finished: Finished,
    /// Problems with the input (the first [`PROBLEMS_KEPT`]), located.
    pub problems: Vec<Problem>,
    /// How many problems there were in all.
    pub problems_total: usize,
    /// Exchanges read.
    pub exchanges: usize,
    /// Exchanges checked (errors and video polls).
    pub checked: usize,
    /// Checked exchanges whose response body was not recorded (body checks skipped).
    pub body_not_recorded: usize,
    /// Checked exchanges whose request carried no key (the echo of its own key not checked).
    pub key_not_recorded: usize,
    /// Exchanges that are not the API's (another host, or outside its paths): not checked.
    pub out_of_scope: usize,
    /// Each group's trial name, verdict and failure text, sorted by name.
    pub trials: Vec<Trial>,
}

/// One group as the check came to it.
#[derive(Debug, Clone)]
pub struct Trial {
    /// `traffic::<endpoint>::<code>`.
    pub name: String,
    /// Its verdict.
    pub verdict: gate::Verdict,
    /// Why it is an expected failure, when it is.
    pub reason: Option<String>,
    /// The failure text (redacted), for a group that broke the contract.
    pub message: Option<Arc<str>>,
}

/// What a traffic check needs before any exchange: the contract, the gate, the secrets.
pub struct Traffic {
    settings: Settings,
    contract: Contract,
    gate: Option<KnownFailures>,
    secrets: Secrets,
}

impl Traffic {
    /// Load the contract and the known-failures file, and check the report directory.
    pub fn new(settings: Settings) -> Result<Traffic, SetupError> {
        let contract = Contract::load(&settings.schemas_dir).map_err(SetupError::Schemas)?;
        let gate = match &settings.expectations {
            None => None,
            Some(path) => Some(KnownFailures::load(path).map_err(SetupError::KnownFailures)?),
        };
        if let Some(dir) = &settings.report_dir {
            report::check_writable(dir).map_err(|source| SetupError::ReportDir {
                dir: dir.clone(),
                source,
            })?;
        }
        let mut secrets = Secrets::new();
        for (role, key) in &settings.keys {
            secrets.add(role.env_var().unwrap_or("ERRCONTRACT_API_KEY"), key);
        }
        Ok(Traffic {
            settings,
            contract,
            gate,
            secrets,
        })
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Start checking.
    pub fn start(&self) -> TrafficCheck<'_> {
        TrafficCheck {
            prepared: self,
            unreadable: Vec::new(),
            checker: Checker::new(&self.contract, self.secrets.clone()),
            matrix: Matrix::new(&self.contract.table, &self.contract.endpoints),
            problems: Vec::new(),
            problems_total: 0,
            upstream: UpstreamFailures::default(),
        }
    }
}

/// Exchanges being checked.
pub struct TrafficCheck<'p> {
    prepared: &'p Traffic,
    /// The trials of files nothing could be read from.
    unreadable: Vec<Entry>,
    checker: Checker<'p>,
    matrix: Matrix,
    problems: Vec<Problem>,
    problems_total: usize,
    upstream: UpstreamFailures,
}

/// The proxy's requests the upstream could not be asked.
#[derive(Default)]
struct UpstreamFailures {
    /// How many.
    count: usize,
    /// Of those, failures of TLS.
    tls: usize,
    /// The first reason.
    first: Option<String>,
}

impl TrafficCheck<'_> {
    /// The proxy could not ask the upstream (`why`), a failure of TLS or not: when nothing
    /// is checked, that is what the check concludes.
    pub fn upstream_failed(&mut self, why: &str, tls: bool) {
        let u = &mut self.upstream;
        u.count += 1;
        u.tls += usize::from(tls);
        u.first.get_or_insert_with(|| why.to_string());
    }

    /// Check one exchange; what it came to, when it was checked.
    pub fn exchange(&mut self, ex: &Exchange) -> Option<Break> {
        let seen = self.checker.observe(ex, SystemTime::now())?;
        if let Some(code) = &seen.code {
            self.matrix
                .observe(&seen.method, &seen.path, code, seen.line.is_none());
        }
        Some(seen)
    }

    /// Keep a problem with the input.
    pub fn problem(&mut self, p: Problem) {
        self.problems_total += 1;
        if self.problems.len() < PROBLEMS_KEPT {
            self.problems.push(p);
        }
    }

    /// The secrets known so far (the configured keys and the traffic's own).
    pub fn secrets(&self) -> &Secrets {
        self.checker.secrets()
    }

    /// Read every file, checking each exchange as it is read. A file that gave no exchange at
    /// all and had problems (missing, not JSON, not a capture) fails a trial of its own, so a
    /// run with it is never green; the other files are checked all the same.
    pub fn read(&mut self, files: &[String]) {
        for file in files {
            let mut problems = Vec::new();
            let mut read = 0usize;
            traffic::read(
                file,
                &mut |ex| {
                    read += 1;
                    self.exchange(&ex);
                },
                &mut |p| problems.push(p),
            );
            if read == 0 && !problems.is_empty() {
                let shown = if file == "-" {
                    "(stdin)"
                } else {
                    file.as_str()
                };
                let mut message = format!(
                    "{UNREADABLE}{shown}: nothing could be read from it, so none of its traffic was checked:"
                );
                for p in problems.iter().take(5) {
                    message.push_str(&format!("\n  {p}"));
                }
                self.unreadable.push(Entry::invalid(
                    format!("{UNREADABLE}{shown}"),
                    shown.to_string(),
                    Arc::from(message),
                ));
            }
            for p in problems {
                self.problem(p);
            }
        }
    }

    /// Judge every group, and conclude as a run does: `source` is what reports name as the
    /// target (`traffic: FILES` or the proxy's upstream).
    pub fn finish(self, source: &str) -> TrafficOutcome {
        let TrafficCheck {
            prepared,
            unreadable,
            checker,
            matrix,
            problems,
            problems_total,
            upstream,
        } = self;
        let (exchanges, checked) = (checker.exchanges, checker.checked);
        let (body_not_recorded, key_not_recorded, out_of_scope) = (
            checker.body_not_recorded,
            checker.key_not_recorded,
            checker.out_of_scope,
        );
        let (groups, secrets) = checker.into_groups();
        let today = gate::today();
        let entries: Vec<Entry> = groups
            .into_iter()
            .map(|g| entry(g, prepared.gate.as_ref(), source, today, &secrets))
            .chain(unreadable)
            .collect();
        let trials = entries
            .iter()
            .map(|e| Trial {
                name: e.trial.clone(),
                verdict: e.kind,
                reason: e.reason.clone(),
                message: e.message.clone(),
            })
            .collect();
        let settings = &prepared.settings;
        let results = Results {
            target: format!("traffic: {source}"),
            contract: prepared.contract.fingerprint.clone(),
            gate_file: prepared.gate.as_ref().map(|g| g.file.clone()),
            entries,
            matrix,
            sent: checked > 0,
            // Nothing checked because the upstream could not be asked: that is what to say.
            guards: match (checked, upstream.first) {
                (0, Some(first)) => vec![Guard::UpstreamFailed {
                    failures: upstream.count,
                    tls: upstream.tls,
                    first: vec![secrets.redact(&first)],
                }],
                (0, None) => vec![Guard::NothingChecked { exchanges }],
                _ => Vec::new(),
            },
        };
        let judging = Judging {
            max_inconclusive: settings.max_inconclusive,
            whole: true,
            failed_trials: 0,
        };
        let finished = finish(
            results,
            &judging,
            settings.report_dir.as_deref(),
            &Output::Merge,
            &secrets,
        );
        TrafficOutcome {
            finished,
            problems,
            problems_total,
            exchanges,
            checked,
            body_not_recorded,
            key_not_recorded,
            out_of_scope,
            trials,
        }
    }
}

/// Check the traffic in `files` (`-`: stdin) as `settings` say; `hosts` are the API's (empty:
/// every exchange below `/v2/`, on any host).
pub fn check_files(
    files: &[String],
    hosts: &[String],
    settings: Settings,
) -> Result<TrafficOutcome, SetupError> {
    let prepared = Traffic::new(settings)?;
    let mut check = prepared.start();
    check.checker.scope = crate::traffic::Scope {
        hosts: hosts.to_vec(),
    };
    check.read(files);
    let source = files
        .iter()
        .map(|f| if f == "-" { "(stdin)" } else { f.as_str() })
        .collect::<Vec<_>>()
        .join(", ");
    Ok(check.finish(&source))
}

/// One group as a report entry, judged by the gate as a case with that outcome would be.
fn entry(
    g: Group,
    gate: Option<&KnownFailures>,
    source: &str,
    today: time::Date,
    secrets: &Secrets,
) -> Entry {
    let outcome = if g.failing == 0 {
        Outcome::Passed
    } else {
        Outcome::Failed { step: 0 }
    };
    let judged = gate::judge(gate, &g.trial, &outcome, &g.failed, today);
    let mut notes: Vec<String> = g.notes.iter().cloned().collect();
    if g.body_not_recorded > 0 {
        notes.push(format!(
            "{} of {} exchange(s) had no body recorded: their body checks were skipped (not recorded, not failed)",
            g.body_not_recorded, g.exchanges
        ));
    }
    let message = (g.failing > 0).then(|| {
        let mut text = g.message();
        if let Some(note) = &judged.note {
            text.push_str(&format!("  {note}\n"));
        }
        Arc::from(secrets.redact(&text))
    });
    let file = g
        .first
        .as_ref()
        .map_or_else(|| source.to_string(), |s| s.place.clone());
    let evidence = g.first.as_ref().map(|s| {
        Box::new(Evidence {
            step: 1,
            request: Sent {
                method: s.method.clone(),
                url: s.url.clone(),
                headers: s.request_headers.clone(),
                body: s.request_body.clone(),
                body_bytes: s.request_bytes,
            },
            response: Some(Came {
                status: s.status,
                version: "HTTP/1.1".into(),
                headers: s.response_headers.clone(),
                body: s.response_body.clone(),
                body_bytes: s.response_bytes,
            }),
            transport_error: None,
            elapsed_ms: 0,
            curl: curl(s),
        })
    });
    Entry {
        trial: g.trial,
        subject: Subject::Case,
        file,
        kind: judged.verdict,
        reason: judged.reason.map(|r| secrets.redact(&r)),
        findings: g.findings,
        notes,
        elapsed: None,
        message,
        ticket: judged.ticket,
        applied: g.applied,
        evidence,
        rerun: None,
        signals: Default::default(),
    }
}

/// A curl command that sends the observed request again, its credentials as the variable.
fn curl(s: &traffic::Shown) -> String {
    use crate::request::quote;
    let mut parts = vec!["curl".to_string(), "-X".into(), s.method.clone()];
    parts.push(quote(&s.url));
    for (name, value) in &s.request_headers {
        if name.eq_ignore_ascii_case("authorization") {
            parts.push("-H \"authorization: Bearer $ERRCONTRACT_API_KEY\"".into());
        } else if !crate::traffic::is_credential(name) {
            parts.push(format!("-H {}", quote(&format!("{name}: {value}"))));
        }
    }
    if let Some(body) = &s.request_body {
        parts.push(format!("--data-raw {}", quote(body)));
    }
    parts.join(" ")
}
