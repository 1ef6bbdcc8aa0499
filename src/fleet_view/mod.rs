//! The fleet view of one config's run: which instance served or failed each request (from
//! the balancer's log), per-instance status codes, latency, php-fpm queue wait and service,
//! the health state of each instance as the balancer saw it over time, and why each failed
//! request failed, in the ALB's codes and causes.

pub mod log;
pub mod sampled;
pub mod timeline;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::FailedList;
use crate::stack::fleet::haproxy::{FAIL_OPEN_SUFFIX, LOG_TAG};
use crate::stack::fleet::{EventRecord, FleetRecord, HealthChange};
use log::{alb_code, BalancerLine};
pub use sampled::{fleet_peaks, InstanceSampled, SampledFold, SampledReading, SampledSecond};
pub use timeline::{HealthSpan, InstanceSecond};

/// A kill counts as the cause of a 5xx up to this long after the request ended (the event's
/// time is taken once the SIGKILL returned; nginx may answer 502 for its dead php-fpm
/// before it dies too).
const KILL_SLACK_MS: i64 = 500;

/// The fleet's figures for one config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FleetView {
    /// HAProxy's version.
    pub haproxy_version: Option<String>,
    /// Where HAProxy ran: `native` (a process on this machine, reaching the instances on
    /// 127.0.0.1) or `docker` (a container of the stack image on the fleet's network,
    /// reaching each instance's nginx by its name).
    #[serde(default)]
    pub balancer_driver: String,
    /// Docker: the balancer's container name.
    #[serde(default)]
    pub balancer_container: Option<String>,
    /// The balancer's request log it was read from.
    pub balancer_log: String,
    /// The load's requests in the balancer's log.
    pub requests: u64,
    /// fpmlab's own probes in the balancer's log (no request id), left out of every figure.
    pub probe_requests: u64,
    /// Requests by the status an AWS ALB would have returned (`"200"`, `"502"`, `"460"`).
    pub alb_codes: BTreeMap<String, u64>,
    /// Requests that did not get a 2xx/3xx, by cause: `no_healthy_target`, `instance_died`,
    /// `target_reset`, `target_connect_timeout`, `cut_by_balancer_idle_timeout`,
    /// `client_closed_first`, `client_idle`, `bad_response`, `target_answered_<status>`.
    pub causes: BTreeMap<String, u64>,
    /// One balancer log line per cause, the first of its requests: what the balancer
    /// wrote for it (server, status, timings, termination state).
    #[serde(default)]
    pub cause_examples: BTreeMap<String, String>,
    /// Requests the client saw fail that are not in the balancer's log (it never accepted
    /// them, or the log was cut).
    pub failed_not_in_balancer_log: u64,
    /// Requests served by an instance's fail-open twin: every instance was unhealthy and the
    /// balancer sent to all of them anyway.
    pub served_fail_open: u64,
    /// One entry per instance of the plan.
    pub instances: Vec<InstanceView>,
    /// The events as they were carried out.
    pub events: Vec<EventRecord>,
}

/// Latency figures, milliseconds (the balancer logs whole milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QuantilesMs {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One instance as the balancer saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstanceView {
    /// Server name (`i1`, ...).
    pub name: String,
    /// The pool config it ran.
    pub pool: String,
    /// CPUs its daemons were confined to (`None`: shared every CPU).
    pub cpuset: Option<Vec<usize>>,
    /// Limits the scenario gave that the native driver cannot enforce.
    pub not_enforced: Vec<String>,
    /// Its pool's `pm.max_children`: what its php-fpm could serve at once.
    #[serde(default)]
    pub max_children: Option<u32>,
    /// Docker: its php-fpm container's limits as the cgroup enforced them, peak memory and
    /// OOM kills.
    #[serde(default)]
    pub container: Option<crate::stack::docker::ContainerReadings>,
    /// Requests the balancer sent it.
    pub requests: u64,
    /// Of which through its fail-open twin.
    pub fail_open: u64,
    /// Its requests by the ALB's status.
    pub alb_codes: BTreeMap<String, u64>,
    /// Its failed requests by cause.
    pub causes: BTreeMap<String, u64>,
    /// The balancer's time for its requests (the request's arrival to its end).
    pub latency: Option<QuantilesMs>,
    /// php-fpm queue wait (worker pick-up minus the request's arrival at the balancer), for requests that
    /// reached a worker.
    pub fpm_queue: Option<QuantilesMs>,
    /// php-fpm service time (script start to end).
    pub fpm_service: Option<QuantilesMs>,
    /// Its health state whenever it changed (fail-open twin excluded).
    pub health: Vec<HealthChange>,
    /// The same as spans of one state class each, up to the load's end.
    #[serde(default)]
    pub health_spans: Vec<HealthSpan>,
    /// Per second: requests, failures, latency, and what its php-fpm was doing (scripts
    /// running against `max_children`, requests waiting for a worker) beside its health
    /// state. Derived from the balancer's log, not from php-fpm's status page.
    #[serde(default)]
    pub seconds: Vec<InstanceSecond>,
    /// What its own php-fpm and containers showed, sampled from the instance directly (not
    /// through the balancer): workers busy, listen queue, CPU and memory, per second and
    /// at their peaks. `None`: never started, or a run from before it was sampled.
    #[serde(default)]
    pub sampled: Option<InstanceSampled>,
    /// First time the balancer had it out of rotation (`DOWN`, `MAINT`) after it had been in
    /// (`UP`), ms after the load's start.
    pub first_out_ms: Option<i64>,
    /// Checks it had failed when first taken out (HAProxy counts failures only while up:
    /// equals the unhealthy threshold when it went down on checks alone).
    pub check_failures_when_out: Option<u64>,
}

