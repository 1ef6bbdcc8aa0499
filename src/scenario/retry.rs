//! Client behaviours of a phase: retries (which answers, how many attempts, backoff with
//! jitter, a retry budget) and how closed-loop users' think time is drawn. Validated here,
//! before anything starts; `load::retry` carries them out.

use serde::{Deserialize, Serialize};

use super::problems::Problems;
use super::raw::defaults;
use crate::units::parse_duration_ms;

/// What the clients of one phase do beyond sending: the default retries nothing and thinks
/// exactly `think_time`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClientBehaviour {
    /// Retries of failed requests (`None`: a failed request is not retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// How a closed-loop user's think time is drawn, with `think_time_ms` as its mean.
    #[serde(default, skip_serializing_if = "ThinkDist::is_fixed")]
    pub think: ThinkDist,
}

impl ClientBehaviour {
    /// Nothing beyond sending: how most phases are.
    pub fn is_default(&self) -> bool {
        *self == ClientBehaviour::default()
    }
}

/// Distribution of a closed-loop user's think time; every one has `think_time` as its mean,
/// so changing the distribution keeps the offered load.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ThinkDist {
    /// Exactly `think_time`.
    #[default]
    Fixed,
    /// Uniform between 0 and twice `think_time`.
    Uniform,
    /// Exponential with mean `think_time` (users as a Poisson source between requests).
    Exponential,
}

impl ThinkDist {
    fn is_fixed(&self) -> bool {
        *self == ThinkDist::Fixed
    }
}

/// A request failure without a response that a policy may retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetryFailure {
    /// The client timeout expired.
    Timeout,
    /// The connection was refused.
    Refused,
    /// The connection was reset or closed before a response.
    Reset,
    /// The response was cut short.
    Incomplete,
}

/// How the wait before a retry is drawn; `n` counts retries from 0, and the exponential
/// ceiling is `min(cap, base·2ⁿ)` (the names of the AWS Architecture Blog's "Exponential
/// Backoff and Jitter").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// The ceiling itself: every client that failed together retries together.
    None,
    /// Uniform between 0 and the ceiling.
    Full,
    /// Half the ceiling plus a uniform draw over the other half.
    Equal,
    /// Uniform between `base` and three times the previous wait, capped at `cap`.
    Decorrelated,
}

/// Retries of one phase's requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RetryPolicy {
    /// Statuses that are retried.
    pub on_status: Vec<u16>,
    /// Failures without a response that are retried.
    pub on_failure: Vec<RetryFailure>,
    /// Attempts per request, the first included (≥ 2).
    pub attempts: u32,
    /// How the wait before each retry is drawn.
    pub jitter: Jitter,
    /// Backoff base, milliseconds: the first retry's ceiling.
    pub base_ms: u64,
    /// Backoff cap, milliseconds: no wait is longer.
    pub cap_ms: u64,
    /// The phase's retry budget (`None`: unlimited, every retryable failure is retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<RetryBudget>,
}

/// A retry budget shared by all of a phase's clients, as Finagle's `RetryBudget` and gRPC's
/// retry throttling bound retries: over the last `window_ms`, retries may be at most
/// `ratio` × first attempts plus `min_per_s` × the window's seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RetryBudget {
    /// Retries allowed per first attempt in the window (0.1 = 10 %).
    pub ratio: f64,
    /// Retries allowed per second whatever the traffic, so a quiet client can still retry.
    pub min_per_s: f64,
    /// The sliding window, milliseconds.
    pub window_ms: u64,
}

/// `[phase.retry]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub on_status: Option<Vec<i64>>,
    pub on_failure: Option<Vec<String>>,
    pub attempts: Option<i64>,
    pub jitter: Option<String>,
    pub base: Option<String>,
    pub cap: Option<String>,
    pub budget: Option<RawBudget>,
}

/// `[phase.retry.budget]` (or `budget = { ... }`) as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    pub ratio: Option<f64>,
    pub min_per_s: Option<f64>,
    pub window: Option<String>,
}

/// Checks a phase's `retry` and `think_dist` keys. `f` names a field of the phase.
pub(super) fn behaviour(
    p: &mut Problems,
    f: &dyn Fn(&str) -> String,
    retry: Option<&RawRetry>,
    think_dist: Option<&str>,
    pattern: &str,
) -> ClientBehaviour {
    let think = match think_dist {
        None => ThinkDist::Fixed,
        Some(_) if pattern != "closed" => {
            p.push(
                f("think_dist"),
                "think_dist applies to closed-loop users (pattern \"closed\"): remove it",
            );
            ThinkDist::Fixed
        }
        Some("fixed") => ThinkDist::Fixed,
        Some("uniform") => ThinkDist::Uniform,
        Some("exponential") => ThinkDist::Exponential,
        Some(other) => {
            p.push(
                f("think_dist"),
                format!("\"{other}\" is not a think-time distribution: use fixed, uniform or exponential"),
            );
            ThinkDist::Fixed
        }
    };
    ClientBehaviour {
        retry: retry.and_then(|r| policy(p, f, r)),
        think,
    }
}

fn duration(p: &mut Problems, field: String, given: Option<&str>, default: &str) -> u64 {
    parse_duration_ms(given.unwrap_or(default))
        .map_err(|e| p.push(field, e))
        .unwrap_or(0)
}

