//! Starts worker processes as Node's `fork()` would, from a few dedicated threads.
//!
//! Why long-lived threads of our own: PR_SET_PDEATHSIG fires when the *thread* that forked
//! exits, so forking from a pool thread that later retires would kill healthy workers.
//! Why several: each one is suspended until its child has exec'd (see below), and a new child
//! may wait a scheduler slice for a core while earlier workers boot; four threads start four
//! workers side by side.
//!
//! Why clone(CLONE_VM | CLONE_VFORK) instead of fork(): the child borrows the manager's memory
//! until it execs, so no page tables are copied and the manager takes no copy-on-write faults
//! afterwards. A Node manager has tens of MB mapped; fork() costs it ~3 ms per worker, this
//! costs a few hundred µs. Everything the child needs is prepared beforehand, and the child
//! itself only makes plain syscalls until execve.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::config::{ForkSpec, StdioMode};
use crate::process::child::{self, Process};

/// A started worker: the process, the manager's end of its IPC channel, and piped stdio ends.
pub struct Spawned {
    pub process: Process,
    pub pid: u32,
    pub channel: UnixStream,
    pub stdio: [Option<OwnedFd>; 3],
}

struct Job {
    spec: Arc<ForkSpec>,
    reply: oneshot::Sender<io::Result<Spawned>>,
}

/// Workers that can be in the middle of starting at once.
const SPAWN_THREADS: usize = 4;

/// Handle to the spawning threads.
pub struct Spawner {
    jobs: mpsc::Sender<Job>,
}

impl Spawner {
    /// Starts the threads; they live as long as the process.
    pub fn start(runtime: tokio::runtime::Handle) -> io::Result<Spawner> {
        let (jobs, rx) = mpsc::channel::<Job>(256);
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..SPAWN_THREADS {
            let rx = rx.clone();
            let runtime = runtime.clone();
            std::thread::Builder::new()
                .name(format!("forkfriend-spawn-{n}"))
                .spawn(move || {
                    // Each child's pidfd is registered with the runtime's reactor here.
                    let _guard = runtime.enter();
                    let manager_pid = std::process::id() as libc::pid_t;
                    // The lock is held only while waiting for the next job.
                    let next = || rx.lock().unwrap_or_else(|e| e.into_inner()).blocking_recv();
                    while let Some(job) = next() {
                        let _ = job.reply.send(spawn(&job.spec, manager_pid));
                    }
                })?;
        }
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

/// Lowest descriptor the child's sources may use: 0-3 are the targets of its dup2 calls.
const FIRST_FREE_FD: RawFd = 4;

/// Returns `fd`, moved to a number >= FIRST_FREE_FD if needed, close-on-exec.
fn above_targets(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() >= FIRST_FREE_FD {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own returns a new one we own.
    let moved = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, FIRST_FREE_FD) };
    if moved < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(moved) })
}

/// Send buffer asked for on the worker's end of the channel (the kernel doubles it and caps
/// the request at net.core.wmem_max).
///
/// A worker writes each reply with its own syscall, and each 100-byte reply occupies about
/// 1 KB of the default 208 KiB buffer; whenever our reader is not scheduled for a couple of
/// milliseconds (two busy workers on two cores), the buffer fills, the worker's writes fail
/// with EAGAIN and it stops to wait for the socket instead of working. Measured on echo
/// workers: 1.9x the messages per second with 1 MiB, and less CPU per message for us too.
const WORKER_SEND_BUFFER: libc::c_int = 1 << 20;

fn enlarge_send_buffer(worker_end: &OwnedFd) {
    // SAFETY: setsockopt with a pointer to one int. Failure only leaves the default size.
    unsafe {
        libc::setsockopt(
            worker_end.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            &WORKER_SEND_BUFFER as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
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

fn dev_null() -> io::Result<OwnedFd> {
    Ok(std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?
        .into())
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "argument or environment contains a NUL byte",
        )
    })
}

