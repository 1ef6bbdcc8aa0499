//! The fleet's table under the comparison table: one row per instance as the balancer saw
//! it, then the ALB codes, the failure causes and the events of each config. The rows and
//! the cause breakdown are shared with the HTML report and the Markdown export.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};

use crate::fleet_view::{FleetView, InstanceView, QuantilesMs};
use crate::results::ConfigResult;

/// The per-instance table's columns (the first two are text).
pub const HEADERS: [&str; 12] = [
    "instance",
    "pool",
    "requests",
    "fail-open",
    "2xx",
    "4xx",
    "5xx",
    "p50",
    "p99",
    "fpm queue p99",
    "out of rotation at",
    "own peak: busy, CPU, memory",
];

/// Empty when no config ran a fleet.
pub fn render(configs: &[ConfigResult]) -> String {
    let mut out = String::new();
    for c in configs {
        if let Some(f) = &c.fleet {
            out.push_str(&format!("\nfleet of config {}:\n", c.name));
            out.push_str(&config(f));
        }
    }
    out
}

fn ms(q: &Option<QuantilesMs>, pick: fn(&QuantilesMs) -> f64) -> String {
    q.as_ref()
        .map_or("-".into(), |q| format!("{:.0} ms", pick(q)))
}

/// One row per instance, as [`HEADERS`] names them.
pub fn rows(f: &FleetView) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for i in &f.instances {
        let class = |d: char| -> u64 {
            (i.alb_codes.iter())
                .filter(|(k, _)| k.starts_with(d))
                .map(|(_, n)| n)
                .sum()
        };
        let out_at = match (i.first_out_ms, i.check_failures_when_out) {
            (Some(t), Some(n)) => format!("{:.1} s ({n} failed checks)", t as f64 / 1000.0),
            _ => "-".into(),
        };
        out.push(vec![
            i.name.clone(),
            i.pool.clone(),
            i.requests.to_string(),
            i.fail_open.to_string(),
            class('2').to_string(),
            class('4').to_string(),
            class('5').to_string(),
            ms(&i.latency, |q| q.p50_ms),
            ms(&i.latency, |q| q.p99_ms),
            ms(&i.fpm_queue, |q| q.p99_ms),
            out_at,
            own_peak(i),
        ]);
    }
    out
}

/// The instance's peaks from its own samples: `4/4 busy, 97 % CPU, 310 MiB` (container
/// memory with docker, workers' PSS natively), `-` when it was not sampled.
pub fn own_peak(i: &InstanceView) -> String {
    let Some(s) = &i.sampled else {
        return "-".into();
    };
    let secs = || s.seconds.iter();
    let busy = s.summary.peak_active_workers;
    let cpu = secs()
        .filter_map(|x| x.cpu_pct_max)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let mem = secs()
        .filter_map(|x| x.memory_mib_max)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let limit = i.max_children.map_or("?".into(), |m| m.to_string());
    format!(
        "{} busy, {} CPU, {}",
        busy.map_or("-".into(), |b| format!("{b}/{limit}")),
        cpu.map_or("-".into(), |c| format!("{c:.0} %")),
        mem.map_or("-".into(), |m| format!("{m:.0} MiB")),
    )
}

/// The ALB's code for a cause of `fleet.causes`, and what the cause means.
pub fn cause_about(cause: &str) -> (String, &'static str) {
    let (code, about) = match cause {
        "no_healthy_target" => (
            "503",
            "no healthy target: the balancer had no instance to send it to",
        ),
        "instance_died" => (
            "502",
            "instance died: sent to an instance killed before the request ended",
        ),
        "target_reset" => ("502", "the target refused or reset the connection"),
        "target_connect_timeout" => (
            "504",
            "the target accepted no connection within the balancer's connect timeout",
        ),
        "cut_by_balancer_idle_timeout" => (
            "504",
            "cut by the balancer's idle timeout: no answer in time",
        ),
        "client_closed_first" => ("460", "the client closed the connection before the answer"),
        "client_idle" => ("408", "the client sent no request before the idle timeout"),
        "bad_response" => ("502", "the target's answer was invalid"),
        other => {
            let status = other.strip_prefix("target_answered_").unwrap_or("?");
            return (status.to_string(), "the instance's own answer");
        }
    };
    (code.to_string(), about)
}

/// Columns of [`cause_rows`].
pub const CAUSE_HEADERS: [&str; 5] = [
    "cause",
    "ALB code",
    "requests",
    "instances",
    "example balancer log line",
];

/// The ALB-code/cause breakdown: one row per cause, with its requests per instance and the
/// balancer's line for its first request.
pub fn cause_rows(f: &FleetView) -> Vec<Vec<String>> {
    (f.causes.iter())
        .map(|(cause, n)| {
            let (code, about) = cause_about(cause);
            let per: Vec<String> = (f.instances.iter())
                .filter_map(|i| i.causes.get(cause).map(|k| format!("{} {k}", i.name)))
                .collect();
            let per = if per.is_empty() {
                "none (no instance)".into()
            } else {
                per.join(", ")
            };
            let example = f
                .cause_examples
                .get(cause)
                .cloned()
                .unwrap_or_else(|| "-".into());
            vec![
                format!("{cause}: {about}"),
                code,
                n.to_string(),
                per,
                example,
            ]
        })
        .collect()
}

/// When each event was carried out: (seconds, action, instance, what was done or why not).
pub fn event_rows(f: &FleetView) -> Vec<Vec<String>> {
    (f.events.iter())
        .map(|e| {
            let what = (e.error.as_ref()).map_or(e.detail.clone(), |err| format!("FAILED: {err}"));
            vec![
                format!("{:.1} s", e.t_ms as f64 / 1000.0),
                e.action.clone(),
                e.instance.clone(),
                what,
            ]
        })
        .collect()
}

/// `k v, k v` of a count map.
pub fn join(m: &std::collections::BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn config(f: &FleetView) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(HEADERS.iter().map(Cell::new));
    for r in rows(f) {
        t.add_row(r);
    }
    for (k, col) in t.column_iter_mut().enumerate() {
        if k > 1 {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = format!("{t}\nas an ALB would answer: {}\n", join(&f.alb_codes));
    if !f.causes.is_empty() {
        out.push_str(&format!("failed requests by cause: {}\n", join(&f.causes)));
    }
    if f.failed_not_in_balancer_log > 0 {
        out.push_str(&format!(
            "failed at the client, not in the balancer's log: {}\n",
            f.failed_not_in_balancer_log
        ));
    }
    for e in event_rows(f) {
        out.push_str(&format!("event at {}: {} {}: {}\n", e[0], e[1], e[2], e[3]));
    }
    for i in f.instances.iter().filter(|i| !i.not_enforced.is_empty()) {
        out.push_str(&format!(
            "{}: not enforced by the native driver: {}\n",
            i.name,
            i.not_enforced.join("; ")
        ));
    }
    out
}
