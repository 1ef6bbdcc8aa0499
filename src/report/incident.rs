//! Lines under the comparison table: which component cut the failed requests ("cut by"),
//! the lying health check, and the error windows with whether requests recovered.

use crate::results::ConfigResult;
use crate::units::fmt_us;

/// The incident lines of every config; empty when nothing failed and health held.
pub fn render(configs: &[ConfigResult]) -> String {
    let mut out = String::new();
    for c in configs {
        let lines = config_lines(c);
        if !lines.is_empty() {
            out.push_str(&format!("\n{}:\n", c.name));
            for l in lines {
                out.push_str(&format!("  {l}\n"));
            }
        }
    }
    out
}

fn config_lines(c: &ConfigResult) -> Vec<String> {
    let mut lines = cut_by_lines(c);
    lines.extend(health_line(c));
    lines.extend(errors_line(c));
    lines
}

/// `cut by: …` and its notes; empty when nothing failed.
pub fn cut_by_lines(c: &ConfigResult) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(a) = c.attribution.as_ref().filter(|a| a.failed + a.over_cap > 0) {
        let parts: Vec<String> = a
            .causes
            .iter()
            .map(|k| {
                let outcomes: Vec<String> =
                    k.outcomes.iter().map(|(o, n)| format!("{o}:{n}")).collect();
                format!("{} {} ({})", k.label, k.count, outcomes.join(" "))
            })
            .collect();
        lines.push(format!("cut by: {}", parts.join("; ")));
        if a.over_cap > 0 {
            lines.push(format!(
                "  {} more failed requests were counted but not attributed",
                a.over_cap
            ));
        }
        for n in a.notes.iter().filter(|n| !n.contains("not attributed")) {
            lines.push(format!("  note: {n}"));
        }
    }
    lines
}

/// `health: …`: the lying health check, a misconfigured probe, or that php-fpm answered.
pub fn health_line(c: &ConfigResult) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(h) = &c.health {
        if let Some(m) = &h.misconfigured {
            lines.push(format!("health: misconfigured probe: {m}"));
        }
        if h.unable_to_serve_ms > 0 {
            let spans: Vec<String> = h
                .unable_to_serve
                .iter()
                .take(5)
                .map(|i| {
                    format!(
                        "{:.0}-{:.0} s",
                        i.from_ms as f64 / 1e3,
                        i.to_ms as f64 / 1e3
                    )
                })
                .collect();
            lines.push(format!(
                "health: healthy but unable to serve: {} (nginx's health check said up while \
                 php-fpm missed the {} probe timeout; at {}{})",
                fmt_us(h.unable_to_serve_ms * 1000),
                fmt_us(h.timeout_ms * 1000),
                spans.join(", "),
                if h.unable_to_serve.len() > 5 {
                    ", …"
                } else {
                    ""
                }
            ));
        } else if !h.samples.is_empty() && h.app_failures == 0 && h.misconfigured.is_none() {
            lines.push(format!(
                "health: php-fpm answered every probe within {}",
                fmt_us(h.timeout_ms * 1000)
            ));
        }
    }
    lines
}

/// `errors: …`: the error windows and whether requests recovered.
pub fn errors_line(c: &ConfigResult) -> Option<String> {
    let w = c.error_windows.as_ref().filter(|w| !w.windows.is_empty())?;
    let spans: Vec<String> = w
        .windows
        .iter()
        .take(5)
        .map(|x| {
            format!(
                "{}-{} s (4xx:{} 5xx:{} failed:{} 2xx:{})",
                x.from_s, x.to_s, x.status_4xx, x.status_5xx, x.client_failures, x.status_2xx
            )
        })
        .collect();
    let more = w.windows.len().saturating_sub(5) as u64 + w.more_windows;
    let tail = match (w.recovered, w.recovered_at_s) {
        (Some(true), Some(t)) => format!("requests succeeded again from {t} s"),
        _ if c.recorded.timeline.len() as u64 <= w.windows.last().map_or(0, |x| x.to_s) => {
            "the run ended inside the last window".to_string()
        }
        _ => "no request succeeded after the last window".to_string(),
    };
    Some(format!(
        "errors: {}{}; {tail}",
        spans.join(", "),
        if more > 0 {
            format!(" and {more} more windows")
        } else {
            String::new()
        }
    ))
}
