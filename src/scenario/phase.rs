//! Validation of `[[phase]]`s: the arrival pattern picks which keys apply.

use super::plan::{Arrival, Phase};
use super::problems::{check_name, Problems};
use super::raw::RawPhase;
use crate::units::parse_duration_ms;

pub(super) fn phase(
    p: &mut Problems,
    i: usize,
    ph: &RawPhase,
    base_dir: &std::path::Path,
    load_timeout_ms: Option<u64>,
) -> Option<Phase> {
    let before = p.0.len();
    let name = ph
        .name
        .clone()
        .unwrap_or_else(|| format!("phase-{}", i + 1));
    let at = format!("phase[{i}] \"{name}\"");
    let f = |key: &str| format!("{at}.{key}");
    check_name(p, &f("name"), &name);
    if let Some(raw) = &ph.replay {
        return replay_phase(p, &f, name, ph, raw, base_dir, load_timeout_ms);
    }
    if ph.pattern.as_deref() == Some("replay") {
        p.push(
            f("replay"),
            "pattern \"replay\" needs its log: add replay = { log = \"FILE\", format = \"alb\" }",
        );
        return None;
    }
    let duration_ms = match ph.duration.as_deref() {
        None => {
            p.push(
                f("duration"),
                "duration is missing: add e.g. duration = \"20s\"",
            );
            None
        }
        Some(d) => parse_duration_ms(d)
            .map_err(|e| p.push(f("duration"), e))
            .ok(),
    };
    if duration_ms == Some(0) {
        p.push(
            f("duration"),
            "a phase of 0 s sends nothing: give a positive duration",
        );
    }
    let pattern = ph.pattern.as_deref().unwrap_or("");
    let allowed: &[&str] = match pattern {
        "constant" | "poisson" => &["rate"],
        "burst" => &["size", "every"],
        "ramp" => &["from_rate", "to_rate"],
        "closed" => &["users", "think_time"],
        "clients" => &["clients", "every", "disable_on", "tries"],
        "" => {
            p.push(
                f("pattern"),
                "pattern is missing: use constant, poisson, burst, ramp, closed or clients",
            );
            return None;
        }
        other => {
            p.push(
                f("pattern"),
                format!(
                    "unknown pattern \"{other}\": use constant, poisson, burst, ramp, closed, replay or clients"
                ),
            );
            return None;
        }
    };
    let given = pattern_keys(ph);
    for (key, set) in given {
        if set && !allowed.contains(&key) {
            p.push(
                f(key),
                format!(
                    "{key} does not apply to pattern \"{pattern}\" (it takes {}): remove it",
                    allowed.join(", ")
                ),
            );
        }
    }
    let rate = |p: &mut Problems, key: &str, v: Option<f64>, zero_ok: bool| -> f64 {
        match v {
            None => {
                p.push(f(key), format!("{key} is missing for pattern \"{pattern}\": add e.g. {key} = 10 (requests per second)"));
                0.0
            }
            Some(r) if !r.is_finite() || r < 0.0 || (r == 0.0 && !zero_ok) || r > 1e6 => {
                p.push(f(key), format!("{r} is not a usable rate: give requests per second, above 0 and at most 1000000"));
                0.0
            }
            Some(r) => r,
        }
    };
    let arrival = match pattern {
        "constant" => Arrival::Constant {
            rate: rate(p, "rate", ph.rate, false),
        },
        "poisson" => Arrival::Poisson {
            rate: rate(p, "rate", ph.rate, false),
        },
        "ramp" => {
            let from_rate = rate(p, "from_rate", ph.from_rate, true);
            let to_rate = rate(p, "to_rate", ph.to_rate, true);
            if from_rate == 0.0 && to_rate == 0.0 && ph.from_rate.is_some() && ph.to_rate.is_some()
            {
                p.push(
                    f("to_rate"),
                    "a ramp from 0 to 0 sends nothing: give to_rate above 0",
                );
            }
            Arrival::Ramp { from_rate, to_rate }
        }
        "clients" => clients(p, &f, ph)?,
        "burst" => {
            let size = match ph.size {
                Some(s) if (1..=1_000_000).contains(&s) => s as u32,
                Some(s) => {
                    p.push(
                        f("size"),
                        format!("{s} is not a burst size: give 1 to 1000000 requests"),
                    );
                    0
                }
                None => {
                    p.push(f("size"), "size is missing for pattern \"burst\": add e.g. size = 10 (requests per burst)");
                    0
                }
            };
            let every_ms = match ph.every.as_deref() {
                None => {
                    p.push(
                        f("every"),
                        "every is missing for pattern \"burst\": add e.g. every = \"2s\"",
                    );
                    0
                }
                Some(e) => parse_duration_ms(e)
                    .map_err(|e| p.push(f("every"), e))
                    .unwrap_or(0),
            };
            if ph.every.is_some() && every_ms == 0 && p.0.len() == before {
                p.push(
                    f("every"),
                    "bursts every 0 s never end: give a positive interval",
                );
            }
            Arrival::Burst { size, every_ms }
        }
        _ => {
            let users = match ph.users {
                Some(u) if (1..=100_000).contains(&u) => u as u32,
                Some(u) => {
                    p.push(
                        f("users"),
                        format!("{u} is not a user count: give 1 to 100000"),
                    );
                    0
                }
                None => {
                    p.push(
                        f("users"),
                        "users is missing for pattern \"closed\": add e.g. users = 8",
                    );
                    0
                }
            };
            let think_time_ms = ph.think_time.as_deref().map_or(Some(0), |t| {
                parse_duration_ms(t)
                    .map_err(|e| p.push(f("think_time"), e))
                    .ok()
            });
            Arrival::Closed {
                users,
                think_time_ms: think_time_ms.unwrap_or(0),
            }
        }
    };
    let client = super::retry::behaviour(p, &f, ph, pattern, load_timeout_ms);
    if client.retry.is_some() && ph.tries.is_some_and(|t| t > 1) {
        p.push(f("tries"), "tries retries a batch at once, retry with backoff: give one of them (with retry, attempts says how many tries)");
    }
    (p.0.len() == before).then(|| Phase {
        name,
        duration_ms: duration_ms.unwrap_or(0),
        arrival,
        client,
    })
}

