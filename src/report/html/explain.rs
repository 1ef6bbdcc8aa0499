//! The page's explanations per config, the terminal's lines as tables: which component cut
//! the failed requests ("cut by", with an example log line per cause), the health check
//! that said up while php-fpm could not answer, the error windows and the events. Also the
//! spans and markers those become on every chart over time.

use std::fmt::Write;

use super::{esc, html_table};
use crate::report::charts::overlay::{Marker, Overlay, Span};
use crate::results::ConfigResult;
use crate::units::fmt_us;

/// A config's error windows and health spans as shaded spans, its events as markers.
pub fn overlay(c: &ConfigResult) -> Overlay {
    let mut out = Overlay::default();
    if let Some(w) = &c.error_windows {
        for x in &w.windows {
            out.spans.push(Span {
                class: "error",
                from_s: x.from_s as f64,
                to_s: x.to_s as f64,
                label: format!(
                    "requests failed {}–{} s: 4xx {}, 5xx {}, client failures {} (2xx {})",
                    x.from_s, x.to_s, x.status_4xx, x.status_5xx, x.client_failures, x.status_2xx
                ),
            });
        }
    }
    if let Some(h) = &c.health {
        for i in &h.unable_to_serve {
            out.spans.push(Span {
                class: "health",
                from_s: i.from_ms as f64 / 1e3,
                to_s: i.to_ms as f64 / 1e3,
                label: format!(
                    "healthy but unable to serve {:.1}–{:.1} s: nginx answered its health check, php-fpm missed the {} probe timeout",
                    i.from_ms as f64 / 1e3,
                    i.to_ms as f64 / 1e3,
                    fmt_us(h.timeout_ms * 1000)
                ),
            });
        }
    }
    for e in &c.events {
        out.markers.push(Marker {
            t_s: (e.t_ms.max(0)) as f64 / 1e3,
            label: e.title(),
            detail: format!("{:.1} s {}: {}", e.t_ms as f64 / 1e3, e.title(), e.detail),
        });
    }
    super::fleet::markers(c, &mut out);
    out
}

/// The "Why requests failed" section: per config, cut by, health, errors and events.
pub fn section(configs: &[ConfigResult]) -> String {
    let mut out = String::from(
        "<section id=\"explain\"><h2>Why requests failed</h2><p class=\"about\">Per config: \
         which component cut each failed request, joined from the stack's own logs (<b>cut by</b>, \
         with an example log line per cause); when the load balancer's health check said up \
         while php-fpm could not answer; the seconds in which requests failed; and what \
         happened to the stack (events). On the charts over time the error windows are \
         shaded red, the health spans amber, and events are dashed markers.</p>",
    );
    for c in configs {
        let _ = write!(out, "<h3>{}</h3>", esc(&c.name));
        out.push_str(&cut_by(c));
        out.push_str(&health(c));
        out.push_str(&errors(c));
        out.push_str(&events(c));
    }
    out.push_str("</section>");
    out
}

fn cut_by(c: &ConfigResult) -> String {
    if c.fleet.is_some() {
        return super::fleet::cut_by_note();
    }
    let Some(a) = c.attribution.as_ref().filter(|a| a.failed + a.over_cap > 0) else {
        let failed = c.recorded.summary.error_rate > 0.0;
        return format!(
            "<p class=\"note\">cut by: {}</p>",
            if failed {
                "failed requests were not attributed (no attribution in run.json)"
            } else {
                "no request failed"
            }
        );
    };
    let rows: Vec<Vec<String>> = (a.causes.iter())
        .map(|k| {
            let outcomes: Vec<String> = k
                .outcomes
                .iter()
                .map(|(o, n)| format!("{o}: {n}"))
                .collect();
            let example = (k.examples.first())
                .and_then(|e| e.lines.first().map(|l| format!("#{} {l}", e.id)))
                .unwrap_or_else(|| "-".into());
            vec![
                k.label.clone(),
                k.count.to_string(),
                outcomes.join(", "),
                example,
            ]
        })
        .collect();
    let mut out = String::from("<div class=\"cut-by\">");
    out.push_str(&html_table(
        &[
            "cut by",
            "requests",
            "what the client saw",
            "example log line",
        ],
        4,
        &rows,
    ));
    out = out.replacen("<table>", "<table class=\"cut-by\">", 1);
    if a.over_cap > 0 {
        let _ = write!(
            out,
            "<p class=\"note\">{} more failed requests were counted but not attributed.</p>",
            a.over_cap
        );
    }
    for n in a.notes.iter().filter(|n| !n.contains("not attributed")) {
        let _ = write!(out, "<p class=\"note\">note: {}</p>", esc(n));
    }
    out.push_str("</div>");
    out
}