impl InstanceView {
    /// The most php-fpm scripts it ran at once in any second (0 without seconds).
    pub fn peak_busy_workers(&self) -> u64 {
        self.seconds
            .iter()
            .map(|s| s.busy_workers_max)
            .max()
            .unwrap_or(0)
    }

    /// The most requests waiting for one of its workers in any second.
    pub fn peak_waiting(&self) -> u64 {
        self.seconds
            .iter()
            .map(|s| s.waiting_max)
            .max()
            .unwrap_or(0)
    }
}

/// What the plan says about one config's fleet that its record does not: each instance's
/// `max_children` and the load's length.
#[derive(Debug, Clone, Default)]
pub struct PlanFacts {
    /// `pm.max_children` by instance name.
    pub max_children: BTreeMap<String, u32>,
    /// The load's planned length, ms: health spans run to its end.
    pub load_ms: i64,
}

impl PlanFacts {
    /// For the config named `config` of `plan` (its own pool, or the `[[config]]` an
    /// instance names, or the config being run).
    pub fn of(plan: &crate::scenario::Plan, config: &str) -> PlanFacts {
        let find = |n: &str| plan.configs.iter().find(|c| c.name == n);
        let max_children = (plan.fleet.iter().flat_map(|f| &f.instances))
            .filter_map(|i| {
                let pool = (i.own_pool.as_ref())
                    .or_else(|| i.pool.as_deref().and_then(find))
                    .or_else(|| find(config))?;
                Some((i.name.clone(), pool.max_children))
            })
            .collect();
        let load_ms = plan.phases.iter().map(|p| p.duration_ms).sum::<u64>() as i64;
        PlanFacts {
            max_children,
            load_ms,
        }
    }
}

