//! `[fleet]` and `[[event]]` checked against each other and against the timeline, before
//! anything starts: an event after the load ends, on an instance that is not there (not yet
//! added, already killed or removed), or a balancer the ALB could not be, is refused with
//! its field and the fix.

use super::raw::{defaults, RawBalancer, RawEvent, RawFleet, RawInstance};
use super::{Algorithm, Balancer, Cold, EventAction, Fleet, FleetEvent, InstanceSpec};
use crate::scenario::problems::{check_name, dur, Problems};
use crate::scenario::{Driver, PoolConfig};
use crate::units::parse_mib;

/// Where an instance is on the timeline while events are replayed.
#[derive(Clone, Copy, PartialEq)]
enum Presence {
    Serving,
    Killed,
    Removed,
}

/// Validates the fleet and its events. `load_ms`: the phases' total length (events must
/// fall inside it). `None` when there is no `[fleet]` (and then no event either) or on a
/// problem.
#[allow(clippy::too_many_arguments)]
pub fn validate(
    p: &mut Problems,
    warnings: &mut Vec<String>,
    fleet: Option<&RawFleet>,
    events: &[RawEvent],
    configs: &[PoolConfig],
    load_ms: u64,
    driver: &Driver,
    cores: usize,
) -> Option<Fleet> {
    let Some(raw) = fleet else {
        if !events.is_empty() {
            p.push("event", "[[event]] acts on fleet instances, and there is no [fleet]: add [fleet] instances = 2 (or remove the events)");
        }
        return None;
    };
    let before = p.0.len();
    if let Driver::External { .. } = driver {
        p.push("fleet", "a fleet starts its own instances, and an external stack is one you run: pass --stack native or --stack docker (or remove [fleet])");
    }
    let n = raw.instances.unwrap_or(2);
    if n < 1 || n as usize > defaults::MAX_INSTANCES {
        p.push(
            "fleet.instances",
            format!("{n} instances: give 1 to {}", defaults::MAX_INSTANCES),
        );
    }
    let n = n.clamp(1, defaults::MAX_INSTANCES as i64) as usize;
    if raw.instance.len() > n {
        p.push("fleet.instance", format!("{} [[fleet.instance]] entries for {n} instances: remove the extra ones (added instances take their settings from their event)", raw.instance.len()));
    }
    let mut instances: Vec<InstanceSpec> = (0..n)
        .map(|i| {
            let field = format!("fleet.instance[{i}]");
            let over = raw.instance.get(i);
            instance_spec(
                p,
                &field,
                &format!("i{}", i + 1),
                true,
                over,
                configs,
                cores,
            )
        })
        .collect();
    let balancer = balancer(p, &raw.balancer);
    let timed = timeline(p, events, &mut instances, configs, load_ms, cores);
    if *driver == Driver::Docker {
        super::docker::limits(p, raw, events, &instances, cores);
    }
    let events = timed;
    if let Some(b) = &balancer {
        if b.interval_ms * u64::from(b.unhealthy_threshold) >= load_ms {
            warnings.push(format!("fleet.balancer: {} failed checks every {} ms take longer than the load ({load_ms} ms): no instance can be taken out during the run", b.unhealthy_threshold, b.interval_ms));
        }
    }
    if p.0.len() > before {
        return None;
    }
    Some(Fleet {
        instances,
        balancer: balancer?,
        events,
    })
}

fn instance_spec(
    p: &mut Problems,
    field: &str,
    name: &str,
    initial: bool,
    over: Option<&RawInstance>,
    configs: &[PoolConfig],
    cores: usize,
) -> InstanceSpec {
    let default = RawInstance::default();
    let over = over.unwrap_or(&default);
    if let Some(pool) = &over.pool {
        if !configs.iter().any(|c| &c.name == pool) {
            let names: Vec<&str> = configs.iter().map(|c| c.name.as_str()).collect();
            p.push(
                format!("{field}.pool"),
                format!("\"{pool}\" is no [[config]]: name one of {names:?}"),
            );
        }
    }
    if over.pm.is_some() && over.pool.is_some() {
        p.push(format!("{field}.pm"), "both pool and pm: name a [[config]] with pool, or give the instance's own pool with pm, max_children, ...");
    }
    if over.pm.is_none() && over.max_children.is_some() {
        p.push(
            format!("{field}.max_children"),
            "an instance's own pool needs pm too, e.g. pm = \"static\"",
        );
    }
    crate::scenario::problems::cpuset(p, &format!("{field}.cpuset"), &over.cpuset, cores);
    if let Some(c) = over.cpus {
        if !(c > 0.0 && c.is_finite()) {
            p.push(
                format!("{field}.cpus"),
                format!("{c} is not a CPU quota: give a positive number of cores, e.g. 1"),
            );
        }
    }
    let memory_mib = over.memory.as_deref().and_then(|m| {
        parse_mib(m)
            .map_err(|e| p.push(format!("{field}.memory"), e))
            .ok()
    });
    InstanceSpec {
        name: name.into(),
        initial,
        pool: over.pool.clone(),
        // Built by the scenario's validator, which knows pools (see `own_pools`).
        own_pool: None,
        cpuset: over.cpuset.clone(),
        cpus: over.cpus,
        memory_mib,
    }
}

