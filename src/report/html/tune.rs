//! The tune section of the HTML report: shown when the run belongs to a tune directory
//! (`RunResult::tune`), above the charts of the recommendation's re-run.

use std::fmt::Write;

use super::esc;
use super::layout::{html_table, legend};
use crate::report::charts::{css, tune as chart};
use crate::report::tune::{headline, lines, rows, HEADERS};
use crate::results::RunResult;

/// The section, or nothing when the run is not part of a tune.
pub fn section(run: &RunResult) -> anyhow::Result<String> {
    let Some(t) = run.tune.as_deref() else {
        return Ok(String::new());
    };
    let mut out = format!(
        "<section id=\"tune\"><h2>Tune: the recommended pool</h2><p class=\"lead\"><b>{}</b></p><ul class=\"readings\">",
        esc(&headline(t))
    );
    for l in lines(t) {
        let _ = write!(out, "<li>{}</li>", esc(&l));
    }
    out.push_str("</ul>");
    let items = [
        ("model: p99 latency", chart::LATENCY_COLOR, true),
        ("model: p99 queue wait (dashed)", chart::QUEUE_COLOR, true),
        ("objective", chart::OBJECTIVE_COLOR, true),
        ("memory ceiling", chart::CEILING_COLOR, true),
    ];
    let items: Vec<(String, String, bool)> = (items.iter())
        .map(|(l, c, line)| (l.to_string(), css(*c), *line))
        .collect();
    let _ = write!(
        out,
        "<p class=\"about\">Each pool the tune measured (dots: p99 latency; triangles: p99 queue wait; hollow: stopped early, the figures of what ran) over the queueing model's curve for every static pool, fitted on the first point. The gap between a dot and the curve is the model's error. Hover a point for its figures; the ringed one is the recommendation.</p>{}<figure class=\"chart wide\">{}</figure>",
        legend(&items),
        chart::chart(t)?
    );
    out.push_str(&html_table(&HEADERS, 2, &rows(t)));
    let _ = write!(out, "<p class=\"about\">The charts below are the recommendation's re-run (<code>{}</code>); every point's run directory has its own run.json for <code>fpmlab report</code>.</p></section>", esc(&run.plan.name));
    Ok(out)
}
