//! `fpmlab compare BASELINE CANDIDATE`: two runs of one scenario, config by config and
//! metric by metric, with the change; `--fail-if` rules turn a regression into exit code 3.
//!
//! Every cell holds both sides (goose's `Value::Delta` idea): the renderers print
//! baseline, candidate and change from one [`Row`], and a side without data is shown as
//! such, never as zero. A config on one side only is listed, not dropped.

pub mod environment;
pub mod render;
pub mod rule;

use serde::Serialize;

use crate::metric::{self, Metric};
use crate::results::Scope;
use crate::results::{RunResult, Status};
pub use rule::Rule;

/// Why two runs cannot be compared (exit code 2).
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One side's identity, for the header of every output.
#[derive(Debug, Clone, Serialize)]
pub struct SideInfo {
    /// The path given.
    pub path: String,
    pub started_at: String,
    pub status: Status,
    pub fpmlab_version: String,
}

impl SideInfo {
    fn of(path: &str, run: &RunResult) -> Self {
        SideInfo {
            path: path.to_string(),
            started_at: run.started_at.clone(),
            status: run.status,
            fpmlab_version: run.fpmlab_version.clone(),
        }
    }
}

/// Where a config was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Both,
    BaselineOnly,
    CandidateOnly,
}

/// One metric of one config on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    #[serde(serialize_with = "metric_name")]
    pub metric: &'static Metric,
    pub baseline: Option<f64>,
    pub candidate: Option<f64>,
    /// candidate − baseline.
    pub delta: Option<f64>,
    /// Relative change (0.1 = +10 %); `None` without both sides or from a zero baseline.
    pub change: Option<f64>,
    /// Names of the rules that fired on this row.
    pub fired: Vec<String>,
}

fn metric_name<S: serde::Serializer>(m: &&'static Metric, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.name)
}

impl Row {
    fn new(metric: &'static Metric, baseline: Option<f64>, candidate: Option<f64>) -> Self {
        let delta = baseline.zip(candidate).map(|(b, c)| c - b);
        let change = baseline
            .zip(candidate)
            .and_then(|(b, c)| (b != 0.0).then(|| (c - b) / b.abs()));
        Row {
            metric,
            baseline,
            candidate,
            delta,
            change,
            fired: Vec::new(),
        }
    }

    /// `worse`, `better` or empty (no change, or no data), by the metric's direction.
    pub fn direction(&self) -> &'static str {
        match self.delta {
            Some(d) if d != 0.0 => {
                if (d > 0.0) == self.metric.higher_is_better {
                    "better"
                } else {
                    "worse"
                }
            }
            _ => "",
        }
    }
}

/// `+12.5%`, `new` from a zero baseline, `0%` unchanged.
pub fn pct_text(baseline: f64, candidate: f64) -> String {
    if baseline == 0.0 {
        return if candidate == 0.0 {
            "0%".into()
        } else {
            "from 0".into()
        };
    }
    format!("{:+.1}%", (candidate - baseline) / baseline.abs() * 100.0)
}

/// One config on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigComparison {
    pub name: String,
    pub presence: Presence,
    /// Empty unless the config is on both sides.
    pub rows: Vec<Row>,
    /// What the reader must know (a side interrupted, the phase missing, …).
    pub notes: Vec<String>,
}

/// A rule's verdict on one config.
#[derive(Debug, Clone, Serialize)]
pub struct RuleResult {
    pub rule: String,
    pub config: String,
    pub fired: bool,
    pub detail: String,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub scenario: String,
    pub baseline: SideInfo,
    pub candidate: SideInfo,
    /// The phase compared (`None`: the whole run).
    pub phase: Option<String>,
    pub configs: Vec<ConfigComparison>,
    pub rules: Vec<RuleResult>,
    /// Run-level notes (the plans differ, …).
    pub notes: Vec<String>,
    /// What differs between the two runs' machines and stacks, shown before the verdict.
    pub environment: Vec<environment::EnvDiff>,
    /// True when a rule fired.
    pub regressed: bool,
}

