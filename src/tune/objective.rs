//! What `fpmlab tune` must achieve and may spend: the objective (p99 latency, error share),
//! the memory budget and the time cap, from the flags or the scenario's `[tune]` section
//! (flags win). Checked before anything starts; every problem names the flag or field and
//! the fix.

use crate::scenario::raw::RawTune;
use crate::scenario::{Arrival, Plan};
use crate::units::{parse_duration_ms, parse_mib};

pub use crate::results::tune::Settings;

/// Default `--max-time`: the "under 5 minutes" for the shipped example.
pub const DEFAULT_MAX_TIME: &str = "5m";
/// Reserve kept for the OS, nginx and the rest when no budget is given: the host's memory
/// less this.
pub const DEFAULT_RESERVE_MIB: u64 = 1024;

/// The flags of `fpmlab tune`, as given.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub p99: Option<String>,
    pub max_errors: Option<String>,
    pub memory: Option<String>,
    pub memory_reserve: Option<String>,
    pub max_time: Option<String>,
}

/// Validates flags and section against the plan. `host_mib` is this machine's memory.
pub fn settings(
    flags: &Flags,
    section: Option<&RawTune>,
    plan: &Plan,
    host_mib: u64,
) -> Result<Settings, Vec<(String, String)>> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let s = section.cloned().unwrap_or_default();
    // (value, where it was given)
    let pick = |flag: &Option<String>, field: &Option<String>, f: &str, k: &str| match (flag, field)
    {
        (Some(v), _) => Some((v.clone(), format!("--{f}"))),
        (None, Some(v)) => Some((v.clone(), format!("tune.{k}"))),
        _ => None,
    };
    let lb_ms = plan.load.client_timeout_ms as f64;
    let p99_ms = match pick(&flags.p99, &s.p99, "p99", "p99") {
        None => {
            problems.push(("--p99".into(), "the latency objective is missing: pass e.g. --p99 800ms (or p99 = \"800ms\" under [tune])".into()));
            0.0
        }
        Some((v, at)) => match parse_duration_ms(&v) {
            Err(e) => {
                problems.push((at, format!("{e}: give e.g. 800ms")));
                0.0
            }
            Ok(0) => {
                problems.push((at, "a p99 of 0 ms is unreachable: give e.g. 800ms".into()));
                0.0
            }
            Ok(ms) if ms as f64 >= lb_ms => {
                problems.push((at, format!("{v} is not below load.client_timeout ({lb_ms} ms, the load balancer's idle timeout): requests that slow are cut anyway; give a lower p99")));
                0.0
            }
            Ok(ms) => ms as f64,
        },
    };
    let max_error_share = match pick(&flags.max_errors, &s.max_errors, "max-errors", "max_errors") {
        None => 0.001,
        Some((v, at)) => {
            match share(&v) {
                Some(x) if (0.0..0.5).contains(&x) => x,
                Some(_) => {
                    problems.push((at, format!("{v} is not a usable error objective: give a share below 50 %, e.g. 0.1%")));
                    0.0
                }
                None => {
                    problems.push((at, format!("\"{v}\" is not a share: give a percentage such as 0.1% or a fraction such as 0.001")));
                    0.0
                }
            }
        }
    };
    let memory = pick(&flags.memory, &s.memory, "memory", "memory");
    let reserve = pick(
        &flags.memory_reserve,
        &s.memory_reserve,
        "memory-reserve",
        "memory_reserve",
    );
    let mib = |p: &mut Vec<(String, String)>, (v, at): &(String, String)| match parse_mib(v) {
        Ok(0) => {
            p.push((at.clone(), "0 MiB holds no worker: give e.g. 2GiB".into()));
            None
        }
        Ok(m) => Some(m),
        Err(e) => {
            p.push((at.clone(), format!("{e}: give e.g. 2GiB or 512MiB")));
            None
        }
    };
    let (memory_budget_mib, memory_source) = match (&memory, &reserve) {
        (Some(m), Some(_)) => {
            problems.push((m.1.clone(), "--memory and --memory-reserve both given: the budget is either a number or the host's memory less a reserve; keep one".into()));
            (0.0, String::new())
        }
        (Some(m), None) => {
            let v = mib(&mut problems, m).unwrap_or(0);
            if let Some(limit) = plan.stack.memory_mib.filter(|&l| v > l) {
                problems.push((m.1.clone(), format!("{v} MiB is above the stack's own limit (stack.memory = {limit} MiB): the container could not hold it; give at most {limit}MiB")));
            }
            if v > host_mib {
                problems.push((m.1.clone(), format!("{v} MiB is more than this machine has ({host_mib} MiB): give less, or use --memory-reserve")));
            }
            (v as f64, format!("{} = {v} MiB", m.1))
        }
        (None, Some(r)) => {
            let v = mib(&mut problems, r).unwrap_or(0);
            if v >= host_mib {
                problems.push((r.1.clone(), format!("a reserve of {v} MiB leaves nothing of this machine's {host_mib} MiB: give a smaller reserve")));
            }
            (host_mib.saturating_sub(v) as f64, format!("host memory {host_mib} MiB less {} = {v} MiB", r.1))
        }
        (None, None) => match plan.stack.memory_mib {
            Some(l) => (l as f64, format!("the container limit, stack.memory = {l} MiB")),
            None => (
                host_mib.saturating_sub(DEFAULT_RESERVE_MIB).max(1) as f64,
                format!("host memory {host_mib} MiB less a default reserve of {DEFAULT_RESERVE_MIB} MiB"),
            ),
        },
    };
    let max_time_s = match pick(&flags.max_time, &s.max_time, "max-time", "max_time") {
        None => parse_duration_ms(DEFAULT_MAX_TIME).unwrap_or(300_000) / 1000,
        Some((v, at)) => {
            match parse_duration_ms(&v) {
                Ok(ms) if ms >= 10_000 => ms / 1000,
                Ok(_) => {
                    problems.push((at, format!("{v} is too short to measure even one point: give at least 10s, e.g. 5m")));
                    0
                }
                Err(e) => {
                    problems.push((at, format!("{e}: give e.g. 5m")));
                    0
                }
            }
        }
    };
    for (i, ph) in plan.phases.iter().enumerate() {
        if matches!(ph.arrival, Arrival::Closed { .. }) {
            problems.push((format!("phase[{i}] \"{}\".pattern", ph.name), "tune needs an open arrival pattern (constant, poisson, burst or ramp): a closed loop adapts its rate to the pool, so there is no traffic to hold; change the pattern".into()));
        }
    }
    if problems.is_empty() {
        Ok(Settings {
            p99_ms,
            max_error_share,
            memory_budget_mib,
            memory_source,
            max_time_s,
        })
    } else {
        Err(problems)
    }
}

