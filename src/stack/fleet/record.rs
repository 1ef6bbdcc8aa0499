//! What a fleet did and what its balancer saw, as the fleet stack records it: the instances,
//! the events as they happened, and each server's health state over time. The analysis
//! joins these with HAProxy's request log.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::stack::docker::ContainerReadings;

/// The fleet's own record of one config's run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FleetRecord {
    /// HAProxy's request log (one line per request, see `haproxy::render`).
    pub balancer_log: PathBuf,
    /// `haproxy -v`'s version, when known.
    pub haproxy_version: Option<String>,
    /// Where HAProxy ran: `native` (a process on this machine, reaching the instances on
    /// 127.0.0.1) or `docker` (a container of the stack image on the fleet's network,
    /// reaching each instance's nginx by its name).
    #[serde(default)]
    pub balancer_driver: String,
    /// Docker: the balancer's container name.
    #[serde(default)]
    pub balancer_container: Option<String>,
    /// Every instance of the plan, started or not.
    pub instances: Vec<InstanceRecord>,
    /// The events, as they were carried out.
    pub events: Vec<EventRecord>,
    /// Each server's state whenever it changed, as HAProxy's `show stat` said (polled
    /// every `poll_interval_ms`).
    pub health: Vec<HealthChange>,
    /// How often `show stat` was read, milliseconds.
    pub poll_interval_ms: u64,
}

/// One instance.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstanceRecord {
    /// Server name (`i1`, ...).
    pub name: String,
    /// The pool config it ran.
    pub pool: String,
    /// Its nginx port, once started.
    pub port: Option<u16>,
    /// Its directory (configs and logs).
    pub dir: PathBuf,
    /// CPUs its daemons were confined to (`None`: they shared every CPU).
    pub cpuset: Option<Vec<usize>>,
    /// Limits the scenario gave that the native driver cannot enforce.
    pub not_enforced: Vec<String>,
    /// Docker: its php-fpm container's limits as the cgroup enforced them, peak memory and
    /// OOM kills, read last before the container went (killed or torn down).
    #[serde(default)]
    pub container: Option<ContainerReadings>,
}

impl FleetRecord {
    /// Keeps an instance's latest container readings (`None` keeps the previous ones: a
    /// killed container's cgroup is gone).
    pub fn keep_readings(&mut self, instance: &str, readings: Option<ContainerReadings>) {
        if let (Some(r), Some(i)) = (
            readings,
            self.instances.iter_mut().find(|i| i.name == instance),
        ) {
            i.container = Some(r);
        }
    }
}

/// One event as carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventRecord {
    /// When it was planned, milliseconds after the load's start.
    pub planned_ms: u64,
    /// When it took effect (an added instance: once it served and was registered).
    pub t_ms: u64,
    /// The instance.
    pub instance: String,
    /// `add`, `kill`, `drain`, `remove`, `throttle`, `cold_end`, `throttle_end`.
    pub action: String,
    /// What was done, e.g. `SIGKILL to php-fpm (pgid 1234) and nginx`.
    pub detail: String,
    /// Why it could not be done, if it failed.
    pub error: Option<String>,
}

/// A server's state from this moment on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HealthChange {
    /// Milliseconds after the load's start (negative: before it).
    pub t_ms: i64,
    /// Server name.
    pub server: String,
    /// HAProxy's status (`UP`, `DOWN`, `UP 1/2`, `MAINT`, `DRAIN`, ...).
    pub status: String,
    /// Checks failed while it was up, so far.
    pub check_failures: u64,
    /// The last check's result.
    pub check_status: String,
    /// Its weight (slow start ramps it).
    pub weight: u64,
}
