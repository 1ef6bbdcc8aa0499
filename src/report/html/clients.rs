//! The page's "What the clients did" section (phases with client behaviour: a retry policy,
//! self-disabling clients, or a client timeout of their own): per phase the requests the
//! clients meant to send against what they sent, the retry amplification, the retries the
//! budget refused, what got through, and the clients lost and when; then the goodput per
//! second against the intended rate, one chart per config.

use std::fmt::Write;

use super::esc;
use super::layout::{grid, html_table, legend};
use crate::report::charts::clients::{self as charts, GOODPUT_COLOR, INTENDED_COLOR};
use crate::report::charts::overlay::Overlay;
use crate::report::charts::time::Frame;
use crate::report::charts::{config_color, css, PhaseSpan};
use crate::report::clients as rows;
use crate::results::RunResult;

/// The nav link, when a config has client figures.
pub fn nav(run: &RunResult) -> &'static str {
    if has_clients(run) {
        "<a href=\"#clients\">Clients</a>"
    } else {
        ""
    }
}

fn has_clients(run: &RunResult) -> bool {
    run.configs.iter().any(|c| !c.recorded.clients.is_empty())
}

/// The section; empty when no phase has client behaviour.
pub fn section(
    run: &RunResult,
    phases: &[PhaseSpan],
    x_max: f64,
    size: (u32, u32),
    overlays: &[Overlay],
) -> anyhow::Result<String> {
    if !has_clients(run) {
        return Ok(String::new());
    }
    let mut out = String::from(
        "<section id=\"clients\"><h2>What the clients did</h2><p class=\"about\">Per phase with \
         client behaviour: <b>intended</b>, the requests the clients meant to send (retries not \
         counted; for self-disabling clients, the batches they would have sent had none \
         switched off); <b>attempted</b>, what they sent, retries included; the <b>retry \
         amplification</b> (attempts ÷ intended requests started); retries the budget \
         <b>refused</b>; requests <b>out of attempts</b>; requests that <b>succeeded</b> (a \
         2xx at the first attempt or a retry) and the goodput; and the clients that switched \
         themselves off for good, and when.</p>",
    );
    out.push_str(&html_table(&rows::HEADERS, 2, &rows::rows(run)).replacen(
        "<table>",
        "<table class=\"clients\">",
        1,
    ));
    out.push_str("<ul class=\"readings\">");
    for c in &run.configs {
        for p in &c.recorded.clients {
            let _ = write!(out, "<li>{}</li>", esc(&rows::line(&c.name, p)));
        }
    }
    out.push_str("</ul>");
    let timeouts: Vec<String> = (run.plan.phases.iter())
        .filter_map(|ph| ph.client.timeout_ms.map(|t| format!("{} {t} ms", ph.name)))
        .collect();
    if !timeouts.is_empty() {
        let _ = write!(
            out,
            "<p class=\"note\">client timeout of its own (otherwise <code>load.client_timeout</code>, {} ms): {}</p>",
            run.plan.load.client_timeout_ms,
            esc(&timeouts.join(", "))
        );
    }
    out.push_str("</section>");
    let y_max = charts::y_max(phases, run.configs.iter().flat_map(|c| &c.recorded.clients));
    let charts_html: Vec<String> = (run.configs.iter().enumerate())
        .map(|(k, c)| {
            let frame = Frame {
                title: &c.name,
                color: config_color(k),
                phases,
                x_max,
                size,
                overlay: &overlays[k],
            };
            charts::goodput(&frame, &c.recorded.clients, y_max)
        })
        .collect::<anyhow::Result<_>>()?;
    let items = vec![
        (
            "goodput (2xx per second)".to_string(),
            css(GOODPUT_COLOR),
            true,
        ),
        (
            "intended requests per second".to_string(),
            css(INTENDED_COLOR),
            true,
        ),
    ];
    out.push_str(&grid("clients-goodput", "Clients: goodput per second", "Requests (or batches) of each phase with client behaviour that ended with a 2xx, by the second they ended, against the rate the clients meant to send (dashed). A goodput that stays low after a slowdown ended is a retry storm; hover a second for its figures and the clients lost in it.", &legend(&items), &charts_html));
    Ok(out)
}
