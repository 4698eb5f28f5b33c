//! One run as a library call, printing nothing. In four steps, each a type:
//!
//! - [`Prepared::new`]: settings → the contract → the known failures → the cases (one file for
//!   `--exact case::…`, the whole suite otherwise, derived cases included);
//! - [`Prepared::connect`]: the guards that need no target (nothing selected, an unwritable
//!   report directory), the runtime, the client, the target (or the built-in reference server);
//! - [`Connected::launch`]: the target reachable, the target's model lists, the scheduler
//!   started; every trial gets a slot its verdict arrives in ([`Started::trials`]);
//! - [`Started::finish`]: once every trial has taken its verdict, the guards over the results,
//!   a `Document`, and its reports written by the code merges and traffic checks end in too
//!   ([`conclude`]).
//!
//! Results reach the session as events from the scheduler and are judged on a thread of its
//! own (`collect.rs`). The adapters (`harness` for libtest, `main.rs`) print what it returns.

mod collect;
mod conclude;
mod merge;
mod models;
mod plan;
mod proxy;
mod setup;
mod slot;
mod target;
mod traffic;

use std::path::Path;
use std::sync::Arc;

pub use conclude::{Concluded, Finished, Judging, Output, Results, Written, conclude, finish};
pub use merge::{MergeOutcome, merge};
pub use proxy::{Live, ProxyOptions, ProxyOutcome, Stopped, proxy};
pub use setup::{NothingSelected, SetupError};
pub(crate) use slot::Shown;
pub use traffic::{Traffic, TrafficCheck, TrafficOutcome, Trial, check_files};

use crate::case::{self, CaseError, Loaded, TRIAL_PREFIX};
use crate::contract::Contract;
use crate::gate::{self, GATE_TRIAL, KnownFailures};
use crate::probe::{Probe, ProbeConfig};
use crate::reference::Running;
use crate::report::{self, Matrix};
use crate::run::{self, Runner};
use crate::settings::Settings;
use crate::target::Target;
use collect::{Collected, Reader};
use plan::Plan;
pub(crate) use plan::Planned;

/// How the adapter's selection treats a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    /// It runs.
    Run,
    /// It is selected by the filter but not run (parked by its file, or `--ignored` leaves it).
    Skipped,
    /// The filter leaves it out.
    FilteredOut,
}

/// Which trials the adapter runs: libtest's filter, `--exact`, `--ignored`, as the session
/// needs them.
pub(crate) struct Selection<'a> {
    /// How a trial of this name, parked by its file or not, is treated.
    pub choose: &'a dyn Fn(&str, bool) -> Choice,
    /// The filter, as the user gave it (for "nothing selected").
    pub filter: Option<&'a str>,
    /// `--ignored`: only parked trials run.
    pub only_ignored: bool,
    /// The one trial `--exact NAME` picks without `--skip` (nextest runs each trial so).
    pub one: Option<Pick<'a>>,
}

