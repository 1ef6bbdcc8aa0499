//! Renders a [`Comparison`] as a terminal table, Markdown or JSON.

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, ContentArrangement, Table};

use super::{pct_text, Comparison, Presence, Row};
use crate::report::md::md_table;

const HEADERS: [&str; 6] = ["config", "metric", "baseline", "candidate", "change", ""];

fn cells(config: &str, r: &Row) -> Vec<String> {
    let m = r.metric;
    let v = |x: Option<f64>| x.map_or("no data".to_string(), |x| m.format(x));
    let change = match (r.baseline, r.candidate) {
        (Some(b), Some(c)) if b == c => "=".to_string(),
        (Some(b), Some(c)) => format!("{} ({})", m.format_delta(c - b), pct_text(b, c)),
        _ => "-".to_string(),
    };
    let verdict = if r.fired.is_empty() {
        r.direction().to_string()
    } else {
        "REGRESSION".to_string()
    };
    vec![
        config.to_string(),
        m.name.to_string(),
        v(r.baseline),
        v(r.candidate),
        change,
        verdict,
    ]
}

/// Rows of every config: metric rows, or one row saying where the config is missing.
fn rows(c: &Comparison) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for cc in &c.configs {
        match cc.presence {
            Presence::Both => out.extend(cc.rows.iter().map(|r| cells(&cc.name, r))),
            Presence::BaselineOnly => out.push(vec![
                cc.name.clone(),
                "-".into(),
                "present".into(),
                "MISSING".into(),
                "-".into(),
                "missing".into(),
            ]),
            Presence::CandidateOnly => out.push(vec![
                cc.name.clone(),
                "-".into(),
                "MISSING".into(),
                "present".into(),
                "-".into(),
                "new".into(),
            ]),
        }
    }
    out
}

fn title(c: &Comparison) -> String {
    let scope = c
        .phase
        .as_ref()
        .map_or("whole run".to_string(), |p| format!("phase {p}"));
    format!(
        "scenario {}, {scope}: baseline {} ({}) vs candidate {} ({})",
        c.scenario,
        c.baseline.path,
        c.baseline.started_at,
        c.candidate.path,
        c.candidate.started_at
    )
}

/// Notes and rule verdicts as lines (`FAIL latency_p99>+10% [static-4]: 800 ms → 1.00 s (+25.0%)`).
fn lines(c: &Comparison) -> Vec<String> {
    let mut out: Vec<String> = c.notes.iter().map(|n| format!("note: {n}")).collect();
    for cc in &c.configs {
        out.extend(cc.notes.iter().map(|n| format!("note: {}: {n}", cc.name)));
    }
    for r in &c.rules {
        let word = if r.fired { "FAIL" } else { "ok  " };
        out.push(format!("{word} {} [{}]: {}", r.rule, r.config, r.detail));
    }
    out
}

fn verdict(c: &Comparison) -> Option<String> {
    if c.rules.is_empty() {
        return None;
    }
    let fired = c.rules.iter().filter(|r| r.fired).count();
    Some(if fired == 0 {
        format!(
            "no regression: every --fail-if rule held ({} checks)",
            c.rules.len()
        )
    } else {
        format!(
            "REGRESSION: {fired} of {} --fail-if checks fired",
            c.rules.len()
        )
    })
}

/// The terminal table.
pub fn table(c: &Comparison) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(HEADERS);
    for r in rows(c) {
        t.add_row(r);
    }
    for (i, col) in t.column_iter_mut().enumerate() {
        if (2..5).contains(&i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = format!("{}\n{t}\n", title(c));
    for l in c.environment.iter().map(|d| d.line()).chain(lines(c)) {
        out.push_str(&l);
        out.push('\n');
    }
    if let Some(v) = verdict(c) {
        out.push_str(&v);
        out.push('\n');
    }
    out
}

/// Markdown for a pull request.
pub fn markdown(c: &Comparison) -> String {
    let mut out = format!("### fpmlab compare: {}\n\n", c.scenario);
    let scope = c
        .phase
        .as_ref()
        .map_or("whole run".to_string(), |p| format!("phase `{p}`"));
    out.push_str(&format!(
        "Baseline `{}` ({}) vs candidate `{}` ({}), {scope}.\n\n",
        c.baseline.path, c.baseline.started_at, c.candidate.path, c.candidate.started_at
    ));
    for d in &c.environment {
        out.push_str(&format!("- {}\n", d.line()));
    }
    if !c.environment.is_empty() {
        out.push('\n');
    }
    if let Some(v) = verdict(c) {
        out.push_str(&format!("**{v}**\n\n"));
    }
    out.push_str(&md_table(&HEADERS, 2, &rows(c)));
    let l = lines(c);
    if !l.is_empty() {
        out.push('\n');
        for line in l {
            out.push_str(&format!("- {}\n", line.replace("ok   ", "ok ")));
        }
    }
    out
}

/// JSON (the [`Comparison`] itself).
pub fn json(c: &Comparison) -> String {
    let mut s = serde_json::to_string_pretty(c).expect("a comparison serializes");
    s.push('\n');
    s
}
