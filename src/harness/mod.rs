//! The conformance run behind `cargo test --test contract`: libtest-mimic glue. Settings and
//! the contract are loaded, the cases discovered and the templates' cases derived (one file
//! for `--exact case::…`), the target chosen (the built-in reference server when none is
//! named), the selected cases handed to the scheduler, and each libtest trial reports its
//! case's result as it arrives. Then the coverage matrix, the not-run summary, the gate's word,
//! the guards and the report files. `tests/contract.rs` only calls [`main`]; this and `main.rs`
//! are the only places that print.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Failed, FormatSetting, Trial};

mod slot;
use slot::{Slot, Unfilled, Verdict};

use crate::case::{self, Case, Feature, Loaded, Role, TRIAL_PREFIX};
use crate::contract::Contract;
use crate::exit;
use crate::gate::{self, Conclusion, GATE_TRIAL, Judgement, KnownFailures};
use crate::probe::{Probe, ProbeConfig};
use crate::report::json::Document;
use crate::report::{self, Entry, Kind, Matrix};
use crate::run::{self, Job, Outcome, Runner};
use crate::settings::{Settings, SettingsErrorKind};
use crate::target::Target;

/// A run that could not start, or was refused by a guard before anything was sent: nothing
/// was tested.
struct SetupError {
    what: String,
    help: String,
    code: u8,
}

impl SetupError {
    fn new(what: impl std::fmt::Display, help: &str) -> Self {
        SetupError {
            what: what.to_string(),
            help: help.to_string(),
            code: exit::SETUP,
        }
    }

    fn with_code(mut self, code: u8) -> Self {
        self.code = code;
        self
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
            exit::code(e.code)
        }
    }
}

