//! End of input: close each worker's channel only once it has read everything and its
//! output has gone quiet (closing earlier makes Node drop replies still queued in the worker).

use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::manager::Inner;
use crate::state::Leave;

/// How often the finisher looks; it only runs after end of input.
const TICK: Duration = Duration::from_millis(10);

/// Bytes waiting in a socket queue (`SIOCOUTQ`: sent but not yet read by the peer;
/// `SIOCINQ`: received but not yet read by us). None when the ioctl fails.
fn socket_queue(fd: i32, request: libc::c_ulong) -> Option<i32> {
    let mut n: libc::c_int = 0;
    // SAFETY: both requests write one int.
    (unsafe { libc::ioctl(fd, request as _, &mut n) } == 0).then_some(n)
}

pub(crate) async fn run(inner: Arc<Inner>) {
    loop {
        tokio::time::sleep(TICK).await;
        let mut st = inner.lock();
        if st.stopped || st.finished {
            return;
        }
        let now = Instant::now();
        let quiet = inner.config.end_quiet;
        let busy_pools: Vec<u32> = st
            .pools
            .iter()
            .filter(|(_, p)| !p.queue.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for w in st.workers.values_mut() {
            let Some(io) = &w.io else { continue };
            if w.close_requested || w.leave.is_some() {
                continue;
            }
            let fd = io.channel.as_raw_fd();
            let done = !busy_pools.contains(&w.pool)
                && w.out.is_empty()
                && w.inflight == 0
                && socket_queue(fd, libc::TIOCOUTQ) == Some(0)
                && socket_queue(fd, libc::FIONREAD) == Some(0)
                && inner.since_ms(io.last_rx.load(Ordering::Relaxed)) >= quiet;
            if !done {
                w.quiet_since = None;
                continue;
            }
            let since = *w.quiet_since.get_or_insert(now);
            if now.duration_since(since) >= quiet {
                w.leave = Some(Leave::Finish);
                w.close_requested = true;
                w.wake_writer();
            }
        }
        inner.check_finished(&mut st);
    }
}
