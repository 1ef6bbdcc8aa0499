//! The waits clients draw: backoff before a retry (exponential, with the jitters of the AWS
//! Architecture Blog's "Exponential Backoff and Jitter") and a closed-loop user's think
//! time. Pure functions of the policy and a seeded stream, so a run's draws reproduce.

use std::time::Duration;

use super::rng::Rng;
use crate::scenario::retry::{Jitter, RetryPolicy, ThinkDist};

/// The backoff of one request's retries: call [`Backoff::next`] before each.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// Retries drawn so far (the exponent).
    n: u32,
    /// The previous wait, µs (decorrelated jitter grows from it).
    prev_us: u64,
}

impl Backoff {
    pub fn new(policy: &RetryPolicy) -> Self {
        Backoff {
            n: 0,
            prev_us: policy.base_ms * 1000,
        }
    }

    /// The wait before the next retry.
    pub fn next(&mut self, policy: &RetryPolicy, rng: &mut Rng) -> Duration {
        let (base, cap) = (policy.base_ms * 1000, policy.cap_ms * 1000);
        // base·2ⁿ without overflow: past 2⁴⁰ the cap has long been reached.
        let ceiling = base.saturating_mul(1u64 << self.n.min(40)).min(cap);
        let uniform = |rng: &mut Rng, lo: u64, hi: u64| -> u64 {
            lo + ((hi - lo) as f64 * rng.next_f64()) as u64
        };
        let us = match policy.jitter {
            Jitter::None => ceiling,
            Jitter::Full => uniform(rng, 0, ceiling),
            Jitter::Equal => ceiling / 2 + uniform(rng, 0, ceiling - ceiling / 2),
            Jitter::Decorrelated => {
                let hi = self.prev_us.saturating_mul(3).max(base);
                uniform(rng, base, hi).min(cap)
            }
        };
        self.n += 1;
        self.prev_us = us;
        Duration::from_micros(us)
    }
}

/// A think time with mean `mean`, drawn as `dist` says.
pub fn think(dist: ThinkDist, mean: Duration, rng: &mut Rng) -> Duration {
    match dist {
        ThinkDist::Fixed => mean,
        ThinkDist::Uniform => mean.mul_f64(2.0 * rng.next_f64()),
        // Inverse transform; 1 − u is in (0, 1], so the log is finite.
        ThinkDist::Exponential => mean.mul_f64(-(1.0 - rng.next_f64()).ln()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            on_status: vec![503],
            on_failure: vec![],
            attempts: 10,
            jitter,
            base_ms: 100,
            cap_ms: 1_000,
            budget: None,
        }
    }

    /// Eight successive waits of one request, in ms, for many seeds.
    fn waits(jitter: Jitter) -> Vec<Vec<f64>> {
        let p = policy(jitter);
        (0..500)
            .map(|seed| {
                let (mut b, mut rng) = (Backoff::new(&p), Rng::new(seed));
                (0..8)
                    .map(|_| b.next(&p, &mut rng).as_secs_f64() * 1000.0)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn no_jitter_doubles_up_to_the_cap() {
        assert_eq!(
            waits(Jitter::None)[0],
            [100.0, 200.0, 400.0, 800.0, 1000.0, 1000.0, 1000.0, 1000.0]
        );
    }

    #[test]
    fn full_jitter_spreads_over_zero_to_the_ceiling() {
        let w = waits(Jitter::Full);
        for (n, ceiling) in [100.0, 200.0, 400.0, 800.0, 1000.0].iter().enumerate() {
            let col: Vec<f64> = w.iter().map(|r| r[n]).collect();
            assert!(col.iter().all(|x| (0.0..=*ceiling).contains(x)), "{n}");
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            assert!(
                (mean / ceiling - 0.5).abs() < 0.05,
                "retry {n}: mean {mean}"
            );
        }
    }

    #[test]
    fn equal_jitter_keeps_half_the_ceiling() {
        let w = waits(Jitter::Equal);
        for (n, ceiling) in [100.0, 200.0, 400.0, 800.0, 1000.0].iter().enumerate() {
            let col: Vec<f64> = w.iter().map(|r| r[n]).collect();
            assert!(col.iter().all(|x| (ceiling / 2.0..=*ceiling).contains(x)));
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            assert!(
                (mean / ceiling - 0.75).abs() < 0.05,
                "retry {n}: mean {mean}"
            );
        }
    }

    #[test]
    fn decorrelated_jitter_stays_between_base_and_cap_and_grows() {
        let w = waits(Jitter::Decorrelated);
        assert!(w.iter().flatten().all(|x| (100.0..=1000.0).contains(x)));
        let mean = |n: usize| w.iter().map(|r| r[n]).sum::<f64>() / w.len() as f64;
        // The first draw is uniform over [base, 3·base]; later ones climb towards the cap.
        assert!((mean(0) - 200.0).abs() < 15.0, "{}", mean(0));
        assert!(mean(7) > mean(0) * 2.0, "{} vs {}", mean(7), mean(0));
    }

    #[test]
    fn the_same_seed_draws_the_same_waits() {
        assert_eq!(waits(Jitter::Full), waits(Jitter::Full));
    }

    #[test]
    fn think_times_keep_their_mean() {
        let mean = Duration::from_millis(100);
        for dist in [ThinkDist::Fixed, ThinkDist::Uniform, ThinkDist::Exponential] {
            let mut rng = Rng::new(3);
            let draws: Vec<f64> = (0..20_000)
                .map(|_| think(dist, mean, &mut rng).as_secs_f64() * 1000.0)
                .collect();
            let m = draws.iter().sum::<f64>() / draws.len() as f64;
            assert!((m - 100.0).abs() < 3.0, "{dist:?}: {m}");
            if dist == ThinkDist::Uniform {
                assert!(draws.iter().all(|x| (0.0..=200.0).contains(x)));
            }
        }
    }
}
