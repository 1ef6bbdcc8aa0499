//! The Prometheus text exposition format (0.0.4), written by hand rather than with the
//! `prometheus-client` crate: that crate writes OpenMetrics, which forces a `_total` suffix on
//! every counter, while php-fpm_exporter's counters (`phpfpm_max_children_reached`,
//! `phpfpm_slow_requests`, …) have none, and dashboards built on that exporter query those
//! exact names. The format is a few lines per family; both the file export and the live
//! endpoint go through [`Families`].

use std::fmt::Write;

use hdrhistogram::Histogram;

use crate::probe::Sample;

/// Upper bounds (seconds) of the histogram buckets: 0.5 ms to 2 min, roughly 1-2.5-5 steps,
/// so both a 5 ms static page and a timeout-chain 60 s wait land in a bucket of their own.
pub const BUCKETS_S: [f64; 18] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
    30.0, 60.0, 120.0,
];

/// The metric types the export uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        }
    }
}

struct Family {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    lines: String,
}

/// Metric families in first-use order; every series of a family is written under its one
/// `# TYPE` line, as the format requires.
#[derive(Default)]
pub struct Families {
    families: Vec<Family>,
}

/// `name="value"` pairs; values are escaped when written.
pub type Labels<'a> = [(&'a str, &'a str)];

impl Families {
    fn family(&mut self, name: &'static str, kind: Kind, help: &'static str) -> &mut String {
        let i = match self.families.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                self.families.push(Family {
                    name,
                    kind,
                    help,
                    lines: String::new(),
                });
                self.families.len() - 1
            }
        };
        &mut self.families[i].lines
    }

    /// One gauge or counter value.
    pub fn value(
        &mut self,
        name: &'static str,
        kind: Kind,
        help: &'static str,
        labels: &Labels,
        v: f64,
    ) {
        let out = self.family(name, kind, help);
        sample_line(out, name, "", labels, None, v);
    }

    /// A histogram of µs values, written in seconds with [`BUCKETS_S`].
    pub fn histogram_us(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &Labels,
        h: &Histogram<u64>,
    ) {
        let out = self.family(name, Kind::Histogram, help);
        let mut recorded = h.iter_recorded().peekable();
        let mut below = 0u64;
        for le in BUCKETS_S {
            let le_us = (le * 1e6) as u64;
            while let Some(v) = recorded.next_if(|v| v.value_iterated_to() <= le_us) {
                below += v.count_at_value();
            }
            sample_line(
                out,
                name,
                "_bucket",
                labels,
                Some(&fmt_float(le)),
                below as f64,
            );
        }
        let count = h.len();
        sample_line(out, name, "_bucket", labels, Some("+Inf"), count as f64);
        let sum_s = if count == 0 {
            0.0
        } else {
            h.mean() * count as f64 / 1e6
        };
        sample_line(out, name, "_sum", labels, None, sum_s);
        sample_line(out, name, "_count", labels, None, count as f64);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.name());
            out.push_str(&f.lines);
        }
        out
    }
}

fn sample_line(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &Labels,
    le: Option<&str>,
    v: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    let all = labels.iter().copied().chain(le.map(|le| ("le", le)));
    let mut first = true;
    for (k, val) in all {
        out.push(if first { '{' } else { ',' });
        first = false;
        let _ = write!(out, "{k}=\"{}\"", escape(val));
    }
    if !first {
        out.push('}');
    }
    let _ = writeln!(out, " {}", fmt_float(v));
}