/// A NULL-terminated array of pointers into `strings` (which must outlive it).
fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The child's environment: the spec's, with the channel variables set as fork() sets them.
fn environment(spec: &ForkSpec) -> io::Result<Vec<CString>> {
    let channel: [(&str, &str); 2] = [
        ("NODE_CHANNEL_FD", "3"),
        (
            "NODE_CHANNEL_SERIALIZATION_MODE",
            spec.serialization.env_value(),
        ),
    ];
    let ours = spec
        .env
        .iter()
        .filter(|(k, _)| !channel.iter().any(|(c, _)| c == k))
        .map(|(k, v)| (k.as_str(), v.as_str()));
    ours.chain(channel)
        .map(|(k, v)| cstring(format!("{k}={v}").as_bytes()))
        .collect()
}

/// Resolves a program name without a slash on the child's PATH, as execvp would.
fn resolve_program(exec_path: &str, env: &[(String, String)]) -> io::Result<CString> {
    if exec_path.contains('/') {
        return cstring(exec_path.as_bytes());
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or("/usr/local/bin:/usr/bin:/bin", |(_, v)| v.as_str());
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(exec_path);
        let c = cstring(candidate.as_os_str().as_bytes())?;
        // SAFETY: access() with a valid C string.
        if unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0 {
            return Ok(c);
        }
    }
    Err(io::Error::from_raw_os_error(libc::ENOENT))
}

/// Everything the child reads between clone and execve, prepared by the parent.
struct ChildPlan {
    program: CString,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    cwd: Option<CString>,
    uid: Option<libc::uid_t>,
    gid: Option<libc::gid_t>,
    /// Source for fds 0-2, or -1 to inherit the manager's.
    stdio: [RawFd; 3],
    channel: RawFd,
    manager_pid: libc::pid_t,
    /// Set by the child when it fails before execve; shared memory thanks to CLONE_VM.
    errno: AtomicI32,
}

/// Error of a child that found its manager already gone.
const MANAGER_GONE: i32 = -1;

fn spawn(spec: &ForkSpec, manager_pid: libc::pid_t) -> io::Result<Spawned> {
    let (channel, child_end) = UnixStream::pair()?; // both ends close-on-exec
    let child_end = above_targets(child_end.into())?;
    enlarge_send_buffer(&child_end);
    let mut ours: [Option<OwnedFd>; 3] = [None, None, None];
    let mut theirs: [Option<OwnedFd>; 3] = [None, None, None];
    for (fd, mode) in spec.stdio.iter().enumerate() {
        theirs[fd] = match mode {
            StdioMode::Inherit => None,
            StdioMode::Ignore => Some(above_targets(dev_null()?)?),
            StdioMode::Pipe => {
                let (read, write) = pipe()?;
                let (mine, child) = if fd == 0 {
                    (write, read)
                } else {
                    (read, write)
                };
                ours[fd] = Some(mine);
                Some(above_targets(child)?)
            }
        };
    }
    let args: Vec<CString> = std::iter::once(spec.argv0.as_deref().unwrap_or(&spec.exec_path))
        .chain(spec.exec_argv.iter().map(String::as_str))
        .chain(std::iter::once(spec.script.as_str()))
        .chain(spec.args.iter().map(String::as_str))
        .map(|a| cstring(a.as_bytes()))
        .collect::<io::Result<_>>()?;
    let env = environment(spec)?;
    let plan = ChildPlan {
        program: resolve_program(&spec.exec_path, &spec.env)?,
        argv: pointers(&args),
        envp: pointers(&env),
        cwd: match &spec.cwd {
            Some(dir) => Some(cstring(OsStr::new(dir).as_bytes())?),
            None => None,
        },
        uid: spec.uid,
        gid: spec.gid,
        stdio: theirs
            .each_ref()
            .map(|fd| fd.as_ref().map_or(-1, |fd| fd.as_raw_fd())),
        channel: child_end.as_raw_fd(),
        manager_pid,
        errno: AtomicI32::new(0),
    };
    let (pid, pidfd) = clone_and_exec(&plan)?;
    drop(child_end);
    drop(theirs); // the child has its own copies now
    let process = Process::new(pid, pidfd).inspect_err(|_| child::abandon(pid))?;
    let failed = plan.errno.load(Ordering::Acquire);
    if failed != 0 {
        drop(process); // reaps the child, which has already exited
        return Err(if failed == MANAGER_GONE {
            io::Error::other("manager exited during spawn")
        } else {
            io::Error::from_raw_os_error(failed)
        });
    }
    channel.set_nonblocking(true)?;
    Ok(Spawned {
        process,
        pid: pid as u32,
        channel,
        stdio: ours,
    })
}

