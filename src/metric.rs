//! The named metrics that thresholds, `compare --fail-if` and the exports speak of: one
//! catalogue, so a name means the same figure everywhere. Values are `f64` in a base unit
//! per [`Unit`] (µs, a 0–1 fraction, per second, a count, MiB); `None` means "no data"
//! (e.g. no request reported a queue wait), which is never confused with zero.

use crate::probe::{self, SampleSummary};
use crate::record::Summary;
use crate::report::fmt_us;
use crate::results::ConfigResult;
use crate::scenario::units::{parse_duration_us, parse_mib};

/// What a metric's numbers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Microseconds; written with a unit (`800ms`, `1.5s`).
    Duration,
    /// A fraction from 0 to 1; written `1%` or `0.01`.
    Ratio,
    /// Per second.
    Rate,
    /// A whole number.
    Count,
    /// Mebibytes; written `512MiB` or a number.
    Mib,
}

/// Where a metric is read: a config's whole run or one of its phases.
pub struct Scope<'a> {
    pub summary: &'a Summary,
    pub server: SampleSummary,
}

impl<'a> Scope<'a> {
    /// The whole config, or the phase named `phase` (`None` if it has no such phase). A
    /// phase's server-side figures come from the samples taken during it.
    pub fn of(c: &'a ConfigResult, phase: Option<&str>) -> Option<Scope<'a>> {
        let Some(name) = phase else {
            return Some(Scope {
                summary: &c.recorded.summary,
                server: c.server.clone(),
            });
        };
        let ph = c.recorded.phases.iter().find(|p| p.name == name)?;
        let end = ph.start_ms + ph.duration_ms;
        let samples: Vec<_> = c
            .samples
            .iter()
            .filter(|s| s.t_ms >= ph.start_ms && s.t_ms < end)
            .cloned()
            .collect();
        Some(Scope {
            summary: &ph.summary,
            server: probe::summarize(&samples),
        })
    }
}

/// One named metric.
#[derive(Debug)]
pub struct Metric {
    /// Canonical name (`latency_p99`).
    pub name: &'static str,
    /// Other accepted spellings (`p99_latency`).
    pub aliases: &'static [&'static str],
    pub unit: Unit,
    /// True when a rise is an improvement (throughput); false when it is a regression.
    pub higher_is_better: bool,
    /// One line for help texts and the docs.
    pub about: &'static str,
    get: fn(&Scope) -> Option<f64>,
}

impl Metric {
    /// The metric's value in `scope`, `None` without data.
    pub fn value(&self, scope: &Scope) -> Option<f64> {
        (self.get)(scope)
    }

    /// Formats a value for people: `812 ms`, `1.25%`, `17.3/s`, `42`, `12.0 MiB`.
    pub fn format(&self, v: f64) -> String {
        match self.unit {
            Unit::Duration => fmt_us(v.max(0.0).round() as u64),
            Unit::Ratio => format!("{:.2}%", v * 100.0),
            Unit::Rate => format!("{v:.1}/s"),
            Unit::Count => format!("{v:.0}"),
            Unit::Mib => format!("{v:.1} MiB"),
        }
    }

    /// Formats a change with its sign: `+120 ms`, `-0.50 pp`, `+3`.
    pub fn format_delta(&self, d: f64) -> String {
        let sign = if d < 0.0 { "-" } else { "+" };
        let m = d.abs();
        match self.unit {
            Unit::Ratio => format!("{sign}{:.2} pp", m * 100.0),
            _ => format!("{sign}{}", self.format(m)),
        }
    }

    /// Parses a limit or a change as written in a scenario or a rule.
    pub fn parse_quantity(&self, text: &str) -> Result<f64, String> {
        let t = text.trim();
        let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        match self.unit {
            Unit::Duration => parse_duration_us(t).map(|us| us as f64).map_err(|e| {
                format!("{e} ({} is a duration: write e.g. \"800ms\")", self.name)
            }),
            Unit::Ratio => match t.strip_suffix('%') {
                Some(pct) => number(pct).map(|v| v / 100.0),
                None => number(t),
            }
            .ok_or_else(|| {
                format!(
                    "\"{text}\" is not a ratio: write e.g. \"1%\" or 0.01 ({} is a share of requests)",
                    self.name
                )
            }),
            Unit::Rate | Unit::Count => number(t.trim_end_matches("/s")).ok_or_else(|| {
                format!("\"{text}\" is not a number: write e.g. 10 ({})", self.about)
            }),
            Unit::Mib => number(t)
                .or_else(|| parse_mib(t).ok().map(|v| v as f64))
                .ok_or_else(|| format!("\"{text}\" is not a size: write e.g. \"512MiB\"")),
        }
    }
}

