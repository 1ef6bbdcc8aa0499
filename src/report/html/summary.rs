//! The page's opening section (the comparison table, the readings, thresholds and
//! warnings) and the LB-vs-APM table.

use std::fmt::Write;

use super::{esc, html_table};
use crate::report::charts::{config_color, css};
use crate::report::container::{container_line, events_line};
use crate::report::table;
use crate::results::{CheckOutcome, RunResult};
use crate::units::fmt_us;

pub fn summary(run: &RunResult) -> String {
    let mut out = String::from("<section id=\"summary\"><h2>Comparison</h2>");
    let rows: Vec<Vec<String>> = run.configs.iter().map(table::row).collect();
    out.push_str(&html_table(&table::HEADERS, 1, &rows));
    out.push_str("<ul class=\"readings\">");
    for (i, c) in run.configs.iter().enumerate() {
        let _ = write!(
            out,
            "<li><i class=\"swatch\" style=\"--c:{}\"></i>{}</li>",
            css(config_color(i)),
            esc(&table::reading(c))
        );
        let cpu = c.cpu_per_request.as_ref().map(|v| v.line(&c.name));
        for line in [table::fleet_note(c), container_line(c), events_line(c), cpu]
            .into_iter()
            .flatten()
        {
            let _ = write!(out, "<li class=\"sub\">{}</li>", esc(&line));
        }
    }
    out.push_str("</ul>");
    if !run.thresholds.is_empty() {
        out.push_str("<h3>Thresholds</h3><ul class=\"verdicts\">");
        for v in &run.thresholds {
            let (class, word) = match v.outcome {
                CheckOutcome::Pass => ("pass", "pass"),
                CheckOutcome::Fail => ("fail", "fail"),
                CheckOutcome::NoData => ("fail", "no data"),
            };
            let _ = write!(
                out,
                "<li><span class=\"badge {class}\">{word}</span> {}</li>",
                esc(&v.body())
            );
        }
        out.push_str("</ul>");
    } else if !run.plan.thresholds.is_empty() {
        out.push_str("<p class=\"about\">The scenario has thresholds, but they were not checked (the run did not finish).</p>");
    }
    let warnings: Vec<String> = (run.warnings.iter().cloned())
        .chain(run.configs.iter().flat_map(|c| {
            (c.generator.warnings.iter())
                .chain(c.cpu_per_request.iter().flat_map(|v| &v.warning))
                .map(move |w| format!("{}: {w}", c.name))
        }))
        .collect();
    if !warnings.is_empty() {
        out.push_str("<h3>Warnings</h3><ul class=\"warnings\">");
        for w in warnings {
            let _ = write!(out, "<li>{}</li>", esc(&w));
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    out
}

pub fn gap_table(run: &RunResult) -> String {
    let headers = [
        "config",
        "",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "unreported by app",
    ];
    let mut rows = Vec::new();
    for c in &run.configs {
        let s = &c.recorded.summary;
        let line = |label: &str, p: crate::record::Percentiles, extra: String| {
            let v = |x: u64| if p.count > 0 { fmt_us(x) } else { "-".into() };
            vec![
                c.name.clone(),
                label.into(),
                v(p.p50_us),
                v(p.p90_us),
                v(p.p99_us),
                v(p.p999_us),
                v(p.max_us),
                extra,
            ]
        };
        rows.push(line(
            "latency (LB)",
            s.latency,
            s.unreported_by_app.to_string(),
        ));
        rows.push(line("service (APM)", s.service, String::new()));
        if s.latency.count > 0 && s.service.count > 0 {
            let (l, v) = (s.latency, s.service);
            let g = |a: u64, b: u64| fmt_us(a.saturating_sub(b));
            rows.push(vec![
                c.name.clone(),
                "gap".into(),
                g(l.p50_us, v.p50_us),
                g(l.p90_us, v.p90_us),
                g(l.p99_us, v.p99_us),
                g(l.p999_us, v.p999_us),
                g(l.max_us, v.max_us),
                String::new(),
            ]);
        }
    }
    html_table(&headers, 2, &rows)
}
