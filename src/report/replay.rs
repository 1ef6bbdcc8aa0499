//! Replay phases in the results: what the log held (bad lines, the window), and the
//! production figures of an ALB log beside the reproduction's, as a short block under the
//! terminal table and a table per second in the HTML report.

use std::collections::BTreeMap;
use std::fmt::Write;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};

use crate::record::replay::{ReplayComparison, ReplaySecond};
use crate::results::RunResult;
use crate::scenario::replay::{count_5xx, Replay};
use crate::scenario::Arrival;
use crate::units::fmt_us;

/// The replay phases of the plan, with their names.
fn replays(run: &RunResult) -> impl Iterator<Item = (&str, &Replay)> {
    run.plan.phases.iter().filter_map(|ph| match &ph.arrival {
        Arrival::Replay(r) => Some((ph.name.as_str(), r.as_ref())),
        _ => None,
    })
}

/// One line per replay phase saying what its log held, with the first bad lines.
pub fn log_lines(run: &RunResult) -> Vec<String> {
    let mut out = Vec::new();
    for (name, r) in replays(run) {
        out.push(format!(
            "replay \"{name}\": {} ({} log), {} to {} at {}×: {} requests in the window, {} outside it, {} matched no [[request]]; {} bad line{} of {}",
            r.log.display(),
            r.format.as_str(),
            r.from,
            r.to,
            r.speed,
            r.requests,
            r.outside_window,
            r.unmatched,
            r.bad_lines,
            if r.bad_lines == 1 { "" } else { "s" },
            r.log_lines
        ));
        for b in &r.bad_examples {
            out.push(format!("  line {}: {}: {}", b.line, b.reason, b.text));
        }
    }
    out
}

fn opt(v: Option<u64>) -> String {
    v.map_or("-".into(), fmt_us)
}

fn statuses(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, n)| format!("{k}:{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The two rows (production, reproduction) of some second or the whole window.
fn side_by_side(s: &ReplaySecond) -> Vec<Vec<String>> {
    let r = &s.reproduction;
    let mut rows = Vec::new();
    if let Some(p) = &s.production {
        rows.push(vec![
            "production (ALB log)".into(),
            p.requests.to_string(),
            opt(p.total_p50_us),
            opt(p.total_p99_us),
            opt(p.target_processing_p50_us),
            opt(p.target_processing_p99_us),
            p.elb_5xx().to_string(),
            format!(
                "elb {} · target {}",
                statuses(&p.elb_status),
                statuses(&p.target_status)
            ),
        ]);
    }
    rows.push(vec![
        "reproduction".into(),
        r.requests.to_string(),
        opt(r.latency_p50_us),
        opt(r.latency_p99_us),
        opt(r.first_byte_p50_us),
        opt(r.first_byte_p99_us),
        count_5xx(&r.status).to_string(),
        statuses(&r.status),
    ]);
    rows
}

const HEADERS: [&str; 8] = [
    "",
    "requests",
    "total p50",
    "total p99",
    "target p50",
    "target p99",
    "5xx",
    "statuses",
];

/// The terminal block: the log lines, then per config and replay phase the whole window's
/// production and reproduction figures side by side. Empty without replay phases.
pub fn render(run: &RunResult) -> String {
    let lines = log_lines(run);
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n");
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    for c in &run.configs {
        for cmp in &c.recorded.replay {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED);
            t.set_header(HEADERS.iter().map(Cell::new));
            for row in side_by_side(&cmp.total) {
                t.add_row(row);
            }
            for (i, col) in t.column_iter_mut().enumerate() {
                if (1..7).contains(&i) {
                    col.set_cell_alignment(CellAlignment::Right);
                }
            }
            let _ = writeln!(
                out,
                "{} · replay \"{}\", whole window{}:\n{t}",
                c.name,
                cmp.phase,
                if cmp.total.production.is_some() {
                    ""
                } else {
                    " (an nginx log has no production timings)"
                }
            );
        }
    }
    out.push_str("total: the ALB's three processing times / the client's latency; target: target_processing_time / request sent → response head. Per second: run.json (configs[].replay) and the report.\n");
    out
}

/// The report's tables: per config and replay phase, a heading and its rows (the whole
/// window, then each second), under [`HTML_HEADERS`].
pub fn html_tables(run: &RunResult) -> Vec<(String, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    for c in &run.configs {
        for cmp in &c.recorded.replay {
            let heading = format!("{} · {}", c.name, cmp.phase);
            out.push((heading, per_second_rows(&c.name, cmp)));
        }
    }
    out
}

/// The columns of [`html_tables`]' rows.
pub const HTML_HEADERS: [&str; 10] = [
    "config",
    "second",
    "",
    "requests",
    "total p50",
    "total p99",
    "target p50",
    "target p99",
    "5xx",
    "statuses",
];

/// The whole window, then each second, two rows each (one for an nginx log).
fn per_second_rows(config: &str, cmp: &ReplayComparison) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let seconds = std::iter::once(("window".to_string(), &cmp.total))
        .chain(cmp.seconds.iter().map(|s| (format!("+{} s", s.t_s), s)));
    for (label, s) in seconds {
        for r in side_by_side(s) {
            let mut row = vec![config.to_string(), label.clone()];
            row.extend(r);
            rows.push(row);
        }
    }
    rows
}