/// Builds the fleet view from the fleet's record, the balancer's log text, the client's
/// failed requests and each instance's own samples (by name). `load_start_epoch_ms`: the
/// load's start, to place requests on the events' timeline.
pub fn analyse(
    record: &FleetRecord,
    log_text: &str,
    failed: &FailedList,
    load_start_epoch_ms: i64,
    facts: &PlanFacts,
    sampled: &BTreeMap<String, InstanceSampled>,
) -> FleetView {
    // Lines without an id are fpmlab's own probes through the balancer, not the load.
    let all: Vec<(BalancerLine, &str)> = (log_text.lines())
        .filter_map(|l| log::parse(l, LOG_TAG).map(|p| (p, l)))
        .collect();
    let probes = all.iter().filter(|(l, _)| l.id.is_none()).count() as u64;
    let lines: Vec<(BalancerLine, &str)> =
        all.into_iter().filter(|(l, _)| l.id.is_some()).collect();
    let kills: BTreeMap<&str, i64> = record
        .events
        .iter()
        .filter(|e| e.action == "kill" && e.error.is_none())
        .map(|e| (e.instance.as_str(), e.t_ms as i64))
        .collect();
    let mut view = FleetView {
        haproxy_version: record.haproxy_version.clone(),
        balancer_driver: record.balancer_driver.clone(),
        balancer_container: record.balancer_container.clone(),
        balancer_log: record.balancer_log.display().to_string(),
        requests: lines.len() as u64,
        probe_requests: probes,
        events: record.events.clone(),
        ..FleetView::default()
    };
    let mut per: BTreeMap<String, Samples> = record
        .instances
        .iter()
        .map(|i| {
            let v = InstanceView {
                name: i.name.clone(),
                pool: i.pool.clone(),
                cpuset: i.cpuset.clone(),
                not_enforced: i.not_enforced.clone(),
                max_children: facts.max_children.get(&i.name).copied(),
                container: i.container.clone(),
                sampled: sampled.get(&i.name).cloned(),
                ..InstanceView::default()
            };
            (i.name.clone(), Samples::new(v))
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut end_ms = facts.load_ms;
    for (l, text) in &lines {
        if let Some(id) = l.id {
            seen.insert(id);
        }
        let code = alb_code(l);
        *view.alb_codes.entry(code.to_string()).or_default() += 1;
        let inst = l.instance(FAIL_OPEN_SUFFIX);
        let rel_end_ms = l.start_epoch_ms + l.total_ms.max(0) - load_start_epoch_ms;
        end_ms = end_ms.max(rel_end_ms);
        let cause = (code >= 400).then(|| {
            cause(
                l,
                code,
                inst.and_then(|(n, _)| kills.get(n).copied()),
                rel_end_ms,
            )
        });
        if let Some(c) = &cause {
            *view.causes.entry(c.clone()).or_default() += 1;
            (view.cause_examples.entry(c.clone())).or_insert_with(|| text.to_string());
        }
        let Some((name, fail_open)) = inst else {
            continue;
        };
        let Some(s) = per.get_mut(name) else {
            continue;
        };
        let v = &mut s.view;
        v.requests += 1;
        if fail_open {
            v.fail_open += 1;
            view.served_fail_open += 1;
        }
        *v.alb_codes.entry(code.to_string()).or_default() += 1;
        if let Some(c) = cause {
            *v.causes.entry(c).or_default() += 1;
        }
        s.latency.push(l.total_ms.max(0) as f64);
        if let Some((picked, start, end)) = l.fpm {
            s.queue
                .push((picked * 1000.0 - l.start_epoch_ms as f64).max(0.0));
            s.service.push((end - start) * 1000.0);
        }
        (s.timed).push(timeline::Timed::of(l, code, load_start_epoch_ms));
    }
    view.failed_not_in_balancer_log =
        failed.kept.iter().filter(|f| !seen.contains(&f.id)).count() as u64;
    for (_, s) in per {
        let mut v = s.view;
        v.latency = quantiles(s.latency);
        v.fpm_queue = quantiles(s.queue);
        v.fpm_service = quantiles(s.service);
        v.health = record
            .health
            .iter()
            .filter(|h| h.server == v.name)
            .cloned()
            .collect();
        v.health_spans = timeline::spans(&v.health, end_ms);
        v.seconds = timeline::seconds(&s.timed, &v.health);
        // An instance an event adds waits in MAINT until it joins: out only after it was in.
        let joined = v.health.iter().position(|h| h.status.starts_with("UP"));
        let after_join = joined.map_or(&[][..], |k| &v.health[k..]);
        if let Some(out) =
            (after_join.iter()).find(|h| h.status.starts_with("DOWN") || h.status == "MAINT")
        {
            v.first_out_ms = Some(out.t_ms);
            v.check_failures_when_out = Some(out.check_failures);
        }
        view.instances.push(v);
    }
    // Instance order as in the plan (i10 after i9).
    view.instances
        .sort_by_key(|v| record.instances.iter().position(|i| i.name == v.name));
    view
}

/// An instance's view being built, with its latency, queue and service samples (ms) and
/// its requests on the timeline.
struct Samples {
    view: InstanceView,
    latency: Vec<f64>,
    queue: Vec<f64>,
    service: Vec<f64>,
    timed: Vec<timeline::Timed>,
}

impl Samples {
    fn new(view: InstanceView) -> Self {
        Samples {
            view,
            latency: Vec::new(),
            queue: Vec::new(),
            service: Vec::new(),
            timed: Vec::new(),
        }
    }
}

fn cause(l: &BalancerLine, code: u16, killed_at_ms: Option<i64>, end_ms: i64) -> String {
    let died = killed_at_ms.is_some_and(|k| k <= end_ms + KILL_SLACK_MS);
    match (code, l.termination.chars().next().unwrap_or('-')) {
        (503, _) if l.server.starts_with('<') => "no_healthy_target".into(),
        (460, _) => "client_closed_first".into(),
        (408, _) => "client_idle".into(),
        // A killed container's address stops answering: connects time out (`sC`), as an
        // ALB's to a vanished target (its 504 after the 10 s connect timeout).
        (504, 's') if died && l.termination.get(1..2) == Some("C") => "instance_died".into(),
        // No connection within the connect timeout (`sC`): an instance that stopped
        // accepting, not one slow to answer.
        (504, 's') if l.termination.get(1..2) == Some("C") => "target_connect_timeout".into(),
        (504, 's') => "cut_by_balancer_idle_timeout".into(),
        (500.., _) if died => "instance_died".into(),
        (502, 'S') => "target_reset".into(),
        (502, c) if c != '-' => "bad_response".into(),
        (c, _) => format!("target_answered_{c}"),
    }
}

fn quantiles(mut v: Vec<f64>) -> Option<QuantilesMs> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Some(QuantilesMs {
        p50_ms: at(0.5),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        max_ms: v[v.len() - 1],
    })
}

#[cfg(test)]
mod tests;
