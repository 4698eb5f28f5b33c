//! A closed stdout ends the process quietly, as `errcontract lint | head` expects.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe fails and `println!` (ours and
//! libtest-mimic's) panics with exit code 101. Restoring the default disposition lets the
//! kernel end the process at that write, silently, as it does every other command-line tool.

/// Restore the default SIGPIPE disposition; call once, first thing in `main`.
pub fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
