//! The conformance run behind `cargo test --test contract`: libtest-mimic glue. Settings and
//! the contract are loaded, the cases discovered (one file for `--exact`), the target chosen
//! (the built-in reference server when none is named), the selected cases handed to the
//! scheduler, and each libtest trial reports its case's result as it arrives. Then the
//! coverage matrix, the not-run summary and the report files. `tests/contract.rs` only calls
//! [`main`]; this and `main.rs` are the only places that print.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Condvar;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Failed, FormatSetting, Trial};

use crate::case::{self, Case, Feature, Loaded, Role, TRIAL_PREFIX};
use crate::contract::Contract;
use crate::exit;
use crate::probe::{Probe, ProbeConfig};
use crate::report::{self, Entry, Matrix};
use crate::run::{self, Job, Outcome, Runner};
use crate::settings::Settings;
use crate::target::Target;

/// A run that could not start: nothing was tested.
struct SetupError {
    what: String,
    help: String,
}

impl SetupError {
    fn new(what: impl std::fmt::Display, help: &str) -> Self {
        SetupError {
            what: what.to_string(),
            help: help.to_string(),
        }
    }
}

/// Run the suite with libtest-style arguments; the exit code is one of [`crate::exit`].
pub fn main(args: Arguments) -> ExitCode {
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("errcontract: error: {}", e.what);
            if !e.help.is_empty() {
                eprintln!("  help: {}", e.help);
            }
            exit::code(exit::SETUP)
        }
    }
}

fn run(args: &Arguments) -> Result<ExitCode, SetupError> {
    let settings = Settings::from_env().map_err(|e| SetupError::new(e, ""))?;
    let contract = Contract::load(&settings.schemas_dir).map_err(|e| {
        SetupError::new(
            e,
            "fix the schema, or point ERRCONTRACT_SCHEMAS at a valid schemas directory",
        )
    })?;
    let contract = Arc::new(contract);
    let loaded = discover(args, &settings, &contract)?;
    for warning in &loaded.warnings {
        eprintln!("errcontract: warning: {warning}");
    }
    if args.list {
        return Ok(list(args, &loaded));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| SetupError::new(format!("cannot start the async runtime: {e}"), ""))?;
    let probe = Probe::new(ProbeConfig {
        timeout: settings.timeout,
        connect_timeout: settings.connect_timeout,
        max_body: settings.max_body,
    })
    .map_err(|e| SetupError::new(e, ""))?;
    let (target, _server) = choose_target(&settings, &runtime)?;
    announce(args, &settings, &target, &loaded);
    runtime
        .block_on(reachable(&target.base_url, settings.connect_timeout))
        .map_err(|e| {
            SetupError::new(
                format!("the target {} is unreachable: {e}", target.base_url),
                "check ERRCONTRACT_BASE_URL and that the service is up; no case was run",
            )
        })?;
    let target = Arc::new(target);
    let (trials, jobs, collected) = plan(args, loaded, &target, &contract);
    let runner = Runner::new(probe, contract, (*target).clone(), settings.clone());
    run::spawn(runtime.handle(), Arc::new(runner), jobs);
    let conclusion = libtest_mimic::run(args, trials);
    let mut collected = lock(&collected);
    Ok(finish(
        args,
        &settings,
        &target,
        &mut collected,
        conclusion.has_failed(),
    ))
}

/// `--list`: names only, cheap and silent (no server, no network).
fn list(args: &Arguments, loaded: &Loaded) -> ExitCode {
    let trials = loaded
        .cases
        .iter()
        .map(|c| (c.trial_name(), c.ignore.is_some()))
        .chain(loaded.broken.iter().map(|b| (b.trial_name(), false)))
        .map(|(name, ignored)| Trial::test(name, || Ok(())).with_ignored_flag(ignored))
        .collect();
    let conclusion = libtest_mimic::run(args, sorted(trials));
    exit::code(if conclusion.has_failed() {
        exit::FAILED
    } else {
        exit::OK
    })
}

