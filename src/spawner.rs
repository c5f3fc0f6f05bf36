//! Starts worker processes exactly as Node's `fork()` would, from one dedicated thread.
//!
//! Why one long-lived thread: PR_SET_PDEATHSIG fires when the *thread* that forked exits, so
//! forking from a pool thread that later retires would kill healthy workers.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::sync::Arc;

use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

use crate::config::{ForkSpec, StdioMode};

/// A started worker: the process, the manager's end of its IPC channel, and piped stdio ends.
pub struct Spawned {
    pub child: Child,
    pub pid: u32,
    pub channel: UnixStream,
    pub stdio: [Option<OwnedFd>; 3],
}

struct Job {
    spec: Arc<ForkSpec>,
    reply: oneshot::Sender<io::Result<Spawned>>,
}

/// Handle to the spawning thread.
pub struct Spawner {
    jobs: mpsc::Sender<Job>,
}

impl Spawner {
    /// Starts the thread; it lives as long as the process.
    pub fn start(runtime: tokio::runtime::Handle) -> io::Result<Spawner> {
        let (jobs, mut rx) = mpsc::channel::<Job>(256);
        std::thread::Builder::new()
            .name("forkfriend-spawn".into())
            .spawn(move || {
                // tokio registers the child's pidfd with the runtime's reactor at spawn time.
                let _guard = runtime.enter();
                let manager_pid = std::process::id() as libc::pid_t;
                while let Some(job) = rx.blocking_recv() {
                    let _ = job.reply.send(spawn(&job.spec, manager_pid));
                }
            })?;
        Ok(Spawner { jobs })
    }

    pub async fn spawn(&self, spec: Arc<ForkSpec>) -> io::Result<Spawned> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { spec, reply })
            .await
            .map_err(|_| io::Error::other("spawning thread is gone"))?;
        answer
            .await
            .map_err(|_| io::Error::other("spawning thread is gone"))?
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned two fresh descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn spawn(spec: &ForkSpec, manager_pid: libc::pid_t) -> io::Result<Spawned> {
    let (channel, child_end) = UnixStream::pair()?; // both ends close-on-exec
    let mut cmd = Command::new(&spec.exec_path);
    cmd.args(&spec.exec_argv).arg(&spec.script).args(&spec.args);
    cmd.env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env("NODE_CHANNEL_FD", "3")
        .env("NODE_CHANNEL_SERIALIZATION_MODE", "json");
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    if let Some(uid) = spec.uid {
        cmd.uid(uid);
    }
    if let Some(gid) = spec.gid {
        cmd.gid(gid);
    }
    let mut ours: [Option<OwnedFd>; 3] = [None, None, None];
    for (fd, mode) in spec.stdio.iter().enumerate() {
        let stdio = match mode {
            StdioMode::Inherit => Stdio::inherit(),
            StdioMode::Ignore => Stdio::null(),
            StdioMode::Pipe => {
                let (read, write) = pipe()?;
                let (mine, theirs) = if fd == 0 {
                    (write, read)
                } else {
                    (read, write)
                };
                ours[fd] = Some(mine);
                Stdio::from(theirs)
            }
        };
        match fd {
            0 => cmd.stdin(stdio),
            1 => cmd.stdout(stdio),
            _ => cmd.stderr(stdio),
        };
    }
    let channel_fd = child_end.as_raw_fd();
    // SAFETY: the closure only makes async-signal-safe syscalls.
    unsafe {
        cmd.pre_exec(move || prepare_child(channel_fd, manager_pid));
    }
    let child = cmd.spawn()?;
    drop(child_end);
    drop(cmd); // closes the child's ends of stdio pipes in this process
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("child exited before its pid was read"))?;
    channel.set_nonblocking(true)?;
    Ok(Spawned {
        child,
        pid,
        channel,
        stdio: ours,
    })
}

/// Runs in the forked child, before exec.
fn prepare_child(channel_fd: RawFd, manager_pid: libc::pid_t) -> io::Result<()> {
    // SAFETY: plain syscalls on descriptors of this (single-threaded, forked) process.
    unsafe {
        // Die with the manager, even when it is SIGKILLed.
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
            return Err(io::Error::last_os_error());
        }
        // The manager may have died between fork and prctl.
        if libc::getppid() != manager_pid {
            return Err(io::Error::other("manager exited during spawn"));
        }
        // Node marks 0-2 close-on-exec at startup; a worker must keep them.
        for fd in 0..3 {
            clear_cloexec(fd);
        }
        if channel_fd == 3 {
            clear_cloexec(3);
        } else if libc::dup2(channel_fd, 3) < 0 {
            return Err(io::Error::last_os_error());
        }
        // Nothing else of the manager's leaks into the worker.
        const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
        if libc::syscall(
            libc::SYS_close_range,
            4 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        ) != 0
        {
            for fd in 4..4096 {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags >= 0 {
                    libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                }
            }
        }
    }
    Ok(())
}

unsafe fn clear_cloexec(fd: RawFd) {
    let flags = libc::fcntl(fd, libc::F_GETFD);
    if flags >= 0 && flags & libc::FD_CLOEXEC != 0 {
        libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
    }
}
