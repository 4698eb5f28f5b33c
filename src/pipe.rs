//! A closed stdout ends the process quietly, as `errcontract lint | head` expects.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe fails and `println!` (ours and
//! libtest-mimic's) panics with exit code 101. SIGPIPE's default disposition cannot simply be
//! restored for the whole process: the HTTP client writes request bodies with `writev`, which
//! (unlike `send`) raises SIGPIPE when a target closes the connection mid-body, and that would
//! kill the run. So only a failed write to stdout or stderr ends the process, the way the
//! kernel ends any other command-line tool: by SIGPIPE, with no panic message.
//!
//! Any other failed write to stdout or stderr (a full disk, `> /dev/full`) is no bug of ours
//! either: it is said on the other stream, when that one can be written, and the process ends
//! with [`crate::exit::OUTPUT_UNWRITABLE`], never a panic's 101.

use std::io::Write;

/// Install the hook; call once, first thing in `main`.
pub fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // Whoever panicked (our printing, or libtest-mimic's unwrap on a failed write), a
        // panic while stdout or stderr is a pipe nobody reads is that pipe's closing.
        if closed(1) || closed(2) {
            end_by_sigpipe();
        }
        if let Some(stream) = failed_print(info) {
            end_unwritable(stream, info);
        }
        default(info);
    }));
}

/// Which standard stream a panic of `print!`/`eprint!` failed to write, if that is what it is.
///
/// The standard library gives no typed error here: the panic comes from its `io/stdio.rs`
/// (the location is checked, not only the text), and its message names the stream.
fn failed_print(info: &std::panic::PanicHookInfo<'_>) -> Option<Stream> {
    let location = info.location()?;
    if !location.file().replace('\\', "/").ends_with("io/stdio.rs") {
        return None;
    }
    let message = info
        .payload()
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| info.payload().downcast_ref::<&str>().copied())?;
    if message.contains("stdout") {
        Some(Stream::Stdout)
    } else if message.contains("stderr") {
        Some(Stream::Stderr)
    } else {
        None
    }
}

/// A standard output stream.
#[derive(Debug, Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Say on the other stream that `failed` cannot be written, then end with the documented code.
fn end_unwritable(failed: Stream, info: &std::panic::PanicHookInfo<'_>) -> ! {
    let cause = info
        .payload()
        .downcast_ref::<String>()
        .and_then(|m| m.split_once(": ").map(|(_, cause)| cause.to_string()))
        .unwrap_or_default();
    let text = match failed {
        Stream::Stdout => format!(
            "errcontract: error: cannot write to stdout ({cause}); the run stopped\n  help: send stdout to a file or device that can be written\n"
        ),
        Stream::Stderr => {
            format!("errcontract: error: cannot write to stderr ({cause}); the run stopped\n")
        }
    };
    // Either write may fail too; there is nowhere left to say so.
    let _ = match failed {
        Stream::Stdout => std::io::stderr().write_all(text.as_bytes()),
        Stream::Stderr => std::io::stdout().write_all(text.as_bytes()),
    };
    std::process::exit(i32::from(crate::exit::OUTPUT_UNWRITABLE));
}

/// Whether the descriptor is a pipe whose reading end is closed (poll says POLLERR).
fn closed(fd: i32) -> bool {
    #[cfg(unix)]
    {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        let ready = unsafe { libc::poll(&mut p, 1, 0) };
        ready == 1 && p.revents & libc::POLLERR != 0
    }
    #[cfg(not(unix))]
    {
        let _ = fd;
        false
    }
}

fn end_by_sigpipe() {
    #[cfg(unix)]
    // SAFETY: the default disposition is set and the signal raised on this thread, which ends
    // the process; nothing runs after it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(141);
}
