//! A retry budget over a sliding window, as Finagle's `RetryBudget` and gRPC's retry
//! throttling bound retries: every first attempt deposits `ratio` of a retry, every second
//! deposits `min_per_s`, and a retry is allowed while the window's retries stay below the
//! window's deposits. The window slides in tenths, so an old burst of first attempts stops
//! paying for retries within a tenth of the window.
//!
//! Written here rather than taken from `tower::retry::budget`: that one reads the clock
//! itself (these tests drive time), is built for threads (the load thread is one), and
//! limits the window to 60 s and the minimum to whole retries per second.

use std::time::{Duration, Instant};

use crate::scenario::retry::RetryBudget;

/// Slots of the window: its resolution.
const SLOTS: usize = 10;

/// One phase's budget; lives on the load thread.
#[derive(Debug, Clone)]
pub struct Budget {
    ratio: f64,
    /// `min_per_s` × the window's seconds: the retries the window always allows.
    floor: f64,
    slot: Duration,
    origin: Instant,
    /// Index (since `origin`) of the newest slot.
    head: u64,
    /// Per slot: first attempts and retries.
    firsts: [u64; SLOTS],
    retries: [u64; SLOTS],
}

impl Budget {
    pub fn new(b: &RetryBudget, origin: Instant) -> Self {
        let window = Duration::from_millis(b.window_ms);
        Budget {
            ratio: b.ratio,
            floor: b.min_per_s * window.as_secs_f64(),
            slot: window / SLOTS as u32,
            origin,
            head: 0,
            firsts: [0; SLOTS],
            retries: [0; SLOTS],
        }
    }

    /// Moves the window to `now`, emptying the slots it left behind; returns the slot of `now`.
    fn slide(&mut self, now: Instant) -> usize {
        let at = (now.saturating_duration_since(self.origin).as_nanos()
            / self.slot.as_nanos().max(1)) as u64;
        if at > self.head {
            for k in (self.head + 1)..=at.min(self.head + SLOTS as u64) {
                let i = (k % SLOTS as u64) as usize;
                self.firsts[i] = 0;
                self.retries[i] = 0;
            }
            self.head = at;
        }
        (self.head % SLOTS as u64) as usize
    }

    /// A first attempt was sent at `now`.
    pub fn on_first(&mut self, now: Instant) {
        let i = self.slide(now);
        self.firsts[i] += 1;
    }

    /// Whether a retry may be sent at `now`; if so, it is counted.
    pub fn try_retry(&mut self, now: Instant) -> bool {
        let i = self.slide(now);
        let firsts: u64 = self.firsts.iter().sum();
        let retries: u64 = self.retries.iter().sum();
        let allowed = self.floor + self.ratio * firsts as f64;
        if (retries as f64) < allowed.floor() {
            self.retries[i] += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(ratio: f64, min_per_s: f64) -> (Budget, Instant) {
        let t0 = Instant::now();
        let b = RetryBudget {
            ratio,
            min_per_s,
            window_ms: 10_000,
        };
        (Budget::new(&b, t0), t0)
    }

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn retries_are_a_share_of_first_attempts() {
        let (mut b, t0) = budget(0.1, 0.0);
        for k in 0..1000 {
            b.on_first(ms(t0, k));
        }
        let allowed = (0..1000).filter(|k| b.try_retry(ms(t0, 1000 + k))).count();
        assert_eq!(allowed, 100);
    }

    #[test]
    fn the_minimum_allows_retries_without_traffic() {
        let (mut b, t0) = budget(0.1, 2.0);
        // 2 per second over a 10 s window: 20 at once, then nothing more.
        let allowed = (0..100).filter(|_| b.try_retry(ms(t0, 5))).count();
        assert_eq!(allowed, 20);
    }

    #[test]
    fn the_window_forgets_old_attempts_and_retries() {
        let (mut b, t0) = budget(0.5, 0.0);
        for _ in 0..100 {
            b.on_first(ms(t0, 0));
        }
        assert_eq!((0..100).filter(|_| b.try_retry(ms(t0, 500))).count(), 50);
        // Eleven seconds later the first attempts and their retries are out of the window.
        assert!(!b.try_retry(ms(t0, 11_000)));
        for _ in 0..10 {
            b.on_first(ms(t0, 11_000));
        }
        assert_eq!((0..10).filter(|_| b.try_retry(ms(t0, 11_100))).count(), 5);
    }

    #[test]
    fn a_long_silence_empties_every_slot() {
        let (mut b, t0) = budget(1.0, 0.0);
        b.on_first(ms(t0, 0));
        assert!(!b.try_retry(ms(t0, 100_000)));
    }
}