fn health(c: &ConfigResult) -> String {
    let Some(h) = &c.health else {
        return String::new();
    };
    let mut out = String::new();
    if let Some(m) = &h.misconfigured {
        let _ = write!(
            out,
            "<p class=\"note\">health: misconfigured probe: {}</p>",
            esc(m)
        );
    }
    if h.unable_to_serve_ms > 0 {
        let spans: Vec<String> = (h.unable_to_serve.iter())
            .map(|i| {
                format!(
                    "{:.1}–{:.1} s",
                    i.from_ms as f64 / 1e3,
                    i.to_ms as f64 / 1e3
                )
            })
            .collect();
        let _ = write!(
            out,
            "<p class=\"health\"><i class=\"swatch\" style=\"--c:#f2a900\"></i>health: healthy but unable to serve for {} (nginx's health check said up while php-fpm missed the {} probe timeout): {}. {} of {} probes through php-fpm failed.</p>",
            fmt_us(h.unable_to_serve_ms * 1000),
            fmt_us(h.timeout_ms * 1000),
            esc(&spans.join(", ")),
            h.app_failures,
            h.samples.len()
        );
    } else if !h.samples.is_empty() && h.misconfigured.is_none() {
        let _ = write!(
            out,
            "<p class=\"note\">health: php-fpm answered {} of {} probes within {}.</p>",
            h.samples.len() as u64 - h.app_failures.min(h.samples.len() as u64),
            h.samples.len(),
            fmt_us(h.timeout_ms * 1000)
        );
    }
    out
}

fn errors(c: &ConfigResult) -> String {
    let Some(w) = c.error_windows.as_ref().filter(|w| !w.windows.is_empty()) else {
        return String::new();
    };
    let rows: Vec<Vec<String>> = (w.windows.iter())
        .map(|x| {
            vec![
                format!("{}–{} s", x.from_s, x.to_s),
                x.status_4xx.to_string(),
                x.status_5xx.to_string(),
                x.client_failures.to_string(),
                x.status_2xx.to_string(),
            ]
        })
        .collect();
    let mut out = String::from("<div class=\"error-windows\">");
    out.push_str(&html_table(
        &["error window", "4xx", "5xx", "client failures", "2xx"],
        1,
        &rows,
    ));
    let tail = match (w.recovered, w.recovered_at_s) {
        (Some(true), Some(t)) => format!("Requests succeeded again from {t} s."),
        _ if c.recorded.timeline.len() as u64 <= w.windows.last().map_or(0, |x| x.to_s) => {
            "The run ended inside the last window.".to_string()
        }
        _ => "No request succeeded after the last window.".to_string(),
    };
    let more = if w.more_windows > 0 {
        format!(" {} more windows are not listed.", w.more_windows)
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<p class=\"note\">{} seconds with failed requests. {tail}{more}</p></div>",
        w.error_seconds
    );
    out
}

fn events(c: &ConfigResult) -> String {
    if c.events.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = (c.events.iter())
        .map(|e| {
            vec![
                format!("{:.1} s", e.t_ms as f64 / 1e3),
                e.title(),
                e.detail.clone(),
            ]
        })
        .collect();
    let table = html_table(&["at", "event", "detail"], 3, &rows);
    format!("<div class=\"events\">{table}</div>")
}
