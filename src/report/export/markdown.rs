//! Markdown fit to paste into a pull request: the comparison table, one sentence per config
//! on where the time went, why requests failed (cut by, health, errors, events), the
//! thresholds, and the per-phase and per-kind figures folded away.

use super::{Artifact, Exporter};
use crate::report::md::md_table;
use crate::report::{incident, table};
use crate::results::CheckOutcome;
use crate::results::{ConfigResult, RunResult};

pub struct MarkdownExporter;

impl Exporter for MarkdownExporter {
    fn name(&self) -> &'static str {
        "markdown"
    }

    fn render(&self, run: &RunResult) -> anyhow::Result<Vec<Artifact>> {
        Ok(vec![Artifact::main(render(run))])
    }
}

/// The whole document.
pub fn render(run: &RunResult) -> String {
    let mut out = format!("## fpmlab: {}\n\n", run.plan.name);
    if !run.plan.description.is_empty() {
        out.push_str(&format!("{}\n\n", run.plan.description));
    }
    let status = format!("{:?}", run.status).to_lowercase();
    let env = &run.environment;
    let driver = if env.stack.driver.is_empty() {
        "unknown"
    } else {
        &env.stack.driver
    };
    out.push_str(&format!(
        "Run of {} · {status}{} · {driver} stack · {} cores · fpmlab {}\n\n",
        run.started_at,
        if run.partial { " (partial)" } else { "" },
        env.cores,
        run.fpmlab_version
    ));
    out.push_str(&crate::report::tune::markdown(run));
    let rows: Vec<Vec<String>> = run.configs.iter().map(table::row).collect();
    out.push_str(&md_table(&table::HEADERS, 1, &rows));
    out.push('\n');
    for c in &run.configs {
        out.push_str(&format!("- {}\n", table::reading(c)));
        if let Some(note) = table::fleet_note(c) {
            out.push_str(&format!("- {note}\n"));
        }
    }
    let explained = explanations(&run.configs);
    if !explained.is_empty() {
        out.push_str("\n### Why requests failed\n");
        out.push_str(&explained);
    }
    out.push_str(&super::fleet::markdown(run));
    if !run.thresholds.is_empty() {
        out.push_str("\n### Thresholds\n\n");
        let rows: Vec<Vec<String>> = run
            .thresholds
            .iter()
            .map(|v| {
                let m = crate::metric::find(&v.threshold.metric).expect("validated metric");
                vec![
                    match v.outcome {
                        CheckOutcome::Pass => "pass".to_string(),
                        CheckOutcome::Fail => "**FAIL**".to_string(),
                        CheckOutcome::NoData => "**FAIL** (no data)".to_string(),
                    },
                    v.config.clone(),
                    v.text.split(" [").next().unwrap_or(&v.text).to_string(),
                    v.threshold
                        .phase
                        .clone()
                        .unwrap_or_else(|| "whole run".into()),
                    v.value.map_or("-".into(), |x| m.format(x)),
                ]
            })
            .collect();
        out.push_str(&md_table(
            &["result", "config", "threshold", "scope", "measured"],
            4,
            &rows,
        ));
    }
    out.push_str("\n<details><summary>Per phase</summary>\n\n");
    out.push_str(&phase_table(run));
    out.push_str("\n</details>\n");
    let kinds = table::kind_rows(run);
    if !kinds.is_empty() {
        out.push_str("\n<details><summary>Per request kind</summary>\n\n");
        out.push_str(&md_table(&table::KIND_HEADERS, 3, &kinds));
        out.push_str("\n</details>\n");
    }
    let clients = crate::report::clients::rows(run);
    if !clients.is_empty() {
        out.push_str("\n### What the clients did\n\n");
        out.push_str(&md_table(&crate::report::clients::HEADERS, 2, &clients));
        out.push('\n');
        for line in crate::report::clients::goodput_lines(run) {
            out.push_str(&format!("- {line}\n"));
        }
    }
    let warnings: Vec<String> = run
        .warnings
        .iter()
        .cloned()
        .chain(run.configs.iter().flat_map(|c| {
            (c.generator.warnings.iter())
                .chain(c.cpu_per_request.iter().flat_map(|v| &v.warning))
                .map(move |w| format!("{}: {w}", c.name))
                .chain(
                    c.error
                        .iter()
                        .map(move |e| format!("{}: failed: {e}", c.name)),
                )
        }))
        .collect();
    if !warnings.is_empty() {
        out.push_str("\n### Warnings\n\n");
        for w in warnings {
            out.push_str(&format!("- {w}\n"));
        }
    }
    out
}

/// The same explanations in Markdown: per config, a cut-by table with an example log line
/// per cause, then the health, error and event lines. Empty when there is nothing to say.
fn explanations(configs: &[ConfigResult]) -> String {
    let mut out = String::new();
    for c in configs {
        let mut body = String::new();
        if let Some(a) = c.attribution.as_ref().filter(|a| a.failed + a.over_cap > 0) {
            let rows: Vec<Vec<String>> = (a.causes.iter())
                .map(|k| {
                    let outcomes: Vec<String> = k
                        .outcomes
                        .iter()
                        .map(|(o, n)| format!("{o}: {n}"))
                        .collect();
                    let example = (k.examples.first())
                        .and_then(|e| e.lines.first())
                        .map_or("-".to_string(), |l| format!("`{}`", l.replace('`', "'")));
                    vec![
                        k.label.clone(),
                        k.count.to_string(),
                        outcomes.join(", "),
                        example,
                    ]
                })
                .collect();
            body.push_str(&md_table(
                &[
                    "cut by",
                    "requests",
                    "what the client saw",
                    "example log line",
                ],
                4,
                &rows,
            ));
            if a.over_cap > 0 {
                body.push_str(&format!(
                    "\n{} more failed requests were counted but not attributed.\n",
                    a.over_cap
                ));
            }
            body.push('\n');
        }
        let mut lines = incident::health_line(c);
        lines.extend(incident::errors_line(c));
        lines.extend(crate::report::container::events_line(c));
        for e in c.events.iter().take(10) {
            lines.push(format!(
                "event at {:.1} s: {}: {}",
                e.t_ms as f64 / 1e3,
                e.title(),
                e.detail
            ));
        }
        for l in lines {
            body.push_str(&format!("- {l}\n"));
        }
        if !body.is_empty() {
            out.push_str(&format!("\n#### {}\n\n{body}", c.name));
        }
    }
    out
}

/// Per config and phase: requests, throughput, latency, queue wait, service, errors.
pub fn phase_table(run: &RunResult) -> String {
    let (headers, rows) = table::phase_rows(run);
    md_table(&headers, 2, &rows)
}
