//! `report.html`: one self-contained page (inline CSS and SVG, no script, no external
//! resource) with the comparison table and, per config side by side, the charts of the run.

use std::fmt::Write;

use hdrhistogram::Histogram;

use super::charts::percentile::{self, Curve};
use super::charts::time::{self, Frame, LATENCY_LINES, OUTCOMES, QUEUE_SERVICE_LINES};
use super::charts::{config_color, css, decades, server, PhaseSpan};
use super::export::{Artifact, Exporter};
use super::table;
use crate::results::CheckOutcome;
use crate::results::{ConfigResult, RunResult};
use crate::units::fmt_us;

/// The HTML report as an exporter (`report.html`).
pub struct HtmlReport;

impl Exporter for HtmlReport {
    fn name(&self) -> &'static str {
        "html"
    }

    fn render(&self, run: &RunResult) -> anyhow::Result<Vec<Artifact>> {
        Ok(vec![Artifact::main(render(run)?)])
    }
}

const STYLE: &str = include_str!("report.css");

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The phases on the time axis, from the plan.
fn phase_spans(run: &RunResult) -> Vec<PhaseSpan> {
    let mut start = 0.0;
    run.plan
        .phases
        .iter()
        .map(|p| {
            let end = start + p.duration_ms as f64 / 1000.0;
            let span = PhaseSpan {
                name: p.name.clone(),
                start_s: start,
                end_s: end,
            };
            start = end;
            span
        })
        .collect()
}

/// The shared end of the time axes: the plan, the timelines and the samples all fit.
fn x_max(run: &RunResult, phases: &[PhaseSpan]) -> f64 {
    let plan = phases.last().map_or(0.0, |p| p.end_s);
    let data = run.configs.iter().flat_map(|c| {
        let tl = c.recorded.timeline.len() as f64;
        let samples = c.samples.last().map_or(0.0, |s| s.t_ms as f64 / 1000.0);
        [tl, samples]
    });
    data.fold(plan, f64::max).ceil().max(1.0)
}

/// A legend: colored swatches with labels.
fn legend(items: &[(String, String, bool)]) -> String {
    let mut out = String::from("<div class=\"legend\">");
    for (label, color, line) in items {
        let class = if *line { "swatch line" } else { "swatch" };
        let _ = write!(
            out,
            "<span><i class=\"{class}\" style=\"--c:{color}\"></i>{}</span>",
            esc(label)
        );
    }
    out.push_str("</div>");
    out
}

/// A section of small multiples: one chart per config, side by side.
fn grid(id: &str, title: &str, about: &str, legend_html: &str, charts: &[String]) -> String {
    // Two columns (one config takes half the width; a third wraps): three would make the
    // labels too small to read.
    let cols = 2;
    let mut out = format!(
        "<section id=\"{id}\"><h2>{}</h2><p class=\"about\">{about}</p>{legend_html}<div class=\"grid\" style=\"--cols:{cols}\">",
        esc(title)
    );
    for c in charts {
        let _ = write!(out, "<figure class=\"chart\">{c}</figure>");
    }
    out.push_str("</div></section>");
    out
}

fn decode(c: &ConfigResult) -> (Histogram<u64>, Histogram<u64>) {
    match c.recorded.histograms.decode() {
        Ok(h) => (h.latency, h.service),
        Err(_) => (
            crate::record::histograms::new_histogram(),
            crate::record::histograms::new_histogram(),
        ),
    }
}

