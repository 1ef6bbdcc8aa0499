//! What the charts over time carry besides their series, written as plain SVG after
//! plotters has drawn: the spans where the health check lied and where requests failed,
//! the events (OOM kills, workers killed, php-fpm's master dying) as markers, and one
//! invisible column per second whose `<title>` holds the values of that second. The
//! report's small script shows a `<title>` at once on hover; without the script the
//! browser's own tooltip shows it.

use std::fmt::Write;

use plotters::coord::ranged1d::Ranged;

use super::TimeChart;

/// A span of the run on the time axis, seconds.
#[derive(Debug, Clone)]
pub struct Span {
    /// `error` (requests failed) or `health` (nginx said healthy, php-fpm missed the probe).
    pub class: &'static str,
    pub from_s: f64,
    pub to_s: f64,
    /// What the span is, for its tooltip.
    pub label: String,
}

/// An event on the time axis.
#[derive(Debug, Clone)]
pub struct Marker {
    pub t_s: f64,
    /// Short text drawn by the marker (`oom_kill`).
    pub label: String,
    /// The event's sentence, for its tooltip.
    pub detail: String,
}

/// Spans and markers of one config, shared by all its charts over time.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    pub spans: Vec<Span>,
    pub markers: Vec<Marker>,
}

/// Fill of each span class; the page's legend uses the same.
pub const ERROR_FILL: &str = "#d7301f";
pub const HEALTH_FILL: &str = "#f2a900";
pub const EVENT_STROKE: &str = "#222222";

/// A hover column: `[from_s, to_s)` and the text its tooltip shows.
pub type Column = (f64, f64, String);

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The overlay's SVG for a chart over time: spans, markers, then the hover columns on top.
/// `y_any` is any value on the chart's y axis (only x positions are read from it).
pub fn svg<Y: Ranged<ValueType = f64>>(
    chart: &TimeChart<'_, '_, Y>,
    y_any: f64,
    overlay: &Overlay,
    columns: &[Column],
) -> String {
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let (top, height) = (ys.start, ys.end - ys.start);
    let px = |x: f64| chart.backend_coord(&(x, y_any)).0.clamp(xs.start, xs.end);
    let mut out = String::from("<g class=\"overlay\">");
    for s in &overlay.spans {
        let (a, b) = (px(s.from_s), px(s.to_s));
        let fill = if s.class == "error" {
            ERROR_FILL
        } else {
            HEALTH_FILL
        };
        let _ = write!(
            out,
            "<rect class=\"span span-{}\" x=\"{a}\" y=\"{top}\" width=\"{}\" height=\"{height}\" fill=\"{fill}\" fill-opacity=\"0.13\" pointer-events=\"none\"><title>{}</title></rect>",
            s.class,
            (b - a).max(2),
            esc(&s.label)
        );
    }
    for m in &overlay.markers {
        let x = px(m.t_s);
        let _ = write!(
            out,
            "<g class=\"event\"><line x1=\"{x}\" y1=\"{top}\" x2=\"{x}\" y2=\"{}\" stroke=\"{EVENT_STROKE}\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/><path d=\"M{} {top} l5 -7 l5 7 z\" fill=\"{EVENT_STROKE}\"/><text x=\"{}\" y=\"{}\" font-size=\"10\" font-family=\"sans-serif\" fill=\"{EVENT_STROKE}\">{}</text><title>{}</title></g>",
            top + height,
            x - 5,
            x + 4,
            top + 10,
            esc(&m.label),
            esc(&m.detail)
        );
    }
    for (from, to, text) in columns {
        let (a, b) = (px(*from), px(*to));
        if b <= a {
            continue;
        }
        let _ = write!(
            out,
            "<rect class=\"hover\" x=\"{a}\" y=\"{top}\" width=\"{}\" height=\"{height}\" fill=\"transparent\"><title>{}</title></rect>",
            b - a,
            esc(text)
        );
    }
    out.push_str("</g>");
    out
}

/// Inserts `extra` before the closing tag of an SVG document.
pub fn insert(svg: &mut String, extra: &str) {
    match svg.rfind("</svg>") {
        Some(i) => svg.insert_str(i, extra),
        None => svg.push_str(extra),
    }
}