/// The first lines: the target, and the cases their own files park.
fn announce(args: &Arguments, settings: &Settings, target: &Target, loaded: &Loaded) {
    say(args, &format!("{}\n", header(settings, target)));
    let parked: Vec<String> = loaded
        .cases
        .iter()
        .filter_map(|c| {
            c.ignore
                .as_ref()
                .map(|why| format!("  {} ignored by its file: {why}", c.trial_name()))
        })
        .collect();
    if !parked.is_empty() && !json_format(args) {
        println!("{}", parked.join("\n"));
    }
}

/// One trial per case file, sorted, and the jobs of exactly the trials libtest will run (those
/// it neither filters out nor ignores); the results are gathered in the returned collector.
fn plan(
    args: &Arguments,
    loaded: Loaded,
    target: &Arc<Target>,
    contract: &Contract,
) -> (Vec<Trial>, Vec<Job>, Arc<Mutex<Collected>>) {
    let total = loaded.cases.len() + loaded.broken.len();
    let collected = Arc::new(Mutex::new(Collected {
        entries: Vec::with_capacity(total),
        matrix: Matrix::new(&contract.table, &contract.endpoints),
        sent: false,
    }));
    let mut planned: Vec<(Trial, Option<Job>)> = Vec::with_capacity(total);
    planned.extend(
        loaded
            .cases
            .into_iter()
            .map(|c| case_trial(c, target, &collected)),
    );
    planned.extend(
        loaded
            .broken
            .into_iter()
            .map(|b| broken_trial(b, &collected)),
    );
    planned.sort_by(|a, b| a.0.name().cmp(b.0.name()));
    let mut trials = Vec::with_capacity(planned.len());
    let mut jobs = Vec::new();
    for (trial, job) in planned {
        if let Some(job) = job
            && !args.is_filtered_out(&trial)
            && !args.is_ignored(&trial)
        {
            jobs.push(job);
        }
        trials.push(trial);
    }
    (trials, jobs, collected)
}

/// After libtest: the coverage matrix, the not-run summary, the report files, the exit code.
fn finish(
    args: &Arguments,
    settings: &Settings,
    target: &Target,
    collected: &mut Collected,
    failed: bool,
) -> ExitCode {
    let entries = &mut collected.entries;
    entries.sort_by(|a, b| a.trial.cmp(&b.trial));
    if collected.sent {
        say(args, &format!("\n{}", collected.matrix.render()));
    }
    let not_run = report::not_run_summary(entries);
    if !not_run.is_empty() {
        say(args, &format!("\n{not_run}"));
    }
    if let Some(dir) = &settings.report_dir {
        match report::write(
            dir,
            &target.base_url,
            entries,
            &collected.matrix,
            &target.secrets,
        ) {
            Ok(files) => {
                let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                eprintln!("errcontract: reports written: {}", names.join(", "));
            }
            Err(e) => {
                eprintln!(
                    "errcontract: error: cannot write reports to {}: {e}",
                    dir.display()
                );
                return exit::code(exit::SETUP);
            }
        }
    }
    exit::code(if failed { exit::FAILED } else { exit::OK })
}

/// The cases to run: every file below the cases directory, or with `--exact case::x` just that
/// file (nextest runs one process per case).
fn discover(
    args: &Arguments,
    settings: &Settings,
    contract: &Contract,
) -> Result<Loaded, SetupError> {
    let root = &settings.cases_dir;
    let exact = args
        .filter
        .as_deref()
        .filter(|f| args.exact && f.starts_with(TRIAL_PREFIX) && args.skip.is_empty());
    let loaded = match exact {
        Some(name) => {
            let file = case::file_of(root, name).map_err(|e| {
                SetupError::new(
                    e,
                    "list the cases with: cargo test --test contract -- --list",
                )
            })?;
            let files = if file.is_file() { vec![file] } else { vec![] };
            Loaded::files(root, files, contract)
        }
        None => case::load_all(root, contract).map_err(|e| {
            SetupError::new(
                format!("cannot read the cases directory {}: {e}", root.display()),
                "point ERRCONTRACT_CASES at a directory of case files",
            )
        })?,
    };
    if !loaded.cases.is_empty() || !loaded.broken.is_empty() {
        return Ok(loaded);
    }
    Err(match exact {
        Some(name) => SetupError::new(
            format!(
                "no case named {name} (looked for {})",
                root.join(name.trim_start_matches(TRIAL_PREFIX))
                    .with_extension("json")
                    .display()
            ),
            "list the cases with: cargo test --test contract -- --list",
        ),
        None => SetupError::new(
            format!("no case files (*.json) found below {}", root.display()),
            "point ERRCONTRACT_CASES at a directory of case files; a run of zero cases proves nothing",
        ),
    })
}

