//! Client behaviours of a phase: retries (which answers, how many attempts, backoff with
//! jitter, a retry budget) and how closed-loop users' think time is drawn. Validated here,
//! before anything starts; `load::retry` carries them out.

pub use super::client::*;
use super::problems::Problems;
use super::raw::{defaults, RawBudget, RawPhase, RawRetry};
use crate::units::parse_duration_ms;

/// Checks a phase's `client_timeout`, `retry` and `think_dist` keys. `f` names a field of
/// the phase; `load_timeout_ms`: `load.client_timeout`, when it is valid.
pub(super) fn behaviour(
    p: &mut Problems,
    f: &dyn Fn(&str) -> String,
    ph: &RawPhase,
    pattern: &str,
    load_timeout_ms: Option<u64>,
) -> ClientBehaviour {
    let think = match ph.think_dist.as_deref() {
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
        timeout_ms: ph
            .client_timeout
            .as_deref()
            .and_then(|t| timeout(p, f, t, load_timeout_ms)),
        retry: ph.retry.as_ref().and_then(|r| policy(p, f, r)),
        think,
    }
}

/// A phase's `client_timeout`: more than 0, and at most `load.client_timeout`, the load
/// balancer's idle timeout, which cuts any request that waits longer.
fn timeout(
    p: &mut Problems,
    f: &dyn Fn(&str) -> String,
    given: &str,
    load_timeout_ms: Option<u64>,
) -> Option<u64> {
    let ms = parse_duration_ms(given)
        .map_err(|e| p.push(f("client_timeout"), e))
        .ok()?;
    if ms == 0 {
        p.push(
            f("client_timeout"),
            "0 would time out every request of the phase: give e.g. client_timeout = \"500ms\", or remove it to use load.client_timeout",
        );
        return None;
    }
    match load_timeout_ms {
        Some(load) if ms > load => {
            p.push(f("client_timeout"), format!("{ms} ms is above load.client_timeout ({load} ms), the load balancer's idle timeout, which cuts a request that waits longer: lower this phase's client_timeout or raise load.client_timeout"));
            None
        }
        _ => Some(ms),
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