/// The scenario file's `[tune]` section, if it has one (the file already validated).
pub fn section(scenario: &std::path::Path) -> Option<RawTune> {
    let text = std::fs::read_to_string(scenario).ok()?;
    toml::from_str::<crate::scenario::raw::RawScenario>(&text)
        .ok()?
        .tune
}

/// What `fpmlab validate` says of a `[tune]` section on its own (no flags): the problems
/// (field, fix), and a warning when the objective is left to `--p99`.
pub fn check_section(
    section: &RawTune,
    plan: &Plan,
    host_mib: u64,
) -> (Vec<(String, String)>, Vec<String>) {
    match settings(&Flags::default(), Some(section), plan, host_mib) {
        Ok(_) => (Vec::new(), Vec::new()),
        Err(problems) => {
            let (missing, rest): (Vec<_>, Vec<_>) =
                problems.into_iter().partition(|(f, _)| f == "--p99");
            let warnings = missing
                .iter()
                .map(|_| {
                    "tune.p99 is not set: fpmlab tune will need --p99 (e.g. --p99 800ms)"
                        .to_string()
                })
                .collect();
            (rest, warnings)
        }
    }
}

/// "0.1%" → 0.001; "0.001" → 0.001.
fn share(text: &str) -> Option<f64> {
    let t = text.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => t.parse::<f64>().ok()?,
    };
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares() {
        assert_eq!(share("0.1%"), Some(0.001));
        assert_eq!(share("0.002"), Some(0.002));
        assert_eq!(share("x%"), None);
    }
}