/// Stack the child runs on until execve; it only calls thin syscall wrappers.
const CHILD_STACK_BYTES: usize = 64 << 10;

/// Starts the child and returns once it has exec'd or failed (CLONE_VFORK).
fn clone_and_exec(plan: &ChildPlan) -> io::Result<(libc::pid_t, OwnedFd)> {
    let mut stack = vec![0u8; CHILD_STACK_BYTES];
    // The stack grows down; the top must be 16-byte aligned.
    let top = (stack.as_mut_ptr() as usize + CHILD_STACK_BYTES) & !15;
    let mut pidfd: libc::c_int = -1;
    // SAFETY: sigset operations on local values; the whole mask is restored below.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut before: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe {
        libc::sigfillset(&mut all);
        // No handler of the manager may run in the child while it shares our memory.
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut before);
    }
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD;
    // SAFETY: the child runs child_main on its own stack, reads `plan` (alive: we are
    // suspended until it execs or exits) and never returns into our frames.
    let pid = unsafe {
        libc::clone(
            child_main,
            top as *mut libc::c_void,
            flags,
            plan as *const ChildPlan as *mut libc::c_void,
            &mut pidfd as *mut libc::c_int,
        )
    };
    let error = io::Error::last_os_error();
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &before, std::ptr::null_mut()) };
    drop(stack);
    if pid < 0 {
        return Err(error);
    }
    // SAFETY: CLONE_PIDFD stored a fresh close-on-exec descriptor we own.
    Ok((pid, unsafe { OwnedFd::from_raw_fd(pidfd) }))
}

extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: arg is the parent's ChildPlan, alive while the parent is suspended.
    let plan = unsafe { &*(arg as *const ChildPlan) };
    // SAFETY: only syscalls on this process's own state.
    let errno = unsafe { prepare_and_exec(plan) };
    plan.errno.store(errno, Ordering::Release);
    // SAFETY: leaves without running anything of the manager's.
    unsafe { libc::_exit(127) }
}

/// Runs in the child, before exec. Returns the errno that made it fail.
unsafe fn prepare_and_exec(plan: &ChildPlan) -> i32 {
    let fail = || *libc::__errno_location();
    // Default dispositions, as fork() gives its children (ignored signals would survive exec).
    for sig in 1..libc::SIGRTMAX() {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
    // Die with the manager, even when it is SIGKILLed; it may have died before this call.
    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
        return fail();
    }
    if libc::getppid() != plan.manager_pid {
        return MANAGER_GONE;
    }
    // Raw syscalls: glibc's setuid() and friends walk the thread list this child shares with
    // the manager to signal every thread (glibc's own posix_spawn avoids them too).
    if let Some(gid) = plan.gid {
        if libc::syscall(libc::SYS_setgid, gid) != 0 {
            return fail();
        }
    }
    if let Some(uid) = plan.uid {
        if libc::getuid() == 0
            && libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) != 0
        {
            return fail();
        }
        if libc::syscall(libc::SYS_setuid, uid) != 0 {
            return fail();
        }
    }
    if let Some(cwd) = &plan.cwd {
        if libc::chdir(cwd.as_ptr()) != 0 {
            return fail();
        }
    }
    // Sources are all >= 4, so no dup2 below overwrites another's source.
    for (fd, &source) in plan.stdio.iter().enumerate() {
        let fd = fd as RawFd;
        if source >= 0 {
            if libc::dup2(source, fd) < 0 {
                return fail();
            }
        } else {
            // Node marks 0-2 close-on-exec at startup; an inheriting worker must keep them.
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC != 0 {
                libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            }
        }
    }
    if libc::dup2(plan.channel, 3) < 0 {
        return fail();
    }
    // Nothing else of the manager's leaks into the worker.
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    let closed = libc::syscall(
        libc::SYS_close_range,
        FIRST_FREE_FD as libc::c_uint,
        libc::c_uint::MAX,
        CLOSE_RANGE_CLOEXEC,
    );
    if closed != 0 {
        for fd in FIRST_FREE_FD..4096 {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
    let mut none: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut none);
    libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    libc::execve(
        plan.program.as_ptr(),
        plan.argv.as_ptr(),
        plan.envp.as_ptr(),
    );
    fail()
}
