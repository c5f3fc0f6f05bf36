//! The manager's end of one worker's IPC socket.
//!
//! The socket is watched by the reactor through two descriptors: one for reads, one for
//! writes, each registered only while someone waits on it. A busy worker writes each reply
//! with its own syscall, and every one of them would wake our thread; while the reader lets
//! output gather (see `gather`) it drops its registration, so those writes wake nobody. The
//! same goes for writes: with the write side registered, every message the worker takes off
//! the socket frees room and wakes our thread (an edge of EPOLLOUT), one useless wake per
//! message, so the writer registers only when the socket is full and drops the registration
//! when it has nothing more to write.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use bytes::BytesMut;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// A descriptor number for a registration that does not own it.
pub struct Borrowed(RawFd);

impl AsRawFd for Borrowed {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

pub struct Channel {
    read: OwnedFd,
    write: OwnedFd,
    /// The send buffer the kernel gave the socket (SO_SNDBUF as read back), 0 if unknown.
    default_send: usize,
}

/// The writer's registration for room on the socket; `None` while it has not needed one.
pub type WriteWatch = Option<AsyncFd<Borrowed>>;

fn check(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// The send buffer of socket `fd`, as the kernel counts it.
pub fn send_buffer(fd: RawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into one int.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&mut n as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    check(rc as isize).map(|_| n.max(0) as usize)
}

/// One non-blocking read of descriptor `fd` into the spare room of `buf`.
pub fn read_fd_into(fd: RawFd, buf: &mut BytesMut) -> io::Result<usize> {
    read_fd_upto(fd, buf, usize::MAX)
}

/// One non-blocking read of at most `max` bytes of descriptor `fd` into the spare room of `buf`.
pub fn read_fd_upto(fd: RawFd, buf: &mut BytesMut, max: usize) -> io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    let len = max.min(spare.len());
    let spare = &mut spare[..len];
    // SAFETY: reads at most `spare.len()` bytes into memory `buf` owns.
    let n = check(unsafe { libc::read(fd, spare.as_mut_ptr().cast(), spare.len()) })?;
    // SAFETY: the kernel initialised `n` bytes of the spare room.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

impl Channel {
    /// Takes a connected, non-blocking socket. Must run inside the runtime.
    pub fn new(stream: UnixStream) -> io::Result<Channel> {
        let read = OwnedFd::from(stream);
        // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own returns a new one we own.
        let dup = unsafe { libc::fcntl(read.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `dup` is a fresh descriptor.
        let write = unsafe { OwnedFd::from_raw_fd(dup) };
        let default_send = send_buffer(read.as_raw_fd()).unwrap_or(0);
        Ok(Channel {
            read,
            write,
            default_send,
        })
    }

    /// The send buffer the socket had when it was made.
    pub fn default_send_buffer(&self) -> usize {
        self.default_send
    }

    /// Sets how many bytes of ours may wait in the socket, unread by the worker (socket
    /// buffers as the kernel counts them, overhead included).
    pub fn set_send_buffer(&self, bytes: usize) -> io::Result<()> {
        // The kernel doubles what it is asked for (for its bookkeeping).
        let half = libc::c_int::try_from(bytes / 2).unwrap_or(libc::c_int::MAX);
        // SAFETY: setsockopt with a pointer to one int.
        let rc = unsafe {
            libc::setsockopt(
                self.raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&half as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        check(rc as isize).map(|_| ())
    }

    pub fn raw_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// A registration that wakes the reader when output arrives; drop it to stop the wakes.
    /// It must not outlive the channel (the reader holds both).
    pub fn watch_reads(&self) -> io::Result<AsyncFd<Borrowed>> {
        // SAFETY: `read` stays open while the channel lives, and the caller keeps the channel
        // alive as long as the registration.
        Ok(
            unsafe {
                AsyncFd::register_with_interest(Borrowed(self.raw_fd()), Interest::READABLE)
            }?,
        )
    }

    /// One non-blocking read into the spare room of `buf`.
    pub fn read_into(&self, buf: &mut BytesMut) -> io::Result<usize> {
        read_fd_into(self.raw_fd(), buf)
    }

    /// Writes all of `data`, waiting for room; `wrote` hears of each write syscall's bytes.
    /// The first time the socket is full it registers `watch`, which the caller keeps while
    /// it has more to write and drops (`None`) when it goes idle.
    pub async fn write_all(
        &self,
        watch: &mut WriteWatch,
        mut data: &[u8],
        mut wrote: impl FnMut(usize),
    ) -> io::Result<()> {
        while !data.is_empty() {
            match self.send_now(data) {
                Ok(n) => {
                    wrote(n);
                    data = &data[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let w = match watch {
                        Some(w) => w,
                        // SAFETY: `write` stays open while the channel lives, and the caller
                        // keeps the channel alive as long as the registration.
                        None => watch.insert(unsafe {
                            AsyncFd::register_with_interest(
                                Borrowed(self.write.as_raw_fd()),
                                Interest::WRITABLE,
                            )
                        }?),
                    };
                    // Registering reports room that is there already; the readiness is then
                    // forgotten, so that a send that still finds no room waits for new room.
                    w.writable().await?.clear_ready();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Bytes the worker has written that nobody has read yet (FIONREAD); 0 if unknown.
    pub fn unread(&self) -> usize {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        let ok = unsafe { libc::ioctl(self.raw_fd(), libc::FIONREAD as _, &mut n) } == 0;
        if ok {
            n.max(0) as usize
        } else {
            0
        }
    }

    /// One non-blocking send of `data` from the calling thread (any thread may call it; the
    /// caller keeps writes in order). Returns the bytes the socket took.
    pub fn send_now(&self, data: &[u8]) -> io::Result<usize> {
        // SAFETY: sends from a live slice; MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE.
        check(unsafe {
            libc::send(
                self.raw_fd(),
                data.as_ptr().cast(),
                data.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        })
    }

    /// Half-close: the worker sees the end of its input; its replies still arrive.
    pub fn shutdown_write(&self) {
        // SAFETY: shutdown(2) on a descriptor we own.
        unsafe { libc::shutdown(self.raw_fd(), libc::SHUT_WR) };
    }
}
