//! The per-second timeline: counts by second of the run, and percentiles of latency, queue
//! wait and service time of the requests completed in that second. Only the last few seconds
//! keep histograms, so memory is one small struct per second however long the run.

use std::collections::VecDeque;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// One second of the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
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
    /// 90th percentile latency of requests completed in this second, µs.
    #[serde(default)]
    pub latency_p90_us: u64,
    /// 99th percentile latency of requests completed in this second, µs.
    pub latency_p99_us: u64,
    /// Median queue wait (php-fpm start − sent) of the requests completed in this second that
    /// the app reported, µs; 0 when none did.
    #[serde(default)]
    pub queue_wait_p50_us: u64,
    /// 99th percentile queue wait, µs; 0 when no request reported.
    #[serde(default)]
    pub queue_wait_p99_us: u64,
    /// Median service time (the script's own duration), µs; 0 when no request reported.
    #[serde(default)]
    pub service_p50_us: u64,
    /// 99th percentile service time, µs; 0 when no request reported.
    #[serde(default)]
    pub service_p99_us: u64,
    /// Most requests in flight at any send in this second.
    pub max_in_flight: u64,
    /// 99th percentile client lag (sent − intended: how late the generator sent) of the
    /// requests completed in this second, µs; 0 when none was sent.
    #[serde(default)]
    pub client_lag_p99_us: u64,
    /// Responses with a status of 400 or more ending in this second, by status code
    /// (`{"502": 3}`): the report draws each code apart. Absent when there were none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub error_status_counts: std::collections::BTreeMap<String, u64>,
}

/// How many recent seconds keep live histograms; completions are recorded in near time
/// order, so older seconds can be closed.
const OPEN_SECONDS: usize = 4;

/// Which per-second distribution a value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    Latency,
    QueueWait,
    Service,
    ClientLag,
}

/// The histograms of one still-open second (2 significant digits: plenty for a chart).
#[derive(Debug, Clone)]
struct Open {
    t_s: u64,
    latency: Histogram<u64>,
    queue_wait: Histogram<u64>,
    service: Histogram<u64>,
    client_lag: Histogram<u64>,
}

impl Open {
    fn new(t_s: u64) -> Self {
        let h = || Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid bounds");
        Open {
            t_s,
            latency: h(),
            queue_wait: h(),
            service: h(),
            client_lag: h(),
        }
    }

    fn series(&mut self, s: Series) -> &mut Histogram<u64> {
        match s {
            Series::Latency => &mut self.latency,
            Series::QueueWait => &mut self.queue_wait,
            Series::Service => &mut self.service,
            Series::ClientLag => &mut self.client_lag,
        }
    }

    /// Writes the percentiles into `b` (an empty histogram gives 0).
    fn fill(&self, b: &mut Bucket) {
        b.latency_p50_us = self.latency.value_at_quantile(0.5);
        b.latency_p90_us = self.latency.value_at_quantile(0.9);
        b.latency_p99_us = self.latency.value_at_quantile(0.99);
        b.queue_wait_p50_us = self.queue_wait.value_at_quantile(0.5);
        b.queue_wait_p99_us = self.queue_wait.value_at_quantile(0.99);
        b.service_p50_us = self.service.value_at_quantile(0.5);
        b.service_p99_us = self.service.value_at_quantile(0.99);
        b.client_lag_p99_us = self.client_lag.value_at_quantile(0.99);
    }
}

/// Builds the timeline as outcomes arrive.
#[derive(Debug, Default, Clone)]
pub struct Timeline {
    /// Seconds `first_t ..`, contiguous.
    buckets: VecDeque<Bucket>,
    first_t: u64,
    /// Keep only this many recent seconds (`None`: all); older ones are dropped as new ones
    /// open, once streamed to a file by whoever reads [`Timeline::snapshot`].
    keep_s: Option<u64>,
    /// Where a count for a second already dropped goes (never read): outcomes are recorded
    /// as they happen, so this needs an outcome older than `keep_s`.
    dropped: Bucket,
    /// The still-open seconds, oldest first.
    open: VecDeque<Open>,
}

impl Timeline {
    /// A timeline holding only the last `keep_s` seconds in memory: for runs of any length,
    /// whose timeline is streamed to a file.
    pub fn bounded(keep_s: u64) -> Self {
        Timeline {
            keep_s: Some(keep_s.max(OPEN_SECONDS as u64 + 1)),
            ..Timeline::default()
        }
    }