/// Finds a metric by its name or an alias.
pub fn find(name: &str) -> Option<&'static Metric> {
    let n = name.trim();
    all().find(|m| m.name == n || m.aliases.contains(&n))
}

/// `"unknown metric …: use one of …"`.
pub fn unknown(name: &str) -> String {
    let names: Vec<&str> = all().map(|m| m.name).collect();
    format!(
        "unknown metric \"{name}\": use one of {} (see docs/reports.md)",
        names.join(", ")
    )
}

fn pct(p: crate::record::Percentiles, f: fn(&crate::record::Percentiles) -> u64) -> Option<f64> {
    (p.count > 0).then(|| f(&p) as f64)
}

fn ended(s: &Summary) -> u64 {
    s.responses + s.client_failures.total() - s.client_failures.cancelled
}

macro_rules! percentile_metrics {
    ($($name:literal, [$($alias:literal),*], $field:ident, $stat:ident, $about:literal;)*) => {
        &[$(Metric {
            name: $name,
            aliases: &[$($alias),*],
            unit: Unit::Duration,
            higher_is_better: false,
            about: $about,
            get: |s| pct(s.summary.$field, |p| p.$stat),
        },)*]
    };
}

const PERCENTILES: &[Metric] = percentile_metrics! {
    "latency_p50", ["p50_latency"], latency, p50_us, "median latency (done − intended): what users waited";
    "latency_p90", ["p90_latency"], latency, p90_us, "90th percentile latency";
    "latency_p99", ["p99_latency"], latency, p99_us, "99th percentile latency";
    "latency_p999", ["p999_latency"], latency, p999_us, "99.9th percentile latency";
    "latency_max", ["max_latency"], latency, max_us, "largest latency";
    "queue_wait_p50", [], queue_wait, p50_us, "median wait for a php-fpm worker";
    "queue_wait_p90", [], queue_wait, p90_us, "90th percentile wait for a worker";
    "queue_wait_p99", [], queue_wait, p99_us, "99th percentile wait for a worker";
    "queue_wait_max", [], queue_wait, max_us, "longest wait for a worker";
    "service_p50", [], service, p50_us, "median script duration (the APM view)";
    "service_p90", [], service, p90_us, "90th percentile script duration";
    "service_p99", [], service, p99_us, "99th percentile script duration";
    "service_max", [], service, max_us, "longest script duration";
    "response_time_p99", [], response_time, p99_us, "99th percentile done − sent (no coordinated-omission correction)";
    "client_lag_p99", [], client_lag, p99_us, "99th percentile generator lateness (should stay near 0)";
};

