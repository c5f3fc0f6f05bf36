//! The optional per-worker memory limit: a worker whose resident set grows past it is
//! retired gracefully (its replacement starts first; no queued message is lost).

use std::sync::Weak;
use std::time::Duration;

use crate::pool::inner::Inner;

/// How often resident sizes are read.
const PERIOD: Duration = Duration::from_millis(500);

/// Resident set size of a process in bytes, from /proc.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(4096) as u64)
}

/// Runs as long as its manager exists.
pub(crate) async fn watch(inner: Weak<Inner>, limit: u64) {
    loop {
        tokio::time::sleep(PERIOD).await;
        let Some(inner) = inner.upgrade() else { return };
        if inner.lock().stopped {
            return;
        }
        for (id, pid) in inner.running_pids() {
            let Some(rss) = rss_bytes(pid) else { continue };
            if rss > limit {
                let msg = format!(
                    "worker uses {} MiB, more than the limit of {} MiB",
                    rss >> 20,
                    limit >> 20
                );
                inner.worker_error(id, "ERR_WORKER_MEMORY_LIMIT", msg);
                inner.retire(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_rss() {
        let rss = rss_bytes(std::process::id()).unwrap();
        assert!(rss > 1 << 20, "{rss}");
    }
}
