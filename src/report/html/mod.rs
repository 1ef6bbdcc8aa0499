//! `report.html`: one self-contained page (inline CSS, SVG and one small script for the
//! tooltips; nothing loaded from anywhere) with the comparison table, why requests failed,
//! and per config side by side the charts of the run.

mod clients;
mod explain;
mod fleet;
mod layout;
mod settings;
mod summary;
mod tune;

use layout::{grid, grid_body, html_table, legend, overlay_items};

use std::fmt::Write;

use hdrhistogram::Histogram;

use super::charts::overlay::Overlay;
use super::charts::percentile::{self, Curve};
use super::charts::time::{self, Frame, CLIENT_LAG_LINES, LATENCY_LINES, QUEUE_SERVICE_LINES};
use super::charts::{
    config_color, css, decades, kinds, placeholder, server, status, PhaseSpan, SMALL,
};
use super::export::{Artifact, Exporter};
use super::table;
use crate::results::{ConfigResult, RunResult};

/// The HTML report as an exporter (`report.html`).
pub struct HtmlReport;

impl Exporter for HtmlReport {
    fn name(&self) -> &'static str {
        "html"
    }

    fn render(&self, run: &RunResult) -> anyhow::Result<Vec<Artifact>> {
        // Bounded whatever the run's length: full resolution stays in the series files.
        let run = crate::results::series::for_charts(run);
        Ok(vec![Artifact::main(render(&run)?)])
    }
}

const STYLE: &str = include_str!("../report.css");

/// Shows an SVG element's `<title>` at once on hover, beside the pointer (the browser's own
/// tooltip comes late and small). Inline, no network: the page stays one file.
const SCRIPT: &str = r#"(function(){var tip=document.createElement('div');tip.className='tip';document.body.appendChild(tip);
document.addEventListener('mousemove',function(e){var t=e.target.closest?e.target.closest('svg .hover, svg .event'):null;
if(!t){tip.style.display='none';return;}var s=t.querySelector('title');if(s){t.setAttribute('data-tip',s.textContent);s.remove();}
tip.textContent=t.getAttribute('data-tip')||'';tip.style.display='block';tip.style.left=(e.pageX+14)+'px';tip.style.top=(e.pageY+14)+'px';});})();"#;

/// Size of a chart over time when the run has one config: the page's full width.
const FULL: (u32, u32) = (1240, 340);

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

/// What a fleet config's per-config server charts say instead: its own sampler reaches the
/// fleet through the balancer, each status request answered by whichever instance the
/// balancer picks, so one line would mix instances.
const FLEET_SERVER_CHARTS: &str = "a fleet: per instance, in the Fleet section below";

