//! The per-second timeline: counts by second of the run, latency percentiles of the
//! requests completed in that second. Only the last few seconds keep a histogram, so memory
//! is one small struct per second however long the run.

use std::collections::VecDeque;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// One second of the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Bucket {
    /// Seconds since the load started (this bucket covers [t_s, t_s + 1)).
    pub t_s: u64,
    /// Requests sent in this second.
    pub sent: u64,
    /// Requests that ended in this second (any outcome).
    pub completed: u64,
    /// Responses 1xx–5xx ending in this second, by class.
    pub status_1xx: u64,
    pub status_2xx: u64,
    pub status_3xx: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    /// Client-side failures ending in this second (refused, reset, timeout, …).
    pub client_failures: u64,
    /// Scheduled requests not sent in this second because of `max_in_flight`.
    pub dropped: u64,
    /// Median latency (done − intended) of requests completed in this second, µs.
    pub latency_p50_us: u64,
    /// 99th percentile latency of requests completed in this second, µs.
    pub latency_p99_us: u64,
    /// Most requests in flight at any send in this second.
    pub max_in_flight: u64,
}

/// How many recent seconds keep a live histogram; completions are recorded in near time
/// order, so older seconds can be closed.
const OPEN_SECONDS: usize = 4;

/// Builds the timeline as outcomes arrive.
#[derive(Debug, Default)]
pub struct Timeline {
    buckets: Vec<Bucket>,
    /// (second, latency histogram) of the still-open seconds, oldest first.
    open: VecDeque<(u64, Histogram<u64>)>,
}

impl Timeline {
    pub fn bucket(&mut self, t_s: u64) -> &mut Bucket {
        let i = t_s as usize;
        while self.buckets.len() <= i {
            let t = self.buckets.len() as u64;
            self.buckets.push(Bucket {
                t_s: t,
                ..Bucket::default()
            });
        }
        &mut self.buckets[i]
    }

    /// Adds a completed request's latency to its second's percentiles.
    pub fn add_latency(&mut self, t_s: u64, latency_us: u64) {
        if let Some((_, h)) = self.open.iter_mut().find(|(s, _)| *s == t_s) {
            super::histograms::record(h, latency_us);
            return;
        }
        if self.open.back().is_some_and(|(s, _)| *s > t_s) && self.open.len() >= OPEN_SECONDS {
            // Far out of order: too late for the percentiles of a closed second.
            return;
        }
        let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid bounds");
        super::histograms::record(&mut h, latency_us);
        let pos = self
            .open
            .iter()
            .position(|(s, _)| *s > t_s)
            .unwrap_or(self.open.len());
        self.open.insert(pos, (t_s, h));
        while self.open.len() > OPEN_SECONDS {
            self.close_oldest();
        }
    }

    fn close_oldest(&mut self) {
        if let Some((t_s, h)) = self.open.pop_front() {
            let b = self.bucket(t_s);
            b.latency_p50_us = h.value_at_quantile(0.5);
            b.latency_p99_us = h.value_at_quantile(0.99);
        }
    }

    /// The timeline so far, with the open seconds' percentiles filled in.
    pub fn snapshot(&self) -> Vec<Bucket> {
        let mut out = self.buckets.clone();
        for (t_s, h) in &self.open {
            if let Some(b) = out.get_mut(*t_s as usize) {
                b.latency_p50_us = h.value_at_quantile(0.5);
                b.latency_p99_us = h.value_at_quantile(0.99);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_per_second_survive_closing() {
        let mut t = Timeline::default();
        for s in 0..10u64 {
            t.bucket(s).completed += 1;
            for v in 1..=100 {
                t.add_latency(s, (s + 1) * 1000 * v);
            }
        }
        let snap = t.snapshot();
        assert_eq!(snap.len(), 10);
        for (s, b) in snap.iter().enumerate() {
            let expected = (s as u64 + 1) * 50_000;
            assert!(
                (b.latency_p50_us as f64 / expected as f64 - 1.0).abs() < 0.02,
                "{s}: {b:?}"
            );
        }
    }
}