    pub fn bucket(&mut self, t_s: u64) -> &mut Bucket {
        if t_s < self.first_t {
            return &mut self.dropped;
        }
        let i = (t_s - self.first_t) as usize;
        while self.buckets.len() <= i {
            let t = self.first_t + self.buckets.len() as u64;
            self.buckets.push_back(Bucket {
                t_s: t,
                ..Bucket::default()
            });
        }
        if let Some(keep) = self.keep_s {
            while self.buckets.len() as u64 > keep {
                self.buckets.pop_front();
                self.first_t += 1;
            }
        }
        let i = (t_s - self.first_t) as usize;
        &mut self.buckets[i]
    }

    /// Adds a completed request's latency to its second's percentiles.
    pub fn add_latency(&mut self, t_s: u64, latency_us: u64) {
        self.add(t_s, Series::Latency, latency_us);
    }

    /// Adds a value to the distribution `series` of second `t_s`.
    pub fn add(&mut self, t_s: u64, series: Series, us: u64) {
        if let Some(open) = self.open.iter_mut().find(|o| o.t_s == t_s) {
            super::histograms::record(open.series(series), us);
            return;
        }
        if self.open.back().is_some_and(|o| o.t_s > t_s) && self.open.len() >= OPEN_SECONDS {
            // Far out of order: too late for the percentiles of a closed second.
            return;
        }
        let mut open = Open::new(t_s);
        super::histograms::record(open.series(series), us);
        let pos = self
            .open
            .iter()
            .position(|o| o.t_s > t_s)
            .unwrap_or(self.open.len());
        self.open.insert(pos, open);
        while self.open.len() > OPEN_SECONDS {
            self.close_oldest();
        }
    }

    fn close_oldest(&mut self) {
        if let Some(open) = self.open.pop_front() {
            open.fill(self.bucket(open.t_s));
        }
    }

    /// The timeline so far (the seconds kept, see [`Timeline::bounded`]), with the open
    /// seconds' percentiles filled in.
    pub fn snapshot(&self) -> Vec<Bucket> {
        let mut out: Vec<Bucket> = self.buckets.iter().cloned().collect();
        for open in &self.open {
            if let Some(b) =
                (open.t_s.checked_sub(self.first_t)).and_then(|i| out.get_mut(i as usize))
            {
                open.fill(b);
            }
        }
        out
    }

    /// Seconds whose figures can no longer change: older than the open seconds.
    pub fn closed_before(&self) -> u64 {
        let newest = self.first_t + self.buckets.len() as u64;
        newest.saturating_sub(OPEN_SECONDS as u64 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_keeps_the_last_seconds() {
        let mut t = Timeline::bounded(10);
        for s in 0..100u64 {
            t.bucket(s).sent += s;
            t.add_latency(s, 1000);
        }
        let snap = t.snapshot();
        assert_eq!(snap.len(), 10);
        assert_eq!((snap[0].t_s, snap[9].t_s, snap[9].sent), (90, 99, 99));
        assert!(snap.iter().all(|b| b.latency_p50_us > 0));
        t.bucket(3).sent += 1; // long gone: ignored, no panic
        assert_eq!(t.closed_before(), 95);
    }

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
            assert!(b.latency_p90_us > b.latency_p50_us && b.latency_p99_us > b.latency_p90_us);
            assert_eq!(
                (b.queue_wait_p99_us, b.service_p50_us),
                (0, 0),
                "no fpm data"
            );
        }
    }

    #[test]
    fn queue_wait_and_service_per_second() {
        let mut t = Timeline::default();
        for s in 0..6u64 {
            t.bucket(s).completed += 1;
            for v in 1..=100 {
                t.add(s, Series::QueueWait, v * 1000);
                t.add(s, Series::Service, 100_000);
            }
        }
        for b in t.snapshot() {
            assert!(
                (b.queue_wait_p50_us as f64 / 50_000.0 - 1.0).abs() < 0.02,
                "{b:?}"
            );
            assert!(
                (b.queue_wait_p99_us as f64 / 99_000.0 - 1.0).abs() < 0.02,
                "{b:?}"
            );
            assert!(
                (b.service_p99_us as f64 / 100_000.0 - 1.0).abs() < 0.02,
                "{b:?}"
            );
            assert_eq!(b.latency_p50_us, 0);
        }
    }
}
