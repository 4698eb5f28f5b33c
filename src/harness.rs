//! The libtest adapter behind `cargo test --test contract` (and `errcontract run`): libtest's
//! arguments → the session's selection → one trial per case, each showing the verdict the
//! session hands it → what the session says, printed → the exit code. The run itself is
//! `session`; this and `main.rs` are the only places that print.

use std::process::ExitCode;

use libtest_mimic::{Arguments, Completion, Failed, FormatSetting, Trial};

use crate::exit;
use crate::gate::Verdict;
use crate::session::{
    Choice, Pick, Planned, Prepared, Selection, SetupError, Shown, Started, Written,
};
use crate::settings::Settings;

/// Run the suite with libtest-style arguments; the exit code is one of [`crate::exit`].
pub fn main(args: Arguments) -> ExitCode {
    match run(&args) {
        Ok(code) => exit::code(code),
        Err(e) => {
            eprintln!("errcontract: error: {e}");
            if let Some(help) = e.help() {
                eprintln!("  help: {help}");
            }
            exit::code(e.exit_code())
        }
    }
}

fn run(args: &Arguments) -> Result<u8, SetupError> {
    let settings = Settings::from_env().map_err(SetupError::Settings)?;
    let one = args
        .filter
        .as_deref()
        .filter(|_| args.exact && args.skip.is_empty())
        .map(Pick::of);
    let prepared = Prepared::new(settings, one)?;
    for warning in prepared.warnings() {
        eprintln!("errcontract: warning: {warning}");
    }
    if args.list {
        let trials = prepared
            .trials()
            .into_iter()
            .map(|(name, parked)| Trial::test(name, || Ok(())).with_ignored_flag(parked));
        let failed = libtest_mimic::run(args, trials.collect()).has_failed();
        return Ok(if failed { exit::FAILED } else { exit::OK });
    }
    let choose = |name: &str, parked: bool| choice(args, name, parked);
    let selection = Selection {
        choose: &choose,
        filter: args.filter.as_deref(),
        only_ignored: args.ignored,
        one,
    };
    let connected = prepared.connect(&selection)?;
    for line in connected.opening() {
        say(args, &format!("{line}\n"));
    }
    let parked = connected.parked();
    if !parked.is_empty() && !json_format(args) {
        println!("{}", parked.join("\n"));
    }
    let started = connected.launch(&selection)?;
    for note in started.notes() {
        say(args, &format!("{note}\n"));
    }
    let conclusion = libtest_mimic::run(args, trials(&started));
    let finished = started.finish(conclusion.num_failed);
    let mut closing = finished.closing.iter();
    // How much ran, then a guard that says the run proves less, before the details.
    if let Some(first) = closing.next() {
        say(args, &format!("\n{first}"));
    }
    for guard in &finished.concluded.guards {
        eprintln!("errcontract: error: {guard}");
    }
    for text in closing {
        say(args, &format!("\n{text}"));
    }
    print_written(&finished.concluded.written);
    Ok(finished.concluded.exit_code)
}

/// How libtest treats the trial `name`, parked by its file or not.
fn choice(args: &Arguments, name: &str, parked: bool) -> Choice {
    let trial = Trial::test(name, || Ok(())).with_ignored_flag(parked);
    if args.is_filtered_out(&trial) {
        Choice::FilteredOut
    } else if args.is_ignored(&trial) {
        Choice::Skipped
    } else {
        Choice::Run
    }
}

/// One libtest trial per planned trial: each waits for its verdict, then shows it.
fn trials(started: &Started) -> Vec<Trial> {
    started
        .trials()
        .iter()
        .map(|Planned { name, parked, slot }| {
            let (trial, slot) = (name.clone(), slot.clone());
            Trial::ignorable_test(name, move || shown(&trial, slot.take()))
                .with_ignored_flag(*parked)
        })
        .collect()
}

/// What a trial shows of its verdict: a pass, a failure with its text, or "ignored" with why
/// (not run, not concluded, or an expected failure: libtest has no state of its own for it).
fn shown(trial: &str, verdict: Option<Shown>) -> Result<Completion, Failed> {
    let Some(shown) = verdict else {
        return Err(Failed::from(
            "the case ended without a result; this is a bug in errcontract, please report it",
        ));
    };
    match shown.verdict {
        Verdict::Passed => Ok(Completion::Completed),
        Verdict::Failed | Verdict::UnexpectedPass | Verdict::InvalidCase => {
            Err(Failed::from(shown.message.as_deref().unwrap_or(trial)))
        }
        Verdict::ExpectedFailure | Verdict::Ignored | Verdict::Inconclusive => {
            Ok(Completion::ignored_with(shown.reason.unwrap_or_default()))
        }
    }
}

/// Which reports were written, or why not.
pub fn print_written(written: &Written) {
    match written {
        Written::Nothing => {}
        Written::KeptTheRuns(dir) => eprintln!(
            "errcontract: a one-case rerun writes no reports: those in {} stay the run's",
            dir.display()
        ),
        Written::Files {
            files,
            step_summary,
        } => {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            eprintln!("errcontract: reports written: {}", names.join(", "));
            if let Some(e) = step_summary {
                eprintln!(
                    "errcontract: warning: cannot append summary.md to $GITHUB_STEP_SUMMARY: {e}"
                );
            }
        }
        Written::Failed { dir, error } => eprintln!(
            "errcontract: error: cannot write reports to {}: {error}",
            dir.display()
        ),
    }
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
