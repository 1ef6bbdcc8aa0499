//! The tune section of a tune directory's report (HTML and Markdown): the recommendation,
//! the bound that decided it with its figures, the headroom and its check, the memory-only
//! formula's choice and what it did, and every point measured beside the model's
//! prediction. The text lives here once; `html::tune` and the Markdown export lay it out.

use crate::results::tune::{Outcome, TuneResult};

/// Columns of the points table.
pub const HEADERS: [&str; 9] = [
    "max_children",
    "role",
    "p99 measured",
    "p99 model",
    "model error",
    "queue wait p99",
    "errors",
    "req/s",
    "meets",
];

fn ms(v: f64) -> String {
    format!("{v:.0} ms")
}

fn outcome(o: &Outcome) -> String {
    format!(
        "p99 {}, queue wait p99 {}, errors {:.2} %, {:.1} req/s",
        ms(o.latency_p99_ms),
        ms(o.queue_wait_p99_ms),
        o.error_share * 100.0,
        o.throughput_rps
    )
}

/// One row per point, in the order run.
pub fn rows(t: &TuneResult) -> Vec<Vec<String>> {
    (t.points.iter())
        .map(|p| {
            vec![
                p.max_children.to_string(),
                p.role.clone(),
                ms(p.measured.latency_p99_ms),
                p.predicted
                    .as_ref()
                    .map_or("-".into(), |x| ms(x.latency_p99_ms)),
                match (&p.stopped_early, p.p99_error_pct) {
                    (Some(_), _) => "stopped early".into(),
                    (None, Some(e)) => format!("{e:+.0} %"),
                    (None, None) => "-".into(),
                },
                ms(p.measured.queue_wait_p99_ms),
                format!("{:.2} %", p.measured.error_share * 100.0),
                format!("{:.1}", p.measured.throughput_rps),
                if p.meets { "yes" } else { "no" }.into(),
            ]
        })
        .collect()
}

/// The headline: the recommended pool and whether it held.
pub fn headline(t: &TuneResult) -> String {
    let s = &t.settings;
    let objective = format!(
        "p99 ≤ {}, errors ≤ {:.2} %, memory {:.0} MiB",
        ms(s.p99_ms),
        s.max_error_share * 100.0,
        s.memory_budget_mib
    );
    match &t.recommendation {
        Some(r) => format!(
            "Recommended: pm = {}, pm.max_children = {} for {objective}{}",
            r.pm,
            r.max_children,
            if r.meets_objective {
                ""
            } else {
                " (does NOT meet the objective: no measured pool did)"
            }
        ),
        None => format!("No recommendation for {objective}: see the warnings"),
    }
}

/// The reasoning, one line each: the deciding bound and the figures, the headroom and its
/// check, the memory-only formula, the model's error.
pub fn lines(t: &TuneResult) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = &t.recommendation {
        out.extend(r.why.iter().cloned());
        out.push(format!(
            "headroom: the model holds {:.2}× this traffic (rates and burst sizes) within the objective",
            r.headroom_factor
        ));
        if let Some(h) = &r.headroom_check {
            out.push(format!(
                "headroom checked by one run at × {:.2}: measured {} (model p99 {}): {}",
                h.factor,
                outcome(&h.measured),
                h.predicted
                    .as_ref()
                    .map_or("-".into(), |p| ms(p.latency_p99_ms)),
                if h.meets {
                    "holds"
                } else {
                    "breaks the objective"
                }
            ));
        }
        if let Some(c) = &r.recheck {
            out.push(format!("re-run of the recommendation: {}", outcome(c)));
        }
    }
    if let Some(m) = &t.memory_only {
        let mut l = format!(
            "memory-only formula (budget ÷ median worker PSS) picks max_children = {}",
            m.max_children
        );
        if let Some(p) = &m.predicted {
            l += &format!(
                "; the model predicts p99 {}{}",
                ms(p.latency_p99_ms),
                if p.delay_in_service {
                    " with the delay moved into service time (workers share the cores)"
                } else {
                    ""
                }
            );
        }
        l += &match &m.measured {
            Some(x) => format!("; measured: {}", outcome(x)),
            None => "; not measured (over 64 workers, or no time left)".into(),
        };
        out.push(l);
    }
    if let Some(e) = t.model_error_max_pct {
        out.push(format!(
            "model error: at most {e:.0} % of the measured p99 over the points run in full{}",
            if e > 25.0 {
                " (over 25 %: the recommendation follows the measurements)"
            } else {
                ""
            }
        ));
    }
    for p in t.points.iter().filter(|p| p.stopped_early.is_some()) {
        out.push(format!(
            "max_children = {} ({}): {}",
            p.max_children,
            p.role,
            p.stopped_early.as_deref().unwrap_or_default()
        ));
    }
    out.extend(t.warnings.iter().map(|w| format!("warning: {w}")));
    out.push(format!("{} points in {:.0} s", t.points.len(), t.elapsed_s));
    out
}

/// The Markdown section (empty when the run is not part of a tune).
pub fn markdown(run: &crate::results::RunResult) -> String {
    let Some(t) = run.tune.as_deref() else {
        return String::new();
    };
    let mut out = format!("\n### Tune\n\n**{}**\n\n", headline(t));
    for l in lines(t) {
        out.push_str(&format!("- {l}\n"));
    }
    out.push('\n');
    out.push_str(&super::md::md_table(&HEADERS, 2, &rows(t)));
    out.push_str("\nThe figures below are the recommendation's re-run.\n\n");
    out
}
