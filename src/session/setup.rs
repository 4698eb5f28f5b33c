//! Everything that stops a run before it sends anything, typed: each variant says what went
//! wrong and what to do, and maps to its exit code in one `match` ([`SetupError::exit_code`]).
//! Nothing was tested when one of these ends a run.

use std::path::PathBuf;

use crate::contract::ContractError;
use crate::exit;
use crate::gate::FileProblems;
use crate::settings::{SettingsError, SettingsErrorKind};

/// Why a run stopped before sending anything.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// An `ERRCONTRACT_*` variable errcontract cannot use.
    #[error("{0}")]
    Settings(SettingsError),
    /// The schemas do not load or compile.
    #[error("{0}")]
    Schemas(ContractError),
    /// The known-failures file has problems.
    #[error("{0}")]
    KnownFailures(FileProblems),
    /// The cases directory cannot be read.
    #[error("cannot read the cases directory {}: {source}", dir.display())]
    CasesDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The cases directory holds no case file.
    #[error("no case files (*.json) found below {}", dir.display())]
    NoCaseFiles {
        /// The directory.
        dir: PathBuf,
    },
    /// `--exact` named a case outside the cases directory.
    #[error("{0}")]
    BadCaseName(crate::case::BadName),
    /// `--exact` named a case whose file does not exist.
    #[error("no case named {name} (looked for {})", file.display())]
    NoSuchCase {
        /// The trial name.
        name: String,
        /// The file it would be.
        file: PathBuf,
    },
    /// The filter selects no case libtest would run.
    #[error("{0}")]
    NothingSelected(NothingSelected),
    /// The report directory cannot be written.
    #[error("cannot write reports to {} (ERRCONTRACT_REPORT_DIR): {source}", dir.display())]
    ReportDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `errcontract proxy --record` cannot be written (or is `-`: stdout carries the break
    /// lines).
    #[error("cannot write the recording to {} (--record): {source}", path.display())]
    Record {
        /// The path given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The async runtime did not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The HTTP client could not be built.
    #[error("{0}")]
    Client(crate::probe::ClientError),
    /// The built-in reference server did not start.
    #[error("cannot start the built-in reference server: {0}")]
    ReferenceServer(std::io::Error),
    /// The target does not accept connections.
    #[error("the target {target} is unreachable: {why}")]
    Unreachable {
        /// Its base URL.
        target: String,
        /// Why.
        why: String,
    },
    /// The first connection failed TLS, or the proxy refused it.
    #[error("{0}")]
    Connection(crate::preflight::PreflightError),
    /// `errcontract proxy` cannot listen where it was asked.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The templates could not be read again with the target's model lists.
    #[error("cannot read the templates: {0}")]
    Templates(std::io::Error),
}

/// Which way a filter selected nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NothingSelected {
    /// `--ignored`, and no matching case is parked by its file.
    #[error(
        "no case matching {filter:?} is ignored by its file (of {total}), so `--ignored` runs none"
    )]
    NoneParked {
        /// The filter.
        filter: String,
        /// Cases (and broken files) there are.
        total: usize,
    },
    /// Every matching case is parked by its file.
    #[error(
        "the {parked} case(s) matching {filter:?} are all ignored by their files: the run would test nothing"
    )]
    AllParked {
        /// The filter.
        filter: String,
        /// The matching cases.
        parked: usize,
    },
    /// No case matches.
    #[error("no case matches the filter {filter:?} (of {total} cases): the run would test nothing")]
    NoMatch {
        /// The filter.
        filter: String,
        /// Cases (and broken files) there are.
        total: usize,
    },
}

/// How to list the cases, the help of every "no such case" error.
const LIST: &str = "list the cases with: cargo test --test contract -- --list";

