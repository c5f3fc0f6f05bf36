//! When to start the next worker of a script: spacing, crash-loop backoff, and its reset.
//!
//! What counts as the script's own failure: a worker that exits by itself (any code), or is
//! ended by a signal it raised itself (a fault: SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
//! SIGTRAP, SIGSYS — V8 aborts on running out of heap), before `min_uptime`. A worker ended by
//! any other signal (SIGKILL, SIGTERM, SIGINT, ... from outside: an operator, a supervisor,
//! the OOM killer) did not fail by itself: its replacement keeps the spacing but adds no
//! backoff, and the crash count stays as it was.

use std::time::{Duration, Instant};

/// The policy's knobs (see `ManagerConfig`).
#[derive(Clone, Copy, Debug)]
pub struct RespawnPolicy {
    pub interval: Duration,
    pub min_uptime: Duration,
    pub max_delay: Duration,
}

/// A scheduled respawn, as reported to the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub at: Instant,
    /// Consecutive crashes (deaths before `min_uptime`) that led to this respawn.
    pub crashes: u32,
}

/// How a worker that is to be replaced ended.
#[derive(Clone, Copy, Debug)]
pub struct Death {
    /// How long it had run.
    pub uptime: Duration,
    /// Ended by a signal from outside (see the module doc), not by its own failure.
    pub killed: bool,
}

impl Death {
    /// A worker that could not be started at all: a failure of its own.
    pub fn at_start() -> Self {
        Death {
            uptime: Duration::ZERO,
            killed: false,
        }
    }
}

/// Is a death by `signal` the work of someone else (not a fault the process raised)?
pub fn killed_from_outside(signal: i32) -> bool {
    !matches!(
        signal,
        libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGILL
            | libc::SIGFPE
            | libc::SIGABRT
            | libc::SIGTRAP
            | libc::SIGSYS
    )
}

/// The respawn history of one script.
#[derive(Debug, Default)]
pub struct RespawnState {
    last_scheduled: Option<Instant>,
    crashes: u32,
    /// Respawns scheduled so far (first spawns by `add` not counted).
    pub restarts: u64,
}

impl RespawnState {
    /// Records spawns started by `add`: immediate, but later respawns keep their spacing.
    pub fn spawned_now(&mut self, now: Instant) {
        self.last_scheduled = Some(self.last_scheduled.map_or(now, |t| t.max(now)));
    }

    /// A worker died; returns when its replacement may start.
    pub fn schedule(&mut self, policy: &RespawnPolicy, now: Instant, death: Death) -> Plan {
        if death.killed {
            // Not the script's failure: no backoff, and the crash count is left alone.
        } else if death.uptime < policy.min_uptime {
            self.crashes = self.crashes.saturating_add(1);
        } else {
            self.crashes = 0;
        }
        let backoff = if self.crashes == 0 || death.killed {
            Duration::ZERO
        } else {
            let factor = 1u32.checked_shl(self.crashes - 1).unwrap_or(u32::MAX);
            policy.interval.saturating_mul(factor).min(policy.max_delay)
        };
        let spaced = self.last_scheduled.map_or(now, |t| t + policy.interval);
        let at = (now + backoff).max(spaced);
        self.last_scheduled = Some(at);
        self.restarts += 1;
        Plan {
            at,
            crashes: self.crashes,
        }
    }

