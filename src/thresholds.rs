//! Checks a run against its scenario's `[[threshold]]`s: one verdict per threshold and
//! config, stored in `run.json` and printed as pass/fail lines.

use serde::{Deserialize, Serialize};

use crate::metric::{self, Scope};
use crate::results::{RunResult, Status};
use crate::scenario::Threshold;

/// How a threshold came out for one config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    /// The metric had no data (e.g. no request reported a queue wait, the config failed):
    /// counts as a breach, since nothing shows the limit held.
    NoData,
}

/// One threshold checked against one config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The threshold as resolved from the scenario.
    pub threshold: Threshold,
    /// `latency_p99 ≤ 800 ms [static-4, phase bursts]`.
    pub text: String,
    /// The config it was checked on.
    pub config: String,
    /// The measured value in the metric's base unit, if there was one.
    pub value: Option<f64>,
    pub outcome: Outcome,
}

impl Verdict {
    /// `PASS  static-4 (phase bursts): latency_p99 ≤ 800 ms: measured 512 ms`.
    pub fn line(&self) -> String {
        let word = if self.outcome == Outcome::Pass {
            "PASS"
        } else {
            "FAIL"
        };
        format!("{word}  {}", self.body())
    }

    /// The line without its verdict word.
    pub fn body(&self) -> String {
        let m = metric::find(&self.threshold.metric).expect("validated metric name");
        let value = self.value.map_or("no data".to_string(), |v| m.format(v));
        let text = self.text.split(" [").next().unwrap_or(&self.text);
        let phase =
            (self.threshold.phase.as_ref()).map_or(String::new(), |p| format!(" (phase {p})"));
        format!("{}{phase}: {text}: measured {value}", self.config)
    }
}

/// Checks every threshold of the run's plan against every config it applies to. Configs the
/// run did not include (`--config`) get no verdict; configs that did not complete count as
/// no data.
pub fn evaluate(run: &RunResult) -> Vec<Verdict> {
    let mut out = Vec::new();
    for t in &run.plan.thresholds {
        let m = metric::find(&t.metric).expect("validated metric name");
        for c in &run.configs {
            if t.config.as_ref().is_some_and(|n| n != &c.name) {
                continue;
            }
            let ran = matches!(c.status, Status::Complete | Status::Interrupted);
            let value = Scope::of(c, t.phase.as_deref())
                .filter(|_| ran)
                .and_then(|s| m.value(&s));
            let outcome = match value {
                None => Outcome::NoData,
                Some(v) if t.min.is_some_and(|lo| v < lo) || t.max.is_some_and(|hi| v > hi) => {
                    Outcome::Fail
                }
                Some(_) => Outcome::Pass,
            };
            out.push(Verdict {
                threshold: t.clone(),
                text: t.describe(),
                config: c.name.clone(),
                value,
                outcome,
            });
        }
    }
    out
}

/// True if any verdict is not a pass.
pub fn breached(verdicts: &[Verdict]) -> bool {
    verdicts.iter().any(|v| v.outcome != Outcome::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> RunResult {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/bursts/run.json"
        );
        RunResult::load(std::path::Path::new(path)).unwrap()
    }

    fn threshold(metric: &str, min: Option<f64>, max: Option<f64>) -> Threshold {
        Threshold {
            metric: metric.into(),
            min,
            max,
            config: None,
            phase: None,
        }
    }

    #[test]
    fn pass_fail_and_no_data() {
        let mut run = fixture();
        let p99 = run.configs[0].recorded.summary.latency.p99_us as f64;
        run.plan.thresholds = vec![
            threshold("latency_p99", None, Some(p99)),
            threshold("latency_p99", None, Some(p99 - 1.0)),
            threshold("peak_pool_mib", None, Some(1.0)),
        ];
        run.plan.thresholds[1].config = Some(run.configs[0].name.clone());
        let v = evaluate(&run);
        assert_eq!(v.len(), 2 + 1 + 2, "{v:?}");
        assert_eq!(v[0].outcome, Outcome::Pass, "{:?}", v[0]);
        assert_eq!(v[2].outcome, Outcome::Fail);
        assert!(
            v[2].line().starts_with("FAIL  dynamic-1: latency_p99 ≤"),
            "{}",
            v[2].line()
        );
        // The external stack gave no PSS: no data, which breaches.
        assert_eq!(v[3].outcome, Outcome::NoData);
        assert!(v[3].line().contains("no data"));
        assert!(breached(&v));
        assert!(!breached(&v[..2]));
    }

    #[test]
    fn phase_scope_reads_the_phase() {
        let mut run = fixture();
        let c = &run.configs[0];
        let warm = c.recorded.phases[0].summary.latency.p99_us as f64;
        let mut t = threshold("latency_p99", None, Some(warm));
        t.phase = Some(c.recorded.phases[0].name.clone());
        t.config = Some(c.name.clone());
        run.plan.thresholds = vec![t];
        let v = evaluate(&run);
        assert_eq!(
            (v.len(), v[0].outcome, v[0].value),
            (1, Outcome::Pass, Some(warm))
        );
        run.configs[0].status = Status::Failed;
        assert_eq!(evaluate(&run)[0].outcome, Outcome::NoData);
    }
}