/// Renders the page.
pub fn render(run: &RunResult) -> anyhow::Result<String> {
    let phases = phase_spans(run);
    let x_max = x_max(run, &phases);
    // One chart per config, on the shared time axis.
    let each = |f: &dyn Fn(&Frame, &ConfigResult) -> anyhow::Result<String>| -> anyhow::Result<Vec<String>> {
        (run.configs.iter())
            .enumerate()
            .map(|(i, c)| {
                let frame = Frame { title: &c.name, color: config_color(i), phases: &phases, x_max };
                f(&frame, c)
            })
            .collect()
    };
    let timelines = || run.configs.iter().map(|c| c.recorded.timeline.as_slice());

    let y_lat = decades(timelines().flat_map(|t| time::extent(t, &LATENCY_LINES)));
    let latency = each(&|f, c| {
        time::percentiles(
            f,
            &c.recorded.timeline,
            &LATENCY_LINES,
            y_lat,
            "no request completed",
        )
    })?;
    let y_qs = decades(timelines().flat_map(|t| time::extent(t, &QUEUE_SERVICE_LINES)));
    let queue = each(&|f, c| {
        time::percentiles(
            f,
            &c.recorded.timeline,
            &QUEUE_SERVICE_LINES,
            y_qs,
            "the app reported no timings",
        )
    })?;
    let rps_max = timelines().map(time::rps_max).max().unwrap_or(0);
    let rps = each(&|f, c| time::rps_by_outcome(f, &c.recorded.timeline, rps_max))?;
    let q_max = run
        .configs
        .iter()
        .map(|c| server::queue_max(&c.samples))
        .max()
        .unwrap_or(0);
    let listen = each(&|f, c| server::listen_queue(f, &c.samples, q_max))?;
    let w_max = (run.configs.iter())
        .map(|c| server::workers_max(&c.samples, c.pool.max_children))
        .max()
        .unwrap_or(0);
    let workers = each(&|f, c| server::workers(f, &c.samples, c.pool.max_children, w_max))?;

    let hists: Vec<(Histogram<u64>, Histogram<u64>)> = run.configs.iter().map(decode).collect();
    let curves: Vec<Curve> = (run.configs.iter().zip(&hists).enumerate())
        .map(|(i, (c, (lat, _)))| Curve {
            label: c.name.clone(),
            color: config_color(i),
            dashed: false,
            hist: lat,
        })
        .collect();
    let hdr = percentile::plot("Latency by percentile", &curves)?;
    let gap_curves: Vec<Curve> = (run.configs.iter().zip(&hists).enumerate())
        .flat_map(|(i, (c, (lat, svc)))| {
            [
                Curve {
                    label: format!("{} latency (LB)", c.name),
                    color: config_color(i),
                    dashed: false,
                    hist: lat,
                },
                Curve {
                    label: format!("{} service (APM)", c.name),
                    color: config_color(i),
                    dashed: true,
                    hist: svc,
                },
            ]
        })
        .collect();
    let gap = percentile::plot("Latency (solid) vs service time (dashed)", &gap_curves)?;

    let mut page = String::with_capacity(400_000);
    let title = format!("fpmlab report: {}", run.plan.name);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>",
        esc(&title)
    );
    page.push_str(&header(run, &title));
    page.push_str(&summary(run));
    let phase_note = "Shaded bands are the scenario's phases.";
    let line_legend = |lines: &[time::Line]| {
        legend(
            &lines
                .iter()
                .map(|l| (l.label.to_string(), css(l.color), true))
                .collect::<Vec<_>>(),
        )
    };
    page.push_str(&grid("latency", "Latency over time", &format!("Percentiles per second of <b>latency</b> (done − intended): what a user behind the load balancer waited, queueing included. Log scale. {phase_note}"), &line_legend(&LATENCY_LINES), &latency));
    page.push_str(&grid("queue", "Queue wait and service time over time", &format!("Per second: <b>queue wait</b> (php-fpm picked the request up − sent) and <b>service</b> (the script's own duration, what an APM reports). Log scale. {phase_note}"), &line_legend(&QUEUE_SERVICE_LINES), &queue));
    let mut rps_items: Vec<(String, String, bool)> = OUTCOMES
        .iter()
        .map(|(l, c, _)| (l.to_string(), css(*c), false))
        .collect();
    rps_items.push(("sent".into(), css(time::SENT_COLOR), true));
    page.push_str(&grid("throughput", "Requests per second by outcome", &format!("Requests that ended in each second, stacked by outcome; the line is the requests sent in that second. {phase_note}"), &legend(&rps_items), &rps));
    page.push_str(&grid("listen-queue", "php-fpm listen queue", &format!("Connections waiting for a free worker: the kernel's accept queue (filled, sampled every 250 ms) and php-fpm's own <code>listen queue</code> (refreshed once a second, TCP only). {phase_note}"), &legend(&[("kernel accept queue".into(), css(server::ACCEPT_QUEUE_COLOR), false), ("fpm listen queue".into(), css(server::FPM_QUEUE_COLOR), true)]), &listen));
    page.push_str(&grid("workers", "php-fpm workers", &format!("Active (busy) and total workers from the status page, against <code>pm.max_children</code>. {phase_note}"), &legend(&[("active".into(), css(server::ACTIVE_COLOR), false), ("total".into(), css(server::TOTAL_COLOR), true), ("max_children".into(), css(server::LIMIT_COLOR), true)]), &workers));
    let _ = write!(
        page,
        "<section id=\"distribution\"><h2>Latency distribution</h2><p class=\"about\">HDR percentile plot of every request's latency, per config: x is the percentile on the 90 / 99 / 99.9 scale, y the latency (log scale). Curves end where the data ends.</p><figure class=\"chart wide\">{hdr}</figure></section>"
    );
    let _ = write!(
        page,
        "<section id=\"gap\"><h2>LB view vs APM view</h2><p class=\"about\">What the load balancer sees (latency, solid) against what an APM sees (the script's service time, dashed). The vertical gap between a config's two curves is time spent waiting: queued for a worker, in nginx, in the generator.</p><figure class=\"chart wide\">{gap}</figure>{}</section>",
        gap_table(run)
    );
    page.push_str(&replay_section(run));
    let (headers, rows) = table::phase_rows(run);
    let _ = write!(
        page,
        "<section id=\"phases\"><h2>Per phase</h2>{}</section>",
        html_table(&headers, 2, &rows)
    );
    let _ = writeln!(
        page,
        "<footer>Rendered by fpmlab {} from run.json (schema {}). Everything on this page is in this one file.</footer></main></body></html>",
        esc(env!("CARGO_PKG_VERSION")),
        run.schema_version
    );
    Ok(page)
}