    /// A worker was restarted on request (refork, `end` control message): no crash, no spacing.
    pub fn forget_crashes(&mut self) {
        self.crashes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn died(uptime: Duration) -> Death {
        Death {
            uptime,
            killed: false,
        }
    }

    fn killed(uptime: Duration) -> Death {
        Death {
            uptime,
            killed: true,
        }
    }

    fn policy() -> RespawnPolicy {
        RespawnPolicy {
            interval: 500 * MS,
            min_uptime: 1000 * MS,
            max_delay: 4000 * MS,
        }
    }

    #[test]
    fn healthy_worker_respawns_at_once_when_spacing_allows() {
        let t0 = Instant::now();
        let mut s = RespawnState::default();
        s.spawned_now(t0);
        let plan = s.schedule(&policy(), t0 + 60_000 * MS, died(60_000 * MS));
        assert_eq!(
            plan,
            Plan {
                at: t0 + 60_000 * MS,
                crashes: 0
            }
        );
    }

    #[test]
    fn respawns_of_one_script_are_spaced_by_the_interval() {
        let t0 = Instant::now();
        let mut s = RespawnState::default();
        s.spawned_now(t0);
        let now = t0 + 5000 * MS;
        let a = s.schedule(&policy(), now, died(5000 * MS));
        let b = s.schedule(&policy(), now, died(5000 * MS));
        let c = s.schedule(&policy(), now, died(5000 * MS));
        assert_eq!(a.at, now);
        assert_eq!(b.at - a.at, 500 * MS);
        assert_eq!(c.at - b.at, 500 * MS);
    }

    #[test]
    fn first_respawn_after_add_waits_for_the_interval() {
        let t0 = Instant::now();
        let mut s = RespawnState::default();
        s.spawned_now(t0);
        let healthy_fast = RespawnPolicy {
            min_uptime: 5 * MS,
            ..policy()
        };
        let plan = s.schedule(&healthy_fast, t0 + 10 * MS, died(10 * MS));
        assert_eq!(
            plan,
            Plan {
                at: t0 + 500 * MS,
                crashes: 0
            }
        );
    }

    #[test]
    fn crash_loop_backs_off_exponentially_up_to_the_cap() {
        let t0 = Instant::now();
        let mut s = RespawnState::default();
        s.spawned_now(t0);
        let mut now = t0;
        let mut gaps = vec![];
        for _ in 0..6 {
            let plan = s.schedule(&policy(), now + MS, died(MS));
            gaps.push((plan.at - now).as_millis());
            now = plan.at;
        }
        // Each worker dies 1 ms after it started.
        assert_eq!(gaps, vec![501, 1001, 2001, 4001, 4001, 4001]);
        assert_eq!(s.restarts, 6);
    }

    #[test]
    fn backoff_resets_once_a_worker_stayed_up() {
        let t0 = Instant::now();
        let mut s = RespawnState::default();
        s.spawned_now(t0);
        for i in 1..4 {
            s.schedule(&policy(), t0 + i * 10_000 * MS, died(MS));
        }
        let now = t0 + 100_000 * MS;
        let plan = s.schedule(&policy(), now, died(2000 * MS));
        assert_eq!(
            plan,
            Plan {
                at: now,
                crashes: 0
            }
        );
    }

    #[test]
    fn spawn_count_over_three_seconds_is_bounded_for_an_instant_crasher() {
        let t0 = Instant::now();
        let mut s = RespawnState::default();
        s.spawned_now(t0);
        let mut now = t0;
        let mut spawns = 1;
        loop {
            let plan = s.schedule(&policy(), now + MS, died(MS));
            if plan.at > t0 + 3000 * MS {
                break;
            }
            spawns += 1;
            now = plan.at;
        }
        assert!(spawns <= 4, "{spawns} spawns in 3 s");
    }

    #[test]
    fn workers_killed_from_outside_add_no_backoff() {
        let t0 = Instant::now();
        let mut s = RespawnState::default();
        s.spawned_now(t0);
        let mut now = t0 + 2000 * MS;
        for _ in 0..12 {
            // Killed 10 ms after it started, a dozen times in a row: spacing only.
            let plan = s.schedule(&policy(), now + 10 * MS, killed(10 * MS));
            assert_eq!(plan.crashes, 0);
            assert!(plan.at - (now + 10 * MS) <= 500 * MS);
            now = plan.at;
        }
    }

    #[test]
    fn a_kill_neither_adds_to_nor_resets_the_crash_count() {
        let t0 = Instant::now();
        let mut s = RespawnState::default();
        s.spawned_now(t0);
        let mut now = t0;
        for _ in 0..2 {
            now = s.schedule(&policy(), now + MS, died(MS)).at;
        }
        let kill = s.schedule(&policy(), now + MS, killed(MS));
        assert_eq!(kill.crashes, 2);
        assert_eq!(kill.at - (now + MS), 499 * MS, "spacing only, no backoff");
        let next = s.schedule(&policy(), kill.at + MS, died(MS));
        assert_eq!(next.crashes, 3, "the crash loop goes on counting");
        assert_eq!(next.at - (kill.at + MS), 2000 * MS);
    }

    #[test]
    fn faults_count_as_the_scripts_own_failure() {
        assert!(!killed_from_outside(libc::SIGSEGV));
        assert!(!killed_from_outside(libc::SIGABRT));
        assert!(killed_from_outside(libc::SIGKILL));
        assert!(killed_from_outside(libc::SIGTERM));
    }
}
