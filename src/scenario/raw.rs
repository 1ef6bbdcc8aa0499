//! The scenario file as written: every field optional where a default exists, strings for
//! durations and sizes. Unknown keys are refused (`deny_unknown_fields`), so a typo never
//! silently falls back to a default.
//!
//! The defaults live here, in [`defaults`], and nowhere else; the README's scenario reference
//! mirrors this list.

use serde::Deserialize;

/// Every default a scenario file may omit.
pub mod defaults {
    /// `seed`.
    pub const SEED: u64 = 1;
    /// `[stack] memory_limit` (php.ini), as in Debian's php.ini.
    pub const PHP_MEMORY_LIMIT: &str = "128M";
    /// `[stack] max_execution_time` (php.ini; CPU seconds on Linux).
    pub const MAX_EXECUTION_TIME: &str = "30s";
    /// `[stack] request_terminate_timeout` (fpm; 0 = off, as php-fpm's default).
    pub const REQUEST_TERMINATE_TIMEOUT: &str = "0s";
    /// `[stack] listen`: TCP, so the accept queue is observable on the status page too.
    pub const LISTEN: &str = "tcp";
    /// `[stack] listen_backlog` (-1 = `net.core.somaxconn`, php-fpm's default on Linux).
    pub const LISTEN_BACKLOG: i32 = -1;
    /// `[stack] fastcgi_connect_timeout` (nginx default).
    pub const FASTCGI_CONNECT_TIMEOUT: &str = "60s";
    /// `[stack] fastcgi_read_timeout` (nginx default).
    pub const FASTCGI_READ_TIMEOUT: &str = "60s";
    /// `[stack] keepalive_timeout` (nginx default; above the LB idle timeout).
    pub const KEEPALIVE_TIMEOUT: &str = "75s";
    /// `[load] client_timeout`: an AWS ALB's default idle timeout.
    pub const CLIENT_TIMEOUT: &str = "60s";
    /// `[load] health_timeout`: an AWS ALB target group's default health check timeout
    /// (never above `client_timeout`).
    pub const HEALTH_TIMEOUT: &str = "5s";
    /// `[load] max_in_flight`.
    pub const MAX_IN_FLIGHT: usize = 10_000;
    /// `[[config]] max_requests` (0 = never recycle, php-fpm's default).
    pub const MAX_REQUESTS: u32 = 0;
    /// `[[config]] max_spawn_rate` (dynamic; php-fpm's default).
    pub const MAX_SPAWN_RATE: u32 = 32;
    /// `[[config]] process_idle_timeout` (ondemand; php-fpm's default).
    pub const PROCESS_IDLE_TIMEOUT: &str = "10s";
    /// `[[request]] method`.
    pub const METHOD: &str = "GET";
    /// `[[request]] weight`.
    pub const WEIGHT: u32 = 1;
    /// `[[request]] data_pick`: rows in file order, so request N's row is known.
    pub const DATA_PICK: &str = "sequential";
    /// `[phase.retry] on_status`: the answers of an overloaded or unreachable target.
    pub const RETRY_ON_STATUS: &[i64] = &[502, 503, 504];
    /// `[phase.retry] on_failure`.
    pub const RETRY_ON_FAILURE: &[&str] = &["timeout", "refused", "reset"];
    /// `[phase.retry] attempts`, the first included (Google SRE's advice: at most 3).
    pub const RETRY_ATTEMPTS: i64 = 3;
    /// `[phase.retry] jitter`.
    pub const RETRY_JITTER: &str = "full";
    /// `[phase.retry] base`.
    pub const RETRY_BASE: &str = "100ms";
    /// `[phase.retry] cap`.
    pub const RETRY_CAP: &str = "5s";
    /// `[phase.retry.budget] ratio`: retries per first attempt (Finagle's default budget
    /// allows 20 %; a tighter 10 % here).
    pub const RETRY_BUDGET_RATIO: f64 = 0.1;
    /// `[phase.retry.budget] min_per_s` (Finagle's default).
    pub const RETRY_BUDGET_MIN_PER_S: f64 = 10.0;
    /// `[phase.retry.budget] window` (Finagle's default budget keeps deposits 10 s).
    pub const RETRY_BUDGET_WINDOW: &str = "10s";
}