/// The samples the per-config server charts draw, and scale to: none of a fleet's (see
/// [`FLEET_SERVER_CHARTS`]).
fn drawn_samples(c: &ConfigResult) -> &[crate::probe::Sample] {
    match c.fleet {
        Some(_) => &[],
        None => &c.samples,
    }
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
    let size = if run.configs.len() == 1 { FULL } else { SMALL };
    let overlays: Vec<Overlay> = run.configs.iter().map(explain::overlay).collect();
    // One chart per config, on the shared time axis.
    let each = |f: &dyn Fn(&Frame, &ConfigResult) -> anyhow::Result<String>| -> anyhow::Result<Vec<String>> {
        (run.configs.iter().zip(&overlays))
            .enumerate()
            .map(|(i, (c, o))| {
                let frame = Frame { title: &c.name, color: config_color(i), phases: &phases, x_max, size, overlay: o };
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
    let classes = status::classes(timelines());
    let rps_max = timelines().map(time::rps_max).max().unwrap_or(0);
    let rps = each(&|f, c| time::rps_by_outcome(f, &c.recorded.timeline, &classes, rps_max))?;
    // A fleet's server charts are its instances' own, in the Fleet section.
    let each_server = |f: &dyn Fn(&Frame, &ConfigResult) -> anyhow::Result<String>| {
        each(&|frame, c| match c.fleet {
            Some(_) => placeholder(frame.size, frame.title, FLEET_SERVER_CHARTS),
            None => f(frame, c),
        })
    };
    let q_max = (run.configs.iter())
        .map(|c| server::queue_max(drawn_samples(c)))
        .max()
        .unwrap_or(0);
    let listen = each_server(&|f, c| server::listen_queue(f, &c.samples, q_max))?;
    let w_max = (run.configs.iter())
        .map(|c| server::workers_max(drawn_samples(c), c.pool.max_children))
        .max()
        .unwrap_or(0);
    let workers = each_server(&|f, c| server::workers(f, &c.samples, c.pool.max_children, w_max))?;
    let peak = |read: fn(&crate::probe::Sample) -> Option<(f64, f64)>| {
        (run.configs.iter())
            .flat_map(|c| drawn_samples(c).iter().filter_map(read))
            .map(|(s, _)| s)
            .fold(0.0, f64::max)
    };
    let cpu_max = peak(server::worker_cpu);
    let cpu = each_server(&|f, c| {
        server::sum_and_max(
            f,
            &c.samples,
            server::worker_cpu,
            cpu_max,
            "%",
            (server::CPU_COLOR, server::CPU_MAX_COLOR),
            ("all workers", "busiest worker"),
            "no worker CPU samples (external stack?)",
        )
    })?;
    let mib_max = peak(server::worker_mib);
    let memory = each_server(&|f, c| {
        server::sum_and_max(
            f,
            &c.samples,
            server::worker_mib,
            mib_max,
            " MiB",
            (server::MEMORY_COLOR, server::MEMORY_MAX_COLOR),
            ("all workers", "largest worker"),
            "no worker memory samples (external stack?)",
        )
    })?;
    let y_lag = decades(timelines().flat_map(|t| time::extent(t, &CLIENT_LAG_LINES)));
    let lag = each(&|f, c| {
        time::percentiles(
            f,
            &c.recorded.timeline,
            &CLIENT_LAG_LINES,
            y_lag,
            "no per-second client lag in run.json",
        )
    })?;

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
    let kind_charts: Vec<String> = run
        .configs
        .iter()
        .map(kinds::chart)
        .collect::<anyhow::Result<_>>()?;

    let mut page = String::with_capacity(600_000);
    let title = format!("fpmlab report: {}", run.plan.name);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>",
        esc(&title)
    );
    page.push_str(&header(run, &title));
    page.push_str(&summary::summary(run));
    page.push_str(&tune::section(run)?);
    page.push_str(&explain::section(&run.configs));
    page.push_str(&fleet::section(run, &phases, x_max, size, &overlays)?);
    page.push_str(&clients::section(run, &phases, x_max, size, &overlays)?);
    let spans = overlay_items(&overlays);
    let phase_note =
        "Shaded bands are the scenario's phases; hover a chart for the values of each second.";
    let line_legend = |lines: &[time::Line]| {
        let mut items: Vec<(String, String, bool)> = lines
            .iter()
            .map(|l| (l.label.to_string(), css(l.color), true))
            .collect();
        items.extend(spans.iter().cloned());
        legend(&items)
    };
    let with_spans = |mut items: Vec<(String, String, bool)>| {
        items.extend(spans.iter().cloned());
        legend(&items)
    };
    page.push_str(&grid("latency", "Latency over time", &format!("Percentiles per second of <b>latency</b> (done − intended): what a user behind the load balancer waited, queueing included. Log scale. {phase_note}"), &line_legend(&LATENCY_LINES), &latency));
    page.push_str(&grid("queue", "Queue wait and service time over time", &format!("Per second: <b>queue wait</b> (php-fpm picked the request up − sent) and <b>service</b> (the script's own duration, what an APM reports). Log scale. {phase_note}"), &line_legend(&QUEUE_SERVICE_LINES), &queue));
    let mut rps_items: Vec<(String, String, bool)> = classes
        .iter()
        .map(|c| (c.label.clone(), css(c.color), false))
        .collect();
    rps_items.push(("sent".into(), css(time::SENT_COLOR), true));
    page.push_str(&grid("throughput", "Requests per second by outcome", &format!("Requests that ended in each second, stacked by outcome, each error status code in its own colour (500: PHP fatal or limit; 502: worker gone; 503: refused; 504: nginx timed out); the line is the requests sent in that second. {phase_note}"), &with_spans(rps_items), &rps));
    page.push_str(&grid("listen-queue", "php-fpm listen queue", &format!("Connections waiting for a free worker: the kernel's accept queue (filled, sampled every 250 ms) and php-fpm's own <code>listen queue</code> (refreshed once a second, TCP only). {phase_note}"), &with_spans(vec![("kernel accept queue".into(), css(server::ACCEPT_QUEUE_COLOR), false), ("fpm listen queue".into(), css(server::FPM_QUEUE_COLOR), true)]), &listen));
    page.push_str(&grid("workers", "php-fpm workers", &format!("Active (busy) and total workers from the status page, against <code>pm.max_children</code>. {phase_note}"), &with_spans(vec![("active".into(), css(server::ACTIVE_COLOR), false), ("total".into(), css(server::TOTAL_COLOR), true), ("max_children".into(), css(server::LIMIT_COLOR), true)]), &workers));
    page.push_str(&grid("worker-cpu", "php-fpm workers' CPU", &format!("CPU of the pool's workers from /proc, every 250 ms, in percent of one core: all workers together (filled) and the busiest one. 100% per core the stack may use is the ceiling. {phase_note}"), &with_spans(vec![("all workers".into(), css(server::CPU_COLOR), false), ("busiest worker".into(), css(server::CPU_MAX_COLOR), true)]), &cpu));
    page.push_str(&grid("worker-memory", "php-fpm workers' memory", &format!("Memory of the pool's workers (PSS, MiB), every 250 ms: all workers together (filled) and the largest one. {phase_note}"), &with_spans(vec![("all workers".into(), css(server::MEMORY_COLOR), false), ("largest worker".into(), css(server::MEMORY_MAX_COLOR), true)]), &memory));
    let generator: Vec<String> = run
        .configs
        .iter()
        .map(|c| {
            format!(
                "{}: generator CPU {:.1}% of one core",
                c.name, c.generator.cpu_pct
            )
        })
        .collect();
    page.push_str(&grid("client-lag", "Generator: client lag", &format!("99th percentile per second of <b>client lag</b> (sent − intended): how late fpmlab itself sent. Latency is measured from the intended time, so lag never hides queueing, but a lag near the latency means the generator, not the stack, was the bottleneck. {}. {phase_note}", generator.join("; ")), &line_legend(&CLIENT_LAG_LINES), &lag));
    let _ = write!(
        page,
        "<section id=\"distribution\"><h2>Latency distribution</h2><p class=\"about\">HDR percentile plot of every request's latency, per config: x is the percentile on the 90 / 99 / 99.9 scale, y the latency (log scale). Curves end where the data ends; hover a dot for its value.</p><figure class=\"chart wide\">{hdr}</figure></section>"
    );
    let _ = write!(
        page,
        "<section id=\"gap\"><h2>LB view vs APM view</h2><p class=\"about\">What the load balancer sees (latency, solid) against what an APM sees (the script's service time, dashed). The vertical gap between a config's two curves is time spent waiting: queued for a worker, in nginx, in the generator.</p><figure class=\"chart wide\">{gap}</figure>{}</section>",
        summary::gap_table(run)
    );
    let kinds_grid = grid_body(&kind_charts);
    page.push_str(&settings::kinds_section(run, &kinds_grid));
    page.push_str(&replay_section(run));
    let (headers, rows) = table::phase_rows(run);
    let _ = write!(
        page,
        "<section id=\"phases\"><h2>Per phase</h2>{}</section>",
        html_table(&headers, 2, &rows)
    );
    page.push_str(&settings::section(run));
    let _ = writeln!(
        page,
        "<footer>Rendered by fpmlab {} from run.json (schema {}). Everything on this page is in this one file.</footer></main><script>{SCRIPT}</script></body></html>",
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
    out.push_str("<nav><a href=\"#summary\">Summary</a><a href=\"#explain\">Why requests failed</a><a href=\"#latency\">Latency</a><a href=\"#queue\">Queue &amp; service</a><a href=\"#throughput\">Throughput</a><a href=\"#listen-queue\">Listen queue</a><a href=\"#workers\">Workers</a><a href=\"#worker-cpu\">Worker CPU</a><a href=\"#worker-memory\">Worker memory</a><a href=\"#client-lag\">Client lag</a><a href=\"#distribution\">Distribution</a><a href=\"#gap\">LB vs APM</a><a href=\"#kinds\">Per kind</a><a href=\"#phases\">Phases</a><a href=\"#settings\">Settings</a>");
    out.push_str(fleet::nav(run));
    out.push_str(clients::nav(run));
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