/// The one trial `--exact NAME` picks, by what it is of: its name is read here only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick<'a> {
    /// A case file (`case::area/name`): that file alone is loaded.
    Case(&'a str),
    /// The known-failures file's own check (`gate::known-failures`): nothing is sent.
    KnownFailuresFile,
    /// Any other trial (a derived case): the whole suite is loaded to find it.
    Trial(&'a str),
}

impl<'a> Pick<'a> {
    /// What the trial `name` is of.
    pub fn of(name: &'a str) -> Pick<'a> {
        if name == GATE_TRIAL {
            Pick::KnownFailuresFile
        } else if name.starts_with(TRIAL_PREFIX) {
            Pick::Case(name)
        } else {
            Pick::Trial(name)
        }
    }

    /// The trial's name.
    pub fn name(self) -> &'a str {
        match self {
            Pick::Case(name) | Pick::Trial(name) => name,
            Pick::KnownFailuresFile => GATE_TRIAL,
        }
    }
}

/// A run with its cases loaded; nothing started, nothing sent.
pub(crate) struct Prepared {
    settings: Settings,
    contract: Arc<Contract>,
    gate: Option<Arc<KnownFailures>>,
    loaded: Loaded,
}

impl Prepared {
    /// Load the contract, the known failures and the cases: only the file `--exact case::x`
    /// names (`one`), else the whole suite.
    pub fn new(settings: Settings, one: Option<Pick<'_>>) -> Result<Prepared, SetupError> {
        let contract = Contract::load(&settings.schemas_dir).map_err(SetupError::Schemas)?;
        let gate = match &settings.expectations {
            Some(path) => Some(Arc::new(
                KnownFailures::load(path).map_err(SetupError::KnownFailures)?,
            )),
            None => None,
        };
        let exact = match one {
            Some(Pick::Case(name)) => Some(name),
            _ => None,
        };
        let loaded = discover(&settings.cases_dir, exact, &contract)?;
        Ok(Prepared {
            settings,
            contract: Arc::new(contract),
            gate,
            loaded,
        })
    }

    /// Files near the cases that are not read (look-alikes, links), for the user to hear of.
    pub fn warnings(&self) -> &[CaseError] {
        &self.loaded.warnings
    }

    /// Every trial, sorted, with whether its file parks it: the cases, the broken files, and
    /// the gate's own trial when the run is gated.
    pub fn trials(&self) -> Vec<(String, bool)> {
        let mut names: Vec<(String, bool)> = self
            .loaded
            .cases
            .iter()
            .map(|c| (c.trial_name(), c.ignore.is_some()))
            .chain(self.loaded.broken.iter().map(|b| (b.trial_name(), false)))
            .chain(self.gate.is_some().then(|| (GATE_TRIAL.to_string(), false)))
            .collect();
        names.sort();
        names
    }

    /// Refuse what proves nothing before anything is started (nothing selected, an unwritable
    /// report directory); then start the runtime and the client, and choose the target.
    pub fn connect(self, selection: &Selection<'_>) -> Result<Connected, SetupError> {
        let gate_only = self.gate.is_some() && selection.one == Some(Pick::KnownFailuresFile);
        if !gate_only {
            self.something_selected(selection)?;
        }
        if let Some(dir) = &self.settings.report_dir {
            report::check_writable(dir).map_err(|source| SetupError::ReportDir {
                dir: dir.clone(),
                source,
            })?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(SetupError::Runtime)?;
        let (target, server) = if gate_only {
            (self.named_target(), None)
        } else {
            target::choose(&self.settings, &runtime)?
        };
        Ok(Connected {
            prepared: self,
            runtime,
            target,
            _server: server,
            gate_only,
        })
    }

    /// The target a run that sends nothing names in its reports.
    fn named_target(&self) -> Target {
        match &self.settings.base_url {
            Some(url) => Target::new(url, false, Default::default(), Default::default()),
            None => Target::new(
                Target::REFERENCE,
                true,
                Default::default(),
                Default::default(),
            ),
        }
    }

    fn something_selected(&self, selection: &Selection<'_>) -> Result<(), SetupError> {
        let choices: Vec<(Choice, bool)> = self
            .loaded
            .cases
            .iter()
            .map(|c| (c.trial_name(), c.ignore.is_some()))
            .chain(self.loaded.broken.iter().map(|b| (b.trial_name(), false)))
            .map(|(name, parked)| ((selection.choose)(&name, parked), parked))
            .collect();
        if choices.iter().any(|(c, _)| *c == Choice::Run) {
            return Ok(());
        }
        let total = choices.len();
        let filter = selection.filter.unwrap_or("").to_string();
        let parked = choices
            .iter()
            .filter(|(c, parked)| *parked && *c != Choice::FilteredOut)
            .count();
        Err(SetupError::NothingSelected(if selection.only_ignored {
            NothingSelected::NoneParked { filter, total }
        } else if parked > 0 {
            NothingSelected::AllParked { filter, parked }
        } else {
            NothingSelected::NoMatch { filter, total }
        }))
    }
}

/// A run whose target is chosen (and the built-in server started); nothing sent yet.
pub(crate) struct Connected {
    prepared: Prepared,
    runtime: tokio::runtime::Runtime,
    target: Target,
    _server: Option<Running>,
    gate_only: bool,
}

impl Connected {
    /// The lines that open the run: which target, and the gate.
    pub fn opening(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.gate_only {
            return lines;
        }
        lines.push(target::header(&self.prepared.settings, &self.target));
        if let Some(gate) = &self.prepared.gate {
            let n = gate.entries.len();
            lines.push(format!(
                "errcontract: gated by {} (ERRCONTRACT_EXPECTATIONS): {n} known failure{}",
                gate.file,
                if n == 1 { "" } else { "s" }
            ));
        }
        lines
    }

    /// The cases their own files park, with why (none for the gate's own process: it runs
    /// no case).
    pub fn parked(&self) -> Vec<String> {
        if self.gate_only {
            return Vec::new();
        }
        self.prepared
            .loaded
            .cases
            .iter()
            .filter_map(|c| {
                c.ignore
                    .as_ref()
                    .map(|why| format!("  {} ignored by its file: {why}", c.trial_name()))
            })
            .collect()
    }

    /// Check the target answers, read its model lists when derived cases need them, and start
    /// the selected cases; every trial's verdict arrives in its slot.
    pub fn launch(self, selection: &Selection<'_>) -> Result<Started, SetupError> {
        let Connected {
            prepared,
            runtime,
            target,
            _server,
            gate_only,
        } = self;
        let Prepared {
            settings,
            contract,
            gate,
            mut loaded,
        } = prepared;
        let probe = Probe::new(ProbeConfig::of(&settings, target.in_process))
            .map_err(SetupError::Client)?;
        let mut notes = Vec::new();
        if !gate_only {
            let first = crate::preflight::connect(
                &probe,
                &target.base_url,
                target.in_process,
                settings.connect_timeout,
            );
            let connection = runtime.block_on(first).map_err(SetupError::connection)?;
            notes.extend(connection.line());
            let models = models::refresh(
                &mut loaded,
                &settings.cases_dir,
                &contract,
                (&probe, &target, settings.rps),
                |name| (selection.choose)(name, false) == Choice::Run,
            );
            notes.extend(runtime.block_on(models).map_err(SetupError::Templates)?);
        }
        let target = Arc::new(target);
        let today = gate::today();
        let Plan {
            trials,
            cases,
            jobs,
            collected,
        } = plan::plan(
            &loaded,
            selection,
            gate.as_deref(),
            (&contract, &settings.cases_dir),
            today,
        );
        let interrupt = run::Interrupt::default();
        interrupt.listen(runtime.handle());
        let runner = Arc::new(
            Runner::new(probe, contract.clone(), (*target).clone(), settings.clone())
                .interruptible(interrupt.clone()),
        );
        let events = run::spawn(runtime.handle(), runner, jobs);
        let reader = Reader {
            cases,
            target: target.clone(),
            gate: gate.clone(),
            today,
            cases_dir: settings.cases_dir.clone(),
        };
        let collector = std::thread::Builder::new()
            .name("errcontract-results".into())
            .spawn(move || reader.read(events, collected))
            .map_err(SetupError::Runtime)?;
        let output = match (selection.one, settings.under_nextest) {
            (Some(one), true) => Output::Fragment(one.name().to_string()),
            (Some(_), false) => Output::Nothing,
            (None, _) if selection.filter.is_some() || selection.only_ignored => Output::PartRun,
            (None, _) => Output::Run,
        };
        Ok(Started {
            notes,
            trials,
            collector,
            settings,
            contract,
            gate,
            target,
            output,
            whole: selection.one.is_none(),
            interrupt,
            _runtime: runtime,
            _server,
        })
    }
}

/// A run under way: its trials wait in their slots for verdicts.
pub(crate) struct Started {
    notes: Vec<String>,
    trials: Vec<Planned>,
    collector: std::thread::JoinHandle<Collected>,
    settings: Settings,
    contract: Arc<Contract>,
    gate: Option<Arc<KnownFailures>>,
    target: Arc<Target>,
    output: Output,
    whole: bool,
    /// SIGINT and SIGTERM, listened for while the cases run.
    interrupt: run::Interrupt,
    _runtime: tokio::runtime::Runtime,
    _server: Option<Running>,
}

impl Started {
    /// What the session learnt before the trials (where the models' values came from).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Every trial, sorted, with the slot its verdict arrives in.
    pub fn trials(&self) -> &[Planned] {
        &self.trials
    }

    /// After every trial has taken its verdict: the matrix, the not-run summary, the expected
    /// failures, the guards, the reports, the exit code. `failed_trials` is how many trials
    /// the adapter saw fail (a trial that failed without a record still fails the run).
    pub fn finish(self, failed_trials: u64) -> Finished {
        // The reader never panics (it catches what judging a case throws); were it to, the
        // run concludes on what reached it, and trials that failed still fail it.
        let collected = self.collector.join().unwrap_or_else(|_| Collected {
            entries: Vec::new(),
            matrix: Matrix::default(),
            sent: false,
        });
        let results = Results {
            target: self.target.identity().to_string(),
            contract: self.contract.fingerprint.clone(),
            gate_file: self.gate.as_ref().map(|g| g.file.clone()),
            entries: collected.entries,
            matrix: collected.matrix,
            sent: collected.sent,
            guards: Vec::new(),
        };
        let judging = Judging {
            max_inconclusive: self.settings.max_inconclusive,
            whole: self.whole,
            failed_trials,
        };
        let mut finished = finish(
            results,
            &judging,
            self.settings.report_dir.as_deref(),
            &self.output,
            &self.target.secrets,
        );
        // An interrupted run says so by its code, whatever the cases came to.
        if let Some(signal) = self.interrupt.raised() {
            finished.concluded.exit_code = signal.exit_code();
        }
        finished
    }
}

/// The cases to run: every file below the cases directory and the cases its templates derive,
/// or with `--exact case::x` just that file (nextest runs one process per case).
fn discover(root: &Path, exact: Option<&str>, contract: &Contract) -> Result<Loaded, SetupError> {
    let loaded = match exact {
        Some(name) => {
            let file = case::file_of(root, name).map_err(SetupError::BadCaseName)?;
            let files = if file.is_file() { vec![file] } else { vec![] };
            Loaded::files(root, files, contract)
        }
        None => crate::derive::suite(root, contract).map_err(|source| SetupError::CasesDir {
            dir: root.to_path_buf(),
            source,
        })?,
    };
    if !loaded.cases.is_empty() || !loaded.broken.is_empty() {
        return Ok(loaded);
    }
    Err(match exact {
        Some(name) => SetupError::NoSuchCase {
            name: name.to_string(),
            file: root
                .join(name.trim_start_matches(TRIAL_PREFIX))
                .with_extension("json"),
        },
        None => SetupError::NoCaseFiles {
            dir: root.to_path_buf(),
        },
    })
}