impl SetupError {
    /// The exit code of the run it stopped ([`crate::exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            SetupError::Settings(e) if e.kind == SettingsErrorKind::BlankTarget => {
                exit::BLANK_TARGET
            }
            SetupError::NoSuchCase { .. } | SetupError::NothingSelected(_) => exit::NO_CASE_RUN,
            SetupError::ReportDir { .. } => exit::REPORT_DIR_UNWRITABLE,
            SetupError::Unreachable { .. } => exit::UNREACHABLE,
            SetupError::Connection(e) => e.code(),
            SetupError::Settings(_)
            | SetupError::Schemas(_)
            | SetupError::KnownFailures(_)
            | SetupError::CasesDir { .. }
            | SetupError::NoCaseFiles { .. }
            | SetupError::BadCaseName(_)
            | SetupError::Runtime(_)
            | SetupError::Client(_)
            | SetupError::ReferenceServer(_)
            | SetupError::Listen { .. }
            | SetupError::Record { .. }
            | SetupError::Templates(_) => exit::SETUP,
        }
    }

    /// What to do about it, when there is more to say than the error itself.
    pub fn help(&self) -> Option<&'static str> {
        Some(match self {
            // Its own text ends with its help.
            SetupError::Settings(_) => return None,
            SetupError::Schemas(crate::contract::ContractError::Read { path, source })
                if source.kind() == std::io::ErrorKind::NotFound
                    && *path == crate::contract::default_schemas_dir() =>
            {
                "this build reads its schemas and cases from the checkout it was built in, which is \
                 not here (a nextest archive run elsewhere?): run it in a checkout at that path, or \
                 set ERRCONTRACT_SCHEMAS and ERRCONTRACT_CASES to this checkout's schemas/ and cases/"
            }
            SetupError::Schemas(_) => {
                "fix the schema, or point ERRCONTRACT_SCHEMAS at a valid schemas directory"
            }
            SetupError::KnownFailures(_) => {
                "fix the file, or unset ERRCONTRACT_EXPECTATIONS to run without the gate"
            }
            SetupError::CasesDir { .. } => "point ERRCONTRACT_CASES at a directory of case files",
            SetupError::NoCaseFiles { .. } => {
                "point ERRCONTRACT_CASES at a directory of case files; a run of zero cases proves nothing"
            }
            SetupError::BadCaseName(_) | SetupError::NoSuchCase { .. } => LIST,
            SetupError::NothingSelected(NothingSelected::NoneParked { .. }) => {
                "drop --ignored to run the cases that are not parked"
            }
            SetupError::NothingSelected(NothingSelected::AllParked { .. }) => {
                "run them anyway with --include-ignored, or choose other cases"
            }
            SetupError::NothingSelected(NothingSelected::NoMatch { .. }) => LIST,
            SetupError::ReportDir { .. } => {
                "point ERRCONTRACT_REPORT_DIR at a directory you can write; nothing was sent"
            }
            SetupError::Unreachable { .. } => {
                "check ERRCONTRACT_BASE_URL and that the service is up; no case was run"
            }
            SetupError::Connection(e) => e.help(),
            SetupError::Client(_) => "fix the file the variable names, or unset the variable",
            SetupError::Listen { .. } => "pick a free address with --listen 127.0.0.1:PORT",
            SetupError::Record { .. } => {
                "give --record a file to create in a directory that exists and you can write (FILE is replaced), or leave --record out to record nothing; nothing was sent"
            }
            SetupError::Runtime(_) | SetupError::ReferenceServer(_) | SetupError::Templates(_) => {
                return None;
            }
        })
    }

    /// The failure of the first connection: an unreachable target keeps its own variant.
    pub(crate) fn connection(e: crate::preflight::PreflightError) -> Self {
        match e {
            crate::preflight::PreflightError::Unreachable { url, detail } => {
                SetupError::Unreachable {
                    target: url,
                    why: detail,
                }
            }
            other => SetupError::Connection(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stop_before_sending_has_its_own_code() {
        let blank = SettingsError {
            var: "ERRCONTRACT_BASE_URL".into(),
            shown: String::new(),
            problem: "set but empty".into(),
            help: "give the target's URL".into(),
            kind: SettingsErrorKind::BlankTarget,
        };
        assert_eq!(SetupError::Settings(blank).exit_code(), exit::BLANK_TARGET);
        let unreachable = SetupError::Unreachable {
            target: "http://127.0.0.1:1".into(),
            why: "refused".into(),
        };
        assert_eq!(unreachable.exit_code(), exit::UNREACHABLE);
        assert!(unreachable.help().unwrap().contains("no case was run"));
        let none = SetupError::NothingSelected(NothingSelected::NoMatch {
            filter: "x".into(),
            total: 3,
        });
        assert_eq!(none.exit_code(), exit::NO_CASE_RUN);
        assert_eq!(none.help(), Some(LIST));
    }

    #[test]
    fn a_build_run_away_from_its_checkout_says_which_variables_to_set() {
        use crate::contract::{ContractError, default_schemas_dir};
        let missing = |path| {
            SetupError::Schemas(ContractError::Read {
                path,
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })
        };
        let moved = missing(default_schemas_dir()).help().unwrap();
        assert!(
            moved.contains("ERRCONTRACT_SCHEMAS") && moved.contains("ERRCONTRACT_CASES"),
            "{moved}"
        );
        // A directory the user named that is missing is theirs to fix.
        let named = missing("/nowhere/schemas".into()).help().unwrap();
        assert!(named.starts_with("fix the schema"), "{named}");
    }
}
