//! The fleet view in the exports: a Markdown section with the terminal's table, the
//! ALB-code/cause breakdown, the events and each instance's health and capacity over time;
//! per-instance rows of the timeline CSV; per-instance Prometheus families with an
//! `instance` label, in the file export and (each instance's latest sample) on the live
//! endpoint.

use std::fmt::Write;

use super::prom_text::{Families, Kind, Labels};
use crate::fleet_view::{FleetView, InstanceView, QuantilesMs, SampledReading};
use crate::report::fleet as rows;
use crate::report::md::md_table;
use crate::results::{ConfigResult, RunResult};

/// The `### Fleet` section; empty when no config ran a fleet.
pub fn markdown(run: &RunResult) -> String {
    let mut out = String::new();
    for c in &run.configs {
        let Some(f) = &c.fleet else {
            continue;
        };
        if out.is_empty() {
            out.push_str("\n### Fleet\n");
        }
        let _ = write!(out, "\n#### {}\n\n", c.name);
        out.push_str(&md_table(&rows::HEADERS, 2, &rows::rows(f)));
        let _ = writeln!(
            out,
            "\nAs an ALB would answer: {}\n",
            rows::join(&f.alb_codes)
        );
        if !f.causes.is_empty() {
            out.push_str(&md_table(&rows::CAUSE_HEADERS, 5, &rows::cause_rows(f)));
            out.push('\n');
        }
        if f.failed_not_in_balancer_log > 0 {
            let _ = writeln!(
                out,
                "- failed at the client, not in the balancer's log: {}",
                f.failed_not_in_balancer_log
            );
        }
        for e in rows::event_rows(f) {
            let _ = writeln!(
                out,
                "- fleet event at {}: {} {}: {}",
                e[0], e[1], e[2], e[3]
            );
        }
        for i in &f.instances {
            let _ = writeln!(out, "- {}", health_line(i));
        }
        out.push_str(&seconds_table(f));
    }
    out
}

/// One instance's health over time beside its pool's peak: `i2: in rotation 0.0–2.1 s,
/// out 2.1–4.0 s; busy workers at most 1 of 1, up to 12 waiting`.
pub fn health_line(i: &InstanceView) -> String {
    let spans: Vec<String> = (i.health_spans.iter())
        .filter(|s| s.to_ms > 0)
        .map(|s| {
            format!(
                "{} {:.1}–{:.1} s",
                s.state.replace('_', " "),
                s.from_ms.max(0) as f64 / 1e3,
                s.to_ms as f64 / 1e3
            )
        })
        .collect();
    let (busy, waiting) = (i.peak_busy_workers(), i.peak_waiting());
    let limit = i.max_children.map_or("?".into(), |m| m.to_string());
    let own = match &i.sampled {
        Some(_) => format!("; its own samples at their peak: {}", rows::own_peak(i)),
        None => String::new(),
    };
    format!(
        "{}: {}; busy workers at most {busy} of {limit}, up to {waiting} waiting for a worker{own}",
        i.name,
        if spans.is_empty() {
            "no health state reported".into()
        } else {
            spans.join(", ")
        }
    )
}

/// Per second and instance, folded: state, requests, failures, busy/max, waiting, p99.
fn seconds_table(f: &FleetView) -> String {
    let mut table = Vec::new();
    for i in &f.instances {
        let limit = i.max_children.map_or("?".into(), |m| m.to_string());
        for s in &i.seconds {
            let own = i.sampled.as_ref().and_then(|o| o.second(s.t_s));
            table.push(vec![
                s.t_s.to_string(),
                i.name.clone(),
                s.state.clone(),
                s.requests.to_string(),
                s.failed.to_string(),
                format!("{}/{limit}", s.busy_workers_max),
                s.waiting_max.to_string(),
                s.latency_p99_ms
                    .map_or("-".into(), |v| format!("{v:.0} ms")),
                own.map_or("-".into(), crate::report::charts::fleet::sampled_text),
            ]);
        }
    }
    if table.is_empty() {
        return String::new();
    }
    table.sort_by_key(|r| r[0].parse::<u64>().unwrap_or(0));
    let headers = [
        "s",
        "instance",
        "state",
        "requests",
        "failed",
        "busy",
        "waiting",
        "p99",
        "its own samples",
    ];
    format!(
        "\n<details><summary>Per instance and second</summary>\n\n{}\n</details>\n",
        md_table(&headers, 3, &table)
    )
}