/// Compares `candidate` with `baseline`. `metrics` are shown in order; metrics named by a
/// rule are added. Refuses runs of different scenarios, and a phase neither run has.
pub fn compare(
    (base_path, base): (&str, &RunResult),
    (cand_path, cand): (&str, &RunResult),
    metrics: &[&'static Metric],
    phase: Option<&str>,
    rules: &[Rule],
) -> Result<Comparison, Refused> {
    if base.plan.name != cand.plan.name {
        return Err(Refused(format!(
            "{base_path} is a run of scenario \"{}\" and {cand_path} of \"{}\": compare two runs of the same scenario (the baseline must be a run of the scenario CI runs)",
            base.plan.name, cand.plan.name
        )));
    }
    if let Some(p) = phase {
        let has = |r: &RunResult| r.plan.phases.iter().any(|x| x.name == p);
        if !has(base) && !has(cand) {
            let names: Vec<&str> = base.plan.phases.iter().map(|x| x.name.as_str()).collect();
            return Err(Refused(format!(
                "--phase {p}: neither run has that phase (it has: {})",
                names.join(", ")
            )));
        }
    }
    let mut shown: Vec<&'static Metric> = metrics.to_vec();
    for r in rules {
        if !shown.iter().any(|m| m.name == r.metric.name) {
            shown.push(r.metric);
        }
    }
    let mut notes = Vec::new();
    if base.plan.phases != cand.plan.phases || base.plan.requests != cand.plan.requests {
        notes.push("the two runs' phases or request mix differ: the scenario file changed between them, so differences may come from the load, not the code".into());
    }
    for (side, run) in [("baseline", base), ("candidate", cand)] {
        if run.partial {
            notes.push(format!(
                "the {side} is partial ({}): its figures cover only what ran",
                format!("{:?}", run.status).to_lowercase()
            ));
        }
    }

    let mut configs = Vec::new();
    let mut results = Vec::new();
    let names = (base.configs.iter().map(|c| &c.name)).chain(
        cand.configs
            .iter()
            .map(|c| &c.name)
            .filter(|n| !base.configs.iter().any(|b| &b.name == *n)),
    );
    for name in names {
        let b = base.configs.iter().find(|c| &c.name == name);
        let c = cand.configs.iter().find(|c| &c.name == name);
        let mut cc = ConfigComparison {
            name: name.clone(),
            presence: Presence::Both,
            rows: Vec::new(),
            notes: Vec::new(),
        };
        match (b, c) {
            (Some(b), Some(c)) => {
                let bs = Scope::of(b, phase);
                let cs = Scope::of(c, phase);
                for (side, cfg, scope) in [("baseline", b, &bs), ("candidate", c, &cs)] {
                    if cfg.status != Status::Complete {
                        cc.notes.push(format!(
                            "{side}: {}",
                            format!("{:?}", cfg.status).to_lowercase()
                        ));
                    }
                    if scope.is_none() {
                        cc.notes
                            .push(format!("{side}: no phase {}", phase.unwrap_or_default()));
                    }
                }
                if b.pool != c.pool {
                    cc.notes
                        .push("the pool settings differ between the runs".into());
                }
                for m in &shown {
                    let value = |s: &Option<Scope>| s.as_ref().and_then(|s| s.value(m));
                    cc.rows.push(Row::new(m, value(&bs), value(&cs)));
                }
                for r in rules {
                    let row = cc
                        .rows
                        .iter_mut()
                        .find(|x| x.metric.name == r.metric.name)
                        .expect("rule metrics are shown");
                    let (fired, detail) = rule::judge(r, row.baseline, row.candidate);
                    if fired {
                        row.fired.push(r.text.clone());
                    }
                    results.push(RuleResult {
                        rule: r.text.clone(),
                        config: name.clone(),
                        fired,
                        detail,
                    });
                }
            }
            (Some(_), None) => {
                cc.presence = Presence::BaselineOnly;
                cc.notes.push("missing in the candidate".into());
                for r in rules {
                    results.push(RuleResult {
                        rule: r.text.clone(),
                        config: name.clone(),
                        fired: true,
                        detail: "the config is missing in the candidate, so the rule cannot hold"
                            .into(),
                    });
                }
            }
            _ => {
                cc.presence = Presence::CandidateOnly;
                cc.notes
                    .push("new in the candidate (no baseline to compare with)".into());
            }
        }
        configs.push(cc);
    }
    Ok(Comparison {
        scenario: base.plan.name.clone(),
        baseline: SideInfo::of(base_path, base),
        candidate: SideInfo::of(cand_path, cand),
        phase: phase.map(str::to_string),
        configs,
        regressed: results.iter().any(|r| r.fired),
        rules: results,
        environment: environment::differences(&base.environment, &cand.environment),
        notes,
    })
}

/// Resolves `--metric` names (default: [`metric::DEFAULT_COMPARE`]).
pub fn metrics(names: &[String]) -> Result<Vec<&'static Metric>, String> {
    if names.is_empty() {
        return Ok(metric::DEFAULT_COMPARE
            .iter()
            .map(|n| metric::find(n).expect("default metrics exist"))
            .collect());
    }
    names
        .iter()
        .map(|n| metric::find(n).ok_or_else(|| format!("--metric {n}: {}", metric::unknown(n))))
        .collect()
}
