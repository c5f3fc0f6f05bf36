//! A probe of this machine, not a test of forkfriend: how long one thread takes to wake
//! another that sleeps in `epoll_wait` on a socket, the hop a result makes from the core's
//! I/O thread to Node's main thread. Run by hand:
//!
//! ```sh
//! cargo run --release --example wake-latency
//! ```
//!
//! Run it on an idle machine: with the CPUs busy, sleeping threads wake several times faster
//! (no idle states to leave), which is not what an idle manager meets.
//!
//! A `child_process.fork` round trip has two such wakes (manager -> worker, worker ->
//! manager); forkfriend's has three (the worker's answer wakes the I/O thread, which wakes
//! the main thread), so its latency floor is the fork one plus one wake.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Instant;

const ROUNDS: usize = 20_000;

/// Blocks in epoll_wait until `sock` is readable, then reads what is there.
fn wait_and_read(epoll: i32, sock: &mut UnixStream) {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: one event slot, a valid epoll fd.
    unsafe { libc::epoll_wait(epoll, &mut ev, 1, -1) };
    let mut buf = [0u8; 64];
    let _ = sock.read(&mut buf);
}

fn epoll_for(sock: &UnixStream) -> i32 {
    // SAFETY: plain syscalls on fds this function's caller owns.
    unsafe {
        let epoll = libc::epoll_create1(0);
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 0,
        };
        libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, sock.as_raw_fd(), &mut ev);
        epoll
    }
}

fn main() {
    let (mut here, mut there) = UnixStream::pair().unwrap();
    let peer = std::thread::spawn(move || {
        let epoll = epoll_for(&there);
        for _ in 0..ROUNDS {
            wait_and_read(epoll, &mut there);
            there.write_all(b"x").unwrap();
        }
    });
    let epoll = epoll_for(&here);
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let t0 = Instant::now();
            here.write_all(b"x").unwrap();
            wait_and_read(epoll, &mut here);
            t0.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    peer.join().unwrap();
    rounds.sort_by(f64::total_cmp);
    let at = |q: f64| rounds[((rounds.len() as f64 * q) as usize).min(rounds.len() - 1)];
    println!(
        "thread -> thread -> thread round trip (two wakes), µs: p50 {:.1} p90 {:.1} p99 {:.1}; one wake ~{:.1}",
        at(0.5),
        at(0.9),
        at(0.99),
        at(0.5) / 2.0
    );
}