fn balancer(p: &mut Problems, b: &RawBalancer) -> Option<Balancer> {
    let f = |k: &str| format!("fleet.balancer.{k}");
    let algorithm = match b.algorithm.as_deref().unwrap_or(defaults::ALGORITHM) {
        "round_robin" => Some(Algorithm::RoundRobin),
        "least_outstanding" => Some(Algorithm::LeastOutstanding),
        other => {
            p.push(
                f("algorithm"),
                format!(
                    "\"{other}\" is not an algorithm: use \"round_robin\" or \"least_outstanding\""
                ),
            );
            None
        }
    };
    let health_check = b
        .health_check
        .clone()
        .unwrap_or_else(|| defaults::HEALTH_CHECK.into());
    let default_path = match health_check.as_str() {
        "shallow" => "/nginx-health",
        "deep" => "/fpmlab-health",
        other => {
            p.push(f("health_check"), format!("\"{other}\" is not a health check: use \"shallow\" (nginx alone answers) or \"deep\" (through php-fpm's main pool)"));
            "/"
        }
    };
    let health_path = b.health_path.clone().unwrap_or_else(|| default_path.into());
    if !health_path.starts_with('/') || health_path.contains(char::is_whitespace) {
        p.push(
            f("health_path"),
            format!("\"{health_path}\" is not a path: start it with '/', no spaces"),
        );
    }
    let interval = dur(p, &f("interval"), b.interval.as_deref(), defaults::INTERVAL);
    let timeout = dur(p, &f("timeout"), b.timeout.as_deref(), defaults::TIMEOUT);
    if let Some(i) = interval.filter(|i| !(100..=300_000).contains(i)) {
        p.push(
            f("interval"),
            format!("{i} ms: give 100ms to 300s (ALB: 5s to 300s)"),
        );
    }
    if let (Some(i), Some(t)) = (interval, timeout) {
        if t == 0 || t >= i {
            p.push(f("timeout"), format!("{t} ms is not below the interval ({i} ms): the ALB requires timeout < interval; lower it"));
        }
    }
    let threshold = |p: &mut Problems, key: &str, v: Option<i64>, default: u32| {
        let v = v.unwrap_or(i64::from(default));
        if !(1..=10).contains(&v) {
            p.push(
                f(key),
                format!("{v}: give 1 to 10 consecutive checks (ALB: 2 to 10)"),
            );
        }
        v.clamp(1, 10) as u32
    };
    let healthy_threshold = threshold(
        p,
        "healthy_threshold",
        b.healthy_threshold,
        defaults::HEALTHY,
    );
    let unhealthy_threshold = threshold(
        p,
        "unhealthy_threshold",
        b.unhealthy_threshold,
        defaults::UNHEALTHY,
    );
    let idle = dur(
        p,
        &f("idle_timeout"),
        b.idle_timeout.as_deref(),
        defaults::IDLE_TIMEOUT,
    );
    if let Some(i) = idle.filter(|i| !(100..=4_000_000).contains(i)) {
        p.push(
            f("idle_timeout"),
            format!("{i} ms: give 100ms to 4000s (ALB: 1s to 4000s)"),
        );
    }
    let slow = dur(
        p,
        &f("slow_start"),
        b.slow_start.as_deref(),
        defaults::SLOW_START,
    );
    if slow.unwrap_or(0) > 0 && algorithm == Some(Algorithm::LeastOutstanding) {
        p.push(f("slow_start"), "an ALB cannot combine slow start with least outstanding requests: use algorithm = \"round_robin\" or slow_start = \"0s\"");
    }
    Some(Balancer {
        algorithm: algorithm?,
        health_check,
        health_path,
        interval_ms: interval?,
        timeout_ms: timeout?,
        healthy_threshold,
        unhealthy_threshold,
        idle_timeout_ms: idle?,
        slow_start_ms: slow?,
    })
}

