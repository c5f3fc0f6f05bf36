//! How long a reader lets a worker's output gather before its next read.
//!
//! A worker writes each reply with its own syscall. Reading each one as it arrives costs a
//! wake of our thread (and of JS) per message, and on a machine whose cores are busy with
//! workers every wake is dear. When reads come back small and close together, the reader
//! waits a little and then takes everything that gathered; the wait doubles while reads
//! stay small (up to a cap) and is skipped when the worker is not busy at all.

use std::time::{Duration, Instant};

/// A read smaller than this is "small": less than one read buffer, so the next wake would
/// carry little. (At 4 KiB, 100-byte replies were read ~40 KiB at a time, a wake per few
/// hundred replies; at 64 KiB the I/O thread spends about a quarter less per message.)
const SMALL_READ: usize = 64 << 10;
/// Output arriving this soon after the previous read means the worker is busy.
const BUSY_GAP: Duration = Duration::from_micros(300);
const MIN_WAIT: Duration = Duration::from_millis(1);
const MAX_WAIT: Duration = Duration::from_millis(4);

#[derive(Debug)]
pub struct Gather {
    wait: Duration,
    last_read: Option<Instant>,
    last_small: bool,
    waited: bool,
}

impl Default for Gather {
    fn default() -> Self {
        Gather {
            wait: MIN_WAIT,
            last_read: None,
            last_small: false,
            waited: false,
        }
    }
}

impl Gather {
    /// Output is ready at `now`: how long to wait before reading it.
    pub fn before_read(&mut self, now: Instant) -> Option<Duration> {
        let busy = self
            .last_read
            .is_some_and(|t| now.saturating_duration_since(t) < BUSY_GAP);
        self.waited = busy && self.last_small;
        if !busy {
            self.wait = MIN_WAIT;
        }
        self.waited.then_some(self.wait)
    }

    /// A read of `bytes` finished at `now`.
    pub fn after_read(&mut self, bytes: usize, now: Instant) {
        self.last_small = bytes < SMALL_READ;
        if !self.last_small {
            self.wait = MIN_WAIT;
        } else if self.waited {
            self.wait = (self.wait * 2).min(MAX_WAIT);
        }
        self.last_read = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Duration = Duration::from_micros(1);

    #[test]
    fn an_idle_worker_is_read_at_once() {
        let mut g = Gather::default();
        let t0 = Instant::now();
        assert_eq!(g.before_read(t0), None);
        g.after_read(100, t0);
        assert_eq!(
            g.before_read(t0 + 5000 * US),
            None,
            "the last read was long ago"
        );
    }

    #[test]
    fn small_reads_close_together_wait_longer_up_to_the_cap() {
        let mut g = Gather::default();
        let mut t = Instant::now();
        g.after_read(100, t);
        let mut waits = vec![];
        for _ in 0..5 {
            t += 50 * US;
            let w = g.before_read(t).unwrap();
            waits.push(w.as_millis());
            t += w;
            g.after_read(500, t);
        }
        assert_eq!(waits, vec![1, 2, 4, 4, 4]);
    }

    #[test]
    fn a_big_read_resets_the_wait() {
        let mut g = Gather::default();
        let mut t = Instant::now();
        g.after_read(100, t);
        t += 50 * US;
        t += g.before_read(t).unwrap();
        g.after_read(100, t);
        t += 50 * US;
        assert_eq!(g.before_read(t), Some(Duration::from_millis(2)));
        g.after_read(SMALL_READ * 4, t);
        t += 50 * US;
        assert_eq!(g.before_read(t), None, "a big read does not ask for a wait");
        g.after_read(100, t);
        t += 50 * US;
        assert_eq!(g.before_read(t), Some(MIN_WAIT));
    }
}