fn run(args: &Arguments) -> Result<ExitCode, SetupError> {
    let settings = Settings::from_env().map_err(|e| {
        let code = match e.kind {
            SettingsErrorKind::BlankTarget => exit::BLANK_TARGET,
            SettingsErrorKind::Invalid => exit::SETUP,
        };
        SetupError::new(e, "").with_code(code)
    })?;
    let contract = Contract::load(&settings.schemas_dir).map_err(|e| {
        SetupError::new(
            e,
            "fix the schema, or point ERRCONTRACT_SCHEMAS at a valid schemas directory",
        )
    })?;
    let contract = Arc::new(contract);
    let gate = match &settings.expectations {
        Some(path) => Some(Arc::new(KnownFailures::load(path).map_err(|e| {
            SetupError::new(
                e,
                "fix the file, or unset ERRCONTRACT_EXPECTATIONS to run without the gate",
            )
        })?)),
        None => None,
    };
    if let Some(gate) = &gate
        && args.exact
        && args.filter.as_deref() == Some(GATE_TRIAL)
    {
        return gate_only(args, &settings, &contract, gate);
    }
    let mut loaded = discover(args, &settings, &contract)?;
    for warning in &loaded.warnings {
        eprintln!("errcontract: warning: {warning}");
    }
    if args.list {
        return Ok(list(args, &loaded, gate.is_some()));
    }
    if selected(args, &loaded) == 0 {
        return Err(nothing_selected(args, &loaded));
    }
    if let Some(dir) = &settings.report_dir {
        report::check_writable(dir).map_err(|e| {
            SetupError::new(
                format!(
                    "cannot write reports to {} (ERRCONTRACT_REPORT_DIR): {e}",
                    dir.display()
                ),
                "point ERRCONTRACT_REPORT_DIR at a directory you can write; nothing was sent",
            )
            .with_code(exit::REPORT_DIR_UNWRITABLE)
        })?;
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
    announce(args, &settings, &target, &loaded, gate.as_deref());
    runtime
        .block_on(reachable(&target.base_url, settings.connect_timeout))
        .map_err(|e| {
            SetupError::new(
                format!("the target {} is unreachable: {e}", target.base_url),
                "check ERRCONTRACT_BASE_URL and that the service is up; no case was run",
            )
            .with_code(exit::UNREACHABLE)
        })?;
    let models = crate::model_lookup::refresh(
        &mut loaded,
        &settings.cases_dir,
        &contract,
        (&probe, &target, settings.rps),
        |name| !args.is_filtered_out(&Trial::test(name, || Ok(()))),
    );
    match runtime.block_on(models) {
        Ok(Some(line)) => say(args, &format!("{line}\n")),
        Ok(None) => {}
        Err(e) => {
            return Err(SetupError::new(
                format!("cannot read the templates: {e}"),
                "",
            ));
        }
    }
    let target = Arc::new(target);
    let whole = one_trial(args).is_none();
    let (trials, jobs, collected) = plan(args, loaded, &target, &contract, gate);
    let runner = Runner::new(probe, contract, (*target).clone(), settings.clone());
    run::spawn(runtime.handle(), Arc::new(runner), jobs);
    let conclusion = libtest_mimic::run(args, trials);
    let mut collected = lock(&collected);
    Ok(finish(
        args,
        &settings,
        &target,
        &mut collected,
        conclusion.num_failed,
        whole,
    ))
}

/// The reports of `doc` into `dir`. A nextest process (one case, picked by name) writes only
/// its fragment, for `errcontract report` to merge; any other run writes the four reports and
/// its fragment.
fn write_reports(
    dir: &std::path::Path,
    doc: &Document,
    one: Option<&str>,
    secrets: &crate::redact::Secrets,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    match (one, std::env::var_os("NEXTEST").is_some()) {
        (Some(name), true) => Ok(vec![report::write_fragment(dir, doc, name, secrets)?]),
        // A one-case rerun by hand leaves the run's reports as they are.
        (Some(_), false) => Ok(Vec::new()),
        (None, _) => {
            let mut files = report::write(dir, doc, secrets)?;
            report::clear_other_runs(dir, &doc.run)?;
            files.push(report::write_fragment(dir, doc, "run", secrets)?);
            Ok(files)
        }
    }
}

/// Append `summary.md` to the CI job's summary, if reports were written and CI asks; a
/// failure there costs the job's page, not the run's verdict.
fn step_summary(dir: &std::path::Path, files: &[std::path::PathBuf]) {
    if !files.iter().any(|f| f.ends_with("summary.md")) {
        return;
    }
    if let Err(e) = report::append_to_step_summary(dir) {
        eprintln!("errcontract: warning: cannot append summary.md to $GITHUB_STEP_SUMMARY: {e}");
    }
}

/// The one trial `--exact NAME` picks (nextest runs every trial so, one process each).
fn one_trial(args: &Arguments) -> Option<&str> {
    args.filter
        .as_deref()
        .filter(|_| args.exact && args.skip.is_empty())
}

/// The case `--exact case::x` names (without `--skip`): that file alone is loaded.
fn exact_case(args: &Arguments) -> Option<&str> {
    args.filter
        .as_deref()
        .filter(|f| args.exact && f.starts_with(TRIAL_PREFIX) && args.skip.is_empty())
}

/// Every trial name of the run, with whether its file parks it.
fn trial_names(loaded: &Loaded, gated: bool) -> Vec<(String, bool)> {
    loaded
        .cases
        .iter()
        .map(|c| (c.trial_name(), c.ignore.is_some()))
        .chain(loaded.broken.iter().map(|b| (b.trial_name(), false)))
        .chain(gated.then(|| (GATE_TRIAL.to_string(), false)))
        .collect()
}

/// How many cases libtest will run (neither filtered out nor ignored); the gate's own trial
/// tests no target, so it is not counted.
fn selected(args: &Arguments, loaded: &Loaded) -> usize {
    trial_names(loaded, false)
        .into_iter()
        .map(|(name, ignored)| Trial::test(name, || Ok(())).with_ignored_flag(ignored))
        .filter(|t| !args.is_filtered_out(t) && !args.is_ignored(t))
        .count()
}

fn nothing_selected(args: &Arguments, loaded: &Loaded) -> SetupError {
    let total = loaded.cases.len() + loaded.broken.len();
    let filter = args.filter.as_deref().unwrap_or("");
    let parked = loaded
        .cases
        .iter()
        .filter(|c| c.ignore.is_some())
        .filter(|c| !args.is_filtered_out(&Trial::test(c.trial_name(), || Ok(()))))
        .count();
    let (what, help) = if args.ignored {
        (
            format!(
                "no case matching {filter:?} is ignored by its file (of {total}), so `--ignored` runs none"
            ),
            "drop --ignored to run the cases that are not parked",
        )
    } else if parked > 0 {
        (
            format!(
                "the {parked} case(s) matching {filter:?} are all ignored by their files: the run would test nothing"
            ),
            "run them anyway with --include-ignored, or choose other cases",
        )
    } else {
        (
            format!(
                "no case matches the filter {filter:?} (of {total} cases): the run would test nothing"
            ),
            "list the cases with: cargo test --test contract -- --list",
        )
    };
    SetupError::new(what, help).with_code(exit::NO_CASE_RUN)
}

/// `--exact gate::known-failures` (nextest's process for it): only the file's own check, and
/// its fragment when reports are asked for.
fn gate_only(
    args: &Arguments,
    settings: &Settings,
    contract: &Contract,
    gate: &Arc<KnownFailures>,
) -> Result<ExitCode, SetupError> {
    // Every trial there is, derived ones included, to tell a stale entry.
    let everything = discover(&Arguments::from_iter(["errcontract"]), settings, contract)?;
    let outcome: GateOutcome = Arc::default();
    let trial = gate_trial(gate.clone(), everything.trial_names(), outcome.clone());
    let conclusion = libtest_mimic::run(args, vec![trial]);
    let entry = take(&outcome);
    let out_of_date = entry.as_ref().is_some_and(|e| e.kind == Kind::Failed);
    let mut written = true;
    if let (Some(dir), Some(entry)) = (&settings.report_dir, entry) {
        let target = settings
            .base_url
            .as_deref()
            .map_or(Target::REFERENCE, |u| u.trim_end_matches('/'));
        let doc = Document::of(
            target,
            &contract.fingerprint,
            Some(&gate.file),
            &[entry],
            &Matrix::default(),
        );
        if let Err(e) =
            report::write_fragment(dir, &doc, GATE_TRIAL, &crate::redact::Secrets::new())
        {
            eprintln!(
                "errcontract: error: cannot write reports to {}: {e}",
                dir.display()
            );
            written = false;
        }
    }
    let failed = conclusion.has_failed() && !out_of_date;
    Ok(exit::code(exit::decide(None, failed, out_of_date, written)))
}

/// What the gate's trial found, once it ran: its report entry.
type GateOutcome = Arc<Mutex<Option<Entry>>>;

fn take(outcome: &GateOutcome) -> Option<Entry> {
    outcome
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
}

/// The trial that fails when the known-failures file is out of date (expired or stale
/// entries); `outcome` keeps its report entry, for the reports and the exit code.
fn gate_trial(gate: Arc<KnownFailures>, cases: Vec<String>, outcome: GateOutcome) -> Trial {
    Trial::test(GATE_TRIAL, move || {
        let problems = gate.out_of_date(&cases, gate::today());
        let message = (!problems.is_empty()).then(|| {
            format!(
                "{GATE_TRIAL}: {} is out of date ({} problem{}):\n{}",
                gate.file,
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                problems.join("\n")
            )
        });
        let entry = Entry::gate(GATE_TRIAL.to_string(), gate.file.clone(), message.clone());
        *outcome
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(entry);
        match message {
            None => Ok(()),
            Some(m) => Err(Failed::from(m)),
        }
    })
}

/// `--list`: names only, cheap and silent (no server, no network).
fn list(args: &Arguments, loaded: &Loaded, gated: bool) -> ExitCode {
    let trials = trial_names(loaded, gated)
        .into_iter()
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
fn announce(
    args: &Arguments,
    settings: &Settings,
    target: &Target,
    loaded: &Loaded,
    gate: Option<&KnownFailures>,
) {
    say(args, &format!("{}\n", header(settings, target)));
    if let Some(gate) = gate {
        let n = gate.entries.len();
        say(
            args,
            &format!(
                "errcontract: gated by {} (ERRCONTRACT_EXPECTATIONS): {n} known failure{}\n",
                gate.file,
                if n == 1 { "" } else { "s" }
            ),
        );
    }
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

/// One trial per case file (and the gate's own, when gated), sorted, and the jobs of exactly
/// the trials libtest will run (those it neither filters out nor ignores); the results are
/// gathered in the returned collector.
fn plan(
    args: &Arguments,
    loaded: Loaded,
    target: &Arc<Target>,
    contract: &Arc<Contract>,
    gate: Option<Arc<KnownFailures>>,
) -> (Vec<Trial>, Vec<Job>, Arc<Mutex<Collected>>) {
    let total = loaded.cases.len() + loaded.broken.len();
    let names = if gate.is_some() {
        loaded.trial_names()
    } else {
        Vec::new()
    };
    let collected = Arc::new(Mutex::new(Collected {
        entries: Vec::with_capacity(total),
        matrix: Matrix::new(&contract.table, &contract.endpoints),
        sent: false,
        contract: contract.fingerprint.clone(),
        gate_file: gate.as_ref().map(|g| g.file.clone()),
        gate: GateOutcome::default(),
    }));
    let ctx = Arc::new(TrialContext {
        target: target.clone(),
        gate: gate.clone(),
        today: gate::today(),
        collected: collected.clone(),
    });
    let mut planned: Vec<(Trial, Option<Job>)> = Vec::with_capacity(total + 1);
    for case in loaded.cases {
        let (trial, job) = case_trial(case.clone(), &ctx);
        // A parked case libtest will not run is still in the reports, with its reason.
        if let Some(why) = &case.ignore
            && !args.is_filtered_out(&trial)
            && args.is_ignored(&trial)
        {
            lock(&collected).entries.push(Entry::parked(
                case.trial_name(),
                report::display_path(&case.path),
                why,
            ));
        }
        planned.push((trial, job));
    }
    planned.extend(
        loaded
            .broken
            .into_iter()
            .map(|b| broken_trial(b, &collected)),
    );
    if let Some(gate) = gate {
        let outcome = lock(&collected).gate.clone();
        planned.push((gate_trial(gate, names, outcome), None));
    }
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

/// After libtest: the coverage matrix, the not-run summary, the expected failures, the guards,
/// the report files, the exit code. `whole` is false for one case picked with `--exact`.
fn finish(
    args: &Arguments,
    settings: &Settings,
    target: &Target,
    collected: &mut Collected,
    failed_trials: u64,
    whole: bool,
) -> ExitCode {
    let gate_entry = take(&collected.gate);
    let entries = &mut collected.entries;
    entries.extend(gate_entry);
    entries.sort_by(|a, b| a.trial.cmp(&b.trial));
    let mut doc = Document::of(
        target.identity(),
        &collected.contract,
        collected.gate_file.as_deref(),
        entries,
        &collected.matrix,
    );
    // A trial that failed without leaving a record (a job that panicked) still fails the run.
    let recorded = doc
        .cases
        .iter()
        .filter(|c| c.outcome.fails_the_run())
        .count();
    let conclusion = Conclusion::of(
        &doc.cases,
        settings.max_inconclusive,
        whole,
        failed_trials > recorded as u64,
    );
    // First what the run amounts to: how much of it ran, and a guard that says it proves less.
    if whole {
        let ran = report::ran_headline(
            entries
                .iter()
                .map(|e| (e.trial.as_str(), e.kind, e.reason.as_deref())),
            0,
        );
        say(args, &format!("\n{ran}.\n"));
    }
    for guard in &conclusion.guards {
        eprintln!("errcontract: error: {guard}");
    }
    if collected.sent {
        say(args, &format!("\n{}", collected.matrix.render()));
    }
    let not_run = report::not_run_summary(entries);
    if !not_run.is_empty() {
        say(args, &format!("\n{not_run}"));
    }
    let expected: Vec<String> = entries
        .iter()
        .filter(|e| e.kind == Kind::ExpectedFailure)
        .map(|e| format!("  {} ({})", e.trial, e.ticket.as_deref().unwrap_or("")))
        .collect();
    if let (false, Some(file)) = (expected.is_empty(), &collected.gate_file) {
        say(
            args,
            &format!(
                "\n{} expected failure{} ({file}; they do not fail the run):\n{}\n",
                expected.len(),
                if expected.len() == 1 { "" } else { "s" },
                expected.join("\n")
            ),
        );
    }
    doc.conclude(&conclusion);
    let mut written = true;
    if let Some(dir) = &settings.report_dir {
        match write_reports(dir, &doc, one_trial(args), &target.secrets) {
            Ok(files) if files.is_empty() => eprintln!(
                "errcontract: a one-case rerun writes no reports: those in {} stay the run's",
                dir.display()
            ),
            Ok(files) => {
                let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                eprintln!("errcontract: reports written: {}", names.join(", "));
                step_summary(dir, &files);
            }
            Err(e) => {
                eprintln!(
                    "errcontract: error: cannot write reports to {}: {e}",
                    dir.display()
                );
                written = false;
            }
        }
    }
    exit::code(conclusion.exit_code(written))
}

/// The cases to run: every file below the cases directory and the cases its templates derive,
/// or with `--exact case::x` just that file (nextest runs one process per case).
fn discover(
    args: &Arguments,
    settings: &Settings,
    contract: &Contract,
) -> Result<Loaded, SetupError> {
    let root = &settings.cases_dir;
    let exact = exact_case(args);
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
        None => case::suite(root, contract).map_err(|e| {
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
        )
        .with_code(exit::NO_CASE_RUN),
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

/// What every case's trial shares: where results go and what judges them.
struct TrialContext {
    target: Arc<Target>,
    gate: Option<Arc<KnownFailures>>,
    today: time::Date,
    collected: Arc<Mutex<Collected>>,
}

/// The trial of a loaded case, and the job that runs it; the job hands its result, as the
/// gate judges it, to the trial and to the reports.
fn case_trial(case: Arc<Case>, ctx: &Arc<TrialContext>) -> (Trial, Option<Job>) {
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
    let ctx = ctx.clone();
    let guard = Unfilled(slot);
    let done = Box::new(move |case: &Case, result: run::CaseResult| {
        let (verdict, entry) = judged(&ctx, case, result);
        let mut c = lock(&ctx.collected);
        c.entries.push(entry);
        drop(c);
        guard.0.put(Some(verdict));
    });
    let job = Job { case, done };
    (trial, Some(job))
}

/// A case's result, counted, and as the gate judges it: what its trial says and what reports
/// keep.
fn judged(ctx: &TrialContext, case: &Case, result: run::CaseResult) -> (Verdict, Entry) {
    let secrets = &ctx.target.secrets;
    let trial = case.trial_name();
    {
        let mut c = lock(&ctx.collected);
        c.matrix.add(&result);
        c.matrix.add_derived(case, &result);
        c.sent |= result.steps.iter().any(|s| s.requests > 0);
    }
    let failed_checks = result.findings().iter().map(|f| f.check).collect();
    let judgement = match &ctx.gate {
        Some(gate) => gate.judge(&trial, &result.outcome, &failed_checks, ctx.today),
        None => Judgement::Unlisted,
    };
    let text = report::failure(case, &result, &ctx.target);
    let file = ctx.gate.as_ref().map_or("", |g| g.file.as_str());
    let text = match judgement.failure_note(file) {
        Some(note) if text.is_empty() => format!("{trial}: {note}"),
        Some(note) => format!("{text}\n  {note}"),
        None => text,
    };
    let message: Option<Arc<str>> = (!text.is_empty()).then(|| Arc::from(secrets.redact(&text)));
    let failure = || Verdict::Failed(message.clone().unwrap_or_else(|| Arc::from(trial.as_str())));
    let verdict = match (&judgement, &result.outcome) {
        (Judgement::Expected { .. }, _) => {
            Verdict::NotRun(secrets.redact(&judgement.expected_note().unwrap_or_default()))
        }
        (Judgement::UnexpectedPass(_), _) | (_, Outcome::Failed { .. }) => failure(),
        (_, Outcome::Ignored(why)) => Verdict::NotRun(secrets.redact(&why.to_string())),
        (_, Outcome::Inconclusive(why)) => Verdict::NotRun(secrets.redact(&why.to_string())),
        (_, Outcome::Passed) => Verdict::Passed,
    };
    let entry = Entry::of(
        trial,
        report::display_path(&case.path),
        result,
        message,
        secrets,
    );
    let entry = match &judgement {
        Judgement::Expected { entry: e, .. } => {
            let mut entry = entry.judged(Kind::ExpectedFailure, &e.ticket);
            // Every report shows the vendor's reason beside the ticket, as the console does.
            entry.reason = judgement.expected_note().map(|n| secrets.redact(&n));
            entry
        }
        Judgement::UnexpectedPass(e) => entry.judged(Kind::UnexpectedPass, &e.ticket),
        Judgement::NewFailure { entry: e, .. } | Judgement::Expired(e) => {
            entry.judged(Kind::Failed, &e.ticket)
        }
        Judgement::Unlisted => entry,
    };
    (verdict, entry)
}

/// The trial of a case file that did not load: it fails with the file's problems.
fn broken_trial(broken: case::Broken, collected: &Arc<Mutex<Collected>>) -> (Trial, Option<Job>) {
    let collected = collected.clone();
    let trial = broken.trial_name();
    let t = Trial::test(trial.clone(), move || {
        let message: Arc<str> = Arc::from(format!("{trial}: {}", broken.errors));
        let mut c = lock(&collected);
        c.entries.push(Entry::invalid(
            trial,
            report::display_path(&broken.path),
            message.clone(),
        ));
        drop(c);
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
    /// The contract's fingerprint, for the reports.
    contract: String,
    /// The known-failures file, as displayed, when the run is gated.
    gate_file: Option<String>,
    /// What the gate's trial found, once it ran.
    gate: GateOutcome,
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
