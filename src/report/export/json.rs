//! The JSON summary: every named metric per config and per phase, the status counts, the
//! threshold verdicts. Small and stable for scripts; run.json stays the full record.

use serde_json::{json, Map, Value};

use super::{Artifact, Exporter};
use crate::metric::{self, Unit};
use crate::results::Scope;
use crate::results::{ConfigResult, RunResult};

/// Version of this summary's shape (independent of run.json's).
pub const SUMMARY_VERSION: u32 = 1;

pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn name(&self) -> &'static str {
        "json"
    }

    fn render(&self, run: &RunResult) -> anyhow::Result<Vec<Artifact>> {
        let mut text = serde_json::to_string_pretty(&summary(run))?;
        text.push('\n');
        Ok(vec![Artifact::main(text)])
    }
}

/// The unit each metric's numbers are in.
pub fn unit_name(u: Unit) -> &'static str {
    match u {
        Unit::Duration => "us",
        Unit::Ratio => "ratio",
        Unit::Rate => "per_s",
        Unit::Count => "count",
        Unit::Mib => "MiB",
    }
}

/// `{metric: value or null}` for a scope; durations and counts as whole numbers.
pub fn metrics(scope: &Scope) -> Map<String, Value> {
    let number = |m: &metric::Metric, v: f64| match m.unit {
        Unit::Duration | Unit::Count if v.fract() == 0.0 => json!(v as i64),
        _ => json!(v),
    };
    metric::all()
        .map(|m| {
            (
                m.name.to_string(),
                scope.value(m).map_or(Value::Null, |v| number(m, v)),
            )
        })
        .collect()
}

fn config(c: &ConfigResult) -> Value {
    let s = &c.recorded.summary;
    let phases: Vec<Value> = c
        .recorded
        .phases
        .iter()
        .filter_map(|p| {
            Scope::of(c, Some(&p.name))
                .map(|scope| json!({"name": p.name, "metrics": metrics(&scope)}))
        })
        .collect();
    let whole = Scope::of(c, None).expect("the whole config always has a scope");
    json!({
        "name": c.name,
        "status": c.status,
        "error": c.error,
        "pool": c.pool,
        "metrics": metrics(&whole),
        "status_counts": s.status_counts,
        "client_failures": s.client_failures,
        "phases": phases,
        "warnings": (c.generator.warnings.iter())
            .chain(c.cpu_per_request.iter().flat_map(|v| &v.warning))
            .collect::<Vec<_>>(),
    })
}

/// The summary document.
pub fn summary(run: &RunResult) -> Value {
    let units: Map<String, Value> = metric::all()
        .map(|m| (m.name.to_string(), json!(unit_name(m.unit))))
        .collect();
    json!({
        "summary_version": SUMMARY_VERSION,
        "scenario": run.plan.name,
        "scenario_file": run.scenario_file,
        "status": run.status,
        "partial": run.partial,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "fpmlab_version": run.fpmlab_version,
        "units": units,
        "configs": run.configs.iter().map(config).collect::<Vec<_>>(),
        "thresholds": run.thresholds,
        "thresholds_breached": crate::results::breached(&run.thresholds),
    })
}