/// The target named by `ERRCONTRACT_BASE_URL`, or the built-in reference server, started.
fn choose_target(
    settings: &Settings,
    runtime: &tokio::runtime::Runtime,
) -> Result<(Target, Option<crate::reference::Running>), SetupError> {
    if let Some(url) = &settings.base_url {
        let target = Target::new(url, false, settings.keys.clone(), settings.features.clone());
        return Ok((target, None));
    }
    let config = crate::reference::Config::default();
    let keys = config.keys();
    let server = runtime
        .block_on(crate::reference::start(config))
        .map_err(|e| {
            SetupError::new(
                format!("cannot start the built-in reference server: {e}"),
                "",
            )
        })?;
    let by_role = BTreeMap::from([
        (Role::Valid, keys.valid),
        (Role::ZeroBalance, keys.zero_balance),
        (Role::Revoked, keys.revoked),
        (Role::Throttled, keys.throttled),
    ]);
    let mut target = Target::new(
        &server.base_url(),
        true,
        by_role,
        Feature::ALL.into_iter().collect(),
    );
    target.in_process = true;
    Ok((target, Some(server)))
}

/// The first line: which target, with which keys and features, at what rate.
fn header(settings: &Settings, target: &Target) -> String {
    if target.reference {
        return format!(
            "errcontract: ERRCONTRACT_BASE_URL is unset: running against the built-in reference server at {}",
            target.base_url
        );
    }
    let list = |items: Vec<&str>| {
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(", ")
        }
    };
    format!(
        "errcontract: target {} (ERRCONTRACT_BASE_URL); keys for roles: {}; features: {}; {}",
        target.base_url,
        list(settings.keys.keys().map(|r| r.as_str()).collect()),
        list(settings.features.iter().map(|f| f.as_str()).collect()),
        if settings.rps > 0.0 {
            format!("at most {} requests/s (ERRCONTRACT_RPS)", settings.rps)
        } else {
            "no request rate limit (ERRCONTRACT_RPS=0)".to_string()
        }
    )
}

/// Where a case's verdict waits for its trial: filled once by the job, taken once by the
/// trial, which blocks until then. A job that ends without a verdict (it panicked) fills it
/// with nothing as it is dropped, so no trial waits forever.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    filled: Condvar,
}

#[derive(Default)]
enum SlotState {
    #[default]
    Waiting,
    Filled(Option<Verdict>),
    Taken,
}