fn policy(p: &mut Problems, f: &dyn Fn(&str) -> String, r: &RawRetry) -> Option<RetryPolicy> {
    let before = p.0.len();
    let on_status: Vec<u16> = (r.on_status.clone())
        .unwrap_or_else(|| defaults::RETRY_ON_STATUS.to_vec())
        .into_iter()
        .filter_map(|s| match u16::try_from(s) {
            Ok(s) if (200..300).contains(&s) => {
                p.push(
                    f("retry.on_status"),
                    format!("{s} is a success: retrying it sends the request twice; remove it"),
                );
                None
            }
            Ok(s) if (100..=599).contains(&s) => Some(s),
            _ => {
                p.push(
                    f("retry.on_status"),
                    format!("{s} is not an HTTP status: give statuses such as [502, 503, 504]"),
                );
                None
            }
        })
        .collect();
    let on_failure: Vec<RetryFailure> = (r.on_failure.clone())
        .unwrap_or_else(|| defaults::RETRY_ON_FAILURE.iter().map(|s| s.to_string()).collect())
        .iter()
        .filter_map(|s| match s.as_str() {
            "timeout" => Some(RetryFailure::Timeout),
            "refused" => Some(RetryFailure::Refused),
            "reset" => Some(RetryFailure::Reset),
            "incomplete" => Some(RetryFailure::Incomplete),
            other => {
                p.push(f("retry.on_failure"), format!("\"{other}\" is not a failure fpmlab retries: use timeout, refused, reset or incomplete"));
                None
            }
        })
        .collect();
    if on_status.is_empty() && on_failure.is_empty() && p.0.len() == before {
        p.push(f("retry.on_status"), "this policy retries nothing: give on_status (e.g. [503]) or on_failure (e.g. [\"timeout\"]), or remove retry");
    }
    let attempts = match r.attempts.unwrap_or(defaults::RETRY_ATTEMPTS) {
        a @ 2..=10 => a as u32,
        1 => {
            p.push(f("retry.attempts"), "attempts = 1 never retries: give 2 to 10 (the first attempt included), or remove retry");
            0
        }
        a => {
            p.push(
                f("retry.attempts"),
                format!("{a}: give 2 to 10 attempts per request, the first included"),
            );
            0
        }
    };
    let jitter = match r.jitter.as_deref().unwrap_or(defaults::RETRY_JITTER) {
        "none" => Jitter::None,
        "full" => Jitter::Full,
        "equal" => Jitter::Equal,
        "decorrelated" => Jitter::Decorrelated,
        other => {
            p.push(
                f("retry.jitter"),
                format!("\"{other}\" is not a jitter: use full, equal, decorrelated or none"),
            );
            Jitter::Full
        }
    };
    let base_ms = duration(p, f("retry.base"), r.base.as_deref(), defaults::RETRY_BASE);
    let cap_ms = duration(p, f("retry.cap"), r.cap.as_deref(), defaults::RETRY_CAP);
    if base_ms == 0 && p.0.len() == before {
        p.push(
            f("retry.base"),
            "a backoff base of 0 s retries at once, all together: give e.g. base = \"100ms\"",
        );
    }
    if cap_ms < base_ms && p.0.len() == before {
        p.push(f("retry.cap"), format!("the cap ({cap_ms} ms) is below the base ({base_ms} ms): give a cap of at least the base"));
    }
    if cap_ms > 600_000 {
        p.push(
            f("retry.cap"),
            "a cap above 10 min outlasts any run: give at most \"10min\"",
        );
    }
    let budget = r.budget.as_ref().and_then(|b| budget(p, f, b));
    (p.0.len() == before).then_some(RetryPolicy {
        on_status,
        on_failure,
        attempts,
        jitter,
        base_ms,
        cap_ms,
        budget,
    })
}

fn budget(p: &mut Problems, f: &dyn Fn(&str) -> String, b: &RawBudget) -> Option<RetryBudget> {
    let before = p.0.len();
    let ratio = b.ratio.unwrap_or(defaults::RETRY_BUDGET_RATIO);
    if !ratio.is_finite() || !(0.0..=10.0).contains(&ratio) {
        p.push(f("retry.budget.ratio"), format!("{ratio} is not a usable ratio: give retries per first attempt, 0 to 10 (0.1 = 10 %)"));
    }
    let min_per_s = b.min_per_s.unwrap_or(defaults::RETRY_BUDGET_MIN_PER_S);
    if !min_per_s.is_finite() || !(0.0..=1e6).contains(&min_per_s) {
        p.push(
            f("retry.budget.min_per_s"),
            format!("{min_per_s} is not a usable rate: give retries per second, 0 to 1000000"),
        );
    }
    if ratio == 0.0 && min_per_s == 0.0 {
        p.push(f("retry.budget.ratio"), "a budget of 0 % and 0 per second allows no retry: raise ratio or min_per_s, or remove retry");
    }
    let window_ms = duration(
        p,
        f("retry.budget.window"),
        b.window.as_deref(),
        defaults::RETRY_BUDGET_WINDOW,
    );
    if !(1_000..=600_000).contains(&window_ms) && p.0.len() == before {
        p.push(
            f("retry.budget.window"),
            "give a window of 1 s to 10 min, e.g. window = \"10s\"",
        );
    }
    (p.0.len() == before).then_some(RetryBudget {
        ratio,
        min_per_s,
        window_ms,
    })
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;
