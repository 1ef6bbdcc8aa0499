//! The page's building blocks: legends, grids of small multiples, tables.

use std::fmt::Write;

use super::esc;
use crate::report::charts::overlay::{self, Overlay};

/// A legend: colored swatches with labels.
pub fn legend(items: &[(String, String, bool)]) -> String {
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
pub fn grid(id: &str, title: &str, about: &str, legend_html: &str, charts: &[String]) -> String {
    // Two columns at most (a third wraps): three would make the labels too small to read.
    // One config takes the full width.
    let cols = charts.len().clamp(1, 2);
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

/// The legend items of the spans and markers, for the charts over time (only those that
/// occur in the run).
pub fn overlay_items(overlays: &[Overlay]) -> Vec<(String, String, bool)> {
    let mut items = Vec::new();
    let has = |class: &str| {
        overlays
            .iter()
            .any(|o| o.spans.iter().any(|s| s.class == class))
    };
    if has("error") {
        items.push((
            "requests failed (error window)".into(),
            format!("{}55", overlay::ERROR_FILL),
            false,
        ));
    }
    if has("health") {
        items.push((
            "healthy but unable to serve".into(),
            format!("{}66", overlay::HEALTH_FILL),
            false,
        ));
    }
    if overlays.iter().any(|o| !o.markers.is_empty()) {
        items.push((
            "event (hover for what)".into(),
            overlay::EVENT_STROKE.into(),
            true,
        ));
    }
    items
}

/// The charts of a grid without its section.
pub fn grid_body(charts: &[String]) -> String {
    let mut out = format!(
        "<div class=\"grid\" style=\"--cols:{}\">",
        charts.len().clamp(1, 2)
    );
    for c in charts {
        let _ = write!(out, "<figure class=\"chart\">{c}</figure>");
    }
    out.push_str("</div>");
    out
}

/// A table whose first `left` columns are text (left-aligned), the rest numbers.
pub fn html_table(headers: &[&str], left: usize, rows: &[Vec<String>]) -> String {
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