/// Replays the events in time order against the instances, appending the ones they add.
fn timeline(
    p: &mut Problems,
    raw: &[RawEvent],
    instances: &mut Vec<InstanceSpec>,
    configs: &[PoolConfig],
    load_ms: u64,
    cores: usize,
) -> Vec<FleetEvent> {
    let mut presence: Vec<Presence> = vec![Presence::Serving; instances.len()];
    let mut timed: Vec<(u64, usize)> = raw
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let field = format!("event[{i}].at");
            let Some(at) = e.at.as_deref() else {
                p.push(field, "missing: say when, e.g. at = \"10s\" (after the load's start)");
                return None;
            };
            let at = dur(p, &field, Some(at), "0s")?;
            if at >= load_ms {
                p.push(field, format!("{at} ms is not before the load ends ({load_ms} ms after its start): move it earlier or lengthen a phase"));
            }
            Some((at, i))
        })
        .collect();
    timed.sort();
    let mut out = Vec::new();
    for (at, i) in timed {
        let e = &raw[i];
        let field = |k: &str| format!("event[{i}].{k}");
        let action = e.action.as_deref().unwrap_or("");
        if e.cold.is_some() && !matches!(action, "add" | "scale_out") {
            p.push(field("cold"), "only an instance that joins can be cold: use it with action = \"add\" or \"scale_out\"");
        }
        match action {
            "add" | "scale_out" => {
                let count = if action == "add" { 1 } else { e.count.unwrap_or(1) };
                if !(1..=defaults::MAX_INSTANCES as i64).contains(&count) {
                    p.push(field("count"), format!("{count}: give 1 to {}", defaults::MAX_INSTANCES));
                    continue;
                }
                if action == "scale_out" && e.instance.is_some() {
                    p.push(field("instance"), "scale_out names its instances itself (i<N+1>, ...): remove instance, or use action = \"add\"");
                }
                let cold = e.cold.as_ref().and_then(|c| cold(p, &field("cold"), c));
                for _ in 0..count {
                    let name = match (&e.instance, action) {
                        (Some(n), "add") => n.clone(),
                        _ => format!("i{}", instances.len() + 1),
                    };
                    check_name(p, &field("instance"), &name);
                    if instances.iter().any(|s| s.name == name) {
                        p.push(field("instance"), format!("\"{name}\" is already in the fleet: give the new instance another name, or leave instance out"));
                        continue;
                    }
                    let over = RawInstance {
                        pool: e.pool.clone(),
                        cpuset: e.cpuset.clone(),
                        ..RawInstance::default()
                    };
                    let spec = instance_spec(p, &field("instance"), &name, false, Some(&over), configs, cores);
                    instances.push(spec);
                    presence.push(Presence::Serving);
                    out.push(FleetEvent { at_ms: at, instance: name, action: EventAction::Add { cold: cold.clone() } });
                }
                if instances.len() > defaults::MAX_INSTANCES {
                    p.push(field("action"), format!("the fleet would grow to {} instances, over {}: add fewer", instances.len(), defaults::MAX_INSTANCES));
                }
            }
            "kill" | "drain" | "remove" | "throttle" => {
                let Some(name) = &e.instance else {
                    p.push(field("instance"), format!("{action} needs the instance it acts on, e.g. instance = \"i1\""));
                    continue;
                };
                let Some(k) = instances.iter().position(|s| &s.name == name) else {
                    let known: Vec<&str> = instances.iter().map(|s| s.name.as_str()).collect();
                    p.push(field("instance"), format!("no instance \"{name}\" at {at} ms (the fleet then has {known:?}): name one of those, or add it earlier"));
                    continue;
                };
                match presence[k] {
                    Presence::Killed => p.push(field("instance"), format!("\"{name}\" was killed before {at} ms: nothing is left to {action}; remove the event or move it earlier")),
                    Presence::Removed if action != "kill" => p.push(field("instance"), format!("\"{name}\" was removed before {at} ms: remove the event or move it earlier")),
                    _ => {}
                }
                let act = match action {
                    "kill" => {
                        presence[k] = Presence::Killed;
                        EventAction::Kill
                    }
                    "drain" => EventAction::Drain,
                    "remove" => {
                        presence[k] = Presence::Removed;
                        EventAction::Remove
                    }
                    _ => {
                        let share = e.cpu_share.unwrap_or(f64::NAN);
                        if !(share > 0.0 && share < 1.0) {
                            p.push(field("cpu_share"), "throttle needs cpu_share between 0 and 1 (exclusive), e.g. 0.25: the share of time its php-fpm may run");
                        }
                        let for_ms = e.for_.as_deref().and_then(|f| dur(p, &field("for"), Some(f), "0s"));
                        EventAction::Throttle { cpu_share: share, for_ms }
                    }
                };
                out.push(FleetEvent { at_ms: at, instance: name.clone(), action: act });
            }
            other => p.push(field("action"), format!("\"{other}\" is not an event: use add, kill, drain, remove, throttle or scale_out")),
        }
    }
    out
}

fn cold(p: &mut Problems, field: &str, c: &super::raw::RawCold) -> Option<Cold> {
    let status = c.status.unwrap_or(503);
    if !(200..=599).contains(&status) {
        p.push(
            format!("{field}.status"),
            format!("{status} is not an HTTP status to answer: give 200 to 599, e.g. 401"),
        );
    }
    let Some(f) = c.for_.as_deref() else {
        p.push(
            format!("{field}.for"),
            "missing: how long the instance stays cold after it joins, e.g. for = \"20s\"",
        );
        return None;
    };
    let for_ms = dur(p, &format!("{field}.for"), Some(f), "0s")?;
    if for_ms == 0 {
        p.push(
            format!("{field}.for"),
            "0 s is not cold at all: give a window, e.g. \"20s\", or remove cold",
        );
    }
    Some(Cold {
        status: status.clamp(200, 599) as u16,
        for_ms,
    })
}