/// One per-instance row of the timeline CSV.
pub struct CsvRow {
    /// The second (also the first cell).
    pub t_s: u64,
    /// The timeline's columns: the figures the balancer's log gives, the others empty.
    pub cells: [Option<f64>; 21],
    pub instance: String,
    pub health_state: String,
    /// The instance's own samples of that second: most workers busy, deepest listen queue,
    /// highest CPU (% of one core) and memory (MiB); empty without a sample.
    pub sampled: [Option<f64>; 4],
}

/// The per-instance rows of the timeline CSV, in time order.
pub fn csv_rows(c: &ConfigResult) -> Vec<CsvRow> {
    let mut out = Vec::new();
    for i in c.fleet.iter().flat_map(|f| &f.instances) {
        for s in &i.seconds {
            let n = |v: u64| Some(v as f64);
            let us = |v: Option<f64>| v.map(|ms| ms * 1000.0);
            let cells = [
                Some(s.t_s as f64),
                None,
                n(s.requests),
                None,
                n(s.status_2xx),
                n(s.status_3xx),
                n(s.status_4xx),
                n(s.status_5xx),
                None,
                None,
                us(s.latency_p50_ms),
                None,
                us(s.latency_p99_ms),
                None,
                None,
                None,
                None,
                n(s.in_flight_max),
                n(s.waiting_max),
                n(s.busy_workers_max),
                None,
            ];
            let own = i.sampled.as_ref().and_then(|o| o.second(s.t_s));
            let sampled = own.map_or([None; 4], |o| {
                [
                    o.fpm_active_max.map(f64::from),
                    o.listen_queue_max.map(f64::from),
                    o.cpu_pct_max,
                    o.memory_mib_max,
                ]
            });
            out.push(CsvRow {
                t_s: s.t_s,
                cells,
                instance: i.name.clone(),
                health_state: s.state.clone(),
                sampled,
            });
        }
    }
    out.sort_by_key(|r| r.t_s);
    out
}

/// Prometheus values of an instance's own readings, in base units: busy workers, listen
/// queue, CPU in cores, memory in bytes.
fn sampled_values(
    busy: Option<u32>,
    queue: Option<u32>,
    cpu_pct: Option<f64>,
    mem_mib: Option<f64>,
) -> [Option<f64>; 4] {
    [
        busy.map(f64::from),
        queue.map(f64::from),
        cpu_pct.map(|p| p / 100.0),
        mem_mib.map(|m| m * 1_048_576.0),
    ]
}

/// Writes `values` (in [`sampled_values`]' order) under `families`' names; a value without
/// a reading is left out.
fn sampled_families(
    out: &mut Families,
    labels: &Labels,
    families: [(&'static str, &'static str); 4],
    values: [Option<f64>; 4],
) {
    for ((name, help), v) in families.into_iter().zip(values) {
        if let Some(v) = v {
            out.value(name, Kind::Gauge, help, labels, v);
        }
    }
}

/// The peaks of an instance's own samples (none when it was not sampled).
fn sampled_peaks(out: &mut Families, labels: &Labels, i: &InstanceView) {
    let Some(own) = &i.sampled else {
        return;
    };
    let peak = |read: fn(&crate::fleet_view::SampledSecond) -> Option<f64>| {
        (own.seconds.iter().filter_map(read)).reduce(f64::max)
    };
    let families = [
        (
            "fpmlab_fleet_sampled_peak_busy_workers",
            "Most php-fpm workers busy at once, from the instance's own status page.",
        ),
        (
            "fpmlab_fleet_sampled_peak_listen_queue",
            "Deepest listen queue of the instance's pool socket (kernel or php-fpm).",
        ),
        (
            "fpmlab_fleet_sampled_peak_cpu_ratio",
            "Highest CPU of the instance's php-fpm over a sample interval, in cores.",
        ),
        (
            "fpmlab_fleet_sampled_peak_memory_bytes",
            "Highest memory of the instance's php-fpm (container charge, or workers' PSS).",
        ),
    ];
    let values = sampled_values(
        own.summary.peak_active_workers,
        own.summary.max_listen_queue,
        peak(|s| s.cpu_pct_max),
        peak(|s| s.memory_mib_max),
    );
    sampled_families(out, labels, families, values);
}

