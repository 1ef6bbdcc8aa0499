//! `[fleet]` and `[[event]]` as written. The ALB's defaults live in [`defaults`].

use serde::Deserialize;

/// The balancer's defaults: an AWS ALB target group's.
pub mod defaults {
    /// `algorithm`.
    pub const ALGORITHM: &str = "round_robin";
    /// `health_check`: nginx alone, as most setups do (seed 002).
    pub const HEALTH_CHECK: &str = "shallow";
    /// `interval` (ALB: 30 s).
    pub const INTERVAL: &str = "30s";
    /// `timeout` (ALB: 5 s).
    pub const TIMEOUT: &str = "5s";
    /// `healthy_threshold` (ALB: 5).
    pub const HEALTHY: u32 = 5;
    /// `unhealthy_threshold` (ALB: 2).
    pub const UNHEALTHY: u32 = 2;
    /// `idle_timeout` (ALB: 60 s).
    pub const IDLE_TIMEOUT: &str = "60s";
    /// `slow_start` (ALB: off).
    pub const SLOW_START: &str = "0s";
    /// Most instances one fleet may have (each is an nginx + php-fpm pair on this machine).
    pub const MAX_INSTANCES: usize = 16;
}

/// `[fleet]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFleet {
    /// Instances at the start.
    pub instances: Option<i64>,
    #[serde(default)]
    pub balancer: RawBalancer,
    /// Per-instance overrides, in instance order (`i1` first).
    #[serde(default)]
    pub instance: Vec<RawInstance>,
}

/// `[fleet.balancer]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBalancer {
    pub algorithm: Option<String>,
    pub health_check: Option<String>,
    pub health_path: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub healthy_threshold: Option<i64>,
    pub unhealthy_threshold: Option<i64>,
    pub idle_timeout: Option<String>,
    pub slow_start: Option<String>,
}

/// One `[[fleet.instance]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstance {
    /// A `[[config]]` name, or the instance's own pool below (`pm`, `max_children`, ...).
    pub pool: Option<String>,
    pub pm: Option<String>,
    pub max_children: Option<i64>,
    pub start_servers: Option<i64>,
    pub min_spare_servers: Option<i64>,
    pub max_spare_servers: Option<i64>,
    pub cpuset: Option<Vec<usize>>,
    pub cpus: Option<f64>,
    pub memory: Option<String>,
}

/// One `[[event]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    pub at: Option<String>,
    pub action: Option<String>,
    pub instance: Option<String>,
    /// `add`: answers `status` for `for` after joining.
    pub cold: Option<RawCold>,
    /// `scale_out`: how many instances join.
    pub count: Option<i64>,
    /// `throttle`: the share of time its php-fpm may run, 0 < share < 1.
    pub cpu_share: Option<f64>,
    /// `throttle`: for how long (default: to the end).
    #[serde(rename = "for")]
    pub for_: Option<String>,
    /// `add` / `scale_out`: the new instances' pool, cpuset, cpus and memory.
    pub pool: Option<String>,
    pub cpuset: Option<Vec<usize>>,
}

/// `cold = { status = 401, for = "20s" }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCold {
    pub status: Option<i64>,
    #[serde(rename = "for")]
    pub for_: Option<String>,
}
