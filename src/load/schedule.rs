//! The schedule: a pure function of the phases and the seed giving every open-loop request's
//! intended send time (as an offset from the load's start), its phase and its request kind.
//! The generator only executes it. Closed-loop phases schedule nothing ahead: their users
//! decide when to send as responses come back.

use std::collections::VecDeque;

use super::rng::{Rng, WeightedPick};
use crate::scenario::{phase_starts_us, Arrival, Phase, RequestKind};

/// One scheduled request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduled {
    /// Intended send time, microseconds after the load's start.
    pub at_us: u64,
    /// Index of the phase.
    pub phase: usize,
    /// Index of the request kind.
    pub kind: usize,
    /// In a replay phase, the index of the logged request (its method and path).
    pub replay: Option<u32>,
}

/// Iterates the whole schedule lazily, in time order; memory stays constant however long
/// the run.
pub struct Schedule<'a> {
    phases: &'a [Phase],
    starts: Vec<u64>,
    pick: WeightedPick,
    rng: Rng,
    phase: usize,
    /// Index of the next arrival within the current phase.
    k: u64,
    /// Poisson: the running arrival time within the phase, seconds.
    poisson_t: f64,
}

impl<'a> Schedule<'a> {
    pub fn new(phases: &'a [Phase], requests: &[RequestKind], seed: u64) -> Self {
        Schedule {
            phases,
            starts: phase_starts_us(phases),
            pick: WeightedPick::new(requests.iter().map(|r| r.weight)),
            rng: Rng::new(seed),
            phase: 0,
            k: 0,
            poisson_t: 0.0,
        }
    }

    /// Offset (µs, within the phase) of arrival `k`, or None past the phase's end.
    fn arrival_us(&mut self, ph: &Phase) -> Option<u64> {
        let dur_s = ph.duration_ms as f64 / 1000.0;
        let k = self.k as f64;
        let t_s = match ph.arrival {
            Arrival::Constant { rate } => k / rate,
            Arrival::Poisson { rate } => {
                // The first arrival is at the phase start, like the other patterns, so
                // every phase kind begins with traffic.
                if self.k > 0 {
                    self.poisson_t += -(1.0 - self.rng.next_f64()).ln() / rate;
                }
                self.poisson_t
            }
            Arrival::Burst { size, every_ms } => {
                let burst = self.k / u64::from(size);
                (burst * every_ms) as f64 / 1000.0
            }
            Arrival::Ramp { from_rate, to_rate } => {
                // Arrivals where the integral of the rate, r0·t + (r1−r0)·t²/(2D), reaches k.
                let a = (to_rate - from_rate) / (2.0 * dur_s);
                let b = from_rate;
                if a.abs() < 1e-12 {
                    k / b
                } else {
                    let disc = b * b + 4.0 * a * k;
                    if disc < 0.0 {
                        return None;
                    }
                    (-b + disc.sqrt()) / (2.0 * a)
                }
            }
            Arrival::Closed { .. } | Arrival::Replay(_) | Arrival::Clients { .. } => return None,
        };
        let t_us = (t_s * 1e6).round();
        (t_s.is_finite() && t_s >= 0.0 && t_us < ph.duration_ms as f64 * 1000.0)
            .then_some(t_us as u64)
    }
}

impl Iterator for Schedule<'_> {
    type Item = Scheduled;

    fn next(&mut self) -> Option<Scheduled> {
        while self.phase < self.phases.len() {
            let ph = &self.phases[self.phase];
            // A replay phase's requests are all known: times and kinds come from the log.
            if let Arrival::Replay(r) = &ph.arrival {
                if let Some(e) = r.entries.get(self.k as usize) {
                    let replay = Some(self.k as u32);
                    self.k += 1;
                    return Some(Scheduled {
                        at_us: self.starts[self.phase] + e.at_us,
                        phase: self.phase,
                        kind: e.kind as usize,
                        replay,
                    });
                }
            } else if let Some(offset) = self.arrival_us(ph) {
                self.k += 1;
                let kind = self.pick.pick(&mut self.rng);
                return Some(Scheduled {
                    at_us: self.starts[self.phase] + offset,
                    phase: self.phase,
                    kind,
                    replay: None,
                });
            }
            self.phase += 1;
            self.k = 0;
            self.poisson_t = 0.0;
        }
        None
    }
}

