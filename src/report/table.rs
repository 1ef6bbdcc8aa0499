//! The terminal comparison table: one row per config, then one sentence per config saying
//! where the time went.

use super::container::{container_line, events_line};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};

use crate::probe::SampleSummary;
use crate::results::{ConfigResult, RunResult, Status};
use crate::units::fmt_us;

pub const HEADERS: [&str; 15] = [
    "config",
    "requests",
    "rps",
    "p50",
    "p90",
    "p99",
    "max",
    "queue p99",
    "service p99",
    "2xx",
    "non-2xx",
    "client fail",
    "max listen q",
    "peak workers",
    "peak worker MiB",
];

/// Renders the comparison table and the per-config reading.
pub fn render(run: &RunResult) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(HEADERS.iter().map(Cell::new));
    for c in &run.configs {
        t.add_row(row(c));
    }
    for (i, col) in t.column_iter_mut().enumerate() {
        if i > 0 {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = t.to_string();
    out.push('\n');
    for c in &run.configs {
        out.push_str(&format!("\n{}", reading(c)));
        let cpu = c.cpu_per_request.as_ref().map(|v| v.line(&c.name));
        for line in [
            fleet_note(c),
            container_line(c),
            events_line(c),
            cpu,
            super::tls::tls_line(c),
        ]
        .into_iter()
        .flatten()
        {
            out.push_str(&format!("\n{line}"));
        }
    }
    out.push('\n');
    out.push_str(&super::incident::render(&run.configs));
    out.push_str(&super::replay::render(run));
    out.push_str(&super::fleet::render(&run.configs));
    out.push_str(&super::clients::render(&run.configs));
    out
}

pub fn row(c: &ConfigResult) -> Vec<String> {
    let s = &c.recorded.summary;
    let name = match c.status {
        Status::Complete => c.name.clone(),
        other => format!("{} ({})", c.name, format!("{other:?}").to_lowercase()),
    };
    let ok: u64 = s
        .status_counts
        .iter()
        .filter(|(k, _)| k.starts_with('2'))
        .map(|(_, n)| n)
        .sum();
    let non_2xx: Vec<String> = s
        .status_counts
        .iter()
        .filter(|(k, _)| !k.starts_with('2'))
        .map(|(k, n)| format!("{k}:{n}"))
        .collect();
    let f = &s.client_failures;
    let fails: Vec<String> = [
        ("refused", f.refused),
        ("reset", f.reset),
        ("timeout", f.timeout),
        ("incomplete", f.incomplete),
        ("cancelled", f.cancelled),
        ("other", f.other),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(k, n)| format!("{k}:{n}"))
    .collect();
    vec![
        name,
        s.sent.to_string(),
        format!("{:.1}", s.achieved_rps),
        fmt_us(s.latency.p50_us),
        fmt_us(s.latency.p90_us),
        fmt_us(s.latency.p99_us),
        fmt_us(s.latency.max_us),
        if s.queue_wait.count > 0 {
            fmt_us(s.queue_wait.p99_us)
        } else {
            "-".into()
        },
        if s.service.count > 0 {
            fmt_us(s.service.p99_us)
        } else {
            "-".into()
        },
        ok.to_string(),
        if non_2xx.is_empty() {
            "0".into()
        } else {
            non_2xx.join(" ")
        },
        if fails.is_empty() {
            "0".into()
        } else {
            fails.join(" ")
        },
        server_cell(c, |s| s.max_listen_queue.map(u64::from), |v| v.to_string()),
        server_cell(
            c,
            |s| s.peak_total_workers.map(u64::from),
            |v| v.to_string(),
        ),
        server_cell(
            c,
            |s| s.peak_worker_pss_kib,
            |k| format!("{:.1}", k as f64 / 1024.0),
        ),
    ]
}

/// A server-side peak of the config, `-` without one. A fleet's is the highest any one
/// instance reached in its own samples (run.json's `server`), followed by the instance that
/// reached it: `117 (i2)`.
fn server_cell(
    c: &ConfigResult,
    read: fn(&SampleSummary) -> Option<u64>,
    show: fn(u64) -> String,
) -> String {
    let Some(v) = read(&c.server) else {
        return "-".into();
    };
    let instances = c.fleet.iter().flat_map(|f| &f.instances);
    let reached = (instances.filter_map(|i| Some((&i.name, &i.sampled.as_ref()?.summary))))
        .find(|(_, s)| read(s) == Some(v));
    match reached {
        Some((name, _)) => format!("{} ({name})", show(v)),
        None => show(v),
    }
}

/// For a fleet, what its server-side columns mean (`None` for a single stack).
pub fn fleet_note(c: &ConfigResult) -> Option<String> {
    c.fleet.as_ref()?;
    Some(format!(
        "{}: a fleet: max listen q, peak workers and peak worker MiB are per-instance maxima, \
         each the highest any one instance reached in its own samples (that instance in \
         brackets), never a figure mixed across instances.",
        c.name
    ))
}

/// Columns of [`phase_rows`].
pub const PHASE_HEADERS: [&str; 9] = [
    "config",
    "phase",
    "requests",
    "rps",
    "p50",
    "p99",
    "queue p99",
    "service p99",
    "error rate",
];

/// The figure columns the phase and per-kind tables share: requests, rps, p50, p99, queue
/// p99, service p99, error rate ("-" where nothing was measured).
fn figures(s: &crate::record::Summary) -> [String; 7] {
    let dur = |p: crate::record::Percentiles, v: u64| {
        if p.count > 0 {
            fmt_us(v)
        } else {
            "-".into()
        }
    };
    [
        s.sent.to_string(),
        format!("{:.1}", s.achieved_rps),
        dur(s.latency, s.latency.p50_us),
        dur(s.latency, s.latency.p99_us),
        dur(s.queue_wait, s.queue_wait.p99_us),
        dur(s.service, s.service.p99_us),
        format!("{:.2}%", s.error_rate * 100.0),
    ]
}

/// One row per config and phase: requests, throughput, latency, queue wait, service, errors.
pub fn phase_rows(run: &RunResult) -> ([&'static str; 9], Vec<Vec<String>>) {
    let rows = (run.configs.iter())
        .flat_map(|c| {
            c.recorded.phases.iter().map(move |p| {
                let mut row = vec![c.name.clone(), p.name.clone()];
                row.extend(figures(&p.summary));
                row
            })
        })
        .collect();
    (PHASE_HEADERS, rows)
}

/// Columns of [`kind_rows`].
pub const KIND_HEADERS: [&str; 10] = [
    "config",
    "phase",
    "request",
    "requests",
    "rps",
    "p50",
    "p99",
    "queue p99",
    "service p99",
    "error rate",
];

/// One row per config, phase and request kind (run.json's `phases[].kinds[]`): per phase,
/// since a kind's figures in a burst and in a calm phase mean different things.
pub fn kind_rows(run: &RunResult) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for c in &run.configs {
        for p in &c.recorded.phases {
            for k in &p.kinds {
                let mut row = vec![c.name.clone(), p.name.clone(), k.name.clone()];
                row.extend(figures(&k.summary));
                rows.push(row);
            }
        }
    }
    rows
}

/// The per-request-kind table (`run --per-kind`).
pub fn render_per_kind(run: &RunResult) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(KIND_HEADERS.iter().map(Cell::new));
    for r in kind_rows(run) {
        t.add_row(r);
    }
    for (i, col) in t.column_iter_mut().enumerate() {
        if i > 2 {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string()
}

/// One sentence: where the time went, LB view against APM view.
pub fn reading(c: &ConfigResult) -> String {
    let s = &c.recorded.summary;
    if let Some(e) = &c.error {
        return format!("{}: failed: {e}", c.name);
    }
    if let Some(v) = &c.lb_vs_apm {
        return v.sentence.clone();
    }
    if s.latency.count == 0 {
        return format!("{}: no request completed", c.name);
    }
    let mut text = format!("{}: p99 {}", c.name, fmt_us(s.latency.p99_us));
    if s.queue_wait.count > 0 {
        text.push_str(&format!(
            ", of which {} queued for a worker (queue wait p99)",
            fmt_us(s.queue_wait.p99_us)
        ));
    }
    if s.service.count > 0 {
        text.push_str(&format!(
            "; the app's own p99 was {}",
            fmt_us(s.service.p99_us)
        ));
    }
    if s.unreported_by_app > 0 {
        text.push_str(&format!(
            "; {} requests never reported by the app",
            s.unreported_by_app
        ));
    }
    text.push('.');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet_view::{fleet_peaks, FleetView, InstanceSampled, InstanceView};
    use crate::scenario::PoolConfig;

    /// A fleet's server-side columns are per-instance maxima, each naming the instance
    /// that reached it: never one instance's queue beside another's workers unexplained.
    #[test]
    fn a_fleets_server_columns_name_the_instance_that_reached_each_peak() {
        let mut c = ConfigResult::pending(&PoolConfig::static_pool("static-8", 8));
        assert_eq!(row(&c)[12..], ["-", "-", "-"]);
        assert_eq!(fleet_note(&c), None);
        let instance = |name: &str, queue, workers| InstanceView {
            name: name.into(),
            sampled: Some(InstanceSampled {
                summary: SampleSummary {
                    max_listen_queue: Some(queue),
                    peak_total_workers: Some(workers),
                    ..SampleSummary::default()
                },
                ..InstanceSampled::default()
            }),
            ..InstanceView::default()
        };
        let instances = vec![instance("i1", 0, 8), instance("i2", 117, 1)];
        c.server = fleet_peaks(
            instances
                .iter()
                .map(|i| &i.sampled.as_ref().unwrap().summary),
        );
        c.fleet = Some(FleetView {
            instances,
            ..FleetView::default()
        });
        assert_eq!(row(&c)[12..], ["117 (i2)", "8 (i1)", "-"]);
        assert!(fleet_note(&c).unwrap().contains("per-instance maxima"));
    }
}
