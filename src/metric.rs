//! The named metrics that thresholds, `compare --fail-if` and the exports speak of: one
//! catalogue, so a name means the same figure everywhere. Values are `f64` in a base unit
//! per [`Unit`] (µs, a 0–1 fraction, per second, a count, MiB); `None` means "no data"
//! (e.g. no request reported a queue wait), which is never confused with zero.
//!
//! A leaf: names, units, parsing and formatting only. Reading a metric's value from a run is
//! `results::metrics`, above the results it reads.

use crate::units::{fmt_us, parse_duration_us, parse_mib};

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

/// Which figure a metric is: the key `results::metrics` reads a value by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A percentile (or the maximum) of one of the recorded distributions.
    Percentile(Series, Stat),
    ApmGapP99,
    ErrorRate,
    AchievedRps,
    OkRps,
    Requests,
    Non2xx,
    Status5xx,
    ClientFailures,
    ClientTimeouts,
    Dropped,
    UnreportedByApp,
    MaxListenQueue,
    PeakActiveWorkers,
    PeakTotalWorkers,
    PeakPoolMib,
}

/// A recorded distribution (one HdrHistogram each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    Latency,
    QueueWait,
    Service,
    ResponseTime,
    ClientLag,
}

/// A point of a distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    P50,
    P90,
    P99,
    P999,
    Max,
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
    /// Which figure it is.
    pub key: Key,
}

impl Metric {
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

macro_rules! percentile_metrics {
    ($($name:literal, [$($alias:literal),*], $series:ident, $stat:ident, $about:literal;)*) => {
        &[$(Metric {
            name: $name,
            aliases: &[$($alias),*],
            unit: Unit::Duration,
            higher_is_better: false,
            about: $about,
            key: Key::Percentile(Series::$series, Stat::$stat),
        },)*]
    };
}

const PERCENTILES: &[Metric] = percentile_metrics! {
    "latency_p50", ["p50_latency"], Latency, P50, "median latency (done − intended): what users waited";
    "latency_p90", ["p90_latency"], Latency, P90, "90th percentile latency";
    "latency_p99", ["p99_latency"], Latency, P99, "99th percentile latency";
    "latency_p999", ["p999_latency"], Latency, P999, "99.9th percentile latency";
    "latency_max", ["max_latency"], Latency, Max, "largest latency";
    "queue_wait_p50", [], QueueWait, P50, "median wait for a php-fpm worker";
    "queue_wait_p90", [], QueueWait, P90, "90th percentile wait for a worker";
    "queue_wait_p99", [], QueueWait, P99, "99th percentile wait for a worker";
    "queue_wait_max", [], QueueWait, Max, "longest wait for a worker";
    "service_p50", [], Service, P50, "median script duration (the APM view)";
    "service_p90", [], Service, P90, "90th percentile script duration";
    "service_p99", [], Service, P99, "99th percentile script duration";
    "service_max", [], Service, Max, "longest script duration";
    "response_time_p99", [], ResponseTime, P99, "99th percentile done − sent (no coordinated-omission correction)";
    "client_lag_p99", [], ClientLag, P99, "99th percentile generator lateness (should stay near 0)";
};

const OTHERS: &[Metric] = &[
    Metric {
        name: "apm_gap_p99",
        aliases: &[],
        unit: Unit::Duration,
        higher_is_better: false,
        about: "latency p99 − service p99: what the load balancer sees and the APM does not",
        key: Key::ApmGapP99,
    },
    Metric {
        name: "error_rate",
        aliases: &[],
        unit: Unit::Ratio,
        higher_is_better: false,
        about: "share of ended requests that were not 2xx or failed client-side",
        key: Key::ErrorRate,
    },
    Metric {
        name: "achieved_rps",
        aliases: &["rps"],
        unit: Unit::Rate,
        higher_is_better: true,
        about: "responses per second",
        key: Key::AchievedRps,
    },
    Metric {
        name: "ok_rps",
        aliases: &[],
        unit: Unit::Rate,
        higher_is_better: true,
        about: "2xx responses per second",
        key: Key::OkRps,
    },
    Metric {
        name: "requests",
        aliases: &["sent"],
        unit: Unit::Count,
        higher_is_better: true,
        about: "requests sent",
        key: Key::Requests,
    },
    Metric {
        name: "non_2xx",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "HTTP responses other than 2xx",
        key: Key::Non2xx,
    },
    Metric {
        name: "status_5xx",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "HTTP 5xx responses (502, 503, 504, …)",
        key: Key::Status5xx,
    },
    Metric {
        name: "client_failures",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "requests without an HTTP response (refused, reset, timeout, …)",
        key: Key::ClientFailures,
    },
    Metric {
        name: "client_timeouts",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "requests cut by the client (load balancer) timeout",
        key: Key::ClientTimeouts,
    },
    Metric {
        name: "dropped",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "scheduled requests not sent because load.max_in_flight was reached",
        key: Key::Dropped,
    },
    Metric {
        name: "unreported_by_app",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "requests that ended without the app reporting its timing",
        key: Key::UnreportedByApp,
    },
    Metric {
        name: "max_listen_queue",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "deepest listen (accept) queue sampled (a fleet: the deepest of any one instance)",
        key: Key::MaxListenQueue,
    },
    Metric {
        name: "peak_active_workers",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "most php-fpm workers busy at once (a fleet: on any one instance)",
        key: Key::PeakActiveWorkers,
    },
    Metric {
        name: "peak_total_workers",
        aliases: &[],
        unit: Unit::Count,
        higher_is_better: false,
        about: "most php-fpm workers alive at once (a fleet: on any one instance)",
        key: Key::PeakTotalWorkers,
    },
    Metric {
        name: "peak_pool_mib",
        aliases: &[],
        unit: Unit::Mib,
        higher_is_better: false,
        about:
            "largest sum of the workers' PSS: the pool's real memory (a fleet: of any one instance)",
        key: Key::PeakPoolMib,
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