/// A whole scenario file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    pub description: Option<String>,
    pub seed: Option<u64>,
    #[serde(default)]
    pub stack: RawStack,
    #[serde(default)]
    pub app: super::app::RawApp,
    #[serde(default)]
    pub load: RawLoad,
    #[serde(default)]
    pub config: Vec<RawConfig>,
    #[serde(default)]
    pub sweep: Vec<RawSweep>,
    #[serde(default)]
    pub phase: Vec<RawPhase>,
    #[serde(default)]
    pub request: Vec<RawRequest>,
    #[serde(default)]
    pub threshold: Vec<super::threshold::RawThreshold>,
    /// `[fleet]`: N instances behind a load balancer.
    pub fleet: Option<super::fleet::RawFleet>,
    /// `[[event]]`: what happens to the fleet's instances, and when.
    #[serde(default)]
    pub event: Vec<super::fleet::RawEvent>,
    /// `[tune]`: the objective and budget of `fpmlab tune` (validated by the tune command).
    pub tune: Option<RawTune>,
}

/// `[tune]`: the same settings as `fpmlab tune`'s flags, which override them.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTune {
    pub p99: Option<String>,
    pub max_errors: Option<String>,
    pub memory: Option<String>,
    pub memory_reserve: Option<String>,
    pub max_time: Option<String>,
}

/// `[stack]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStack {
    pub cpuset: Option<Vec<usize>>,
    pub cpus: Option<f64>,
    pub memory: Option<String>,
    pub memory_limit: Option<String>,
    pub max_execution_time: Option<String>,
    pub request_terminate_timeout: Option<String>,
    pub listen: Option<String>,
    pub listen_backlog: Option<i32>,
    pub fastcgi_connect_timeout: Option<String>,
    pub fastcgi_read_timeout: Option<String>,
    pub keepalive_timeout: Option<String>,
    pub app_root: Option<String>,
    pub fpm_image: Option<String>,
}

/// `[load]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    pub client_timeout: Option<String>,
    pub max_in_flight: Option<usize>,
    pub max_connections: Option<usize>,
    pub cpuset: Option<Vec<usize>>,
    pub health_timeout: Option<String>,
    pub send_window: Option<String>,
}

/// One `[[config]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub name: Option<String>,
    pub pm: Option<String>,
    pub max_children: Option<i64>,
    pub start_servers: Option<i64>,
    pub min_spare_servers: Option<i64>,
    pub max_spare_servers: Option<i64>,
    pub max_spawn_rate: Option<i64>,
    pub process_idle_timeout: Option<String>,
    pub max_requests: Option<i64>,
}

/// One `[[phase]]`; which fields apply depends on `pattern`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    pub name: Option<String>,
    pub duration: Option<String>,
    pub pattern: Option<String>,
    pub rate: Option<f64>,
    pub from_rate: Option<f64>,
    pub to_rate: Option<f64>,
    pub size: Option<i64>,
    pub every: Option<String>,
    pub users: Option<i64>,
    pub think_time: Option<String>,
    /// `clients`: how many clients; each sends a batch every `every`.
    pub clients: Option<i64>,
    /// `clients`: answers that switch a client off for good.
    pub disable_on: Option<Vec<i64>>,
    /// `clients`: tries per batch (the first and immediate retries) before a client that
    /// keeps getting a `disable_on` answer switches off.
    pub tries: Option<i64>,
    pub replay: Option<RawReplay>,
    /// `[phase.retry]`: which failed requests the phase's clients retry, and how.
    pub retry: Option<RawRetry>,
    /// `closed`: how think time is drawn (fixed, uniform, exponential; mean `think_time`).
    pub think_dist: Option<String>,
    /// This phase's client timeout, overriding `[load] client_timeout` for its requests.
    pub client_timeout: Option<String>,
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

/// A phase's `replay = { log, format, speed, from, to }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReplay {
    pub log: Option<String>,
    pub format: Option<String>,
    pub speed: Option<f64>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One `[[request]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    pub name: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub weight: Option<i64>,
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    pub body: Option<String>,
    pub body_file: Option<String>,
    pub content_type: Option<String>,
    pub data: Option<String>,
    pub data_pick: Option<String>,
    pub replay_match: Option<String>,
}

/// One `[[sweep]]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSweep {
    /// Prefix of the generated names (default: `base`).
    pub name: Option<String>,
    /// A pm kind (`static`, `dynamic`, `ondemand`) or the name of a `[[config]]` to copy.
    pub base: Option<String>,
    /// The values of `pm.max_children`.
    pub max_children: Option<RawValues>,
    pub start_servers: Option<i64>,
    pub min_spare_servers: Option<i64>,
    pub max_spare_servers: Option<i64>,
    pub max_spawn_rate: Option<i64>,
    pub process_idle_timeout: Option<String>,
    pub max_requests: Option<i64>,
}

/// A list of values or a range.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawValues {
    List(Vec<i64>),
    Range {
        from: i64,
        to: i64,
        step: Option<i64>,
    },
}