/// The schedule with the sends just ahead in view: each send comes with the intended time of
/// the last send due within `window_us` after it (its own when none is), so the dispatcher
/// can serve them with one wake-up. Memory: the sends of one window.
pub struct Batched<'a> {
    schedule: Schedule<'a>,
    /// Sends taken from the schedule, not yet given out, in time order: every one within
    /// the window of the first, then at most one beyond it.
    ahead: VecDeque<Scheduled>,
    window_us: u64,
}

impl<'a> Batched<'a> {
    pub fn new(schedule: Schedule<'a>, window_us: u64) -> Self {
        Batched {
            schedule,
            ahead: VecDeque::new(),
            window_us,
        }
    }
}

impl Iterator for Batched<'_> {
    /// A send, and the intended time (µs after the load's start) of the last send due
    /// within the window after it.
    type Item = (Scheduled, u64);

    fn next(&mut self) -> Option<(Scheduled, u64)> {
        if self.ahead.is_empty() {
            self.ahead.push_back(self.schedule.next()?);
        }
        let horizon = self.ahead[0].at_us.saturating_add(self.window_us);
        while self.ahead.back().is_some_and(|s| s.at_us <= horizon) {
            match self.schedule.next() {
                Some(s) => self.ahead.push_back(s),
                None => break,
            }
        }
        // The schedule is in time order: the last within the horizon is the back one, or
        // the one before it when the back one is beyond.
        let n = self.ahead.len();
        let last = match self.ahead[n - 1].at_us {
            t if t <= horizon => t,
            _ => self.ahead[n.saturating_sub(2)].at_us,
        };
        Some((self.ahead.pop_front()?, last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(ms: u64, arrival: Arrival) -> Phase {
        Phase {
            name: "p".into(),
            duration_ms: ms,
            arrival,
            client: Default::default(),
        }
    }

    fn kinds(w: &[u32]) -> Vec<RequestKind> {
        w.iter()
            .enumerate()
            .map(|(i, &weight)| RequestKind {
                name: format!("k{i}"),
                method: "GET".into(),
                path: "/".into(),
                weight,
                headers: Default::default(),
                body: None,
                data: None,
                replay_match: None,
            })
            .collect()
    }

    fn times(phases: &[Phase]) -> Vec<u64> {
        Schedule::new(phases, &kinds(&[1]), 1)
            .map(|s| s.at_us)
            .collect()
    }

    #[test]
    fn constant_is_evenly_spaced() {
        let t = times(&[phase(1000, Arrival::Constant { rate: 4.0 })]);
        assert_eq!(t, vec![0, 250_000, 500_000, 750_000]);
    }

    #[test]
    fn bursts_arrive_together_at_each_period() {
        let t = times(&[phase(
            2500,
            Arrival::Burst {
                size: 3,
                every_ms: 1000,
            },
        )]);
        assert_eq!(
            t,
            vec![0, 0, 0, 1_000_000, 1_000_000, 1_000_000, 2_000_000, 2_000_000, 2_000_000]
        );
    }

    #[test]
    fn phases_follow_each_other() {
        let s: Vec<Scheduled> = Schedule::new(
            &[
                phase(1000, Arrival::Constant { rate: 2.0 }),
                phase(
                    500,
                    Arrival::Burst {
                        size: 2,
                        every_ms: 1000,
                    },
                ),
            ],
            &kinds(&[1]),
            1,
        )
        .collect();
        let t: Vec<(u64, usize)> = s.iter().map(|s| (s.at_us, s.phase)).collect();
        assert_eq!(
            t,
            vec![(0, 0), (500_000, 0), (1_000_000, 1), (1_000_000, 1)]
        );
    }

    #[test]
    fn ramp_count_and_rising_density() {
        // 0 → 100 rps over 10 s: 500 requests, and the second half holds 3× the first's.
        let t = times(&[phase(
            10_000,
            Arrival::Ramp {
                from_rate: 0.0,
                to_rate: 100.0,
            },
        )]);
        assert!((499..=501).contains(&t.len()), "{}", t.len());
        let first = t.iter().filter(|&&x| x < 5_000_000).count() as f64;
        let second = t.len() as f64 - first;
        assert!((second / first - 3.0).abs() < 0.05, "{first} {second}");
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
        // Falling ramps work too.
        let down = times(&[phase(
            10_000,
            Arrival::Ramp {
                from_rate: 100.0,
                to_rate: 0.0,
            },
        )]);
        assert!((499..=501).contains(&down.len()), "{}", down.len());
    }

    #[test]
    fn poisson_mean_rate_and_seeded() {
        let ph = [phase(100_000, Arrival::Poisson { rate: 50.0 })];
        let a = times(&ph);
        let rate = a.len() as f64 / 100.0;
        assert!((rate - 50.0).abs() < 2.5, "{rate}");
        assert_eq!(a, times(&ph));
        let other: Vec<u64> = Schedule::new(&ph, &kinds(&[1]), 2)
            .map(|s| s.at_us)
            .collect();
        assert_ne!(a, other);
    }

    #[test]
    fn closed_phases_schedule_nothing_but_keep_their_time() {
        let s: Vec<Scheduled> = Schedule::new(
            &[
                phase(
                    1000,
                    Arrival::Closed {
                        users: 3,
                        think_time_ms: 0,
                    },
                ),
                phase(1000, Arrival::Constant { rate: 1.0 }),
            ],
            &kinds(&[1]),
            1,
        )
        .collect();
        assert_eq!(
            s,
            vec![Scheduled {
                at_us: 1_000_000,
                phase: 1,
                kind: 0,
                replay: None,
            }]
        );
    }

    #[test]
    fn mix_follows_weights_and_seed() {
        let ph = [phase(10_000, Arrival::Constant { rate: 1000.0 })];
        let ks = kinds(&[1, 1, 2]);
        let a: Vec<usize> = Schedule::new(&ph, &ks, 9).map(|s| s.kind).collect();
        let b: Vec<usize> = Schedule::new(&ph, &ks, 9).map(|s| s.kind).collect();
        assert_eq!(a, b);
        let heavy = a.iter().filter(|&&k| k == 2).count() as f64 / a.len() as f64;
        assert!((heavy - 0.5).abs() < 0.02, "{heavy}");
    }

    #[test]
    fn batches_see_the_last_send_within_the_window() {
        // 10 000/s: one send every 100 µs.
        let ph = [phase(1, Arrival::Constant { rate: 10_000.0 })];
        let ks = kinds(&[1]);
        let got: Vec<(u64, u64)> = Batched::new(Schedule::new(&ph, &ks, 1), 150)
            .map(|(s, last)| (s.at_us, last))
            .collect();
        let want: Vec<(u64, u64)> = (0..10)
            .map(|k| (k * 100, (k * 100 + 100).min(900)))
            .collect();
        assert_eq!(got, want);
        // No window: each send is its own batch, and the schedule is unchanged.
        let alone: Vec<(Scheduled, u64)> = Batched::new(Schedule::new(&ph, &ks, 1), 0).collect();
        assert!(alone.iter().all(|(s, last)| s.at_us == *last));
        let plain: Vec<Scheduled> = Schedule::new(&ph, &ks, 1).collect();
        assert_eq!(alone.into_iter().map(|(s, _)| s).collect::<Vec<_>>(), plain);
    }

    #[test]
    fn a_burst_is_one_batch() {
        let ph = [phase(
            2500,
            Arrival::Burst {
                size: 3,
                every_ms: 1000,
            },
        )];
        let last: Vec<u64> = Batched::new(Schedule::new(&ph, &kinds(&[1]), 1), 100)
            .map(|(_, last)| last)
            .collect();
        assert_eq!(
            last,
            vec![0, 0, 0, 1_000_000, 1_000_000, 1_000_000, 2_000_000, 2_000_000, 2_000_000]
        );
    }
}