/// Label values escape backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn fmt_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// php-fpm_exporter's pool figures (its names, types and `pool` / `scrape_uri` labels, after
/// fpmlab's `by`: the config, and a fleet instance's name) from one sample; nothing when the
/// status page was not read.
pub fn pool_figures(out: &mut Families, by: &Labels, scrape_uri: &str, s: &Sample) {
    use Kind::{Counter, Gauge};
    let Some(f) = &s.fpm else {
        return;
    };
    let mut all = by.to_vec();
    all.extend([("pool", f.pool.as_str()), ("scrape_uri", scrape_uri)]);
    let labels: &Labels = &all;
    let rows: [(&'static str, Kind, &'static str, f64); 12] = [
        ("phpfpm_up", Gauge, "Could PHP-FPM be reached?", 1.0),
        (
            "phpfpm_start_since",
            Counter,
            "The number of seconds since FPM has started.",
            f.start_since_s as f64,
        ),
        (
            "phpfpm_accepted_connections",
            Counter,
            "The number of requests accepted by the pool.",
            f.accepted_conn as f64,
        ),
        (
            "phpfpm_listen_queue",
            Gauge,
            "The number of requests in the queue of pending connections.",
            f.listen_queue.into(),
        ),
        (
            "phpfpm_max_listen_queue",
            Counter,
            "The maximum number of requests in the queue of pending connections since FPM has started.",
            f.max_listen_queue.into(),
        ),
        (
            "phpfpm_listen_queue_length",
            Gauge,
            "The size of the socket queue of pending connections.",
            f.listen_queue_len.into(),
        ),
        (
            "phpfpm_idle_processes",
            Gauge,
            "The number of idle processes.",
            f.idle_processes.into(),
        ),
        (
            "phpfpm_active_processes",
            Gauge,
            "The number of active processes.",
            f.active_processes.into(),
        ),
        (
            "phpfpm_total_processes",
            Gauge,
            "The number of idle + active processes.",
            f.total_processes.into(),
        ),
        (
            "phpfpm_max_active_processes",
            Counter,
            "The maximum number of active processes since FPM has started.",
            f.max_active_processes.into(),
        ),
        (
            "phpfpm_max_children_reached",
            Counter,
            "The number of times, the process limit has been reached, when pm tries to start more children (works only for pm 'dynamic' and 'ondemand').",
            f.max_children_reached as f64,
        ),
        (
            "phpfpm_slow_requests",
            Counter,
            "The number of requests that exceeded your 'request_slowlog_timeout' value.",
            f.slow_requests as f64,
        ),
    ];
    for (name, kind, help, v) in rows {
        out.value(name, kind, help, labels, v);
    }
    if let Some(q) = &s.accept_queue {
        out.value(
            "fpmlab_accept_queue",
            Gauge,
            "Connections waiting in the kernel's accept queue of the pool socket (sampled every 250 ms).",
            by,
            q.queued.into(),
        );
    }
}

/// fpmlab's latency, queue wait and service histograms for one config.
pub fn request_histograms(out: &mut Families, labels: &Labels, h: &crate::record::Histograms) {
    out.histogram_us(
        "fpmlab_latency_seconds",
        "Latency (done - intended): what users behind the load balancer waited, queueing included.",
        labels,
        &h.latency,
    );
    out.histogram_us(
        "fpmlab_queue_wait_seconds",
        "Wait for a free php-fpm worker (php-fpm's start - sent), requests the app reported.",
        labels,
        &h.queue_wait,
    );
    out.histogram_us(
        "fpmlab_service_seconds",
        "The script's own duration: what an APM reports.",
        labels,
        &h.service,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::histograms::{new_histogram, record};

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = new_histogram();
        for us in [300, 800, 2_000, 2_000, 70_000_000] {
            record(&mut h, us);
        }
        let mut f = Families::default();
        f.histogram_us("x_seconds", "x", &[("config", "a\"b")], &h);
        let text = f.render();
        assert!(text.starts_with("# HELP x_seconds x\n# TYPE x_seconds histogram\n"));
        assert!(text.contains("x_seconds_bucket{config=\"a\\\"b\",le=\"0.0005\"} 1\n"));
        assert!(text.contains("le=\"0.001\"} 2\n"), "{text}");
        assert!(text.contains("le=\"0.0025\"} 4\n"), "{text}");
        assert!(text.contains("le=\"60\"} 4\n"), "{text}");
        assert!(text.contains("le=\"120\"} 5\n"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 5\n"), "{text}");
        assert!(
            text.contains("x_seconds_count{config=\"a\\\"b\"} 5\n"),
            "{text}"
        );
    }

    #[test]
    fn one_type_line_per_family() {
        let mut f = Families::default();
        f.value("g", Kind::Gauge, "h", &[("config", "a")], 1.0);
        f.value("c", Kind::Counter, "h", &[], 2.5);
        f.value("g", Kind::Gauge, "h", &[("config", "b")], 2.0);
        assert_eq!(
            f.render(),
            "# HELP g h\n# TYPE g gauge\ng{config=\"a\"} 1\ng{config=\"b\"} 2\n\
             # HELP c h\n# TYPE c counter\nc 2.5\n"
        );
    }
}
