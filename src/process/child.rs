//! One worker process we started and must reap: its pid and a pidfd the runtime watches.
//!
//! The pidfd turns "the process exited" into a readiness event, so no SIGCHLD handler is
//! installed and no other child of the host process (Node's own `fork()` children) is touched.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use tokio::io::unix::AsyncFd;

pub struct Process {
    pid: libc::pid_t,
    pidfd: AsyncFd<OwnedFd>,
    status: Option<ExitStatus>,
}

impl Process {
    /// Takes ownership of an unreaped child and its pidfd. Needs a runtime context.
    pub fn new(pid: libc::pid_t, pidfd: OwnedFd) -> io::Result<Process> {
        // SAFETY: the AsyncFd owns the pidfd, so it is deregistered before it is closed.
        let pidfd =
            unsafe { AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE) }?;
        Ok(Process {
            pid,
            pidfd,
            status: None,
        })
    }

    /// Sends `signal` unless the process is already reaped. The pidfd makes this race-free.
    pub fn signal(&self, signal: i32) {
        if self.status.is_some() {
            return;
        }
        // SAFETY: pidfd_send_signal with a pidfd we own and no siginfo.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
        }
    }

    /// Waits for the process to exit and reaps it. Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.try_reap()? {
                return Ok(status);
            }
            let mut ready = self.pidfd.readable().await?;
            ready.clear_ready();
        }
    }

    fn try_reap(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let mut raw = 0;
        loop {
            // SAFETY: waitpid on our own child, writing one int.
            let r = unsafe { libc::waitpid(self.pid, &mut raw, libc::WNOHANG) };
            if r == self.pid {
                let status = ExitStatus::from_raw(raw);
                self.status = Some(status);
                return Ok(Some(status));
            }
            if r == 0 {
                return Ok(None);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl Drop for Process {
    /// A process dropped before it was reaped is killed and reaped, so it never lingers as a
    /// zombie.
    fn drop(&mut self) {
        if self.status.is_none() {
            self.signal(libc::SIGKILL);
            reap_in_background(self.pid);
        }
    }
}

/// Kills an unreaped child of ours that nothing else will wait for, and reaps it off the
/// runtime's threads.
pub fn abandon(pid: libc::pid_t) {
    // SAFETY: kill(2) on our own unreaped child (its pid cannot be reused before we reap it).
    unsafe { libc::kill(pid, libc::SIGKILL) };
    reap_in_background(pid);
}

fn reap_in_background(pid: libc::pid_t) {
    let _ = std::thread::Builder::new()
        .name("forkfriend-reap".into())
        .spawn(move || {
            let mut raw = 0;
            // SAFETY: blocking waitpid on our own child.
            while unsafe { libc::waitpid(pid, &mut raw, 0) } < 0
                && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
            {}
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;

    fn fork_sleeper() -> (libc::pid_t, OwnedFd) {
        let child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as libc::pid_t;
        // Reaped by Process, not by std.
        std::mem::forget(child);
        // SAFETY: pidfd_open on our own unreaped child.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        assert!(fd >= 0, "pidfd_open: {}", io::Error::last_os_error());
        // SAFETY: a fresh descriptor we own.
        (pid, unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }

    #[test]
    fn wait_reports_the_signal_and_reaps() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (pid, fd) = fork_sleeper();
            let mut p = Process::new(pid, fd).unwrap();
            p.signal(libc::SIGTERM);
            let status = p.wait().await.unwrap();
            assert_eq!(status.signal(), Some(libc::SIGTERM));
            // SAFETY: kill with signal 0 only checks whether the pid exists.
            assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "child must be reaped");
        });
    }
}
