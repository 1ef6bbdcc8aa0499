//! Checks a run against its scenario's `[[threshold]]`s: one check per threshold and config
//! (`results::ThresholdCheck`), stored in `run.json` and printed as pass/fail lines.

use crate::metric;
use crate::results::{CheckOutcome, RunResult, Scope, Status, ThresholdCheck};

/// Checks every threshold of the run's plan against every config it applies to. Configs the
/// run did not include (`--config`) get no verdict; configs that did not complete count as
/// no data.
pub fn evaluate(run: &RunResult) -> Vec<ThresholdCheck> {
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
                .and_then(|s| s.value(m));
            let outcome = match value {
                None => CheckOutcome::NoData,
                Some(v) if t.min.is_some_and(|lo| v < lo) || t.max.is_some_and(|hi| v > hi) => {
                    CheckOutcome::Fail
                }
                Some(_) => CheckOutcome::Pass,
            };
            out.push(ThresholdCheck {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Threshold;

    use crate::results::test_fixture as fixture;

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
        assert_eq!(v[0].outcome, CheckOutcome::Pass, "{:?}", v[0]);
        assert_eq!(v[2].outcome, CheckOutcome::Fail);
        assert!(
            v[2].line().starts_with("FAIL  dynamic-1: latency_p99 ≤"),
            "{}",
            v[2].line()
        );
        // The external stack gave no PSS: no data, which breaches.
        assert_eq!(v[3].outcome, CheckOutcome::NoData);
        assert!(v[3].line().contains("no data"));
        assert!(crate::results::breached(&v));
        assert!(!crate::results::breached(&v[..2]));
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
            (1, CheckOutcome::Pass, Some(warm))
        );
        run.configs[0].status = Status::Failed;
        assert_eq!(evaluate(&run)[0].outcome, CheckOutcome::NoData);
    }
}
