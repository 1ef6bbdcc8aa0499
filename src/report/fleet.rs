//! The fleet's table under the comparison table: one row per instance as the balancer saw
//! it, then the ALB codes, the failure causes and the events of each config.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};

use crate::fleet_view::{FleetView, QuantilesMs};
use crate::results::ConfigResult;

const HEADERS: [&str; 11] = [
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

fn config(f: &FleetView) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(HEADERS.iter().map(Cell::new));
    for i in &f.instances {
        let class = |d: char| -> u64 {
            (i.alb_codes.iter())
                .filter(|(k, _)| k.starts_with(d))
                .map(|(_, n)| n)
                .sum()
        };
        let out = match (i.first_out_ms, i.check_failures_when_out) {
            (Some(t), Some(n)) => format!("{:.1} s ({n} failed checks)", t as f64 / 1000.0),
            _ => "-".into(),
        };
        t.add_row(vec![
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
            out,
        ]);
    }
    for (k, col) in t.column_iter_mut().enumerate() {
        if k > 1 {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let join = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
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
    for e in &f.events {
        let what = e
            .error
            .as_ref()
            .map_or(e.detail.clone(), |err| format!("FAILED: {err}"));
        out.push_str(&format!(
            "event at {:.1} s: {} {}: {what}\n",
            e.t_ms as f64 / 1000.0,
            e.action,
            e.instance
        ));
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