fn header(run: &RunResult, title: &str) -> String {
    let env = &run.environment;
    let status = format!("{:?}", run.status).to_lowercase();
    let mut out = format!("<header><h1>{}</h1>", esc(title));
    if !run.plan.description.is_empty() {
        let _ = write!(out, "<p class=\"lead\">{}</p>", esc(&run.plan.description));
    }
    let driver = if env.stack.driver.is_empty() {
        "unknown"
    } else {
        &env.stack.driver
    };
    let _ = write!(
        out,
        "<p class=\"meta\"><span class=\"badge {status}\">{status}{}</span> started {} · {} stack · {} cores · {} · scenario <code>{}</code></p>",
        if run.partial { ", partial" } else { "" },
        esc(&run.started_at),
        esc(driver),
        env.cores,
        esc(&env.cpu_model),
        esc(&run.scenario_file)
    );
    out.push_str("<nav><a href=\"#summary\">Summary</a><a href=\"#latency\">Latency</a><a href=\"#queue\">Queue &amp; service</a><a href=\"#throughput\">Throughput</a><a href=\"#listen-queue\">Listen queue</a><a href=\"#workers\">Workers</a><a href=\"#distribution\">Distribution</a><a href=\"#gap\">LB vs APM</a><a href=\"#phases\">Phases</a>");
    if run
        .plan
        .phases
        .iter()
        .any(|ph| matches!(ph.arrival, crate::scenario::Arrival::Replay(_)))
    {
        out.push_str("<a href=\"#replay\">Replay</a>");
    }
    out.push_str("</nav></header>");
    out
}

/// A table whose first `left` columns are text (left-aligned), the rest numbers.
fn html_table(headers: &[&str], left: usize, rows: &[Vec<String>]) -> String {
    let class = |i: usize| if i < left { " class=\"l\"" } else { "" };
    let mut out = String::from("<div class=\"scroll\"><table><thead><tr>");
    for (i, h) in headers.iter().enumerate() {
        let _ = write!(out, "<th{}>{}</th>", class(i), esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let _ = write!(out, "<td{}>{}</td>", class(i), esc(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

fn summary(run: &RunResult) -> String {
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

fn gap_table(run: &RunResult) -> String {
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

/// Replay phases: what each log held, then per config and phase the production figures
/// beside the reproduction's, for the whole window and each second. Empty without replay.
fn replay_section(run: &RunResult) -> String {
    let lines = super::replay::log_lines(run);
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("<section id=\"replay\"><h2>Replay: production vs reproduction</h2><p class=\"about\">Per second of the log's window (log time), the ALB's own figures for the requests that arrived in it beside what the reproduction measured for the same requests. <b>total</b>: the ALB's three processing times summed / the client's latency; <b>target</b>: <code>target_processing_time</code> / request sent → response head.</p><ul class=\"readings\">");
    for l in &lines {
        let _ = write!(out, "<li>{}</li>", esc(l));
    }
    out.push_str("</ul>");
    for (heading, rows) in super::replay::html_tables(run) {
        let _ = write!(out, "<h3>{}</h3>", esc(&heading));
        out.push_str(&html_table(&super::replay::HTML_HEADERS, 3, &rows));
    }
    out.push_str("</section>");
    out
}
