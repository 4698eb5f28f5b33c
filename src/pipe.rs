//! A closed stdout ends the process quietly, as `errcontract lint | head` expects.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe fails and `println!` (ours and
//! libtest-mimic's) panics with exit code 101. SIGPIPE's default disposition cannot simply be
//! restored for the whole process: the HTTP client writes request bodies with `writev`, which
//! (unlike `send`) raises SIGPIPE when a target closes the connection mid-body, and that would
//! kill the run. So only a failed write to stdout or stderr ends the process, the way the
//! kernel ends any other command-line tool: by SIGPIPE, with no panic message.

/// Install the hook; call once, first thing in `main`.
pub fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // Whoever panicked (our printing, or libtest-mimic's unwrap on a failed write), a
        // panic while stdout or stderr is a pipe nobody reads is that pipe's closing.
        if closed(1) || closed(2) {
            end_by_sigpipe();
        }
        default(info);
    }));
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