/// A phase with `replay = {...}`: its length comes from the window and the speed, so no
/// other arrival key applies.
fn replay_phase(
    p: &mut Problems,
    f: &dyn Fn(&str) -> String,
    name: String,
    ph: &RawPhase,
    raw: &super::raw::RawReplay,
    base_dir: &std::path::Path,
    load_timeout_ms: Option<u64>,
) -> Option<Phase> {
    let before = p.0.len();
    if ph.pattern.as_deref().is_some_and(|pat| pat != "replay") {
        p.push(f("pattern"), "a phase with replay takes its arrivals from the log: remove pattern (or write pattern = \"replay\")");
    }
    if ph.duration.is_some() {
        p.push(f("duration"), "a replay phase lasts its window divided by the speed: remove duration, and set replay.from and replay.to to choose the window");
    }
    let given = pattern_keys(ph);
    for (key, _) in given.iter().filter(|(_, set)| *set) {
        p.push(
            f(key),
            format!(
                "{key} does not apply to a replay phase (arrivals come from the log): remove it"
            ),
        );
    }
    let (replay, duration_ms) = super::replay_phase::replay(p, f, base_dir, raw)?;
    let client = super::retry::behaviour(p, f, ph, "replay", load_timeout_ms);
    (p.0.len() == before).then(|| Phase {
        name,
        duration_ms,
        arrival: Arrival::Replay(Box::new(replay)),
        client,
    })
}

/// Expected number of requests a phase schedules (closed loop: none are scheduled ahead).
pub fn expected_requests(ph: &Phase) -> f64 {
    let secs = ph.duration_ms as f64 / 1000.0;
    match &ph.arrival {
        Arrival::Constant { rate } | Arrival::Poisson { rate } => rate * secs,
        Arrival::Ramp { from_rate, to_rate } => (from_rate + to_rate) / 2.0 * secs,
        Arrival::Burst { size, every_ms } => {
            f64::from(*size) * (ph.duration_ms as f64 / *every_ms as f64).ceil()
        }
        Arrival::Closed { .. } => 0.0,
        Arrival::Replay(r) => r.requests as f64,
        Arrival::Clients {
            clients, every_ms, ..
        } => f64::from(*clients) * (ph.duration_ms as f64 / *every_ms as f64).ceil(),
    }
}

fn clients(p: &mut Problems, f: &dyn Fn(&str) -> String, ph: &RawPhase) -> Option<Arrival> {
    let before = p.0.len();
    let clients = match ph.clients {
        Some(c) if (1..=100_000).contains(&c) => c as u32,
        Some(c) => {
            p.push(
                f("clients"),
                format!("{c} is not a client count: give 1 to 100000"),
            );
            0
        }
        None => {
            p.push(
                f("clients"),
                "clients is missing for pattern \"clients\": add e.g. clients = 100",
            );
            0
        }
    };
    let every_ms = match ph.every.as_deref() {
        None => {
            p.push(f("every"), "every is missing for pattern \"clients\": how often each client sends, e.g. every = \"1s\"");
            0
        }
        Some(e) => parse_duration_ms(e)
            .map_err(|e| p.push(f("every"), e))
            .unwrap_or(0),
    };
    if every_ms == 0 && p.0.len() == before {
        p.push(f("every"), "every 0 s never ends: give a positive interval");
    }
    let disable_on: Vec<u16> = (ph.disable_on.clone().unwrap_or_default().into_iter())
        .filter_map(|s| match u16::try_from(s) {
            Ok(s) if (100..=599).contains(&s) => Some(s),
            _ => {
                p.push(
                    f("disable_on"),
                    format!("{s} is not an HTTP status: give statuses such as [401]"),
                );
                None
            }
        })
        .collect();
    let tries = match ph.tries.unwrap_or(1) {
        t if (1..=100).contains(&t) => t as u32,
        t => {
            p.push(f("tries"), format!("{t}: give 1 to 100 tries per batch"));
            1
        }
    };
    (p.0.len() == before).then_some(Arrival::Clients {
        clients,
        every_ms,
        disable_on,
        tries,
    })
}

/// Each pattern-specific key of a phase and whether it is set: what a pattern that does not
/// take a key refuses (replay phases refuse them all).
fn pattern_keys(ph: &RawPhase) -> [(&'static str, bool); 10] {
    [
        ("rate", ph.rate.is_some()),
        ("from_rate", ph.from_rate.is_some()),
        ("to_rate", ph.to_rate.is_some()),
        ("size", ph.size.is_some()),
        ("every", ph.every.is_some()),
        ("users", ph.users.is_some()),
        ("think_time", ph.think_time.is_some()),
        ("clients", ph.clients.is_some()),
        ("disable_on", ph.disable_on.is_some()),
        ("tries", ph.tries.is_some()),
    ]
}
