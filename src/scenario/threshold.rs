//! `[[threshold]]`: pass/fail limits on a run's metrics, checked at the end of `run` (k6's
//! thresholds, per config and per phase).
//!
//! ```toml
//! [[threshold]]
//! metric = "latency_p99"   # any name of `fpmlab::metric` (aliases such as p99_latency too)
//! max = "800ms"            # and/or min = …; error_rate takes "1%", counts and rates numbers
//! config = "static-4"      # optional: default every config
//! phase = "bursts"         # optional: default the whole run
//! ```

use serde::Deserialize;

use super::plan::{Phase, PoolConfig, Threshold};
use super::problems::Problems;
use crate::metric;

/// One `[[threshold]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThreshold {
    pub metric: Option<String>,
    pub min: Option<RawQuantity>,
    pub max: Option<RawQuantity>,
    pub config: Option<String>,
    pub phase: Option<String>,
}

/// A limit as written: `"800ms"`, `"1%"`, `0.01`, `15`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawQuantity {
    Number(f64),
    Text(String),
}

impl RawQuantity {
    fn text(&self) -> String {
        match self {
            RawQuantity::Number(n) => n.to_string(),
            RawQuantity::Text(t) => t.clone(),
        }
    }
}

/// Validates every `[[threshold]]` against the scenario's configs and phases.
pub fn validate(
    p: &mut Problems,
    raw: &[RawThreshold],
    configs: &[PoolConfig],
    phases: &[Phase],
) -> Vec<Threshold> {
    raw.iter()
        .enumerate()
        .filter_map(|(i, t)| one(p, i, t, configs, phases))
        .collect()
}

fn one(
    p: &mut Problems,
    i: usize,
    t: &RawThreshold,
    configs: &[PoolConfig],
    phases: &[Phase],
) -> Option<Threshold> {
    let before = p.0.len();
    let at = |key: &str| format!("threshold[{i}].{key}");
    let m = match t.metric.as_deref() {
        None => {
            p.push(
                at("metric"),
                "metric is missing: add e.g. metric = \"latency_p99\"",
            );
            None
        }
        Some(name) => metric::find(name).or_else(|| {
            p.push(at("metric"), metric::unknown(name));
            None
        }),
    };
    if t.min.is_none() && t.max.is_none() {
        p.push(
            at("max"),
            "a threshold needs a limit: add max = … (or min = … for throughput), e.g. max = \"800ms\"",
        );
    }
    let limit = |p: &mut Problems, key: &str, q: &Option<RawQuantity>| -> Option<f64> {
        let (m, q) = (m?, q.as_ref()?);
        let parsed = match q {
            RawQuantity::Number(n) if m.unit == metric::Unit::Duration => Err(format!(
                "{n} has no unit: {} is a duration, write e.g. max = \"{n}ms\"",
                m.name
            )),
            _ => m.parse_quantity(&q.text()),
        };
        parsed.map_err(|e| p.push(at(key), e)).ok()
    };
    let min = limit(p, "min", &t.min);
    let max = limit(p, "max", &t.max);
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            p.push(
                at("min"),
                "min is above max: no value could pass; swap them or drop one",
            );
        }
    }
    if let Some(c) = &t.config {
        if !configs.iter().any(|x| &x.name == c) {
            let names: Vec<&str> = configs.iter().map(|x| x.name.as_str()).collect();
            p.push(
                at("config"),
                format!(
                    "no config is named \"{c}\": use one of {}, or remove the key to check every config",
                    names.join(", ")
                ),
            );
        }
    }
    if let Some(ph) = &t.phase {
        if !phases.iter().any(|x| &x.name == ph) {
            let names: Vec<&str> = phases.iter().map(|x| x.name.as_str()).collect();
            p.push(
                at("phase"),
                format!(
                    "no phase is named \"{ph}\": use one of {}, or remove the key to check the whole run",
                    names.join(", ")
                ),
            );
        }
    }
    (p.0.len() == before).then(|| Threshold {
        metric: m.expect("no problems means a metric").name.to_string(),
        min,
        max,
        config: t.config.clone(),
        phase: t.phase.clone(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::scenario::{parse, Driver};

    const BASE: &str = r#"
        [[config]]
        name = "static-4"
        pm = "static"
        max_children = 4
        [[phase]]
        name = "bursts"
        duration = "2s"
        pattern = "constant"
        rate = 1
        [[request]]
        path = "/hello.php"
    "#;

    fn problems(extra: &str) -> Vec<(String, String)> {
        parse(
            &format!("{BASE}\n{extra}"),
            Path::new("t.toml"),
            Driver::Native,
        )
        .unwrap_err()
    }

    #[test]
    fn resolves_limits_in_base_units() {
        let text = format!(
            "{BASE}\n[[threshold]]\nmetric = \"p99_latency\"\nmax = \"800ms\"\nconfig = \"static-4\"\nphase = \"bursts\"\n\
             [[threshold]]\nmetric = \"error_rate\"\nmax = \"1%\"\n\
             [[threshold]]\nmetric = \"achieved_rps\"\nmin = 10\n"
        );
        let (plan, _) = parse(&text, Path::new("t.toml"), Driver::Native).unwrap();
        let t = &plan.thresholds;
        assert_eq!(t[0].metric, "latency_p99");
        assert_eq!(t[0].max, Some(800_000.0));
        assert_eq!(
            t[0].describe(),
            "latency_p99 ≤ 800 ms [static-4, phase bursts]"
        );
        assert_eq!(t[1].max, Some(0.01));
        assert_eq!(t[2].min, Some(10.0));
        assert_eq!(t[2].describe(), "achieved_rps ≥ 10.0/s");
    }

    #[test]
    fn refuses_with_field_and_fix() {
        let p = problems("[[threshold]]\nmetric = \"p98\"\nmax = \"1s\"");
        assert_eq!(p[0].0, "threshold[0].metric");
        assert!(p[0].1.contains("use one of"), "{p:?}");
        let p = problems("[[threshold]]\nmetric = \"latency_p99\"\nmax = 800");
        assert!(p[0].1.contains("\"800ms\""), "{p:?}");
        let p = problems("[[threshold]]\nmetric = \"latency_p99\"");
        assert!(p[0].1.contains("needs a limit"), "{p:?}");
        let p = problems(
            "[[threshold]]\nmetric = \"error_rate\"\nmax = \"1%\"\nconfig = \"x\"\nphase = \"y\"",
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].1.contains("static-4") && p[1].1.contains("bursts"),
            "{p:?}"
        );
        let p = problems("[[threshold]]\nmetric = \"achieved_rps\"\nmin = 20\nmax = 10");
        assert!(p[0].1.contains("min is above max"), "{p:?}");
        let p = problems("[[threshold]]\nmetric = \"latency_p99\"\nbelow = \"1s\"");
        assert!(p[0].1.contains("unknown field"), "{p:?}");
    }
}