impl Slot {
    fn state(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn put(&self, verdict: Option<Verdict>) {
        let mut state = self.state();
        if matches!(*state, SlotState::Waiting) {
            *state = SlotState::Filled(verdict);
            self.filled.notify_one();
        }
    }

    fn take(&self) -> Option<Verdict> {
        let mut state = self.state();
        loop {
            match std::mem::replace(&mut *state, SlotState::Taken) {
                SlotState::Filled(verdict) => return verdict,
                SlotState::Taken => return None,
                SlotState::Waiting => {
                    *state = SlotState::Waiting;
                    state = self
                        .filled
                        .wait(state)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            }
        }
    }
}

/// Fills its slot with nothing when dropped unfilled.
struct Unfilled(Arc<Slot>);

impl Drop for Unfilled {
    fn drop(&mut self) {
        self.0.put(None);
    }
}

/// What a trial learns of its case's run.
enum Verdict {
    Passed,
    Failed(Arc<str>),
    NotRun(String),
}

/// The trial of a loaded case, and the job that runs it; the job hands its result to the
/// trial and to the reports.
fn case_trial(
    case: Arc<Case>,
    target: &Arc<Target>,
    collected: &Arc<Mutex<Collected>>,
) -> (Trial, Option<Job>) {
    let slot = Arc::new(Slot::default());
    let name = case.trial_name();
    let ignored = case.ignore.is_some();
    let waiting = slot.clone();
    let trial = Trial::ignorable_test(name, move || match waiting.take() {
        Some(Verdict::Passed) => Ok(Completion::Completed),
        Some(Verdict::Failed(message)) => Err(Failed::from(message)),
        Some(Verdict::NotRun(why)) => Ok(Completion::ignored_with(why)),
        None => Err(Failed::from(
            "the case ended without a result; this is a bug in errcontract, please report it",
        )),
    })
    .with_ignored_flag(ignored);
    let target = target.clone();
    let collected = collected.clone();
    let guard = Unfilled(slot);
    let done = Box::new(move |case: &Case, result: run::CaseResult| {
        let message = report::failure(case, &result, &target);
        let message: Option<Arc<str>> = (!message.is_empty()).then(|| Arc::from(message));
        let verdict = match (&result.outcome, &message) {
            (Outcome::Failed { .. }, Some(m)) => Verdict::Failed(m.clone()),
            (Outcome::Failed { .. }, None) => Verdict::Failed(Arc::from(case.trial_name())),
            (Outcome::Ignored(why), _) => Verdict::NotRun(target.secrets.redact(&why.to_string())),
            (Outcome::Inconclusive(why), _) => {
                Verdict::NotRun(target.secrets.redact(&why.to_string()))
            }
            (Outcome::Passed, _) => Verdict::Passed,
        };
        let ran = result.steps.iter().any(|s| s.requests > 0);
        let mut c = lock(&collected);
        c.matrix.add(&result);
        c.sent |= ran;
        c.entries.push(Entry::of(
            case.trial_name(),
            report::display_path(&case.path),
            result,
            message,
        ));
        drop(c);
        guard.0.put(Some(verdict));
    });
    let job = Job { case, done };
    (trial, Some(job))
}

/// The trial of a case file that did not load: it fails with the file's problems.
fn broken_trial(broken: case::Broken, collected: &Arc<Mutex<Collected>>) -> (Trial, Option<Job>) {
    let collected = collected.clone();
    let trial = broken.trial_name();
    let t = Trial::test(trial.clone(), move || {
        let message: Arc<str> = Arc::from(format!("{trial}: {}", broken.errors));
        lock(&collected).entries.push(Entry::invalid(
            trial,
            report::display_path(&broken.path),
            message.clone(),
        ));
        Err(Failed::from(message))
    });
    (t, None)
}

/// What the run has gathered for the reports, as results arrive.
struct Collected {
    entries: Vec<Entry>,
    matrix: Matrix,
    /// Whether any request was sent (else there is no matrix to show).
    sent: bool,
}

fn lock(collected: &Mutex<Collected>) -> std::sync::MutexGuard<'_, Collected> {
    // A poisoned lock means a push was interrupted by a panic; what was gathered stands.
    collected
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn sorted(mut trials: Vec<Trial>) -> Vec<Trial> {
    trials.sort_by(|a, b| a.name().cmp(b.name()));
    trials
}

fn json_format(args: &Arguments) -> bool {
    matches!(args.format, Some(FormatSetting::Json))
}

/// Print the run's own output: to stdout, or to stderr when stdout is libtest's JSON.
fn say(args: &Arguments, text: &str) {
    if json_format(args) {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
}

/// Whether a TCP connection to the target's host and port opens.
async fn reachable(base_url: &str, timeout: Duration) -> Result<(), String> {
    let url = reqwest::Url::parse(base_url).map_err(|e| e.to_string())?;
    let host = url
        .host_str()
        .ok_or("no host")?
        .trim_matches(['[', ']'])
        .to_string();
    let port = url.port_or_known_default().ok_or("no port")?;
    match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no TCP connection within {timeout:?}")),
    }
}
