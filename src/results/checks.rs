//! The scenario's thresholds as checked at the end of a run: one record per threshold and
//! config, stored in `run.json` (`thresholds`). The checking itself is the thresholds module, above this one.

use serde::{Deserialize, Serialize};

use crate::metric;
use crate::scenario::Threshold;

/// How a threshold came out for one config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    Pass,
    Fail,
    /// The metric had no data (e.g. no request reported a queue wait, the config failed):
    /// counts as a breach, since nothing shows the limit held.
    NoData,
}

/// One threshold checked against one config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ThresholdCheck {
    /// The threshold as resolved from the scenario.
    pub threshold: Threshold,
    /// `latency_p99 ≤ 800 ms [static-4, phase bursts]`.
    pub text: String,
    /// The config it was checked on.
    pub config: String,
    /// The measured value in the metric's base unit, if there was one.
    pub value: Option<f64>,
    pub outcome: CheckOutcome,
}

impl ThresholdCheck {
    /// `PASS  static-4 (phase bursts): latency_p99 ≤ 800 ms: measured 512 ms`.
    pub fn line(&self) -> String {
        let word = if self.outcome == CheckOutcome::Pass {
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