const OTHERS: &[Metric] = &[
    Metric {
        name: "apm_gap_p99",
        aliases: &[],
        unit: Unit::Duration,
        higher_is_better: false,
        about: "latency p99 − service p99: what the load balancer sees and the APM does not",
        get: |s| {
            let (l, v) = (s.summary.latency, s.summary.service);
            (l.count > 0 && v.count > 0).then(|| l.p99_us.saturating_sub(v.p99_us) as f64)
        },
    },
    Metric {
        name: "error_rate",
        aliases: &[],
        unit: Unit::Ratio,
        higher_is_better: false,
        about: "share of ended requests that were not 2xx or failed client-side",
        get: |s| (ended(s.summary) > 0).then_some(s.summary.error_rate),
    },
    Metric {
        name: "achieved_rps",
        aliases: &["rps"],
        unit: Unit::Rate,
        higher_is_better: true,
        about: "responses per second",
        get: |s| Some(s.summary.achieved_rps),
    },
    Metric {
        name: "ok_rps",
        aliases: &[],
        unit: Unit::Rate,
        higher_is_better: true,
        about: "2xx responses per second",
        get: |s| Some(s.summary.ok_rps),
    },
    Metric {
        name: "requests",
        aliases: &["sent"],
        unit: Unit::Count,
        higher_is_better: true,
        about: "requests sent",
        get: |s| Some(s.summary.sent as f64),
    },
    Metric {
        name: "non_2xx",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "HTTP responses other than 2xx",
        get: |s| {
            let n: u64 = (s.summary.status_counts.iter())
                .filter(|(k, _)| !k.starts_with('2'))
                .map(|(_, n)| n)
                .sum();
            Some(n as f64)
        },
    },
    Metric {
        name: "status_5xx",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "HTTP 5xx responses (502, 503, 504, …)",
        get: |s| {
            let n: u64 = (s.summary.status_counts.iter())
                .filter(|(k, _)| k.starts_with('5'))
                .map(|(_, n)| n)
                .sum();
            Some(n as f64)
        },
    },
    Metric {
        name: "client_failures",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "requests without an HTTP response (refused, reset, timeout, …)",
        get: |s| Some(s.summary.client_failures.total() as f64),
    },
    Metric {
        name: "client_timeouts",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "requests cut by the client (load balancer) timeout",
        get: |s| Some(s.summary.client_failures.timeout as f64),
    },
    Metric {
        name: "dropped",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "scheduled requests not sent because load.max_in_flight was reached",
        get: |s| Some(s.summary.dropped_max_in_flight as f64),
    },
    Metric {
        name: "unreported_by_app",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "requests that ended without the app reporting its timing",
        get: |s| Some(s.summary.unreported_by_app as f64),
    },
    Metric {
        name: "max_listen_queue",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "deepest listen (accept) queue sampled",
        get: |s| s.server.max_listen_queue.map(f64::from),
    },
    Metric {
        name: "peak_active_workers",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "most php-fpm workers busy at once",
        get: |s| s.server.peak_active_workers.map(f64::from),
    },
    Metric {
        name: "peak_total_workers",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "most php-fpm workers alive at once",
        get: |s| s.server.peak_total_workers.map(f64::from),
    },
    Metric {
        name: "peak_pool_mib",
        aliases: &[],
        unit: Unit::Mib,
        higher_is_better: false,
        about: "largest sum of the workers' PSS: the pool's real memory",
        get: |s| s.server.peak_total_pss_kib.map(|k| k as f64 / 1024.0),
    },
];

/// Every metric, percentiles first.
pub fn all() -> impl Iterator<Item = &'static Metric> {
    PERCENTILES.iter().chain(OTHERS)
}

/// The metrics `compare` shows unless told otherwise.
pub const DEFAULT_COMPARE: &[&str] = &[
    "latency_p50",
    "latency_p90",
    "latency_p99",
    "latency_max",
    "queue_wait_p99",
    "service_p99",
    "error_rate",
    "achieved_rps",
    "client_failures",
    "max_listen_queue",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_resolve() {
        assert_eq!(find("p99_latency").unwrap().name, "latency_p99");
        assert_eq!(find("error_rate").unwrap().unit, Unit::Ratio);
        assert!(find("p98_latency").is_none());
        assert!(unknown("x").contains("queue_wait_p99"));
        let mut names: Vec<&str> = all()
            .flat_map(|m| m.aliases.iter().chain([&m.name]))
            .copied()
            .collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "a name is used twice");
        for d in DEFAULT_COMPARE {
            assert!(find(d).is_some(), "{d}");
        }
    }

    #[test]
    fn every_metric_is_documented() {
        let docs = include_str!("../docs/reports.md");
        for m in all() {
            for name in m.aliases.iter().chain([&m.name]) {
                assert!(
                    docs.contains(&format!("`{name}`")),
                    "docs/reports.md lacks `{name}`"
                );
            }
        }
    }

    #[test]
    fn quantities_parse_per_unit() {
        let m = |n| find(n).unwrap();
        assert_eq!(m("latency_p99").parse_quantity("800ms"), Ok(800_000.0));
        assert!(m("latency_p99")
            .parse_quantity("800")
            .unwrap_err()
            .contains("no unit"));
        assert_eq!(m("error_rate").parse_quantity("1%"), Ok(0.01));
        assert_eq!(m("error_rate").parse_quantity("0.02"), Ok(0.02));
        assert!(m("error_rate").parse_quantity("lots").is_err());
        assert_eq!(m("achieved_rps").parse_quantity("15"), Ok(15.0));
        assert_eq!(m("peak_pool_mib").parse_quantity("1GiB"), Ok(1024.0));
    }

    #[test]
    fn formatting() {
        let m = |n| find(n).unwrap();
        assert_eq!(m("latency_p99").format(812_000.0), "812 ms");
        assert_eq!(m("latency_p99").format_delta(-120_000.0), "-120 ms");
        assert_eq!(m("error_rate").format(0.0125), "1.25%");
        assert_eq!(m("error_rate").format_delta(0.005), "+0.50 pp");
        assert_eq!(m("achieved_rps").format(17.25), "17.2/s");
        assert_eq!(m("client_failures").format_delta(3.0), "+3");
    }
}
