//! Every exit code errcontract chooses, in one place (README.md, "Exit codes", lists them).

use std::process::ExitCode;

/// Every case held (or was not run, with its reason); `errcontract lint`: every file is clean.
pub const OK: u8 = 0;
/// `errcontract lint`: case files have problems; `errcontract derive`: the template has problems.
pub const INVALID_CASES: u8 = 1;
/// Nothing was tested: bad settings, schemas that do not compile, no cases, the target
/// unreachable, the reference server could not start, or a command line errcontract cannot use.
pub const SETUP: u8 = 2;
/// A case failed (libtest's own code for a failed test).
pub const FAILED: u8 = 101;

/// The `ExitCode` of one of the codes above.
pub fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}
