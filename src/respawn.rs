//! When to start the next worker of a script: spacing, crash-loop backoff, and its reset.

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

    /// A worker died after `uptime`; returns when its replacement may start.
    pub fn schedule(&mut self, policy: &RespawnPolicy, now: Instant, uptime: Duration) -> Plan {
        if uptime < policy.min_uptime {
            self.crashes = self.crashes.saturating_add(1);
        } else {
            self.crashes = 0;
        }
        let backoff = if self.crashes == 0 {
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
        let plan = s.schedule(&policy(), t0 + 60_000 * MS, 60_000 * MS);
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
        let a = s.schedule(&policy(), now, 5000 * MS);
        let b = s.schedule(&policy(), now, 5000 * MS);
        let c = s.schedule(&policy(), now, 5000 * MS);
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
        let plan = s.schedule(&healthy_fast, t0 + 10 * MS, 10 * MS);
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
            let plan = s.schedule(&policy(), now + MS, MS);
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
            s.schedule(&policy(), t0 + i * 10_000 * MS, MS);
        }
        let now = t0 + 100_000 * MS;
        let plan = s.schedule(&policy(), now, 2000 * MS);
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
            let plan = s.schedule(&policy(), now + MS, MS);
            if plan.at > t0 + 3000 * MS {
                break;
            }
            spawns += 1;
            now = plan.at;
        }
        assert!(spawns <= 4, "{spawns} spawns in 3 s");
    }
}
