//! The catalogue's metrics (`crate::metric`) read from a run: a config's whole run or one of
//! its phases. Thresholds, `compare` and the exports all read values here, so a name means
//! the same figure everywhere.

use super::ConfigResult;
use crate::metric::{Key, Metric, Series, Stat};
use crate::probe::{self, SampleSummary};
use crate::record::{Percentiles, Summary};

/// Where a metric is read: a config's whole run or one of its phases.
pub struct Scope<'a> {
    pub summary: &'a Summary,
    pub server: SampleSummary,
}

impl<'a> Scope<'a> {
    /// The whole config, or the phase named `phase` (`None` if it has no such phase). A
    /// phase's server-side figures are those of the samples taken during it.
    pub fn of(c: &'a ConfigResult, phase: Option<&str>) -> Option<Scope<'a>> {
        let Some(name) = phase else {
            return Some(Scope {
                summary: &c.recorded.summary,
                server: c.server.clone(),
            });
        };
        let ph = c.recorded.phases.iter().find(|p| p.name == name)?;
        let kept = c.server_by_phase.iter().find(|p| p.name == name);
        let server = kept.map(|p| p.server.clone()).unwrap_or_else(|| {
            // Runs written before `server_by_phase`: from the samples read back.
            let end = ph.start_ms + ph.duration_ms;
            let samples: Vec<_> = (c.samples.iter())
                .filter(|s| s.t_ms >= ph.start_ms && s.t_ms < end)
                .cloned()
                .collect();
            probe::summarize(&samples)
        });
        Some(Scope {
            summary: &ph.summary,
            server,
        })
    }

    /// The metric's value here, in its base unit; `None` without data.
    pub fn value(&self, m: &Metric) -> Option<f64> {
        let s = self.summary;
        let count = |f: fn(&(&String, &u64)) -> bool| {
            Some(
                s.status_counts
                    .iter()
                    .filter(f)
                    .map(|(_, n)| n)
                    .sum::<u64>() as f64,
            )
        };
        match m.key {
            Key::Percentile(series, stat) => percentile(self.series(series), stat),
            Key::ApmGapP99 => {
                let (l, v) = (s.latency, s.service);
                (l.count > 0 && v.count > 0).then(|| l.p99_us.saturating_sub(v.p99_us) as f64)
            }
            Key::ErrorRate => (ended(s) > 0).then_some(s.error_rate),
            Key::AchievedRps => Some(s.achieved_rps),
            Key::OkRps => Some(s.ok_rps),
            Key::Requests => Some(s.sent as f64),
            Key::Non2xx => count(|(k, _)| !k.starts_with('2')),
            Key::Status5xx => count(|(k, _)| k.starts_with('5')),
            Key::ClientFailures => Some(s.client_failures.total() as f64),
            Key::ClientTimeouts => Some(s.client_failures.timeout as f64),
            Key::Dropped => Some(s.dropped_max_in_flight as f64),
            Key::UnreportedByApp => Some(s.unreported_by_app as f64),
            Key::MaxListenQueue => self.server.max_listen_queue.map(f64::from),
            Key::PeakActiveWorkers => self.server.peak_active_workers.map(f64::from),
            Key::PeakTotalWorkers => self.server.peak_total_workers.map(f64::from),
            Key::PeakPoolMib => self.server.peak_total_pss_kib.map(|k| k as f64 / 1024.0),
        }
    }

    fn series(&self, series: Series) -> Percentiles {
        let s = self.summary;
        match series {
            Series::Latency => s.latency,
            Series::QueueWait => s.queue_wait,
            Series::Service => s.service,
            Series::ResponseTime => s.response_time,
            Series::ClientLag => s.client_lag,
        }
    }
}

fn percentile(p: Percentiles, stat: Stat) -> Option<f64> {
    let us = match stat {
        Stat::P50 => p.p50_us,
        Stat::P90 => p.p90_us,
        Stat::P99 => p.p99_us,
        Stat::P999 => p.p999_us,
        Stat::Max => p.max_us,
    };
    (p.count > 0).then_some(us as f64)
}

/// Requests that ended (a response or a client failure), cancelled ones aside.
fn ended(s: &Summary) -> u64 {
    s.responses + s.client_failures.total() - s.client_failures.cancelled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{all, find};

    use crate::results::test_fixture as fixture;

    #[test]
    fn every_metric_reads_its_figure() {
        let run = fixture();
        let c = &run.configs[0];
        let s = Scope::of(c, None).unwrap();
        let sum = &c.recorded.summary;
        let v = |n: &str| s.value(find(n).unwrap());
        assert_eq!(v("latency_p99"), Some(sum.latency.p99_us as f64));
        assert_eq!(v("queue_wait_max"), Some(sum.queue_wait.max_us as f64));
        assert_eq!(v("client_lag_p99"), Some(sum.client_lag.p99_us as f64));
        assert_eq!(v("requests"), Some(sum.sent as f64));
        assert_eq!(v("achieved_rps"), Some(sum.achieved_rps));
        assert_eq!(
            v("apm_gap_p99"),
            Some(sum.latency.p99_us.saturating_sub(sum.service.p99_us) as f64)
        );
        // Every catalogue entry reads without panicking, on the whole run and on a phase.
        let phase = &c.recorded.phases[0].name;
        let ps = Scope::of(c, Some(phase)).unwrap();
        for m in all() {
            let _ = (s.value(m), ps.value(m));
        }
        assert!(Scope::of(c, Some("no such phase")).is_none());
    }
}
