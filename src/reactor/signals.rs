//! SIGINT and SIGTERM as reactor events, through a self-pipe: the signal handler only writes the
//! signal number into a non-blocking pipe (async-signal-safe), the pipe's read end is registered
//! with the poller, and the reactor thread decides what to do. No busy loop, no extra thread.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

static WRITE_FD: AtomicI32 = AtomicI32::new(-1);
/// A `fn(i32)` the handler also calls (0: none): the Lua layer interrupts running code there.
static FORWARD: AtomicUsize = AtomicUsize::new(0);

/// Has the signal handler also call `forward(signal)`, which must be async-signal-safe.
pub fn forward_to(forward: fn(i32)) {
    FORWARD.store(forward as usize, Ordering::SeqCst);
}

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: write(2) is async-signal-safe; a full pipe just drops the byte, which is fine
        // because one pending byte already wakes the reactor.
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
    let forward = FORWARD.load(Ordering::SeqCst);
    if forward != 0 {
        // SAFETY: only `forward_to` stores here, always a valid `fn(i32)`.
        let forward: fn(i32) = unsafe { std::mem::transmute::<usize, fn(i32)>(forward) };
        forward(signal);
    }
}

/// The read end of the self-pipe, registered with the poller.
pub struct SignalPipe {
    read_fd: RawFd,
}

impl SignalPipe {
    /// Creates the pipe, installs the handlers and registers the read end under `token`.
    pub fn install(registry: &Registry, token: Token) -> io::Result<SignalPipe> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds is a valid two-element array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        WRITE_FD.store(fds[1], Ordering::Relaxed);
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction with a plain handler and an empty mask is valid.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as usize;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        registry.register(&mut SourceFd(&fds[0]), token, Interest::READABLE)?;
        Ok(SignalPipe { read_fd: fds[0] })
    }

    /// Drains the pipe; returns the last signal received, if any.
    pub fn take(&self) -> Option<i32> {
        let mut last = None;
        let mut buf = [0u8; 16];
        loop {
            // SAFETY: buf is valid for buf.len() bytes.
            let n = unsafe { libc::read(self.read_fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return last;
            }
            last = Some(i32::from(buf[n as usize - 1]));
        }
    }
}
