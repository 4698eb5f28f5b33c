//! Every exit code errcontract chooses, in one place (README.md, "Exit codes", lists them; a
//! self-test provokes each one).
//!
//! The guards' codes say why a run proved nothing (or less than it seems to): CI can tell "the
//! key expired" from "the target regressed" without reading the log.

use std::process::ExitCode;

/// Every selected case held (expected failures included) or was not run with its reason;
/// `errcontract lint`: every file is clean.
pub const OK: u8 = 0;
/// `errcontract lint`: case files have problems; `errcontract derive`: the template has problems.
pub const INVALID_CASES: u8 = 1;
/// Nothing was tested: bad settings, schemas that do not compile, no case files, an invalid
/// known-failures file, the reference server could not start, or a command line errcontract
/// cannot use.
pub const SETUP: u8 = 2;
/// Guard: no case was selected (the filter matched none), or every selected case was not run.
pub const NO_CASE_RUN: u8 = 3;
/// Guard: the target does not accept connections; nothing was sent.
pub const UNREACHABLE: u8 = 4;
/// Guard: the target stopped answering; the cases left were not run.
pub const STOPPED_ANSWERING: u8 = 5;
/// Guard: every case sent with the `valid` key was refused as unauthenticated: the key is
/// wrong or expired.
pub const KEY_REJECTED: u8 = 6;
/// Guard: more cases were inconclusive than `ERRCONTRACT_MAX_INCONCLUSIVE` allows.
pub const TOO_MANY_INCONCLUSIVE: u8 = 7;
/// Guard: `ERRCONTRACT_BASE_URL` is set but empty (a CI secret or variable that is missing).
pub const BLANK_TARGET: u8 = 8;
/// Guard: the report directory cannot be written; checked before anything is sent.
pub const REPORT_DIR_UNWRITABLE: u8 = 9;
/// The known-failures file is out of date: an entry expired or names no case.
pub const STALE_EXPECTATIONS: u8 = 10;
/// `errcontract report`: cases of the suite have no result in the fragments merged (a shard
/// missing, a process killed); `--partial` accepts that.
pub const INCOMPLETE: u8 = 11;
/// Guard: the first connection failed TLS (a certificate not trusted, expired or for another
/// name, a client certificate demanded or refused, no TLS where `https` was given); nothing was
/// sent.
pub const TLS: u8 = 12;
/// Guard: the proxy the environment names (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`) refused
/// or could not be reached; nothing was sent.
pub const PROXY: u8 = 13;
/// stdout or stderr could not be written (a full disk, `> /dev/full`); said on the other
/// stream when it can be.
pub const OUTPUT_UNWRITABLE: u8 = 14;
/// The run was interrupted by SIGINT (ctrl-c); the cases left are "not run: interrupted" and
/// the reports were written. 128 + the signal's number, as shells report it.
pub const INTERRUPTED: u8 = 130;
/// The run was stopped by SIGTERM (a cancelled CI job); as [`INTERRUPTED`].
pub const TERMINATED: u8 = 143;
/// A case failed, or a listed case passed (an unexpected pass); libtest's own code for a
/// failed test.
pub const FAILED: u8 = 101;

/// Every code, with its name as the README's table gives it.
pub const ALL: [(u8, &str); 18] = [
    (OK, "OK"),
    (INVALID_CASES, "INVALID_CASES"),
    (SETUP, "SETUP"),
    (NO_CASE_RUN, "NO_CASE_RUN"),
    (UNREACHABLE, "UNREACHABLE"),
    (STOPPED_ANSWERING, "STOPPED_ANSWERING"),
    (KEY_REJECTED, "KEY_REJECTED"),
    (TOO_MANY_INCONCLUSIVE, "TOO_MANY_INCONCLUSIVE"),
    (BLANK_TARGET, "BLANK_TARGET"),
    (REPORT_DIR_UNWRITABLE, "REPORT_DIR_UNWRITABLE"),
    (STALE_EXPECTATIONS, "STALE_EXPECTATIONS"),
    (INCOMPLETE, "INCOMPLETE"),
    (TLS, "TLS"),
    (PROXY, "PROXY"),
    (OUTPUT_UNWRITABLE, "OUTPUT_UNWRITABLE"),
    (INTERRUPTED, "INTERRUPTED"),
    (TERMINATED, "TERMINATED"),
    (FAILED, "FAILED"),
];

/// The one code of a finished run: a guard that explains the failures (the target stopped
/// answering, the key is refused) before a failed case, a failed case before any other guard,
/// that before an out-of-date known-failures file; reports that could not be written turn
/// only a run that held anyway.
pub fn decide(
    guard: Option<(u8, bool)>,
    cases_failed: bool,
    out_of_date: bool,
    reports_written: bool,
) -> u8 {
    let code = match guard {
        Some((code, true)) => code,
        _ if cases_failed => FAILED,
        Some((code, false)) => code,
        None if out_of_date => STALE_EXPECTATIONS,
        None => OK,
    };
    if code == OK && !reports_written {
        REPORT_DIR_UNWRITABLE
    } else {
        code
    }
}

/// The `ExitCode` of one of the codes above.
pub fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_that_explains_most_wins() {
        assert_eq!(
            decide(Some((KEY_REJECTED, true)), true, true, true),
            KEY_REJECTED
        );
        assert_eq!(
            decide(Some((TOO_MANY_INCONCLUSIVE, false)), true, false, true),
            FAILED
        );
        assert_eq!(
            decide(Some((TOO_MANY_INCONCLUSIVE, false)), false, true, true),
            TOO_MANY_INCONCLUSIVE
        );
        assert_eq!(decide(None, false, true, true), STALE_EXPECTATIONS);
        assert_eq!(decide(None, false, false, false), REPORT_DIR_UNWRITABLE);
        assert_eq!(
            decide(None, true, false, false),
            FAILED,
            "lost reports never hide a failure"
        );
        assert_eq!(decide(None, false, false, true), OK);
    }
}
