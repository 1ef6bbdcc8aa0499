//! The fleet: N nginx + php-fpm instances behind a load balancer configured like an AWS ALB,
//! and events on the timeline (an instance added cold, killed, drained, removed, throttled).
//! `[fleet]`, `[fleet.balancer]`, `[[fleet.instance]]` and `[[event]]` in the scenario file;
//! each `[[config]]` of the matrix runs across the whole fleet.

mod docker;
mod raw;
mod validate;

pub use raw::{RawCold, RawEvent, RawFleet};
pub use validate::validate;

use serde::{Deserialize, Serialize};

/// A validated fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Fleet {
    /// Every instance the run may start: those in the fleet from the start first
    /// (`initial`), then those events add, in the order they join.
    pub instances: Vec<InstanceSpec>,
    /// The load balancer in front.
    pub balancer: Balancer,
    /// Events on the timeline, in time order.
    pub events: Vec<FleetEvent>,
}

impl Fleet {
    /// The instance named `name`.
    pub fn instance(&self, name: &str) -> Option<&InstanceSpec> {
        self.instances.iter().find(|i| i.name == name)
    }
}

/// One instance: its own nginx + php-fpm, its own pool, port and directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstanceSpec {
    /// `i1`, `i2`, ...: the balancer's server name and the instance's directory.
    pub name: String,
    /// In the fleet from the start (false: an `add` or `scale_out` event starts it).
    pub initial: bool,
    /// The `[[config]]` whose pool this instance always runs (`None`: the config being
    /// run, so the matrix applies to it).
    pub pool: Option<String>,
    /// Its own pool (`pm`, `max_children`, ... in `[[fleet.instance]]`), which it always
    /// runs, whatever the config of the matrix.
    pub own_pool: Option<super::PoolConfig>,
    /// CPUs its nginx and php-fpm may use (native: scheduler affinity; `None` = the
    /// stack's cpuset, or all).
    pub cpuset: Option<Vec<usize>>,
    /// CPU quota in cores (docker driver; the native driver cannot enforce it and says so
    /// in the results).
    pub cpus: Option<f64>,
    /// Memory limit, MiB (docker driver; the native driver cannot enforce it and says so).
    pub memory_mib: Option<u64>,
}

/// How the balancer picks an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// ALB's default: each healthy target in turn (HAProxy `balance roundrobin`).
    RoundRobin,
    /// ALB's least outstanding requests (HAProxy `balance leastconn`).
    LeastOutstanding,
}

/// The balancer's settings, ALB names and defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Balancer {
    /// Routing algorithm.
    pub algorithm: Algorithm,
    /// `shallow` (nginx alone answers it) or `deep` (through the main php-fpm pool).
    pub health_check: String,
    /// The path the health check requests: `/nginx-health` (shallow), `/fpmlab-health`
    /// (deep) or the scenario's own.
    pub health_path: String,
    /// Time between two health checks of one instance, milliseconds (ALB: 30 s).
    pub interval_ms: u64,
    /// A check not answered within this fails, milliseconds (ALB: 5 s).
    pub timeout_ms: u64,
    /// Consecutive passes that make an unhealthy instance healthy (ALB: 5).
    pub healthy_threshold: u32,
    /// Consecutive failures that make a healthy instance unhealthy (ALB: 2).
    pub unhealthy_threshold: u32,
    /// Idle timeout, milliseconds (ALB: 60 s): a request the target does not answer
    /// within it gets a 504.
    pub idle_timeout_ms: u64,
    /// Slow start, milliseconds (0 = off): a joining instance's share of new requests
    /// rises linearly over it.
    pub slow_start_ms: u64,
}

/// One event on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FleetEvent {
    /// When, milliseconds after the load's start.
    pub at_ms: u64,
    /// The instance it acts on.
    pub instance: String,
    /// What happens.
    pub action: EventAction,
}

/// What an event does to its instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum EventAction {
    /// Start the instance and register it with the balancer; `cold`: it answers a fixed
    /// status to application requests for a while after it joins.
    Add { cold: Option<Cold> },
    /// Its php-fpm and nginx die at once (SIGKILL): requests in flight are cut.
    Kill,
    /// No new requests; those in flight finish (HAProxy `state drain`).
    Drain,
    /// Deregistered: no requests at all, not even when the fleet fails open (`state maint`).
    Remove,
    /// Its php-fpm runs only `cpu_share` of the time (SIGSTOP/SIGCONT duty cycle), for
    /// `for_ms` (`None`: until the end).
    Throttle { cpu_share: f64, for_ms: Option<u64> },
}

impl EventAction {
    /// `add`, `kill`, ...
    pub fn name(&self) -> &'static str {
        match self {
            EventAction::Add { .. } => "add",
            EventAction::Kill => "kill",
            EventAction::Drain => "drain",
            EventAction::Remove => "remove",
            EventAction::Throttle { .. } => "throttle",
        }
    }
}

/// A cold instance: joins before it is ready, answering `status` to every `.php` request
/// for `for_ms` (seed 004: a worker answering 401 until its account database synced).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Cold {
    /// The status it answers.
    pub status: u16,
    /// For how long after it joins, milliseconds.
    pub for_ms: u64,
}

#[cfg(test)]
mod tests;
