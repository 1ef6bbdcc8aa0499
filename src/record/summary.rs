//! Counts per (phase, kind) and the summary figures derived from them. The summary types
//! are part of `run.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::histograms::{Histograms, Percentiles};
use super::outcome::FailureKind;

/// Client-side failures by kind (no HTTP response).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct FailureCounts {
    /// Connection refused.
    pub refused: u64,
    /// Connection reset or closed before a complete response header.
    pub reset: u64,
    /// Client timeout (the load balancer's idle timeout) expired.
    pub timeout: u64,
    /// Body cut short after the headers.
    pub incomplete: u64,
    /// In flight when the run was stopped.
    pub cancelled: u64,
    /// Anything else.
    pub other: u64,
}

impl FailureCounts {
    pub fn add(&mut self, kind: FailureKind) {
        *match kind {
            FailureKind::Refused => &mut self.refused,
            FailureKind::Reset => &mut self.reset,
            FailureKind::Timeout => &mut self.timeout,
            FailureKind::Incomplete => &mut self.incomplete,
            FailureKind::Cancelled => &mut self.cancelled,
            FailureKind::Other => &mut self.other,
        } += 1;
    }

    pub fn merge(&mut self, o: &FailureCounts) {
        self.refused += o.refused;
        self.reset += o.reset;
        self.timeout += o.timeout;
        self.incomplete += o.incomplete;
        self.cancelled += o.cancelled;
        self.other += o.other;
    }

    pub fn total(&self) -> u64 {
        self.refused + self.reset + self.timeout + self.incomplete + self.cancelled + self.other
    }
}

/// Raw counters of one (phase, kind) cell, mergeable.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub scheduled: u64,
    pub sent: u64,
    pub dropped: u64,
    pub responses: u64,
    pub status: BTreeMap<u16, u64>,
    pub failures: FailureCounts,
    /// Requests that ended without the app reporting its timing.
    pub unreported: u64,
    /// Queue waits that came out negative by clock noise and were recorded as 0.
    pub clamped_queue_waits: u64,
    /// Latest end of a request, µs after the load's start.
    pub last_done_us: u64,
    /// The largest peak memory a script reported, bytes (0: none reported).
    pub app_peak_memory_bytes: u64,
    /// Waits for a free connection of `load.max_connections`, µs; allocated at the first
    /// wait, so a run without the cap carries none.
    pub connection_wait: Option<Box<hdrhistogram::Histogram<u64>>>,
}

impl Counts {
    pub fn merge(&mut self, o: &Counts) {
        self.scheduled += o.scheduled;
        self.sent += o.sent;
        self.dropped += o.dropped;
        self.responses += o.responses;
        for (code, n) in &o.status {
            *self.status.entry(*code).or_default() += n;
        }
        self.failures.merge(&o.failures);
        self.unreported += o.unreported;
        self.clamped_queue_waits += o.clamped_queue_waits;
        self.last_done_us = self.last_done_us.max(o.last_done_us);
        self.app_peak_memory_bytes = self.app_peak_memory_bytes.max(o.app_peak_memory_bytes);
        if let Some(theirs) = &o.connection_wait {
            self.connection_wait_mut()
                .add(theirs.as_ref())
                .expect("histograms share bounds");
        }
    }

    /// The connection-wait histogram, created on first use.
    pub fn connection_wait_mut(&mut self) -> &mut hdrhistogram::Histogram<u64> {
        self.connection_wait
            .get_or_insert_with(|| Box::new(super::histograms::new_histogram()))
    }
}

/// Summary figures of a set of requests (a kind in a phase, a phase, or a whole config).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Summary {
    /// Requests the schedule asked for (closed loop: requests users started).
    pub scheduled: u64,
    /// Requests actually sent.
    pub sent: u64,
    /// Scheduled requests not sent because `max_in_flight` was reached.
    pub dropped_max_in_flight: u64,
    /// Requests that got an HTTP response (any status).
    pub responses: u64,
    /// Responses per second over the window.
    pub achieved_rps: f64,
    /// 2xx responses per second over the window.
    pub ok_rps: f64,
    /// From the start of the phase (or load) to the last request's end, ms.
    pub window_ms: u64,
    /// Share of ended requests that were not 2xx or failed client-side (0 to 1).
    pub error_rate: f64,
    /// done − intended, µs, over HTTP responses and client timeouts: what users waited.
    pub latency: Percentiles,
    /// done − sent, µs, over HTTP responses (no coordinated-omission correction).
    pub response_time: Percentiles,
    /// sent − intended, µs: the generator's own lateness.
    pub client_lag: Percentiles,
    /// php-fpm start (`REQUEST_TIME_FLOAT`) − sent, µs: waiting for a worker.
    pub queue_wait: Percentiles,
    /// The script's own duration, µs: what an APM reports.
    pub service: Percentiles,
    /// HTTP responses by status code (`"200"`, `"502"`, …).
    pub status_counts: BTreeMap<String, u64>,
    /// Client-side failures by kind.
    pub client_failures: FailureCounts,
    /// Requests that ended without the app reporting its timing (killed workers, fatal
    /// errors, nginx errors, client gave up first): what an APM never sees.
    pub unreported_by_app: u64,
    /// Queue waits that came out slightly negative (clock noise) and were counted as 0.
    pub clamped_queue_waits: u64,
    /// The largest peak memory one request's script used (`memory_get_peak_usage(true)`,
    /// reported by fpmlab's agent or the built-in scripts), bytes; `None`: none reported.
    #[serde(default)]
    pub app_peak_memory_bytes_max: Option<u64>,
    /// With `load.max_connections`: how long requests that found every connection busy
    /// waited for one, µs (`count`: how many waited). The wait is part of `client_lag` and
    /// `latency`: queueing in the client (as in a load balancer), not in the server.
    #[serde(default)]
    pub connection_wait: Percentiles,
}

impl Summary {
    /// Builds the figures. `start_us` is where the window begins (µs after the load start).
    pub fn new(c: &Counts, h: &Histograms, start_us: u64) -> Self {
        let window_us = c.last_done_us.saturating_sub(start_us);
        let per_s = |n: u64| {
            if window_us == 0 {
                0.0
            } else {
                round2(n as f64 / (window_us as f64 / 1e6))
            }
        };
        let ok: u64 = c
            .status
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum();
        let ended = c.responses + c.failures.total() - c.failures.cancelled;
        Summary {
            scheduled: c.scheduled,
            sent: c.sent,
            dropped_max_in_flight: c.dropped,
            responses: c.responses,
            achieved_rps: per_s(c.responses),
            ok_rps: per_s(ok),
            window_ms: window_us / 1000,
            error_rate: if ended == 0 {
                0.0
            } else {
                round4((ended - ok) as f64 / ended as f64)
            },
            latency: Percentiles::of(&h.latency),
            response_time: Percentiles::of(&h.response_time),
            client_lag: Percentiles::of(&h.client_lag),
            queue_wait: Percentiles::of(&h.queue_wait),
            service: Percentiles::of(&h.service),
            status_counts: c.status.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            client_failures: c.failures.clone(),
            unreported_by_app: c.unreported,
            clamped_queue_waits: c.clamped_queue_waits,
            app_peak_memory_bytes_max: (c.app_peak_memory_bytes > 0)
                .then_some(c.app_peak_memory_bytes),
            connection_wait: c
                .connection_wait
                .as_deref()
                .map(Percentiles::of)
                .unwrap_or_default(),
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
