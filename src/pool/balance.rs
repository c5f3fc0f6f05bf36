//! The default balancer: the available worker that was least recently given a message
//! (round robin that skips busy workers, never-picked workers first in pool order).

/// Picks among `(key, last_pick)` candidates the one with the oldest pick; ties go to the first.
pub fn least_recent<K: Copy>(candidates: impl IntoIterator<Item = (K, u64)>) -> Option<K> {
    let mut best: Option<(K, u64)> = None;
    for (key, last) in candidates {
        match best {
            Some((_, b)) if b <= last => {}
            _ => best = Some((key, last)),
        }
    }
    best.map(|(k, _)| k)
}

/// Hands out increasing pick stamps; 0 means "never picked".
#[derive(Default, Debug)]
pub struct PickClock(u64);

impl PickClock {
    pub fn tick(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(avail: &[bool], rounds: usize) -> Vec<usize> {
        let mut last = vec![0u64; avail.len()];
        let mut clock = PickClock::default();
        (0..rounds)
            .filter_map(|_| {
                let pick = least_recent(
                    avail
                        .iter()
                        .enumerate()
                        .filter(|(_, a)| **a)
                        .map(|(i, _)| (i, last[i])),
                )?;
                last[pick] = clock.tick();
                Some(pick)
            })
            .collect()
    }

    #[test]
    fn round_robin_in_pool_order() {
        assert_eq!(run(&[true, true, true], 7), vec![0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn skips_unavailable_workers() {
        assert_eq!(run(&[true, false, true], 4), vec![0, 2, 0, 2]);
    }

    #[test]
    fn none_when_nobody_is_available() {
        assert_eq!(run(&[false, false], 3), Vec::<usize>::new());
    }

    #[test]
    fn a_returning_worker_is_served_first() {
        let mut last = [5u64, 0, 6];
        assert_eq!(least_recent(last.iter().copied().enumerate()), Some(1));
        last[1] = 7;
        assert_eq!(least_recent(last.iter().copied().enumerate()), Some(0));
    }
}
