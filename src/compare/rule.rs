//! `--fail-if` rules: `METRIC>CHANGE` or `METRIC<CHANGE`, where CHANGE is relative (`+10%`)
//! or absolute in the metric's unit (`+50ms`, `+0.01` for a ratio, `+3` for a count).
//!
//! `latency_p99>+10%` fires when the candidate's p99 is more than 10 % above the baseline's;
//! `achieved_rps<-5%` fires when throughput fell by more than 5 %.

use serde::Serialize;

use crate::metric::{self, Metric, Unit};

/// Which way a rule looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Fires when the change is above the limit.
    Above,
    /// Fires when the change is below the limit.
    Below,
}

/// How a change is measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// A fraction of the baseline (`+10%` is 0.10).
    Relative(f64),
    /// In the metric's base unit (µs, a 0–1 fraction, …).
    Absolute(f64),
}

/// One parsed rule.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    /// As written.
    pub text: String,
    #[serde(serialize_with = "metric_name")]
    pub metric: &'static Metric,
    pub op: Op,
    pub limit: Limit,
}

fn metric_name<S: serde::Serializer>(m: &&'static Metric, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.name)
}

impl Rule {
    /// Parses `latency_p99>+10%`.
    pub fn parse(text: &str) -> Result<Rule, String> {
        let t = text.trim();
        let Some(at) = t.find(['>', '<']) else {
            return Err(format!(
                "--fail-if '{text}': no comparison: write METRIC>CHANGE or METRIC<CHANGE, e.g. 'latency_p99>+10%'"
            ));
        };
        let (name, rest) = t.split_at(at);
        let op = if rest.starts_with('>') {
            Op::Above
        } else {
            Op::Below
        };
        let value = rest[1..].trim().trim_start_matches('=').trim();
        let metric = metric::find(name)
            .ok_or_else(|| format!("--fail-if '{text}': {}", metric::unknown(name.trim())))?;
        let (sign, magnitude) = match value.strip_prefix('-') {
            Some(m) => (-1.0, m),
            None => (1.0, value.strip_prefix('+').unwrap_or(value)),
        };
        let bad = |why: String| format!("--fail-if '{text}': {why}");
        let limit = match magnitude.strip_suffix('%') {
            Some(pct) => {
                let v: f64 = pct
                    .trim()
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite())
                    .ok_or_else(|| {
                        bad(format!("\"{value}\" is not a percentage: write e.g. +10%"))
                    })?;
                Limit::Relative(sign * v / 100.0)
            }
            None if metric.unit == Unit::Ratio => {
                let v: f64 = magnitude.trim().parse().ok().filter(|v: &f64| v.is_finite()).ok_or_else(|| {
                    bad(format!("\"{value}\" is not a change of a ratio: write e.g. +0.01 (one percentage point) or +10% (relative)"))
                })?;
                Limit::Absolute(sign * v)
            }
            None => Limit::Absolute(sign * metric.parse_quantity(magnitude).map_err(bad)?),
        };
        Ok(Rule {
            text: t.to_string(),
            metric,
            op,
            limit,
        })
    }

    /// Whether the rule fires for a baseline and candidate value (both known; see [`judge`]
    /// for missing sides).
    pub fn fires(&self, baseline: f64, candidate: f64) -> bool {
        let change = match self.limit {
            Limit::Absolute(_) => candidate - baseline,
            Limit::Relative(_) if baseline == 0.0 => {
                if candidate == 0.0 {
                    0.0
                } else {
                    f64::INFINITY.copysign(candidate)
                }
            }
            Limit::Relative(_) => (candidate - baseline) / baseline.abs(),
        };
        let limit = match self.limit {
            Limit::Absolute(v) | Limit::Relative(v) => v,
        };
        match self.op {
            Op::Above => change > limit,
            Op::Below => change < limit,
        }
    }
}

/// A rule's verdict on one config: fired or not, and why in words.
pub fn judge(rule: &Rule, baseline: Option<f64>, candidate: Option<f64>) -> (bool, String) {
    let m = rule.metric;
    match (baseline, candidate) {
        (Some(b), Some(c)) => {
            let fired = rule.fires(b, c);
            let change = match rule.limit {
                Limit::Relative(_) => super::pct_text(b, c),
                Limit::Absolute(_) => m.format_delta(c - b),
            };
            (
                fired,
                format!("{} → {} ({change})", m.format(b), m.format(c)),
            )
        }
        (Some(b), None) => (true, format!("{} → no data in the candidate", m.format(b))),
        (None, Some(c)) => (
            false,
            format!("no baseline data → {} (not judged)", m.format(c)),
        ),
        (None, None) => (false, "no data on either side (not judged)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relative_and_absolute() {
        let r = Rule::parse("p99_latency>+10%").unwrap();
        assert_eq!(
            (r.metric.name, r.op, r.limit),
            ("latency_p99", Op::Above, Limit::Relative(0.10))
        );
        let r = Rule::parse(" error_rate > +0.01 ").unwrap();
        assert_eq!(r.limit, Limit::Absolute(0.01));
        let r = Rule::parse("queue_wait_p99>50ms").unwrap();
        assert_eq!(r.limit, Limit::Absolute(50_000.0));
        let r = Rule::parse("achieved_rps<-5%").unwrap();
        assert_eq!((r.op, r.limit), (Op::Below, Limit::Relative(-0.05)));
        assert!(Rule::parse("latency_p99")
            .unwrap_err()
            .contains("no comparison"));
        assert!(Rule::parse("latency_p98>+1%")
            .unwrap_err()
            .contains("unknown metric"));
        assert!(Rule::parse("latency_p99>+50")
            .unwrap_err()
            .contains("no unit"));
        assert!(Rule::parse("error_rate>lots")
            .unwrap_err()
            .contains("percentage point"));
    }

    #[test]
    fn fires_on_the_right_side() {
        let up = Rule::parse("latency_p99>+10%").unwrap();
        assert!(up.fires(100.0, 111.0));
        assert!(!up.fires(100.0, 110.0), "exactly the limit holds");
        assert!(!up.fires(100.0, 50.0));
        assert!(up.fires(0.0, 1.0), "from zero is an infinite rise");
        assert!(!up.fires(0.0, 0.0));
        let down = Rule::parse("achieved_rps<-5%").unwrap();
        assert!(down.fires(20.0, 18.0));
        assert!(!down.fires(20.0, 19.5));
        let abs = Rule::parse("error_rate>+0.01").unwrap();
        assert!(abs.fires(0.0, 0.02));
        assert!(!abs.fires(0.01, 0.015));
        assert!(
            judge(&up, Some(1.0), None).0,
            "missing candidate data fires"
        );
        assert!(!judge(&up, None, Some(1.0)).0);
    }
}