/// The live endpoint's gauges of an instance's latest sample, taken directly (not through
/// the balancer): whether its status page answered, and what it read.
pub fn sampled_now(out: &mut Families, labels: &Labels, r: &SampledReading) {
    out.value(
        "fpmlab_fleet_sampled_up",
        Kind::Gauge,
        "1 if the instance's own status page answered its latest sample.",
        labels,
        f64::from(u8::from(r.status_answered)),
    );
    let families = [
        (
            "fpmlab_fleet_sampled_busy_workers",
            "php-fpm workers busy at the instance's latest sample, from its own status page.",
        ),
        (
            "fpmlab_fleet_sampled_listen_queue",
            "Listen queue of the instance's pool socket at its latest sample (kernel or php-fpm).",
        ),
        (
            "fpmlab_fleet_sampled_cpu_ratio",
            "CPU of the instance's php-fpm over its latest sample interval, in cores.",
        ),
        (
            "fpmlab_fleet_sampled_memory_bytes",
            "Memory of the instance's php-fpm at its latest sample (container charge, or workers' PSS).",
        ),
    ];
    let values = sampled_values(r.active, r.queue, r.cpu_pct, r.memory_mib);
    sampled_families(out, labels, families, values);
}

/// Per-instance families of one config: requests, ALB codes, failures by cause, latency,
/// php-fpm queue wait and service quantiles, `max_children`, and whether it was in rotation
/// at the end.
pub fn prometheus(out: &mut Families, c: &ConfigResult) {
    let Some(f) = &c.fleet else {
        return;
    };
    let config = c.name.as_str();
    for i in &f.instances {
        let labels = [("config", config), ("instance", i.name.as_str())];
        out.value(
            "fpmlab_fleet_requests_total",
            Kind::Counter,
            "Requests the balancer sent to the instance.",
            &labels,
            i.requests as f64,
        );
        for (code, n) in &i.alb_codes {
            out.value(
                "fpmlab_fleet_responses_total",
                Kind::Counter,
                "The instance's requests by the code an AWS ALB would have returned.",
                &[
                    ("config", config),
                    ("instance", i.name.as_str()),
                    ("code", code.as_str()),
                ],
                *n as f64,
            );
        }
        for (cause, n) in &i.causes {
            out.value(
                "fpmlab_fleet_failed_total",
                Kind::Counter,
                "Failed requests by cause (instance none: the balancer had no target).",
                &[
                    ("config", config),
                    ("instance", i.name.as_str()),
                    ("cause", cause.as_str()),
                ],
                *n as f64,
            );
        }
        let quantiles: [(&'static str, &'static str, &Option<QuantilesMs>); 3] = [
            ("fpmlab_fleet_latency_seconds", "The balancer's time for the instance's requests, by quantile.", &i.latency),
            ("fpmlab_fleet_fpm_queue_wait_seconds", "php-fpm queue wait of the instance's requests (worker pick-up minus arrival at the balancer), by quantile.", &i.fpm_queue),
            ("fpmlab_fleet_fpm_service_seconds", "php-fpm service time of the instance's requests, by quantile.", &i.fpm_service),
        ];
        for (name, help, q) in quantiles {
            let Some(q) = q else { continue };
            for (quantile, ms) in [
                ("0.5", q.p50_ms),
                ("0.95", q.p95_ms),
                ("0.99", q.p99_ms),
                ("1", q.max_ms),
            ] {
                let l = [
                    ("config", config),
                    ("instance", i.name.as_str()),
                    ("quantile", quantile),
                ];
                out.value(name, Kind::Gauge, help, &l, ms / 1000.0);
            }
        }
        if let Some(m) = i.max_children {
            out.value(
                "fpmlab_fleet_max_children",
                Kind::Gauge,
                "The instance's pm.max_children.",
                &labels,
                f64::from(m),
            );
        }
        sampled_peaks(out, &labels, i);
        let in_rotation = i
            .health_spans
            .last()
            .is_some_and(|s| s.state == "in_rotation");
        out.value(
            "fpmlab_fleet_in_rotation",
            Kind::Gauge,
            "1 if the balancer had the instance in rotation at the end of the load.",
            &labels,
            f64::from(u8::from(in_rotation)),
        );
    }
    // Failures of no instance (the balancer had none to send to) under `instance="none"`.
    for (cause, total) in &f.causes {
        let placed: u64 = f.instances.iter().filter_map(|i| i.causes.get(cause)).sum();
        if *total > placed {
            out.value(
                "fpmlab_fleet_failed_total",
                Kind::Counter,
                "Failed requests by cause (instance none: the balancer had no target).",
                &[
                    ("config", config),
                    ("instance", "none"),
                    ("cause", cause.as_str()),
                ],
                (total - placed) as f64,
            );
        }
    }
}
