//! The validated, serializable run plan: the one configuration object that flows from the
//! scenario file (and CLI overrides) into the core. Every field is resolved: no defaults are
//! applied past this point. It is embedded verbatim in `run.json` as `plan`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::metric;
use crate::tls::TlsVerify;

pub use super::app::{AppSettings, DEFAULT_HEALTH_PATH};

/// A fully resolved scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// Scenario name (file stem unless `name` is set); also the results sub-directory.
    pub name: String,
    /// Free-text description from the scenario file.
    pub description: String,
    /// Seed for the schedule and the request mix: the same seed gives the same schedule.
    pub seed: u64,
    /// The stack driver (resolved: `auto` never appears here).
    pub driver: Driver,
    /// Stack settings shared by every pool config.
    pub stack: StackSettings,
    /// Generator settings.
    pub load: LoadSettings,
    /// The pool configs to compare, in scenario order.
    pub configs: Vec<PoolConfig>,
    /// Traffic phases, run in order for every config.
    pub phases: Vec<Phase>,
    /// The weighted request mix.
    pub requests: Vec<RequestKind>,
    /// Pass/fail limits checked at the end of the run.
    #[serde(default)]
    pub thresholds: Vec<Threshold>,
    /// The fleet behind a load balancer (`None`: one instance, the client playing the
    /// load balancer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<super::fleet::Fleet>,
}

/// A validated threshold. Limits are in the metric's base unit (µs, a 0–1 fraction, per
/// second, a count, MiB); both ends are inclusive: `max = "800ms"` passes at exactly 800 ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Threshold {
    /// Canonical metric name.
    pub metric: String,
    /// Lowest passing value.
    pub min: Option<f64>,
    /// Highest passing value.
    pub max: Option<f64>,
    /// Only this config (`None`: every config of the run).
    pub config: Option<String>,
    /// Only this phase (`None`: the whole run).
    pub phase: Option<String>,
}

impl Threshold {
    /// `latency_p99 ≤ 800 ms [static-4, phase bursts]`.
    pub fn describe(&self) -> String {
        let m = metric::find(&self.metric).expect("validated metric name");
        let mut text = match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("{} ≤ {} ≤ {}", m.format(lo), m.name, m.format(hi)),
            (Some(lo), None) => format!("{} ≥ {}", m.name, m.format(lo)),
            (None, Some(hi)) => format!("{} ≤ {}", m.name, m.format(hi)),
            (None, None) => m.name.to_string(),
        };
        let scope: Vec<String> = [
            self.config.clone(),
            self.phase.as_ref().map(|p| format!("phase {p}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !scope.is_empty() {
            text.push_str(&format!(" [{}]", scope.join(", ")));
        }
        text
    }
}

/// Settings of the stack shared by all pool configs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StackSettings {
    /// CPUs the stack may use (native: scheduler affinity of nginx and php-fpm; `None` = all).
    pub cpuset: Option<Vec<usize>>,
    /// CPU quota for the php-fpm container (docker driver), in cores; `None` = unlimited.
    pub cpus: Option<f64>,
    /// Memory limit for the php-fpm container (docker driver), MiB, no swap; `None` = unlimited.
    pub memory_mib: Option<u64>,
    /// php.ini `memory_limit`, as php writes it (e.g. `128M`, `-1`).
    pub php_memory_limit: String,
    /// php.ini `max_execution_time`, seconds of CPU time (0 = unlimited).
    pub max_execution_time_s: u32,
    /// fpm `request_terminate_timeout`, seconds of wall time (0 = off).
    pub request_terminate_timeout_s: u32,
    /// How nginx reaches php-fpm.
    pub listen: ListenKind,
    /// fpm `listen.backlog` (-1 = the kernel's `somaxconn`).
    pub listen_backlog: i32,
    /// nginx `fastcgi_connect_timeout`, milliseconds.
    pub fastcgi_connect_timeout_ms: u64,
    /// nginx `fastcgi_read_timeout`, milliseconds.
    pub fastcgi_read_timeout_ms: u64,
    /// nginx `keepalive_timeout` towards clients, seconds.
    pub keepalive_timeout_s: u32,
    /// Document root served instead of the built-in app (`None` = `docker/app`): the
    /// scenario's `app.root` (or `stack.app_root`).
    pub app_root: Option<std::path::PathBuf>,
    /// The application's routing, php.ini, pool, environment, packages and health path.
    #[serde(default)]
    pub app: AppSettings,
    /// The user's own php-fpm image for the php-fpm container (docker driver; `None` =
    /// fpmlab's image). It must have `php-fpm` on PATH; fpmlab still mounts its rendered
    /// configs, so the pool matrix applies.
    #[serde(default)]
    pub fpm_image: Option<String>,
}

/// Socket kind between nginx and php-fpm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListenKind {
    /// 127.0.0.1 TCP: a full backlog drops SYNs (nginx 504 after the connect timeout).
    Tcp,
    /// Unix socket: a full backlog refuses at once (nginx 502).
    Unix,
}

/// Generator settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadSettings {
    /// The client's timeout for a whole request, playing the load balancer's idle timeout.
    pub client_timeout_ms: u64,
    /// Safety limit on requests in flight; a scheduled request that would exceed it is not
    /// sent and is counted as `dropped_max_in_flight`.
    pub max_in_flight: usize,
    /// A fixed pool of connections to the target, as a load balancer keeps to each of its
    /// targets (`None`: a new connection whenever every open one is busy). A request that
    /// finds them all busy waits for one; the wait is part of its client lag and its
    /// latency (queueing in the client, not the server), and an overloaded target cannot
    /// make the generator open thousands of sockets.
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// CPUs the generator may use (`None` = all).
    pub cpuset: Option<Vec<usize>>,
    /// Timeout of the load balancer's health probes (once a second, one to nginx alone and
    /// one through php-fpm), milliseconds.
    #[serde(default = "default_health_timeout_ms")]
    pub health_timeout_ms: u64,
    /// Open loop: sends due within this many microseconds after one another go out together
    /// at the last one's moment, on one wake-up of the load thread (0: each at its own
    /// moment). Cheaper at high rates; the lateness it adds is measured as client lag.
    #[serde(default)]
    pub send_window_us: u64,
}

fn default_health_timeout_ms() -> u64 {
    5_000
}

/// Process manager kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pm {
    Static,
    Dynamic,
    Ondemand,
}

impl Pm {
    pub fn as_str(self) -> &'static str {
        match self {
            Pm::Static => "static",
            Pm::Dynamic => "dynamic",
            Pm::Ondemand => "ondemand",
        }
    }
}

/// One php-fpm pool configuration of the comparison matrix. Fields that do not apply to
/// the `pm` kind are `None`; for `dynamic` every spare setting is resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PoolConfig {
    /// Unique name, used in tables and as the config's directory name.
    pub name: String,
    /// `pm`.
    pub pm: Pm,
    /// `pm.max_children`.
    pub max_children: u32,
    /// `pm.start_servers` (dynamic only).
    pub start_servers: Option<u32>,
    /// `pm.min_spare_servers` (dynamic only).
    pub min_spare_servers: Option<u32>,
    /// `pm.max_spare_servers` (dynamic only).
    pub max_spare_servers: Option<u32>,
    /// `pm.max_spawn_rate` (dynamic only).
    pub max_spawn_rate: Option<u32>,
    /// `pm.process_idle_timeout`, seconds (ondemand only).
    pub process_idle_timeout_s: Option<u32>,
    /// `pm.max_requests` (0 = never recycle).
    pub max_requests: u32,
}

impl PoolConfig {
    /// `pm = static` with `children` workers and php-fpm's defaults otherwise: the plainest
    /// pool, for callers that build one by hand (tests, tools).
    pub fn static_pool(name: &str, children: u32) -> Self {
        PoolConfig {
            name: name.into(),
            pm: Pm::Static,
            max_children: children,
            start_servers: None,
            min_spare_servers: None,
            max_spare_servers: None,
            max_spawn_rate: None,
            process_idle_timeout_s: None,
            max_requests: 0,
        }
    }
}

/// One traffic phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Phase {
    /// Name shown in progress and tables.
    pub name: String,
    /// Length of the phase, milliseconds.
    pub duration_ms: u64,
    /// How requests arrive.
    pub arrival: Arrival,
    /// What its clients do beyond sending: retries, think-time distribution.
    #[serde(
        default,
        skip_serializing_if = "super::client::ClientBehaviour::is_default"
    )]
    pub client: super::client::ClientBehaviour,
}

/// Start offset of each phase, microseconds after the load's start.
pub fn phase_starts_us(phases: &[Phase]) -> Vec<u64> {
    phases
        .iter()
        .scan(0u64, |t, ph| {
            let start = *t;
            *t += ph.duration_ms * 1000;
            Some(start)
        })
        .collect()
}

/// Arrival pattern of a phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "pattern", rename_all = "snake_case")]
pub enum Arrival {
    /// Evenly spaced requests at `rate` per second (open loop).
    Constant { rate: f64 },
    /// Poisson arrivals at a mean `rate` per second (open loop).
    Poisson { rate: f64 },
    /// `size` requests at once every `every_ms`, the first at the phase start (open loop).
    Burst { size: u32, every_ms: u64 },
    /// Rate rising (or falling) linearly from `from_rate` to `to_rate` per second (open loop).
    Ramp { from_rate: f64, to_rate: f64 },
    /// `users` closed-loop users: each sends, waits for the response, thinks, repeats.
    Closed { users: u32, think_time_ms: u64 },
    /// The requests of an access log's window, at the log's arrival times shifted to the
    /// phase start and divided by the speed factor (open loop).
    Replay(Box<super::replay::Replay>),
    /// `clients` clients, each sending one request (a batch) every `every_ms`, spread evenly
    /// over the period; a client that gets a `disable_on` status on each of `tries` tries of
    /// one batch (retrying at once) switches itself off for good (seed 004).
    Clients {
        clients: u32,
        every_ms: u64,
        disable_on: Vec<u16>,
        tries: u32,
    },
}

/// One kind of request in the mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestKind {
    /// Name used in per-kind breakdowns.
    pub name: String,
    /// HTTP method.
    pub method: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Relative weight in the mix (> 0; 0 only for `replay-unmatched`, the kind of replayed
    /// requests no `[[request]]` matches, which the mix never picks).
    pub weight: u32,
    /// Headers sent with every request of this kind, name → value as written in the
    /// scenario (values may hold `{{column}}` placeholders). Never `Host`,
    /// `Content-Length`, `Transfer-Encoding`, `Connection` or `X-Fpmlab-Id`: fpmlab sets
    /// those.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The request body, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    /// The data file whose rows fill the `{{column}}` placeholders, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataSource>,
    /// Which logged requests of a replay phase are sent with this kind's headers and body
    /// (same method, and this pattern matching the logged path: with a `*` a glob over
    /// path and query, else equal to the path without query). `None`: the kind's own path
    /// without its query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_match: Option<String>,
}

/// A request body: inline text or a file, read once at validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Body {
    /// The `Content-Type` header sent with it.
    pub content_type: String,
    /// The body as written in the scenario (`body`), or `None` when it came from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<String>,
    /// The file it came from (`body_file`, resolved against the scenario's directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Size of the body before substitution, bytes.
    pub size_bytes: u64,
    /// SHA-256 of the body before substitution (hex): says which file a run used.
    pub sha256: String,
    /// The bytes themselves: loaded at validation, not written to run.json (the file, its
    /// size and hash say what was sent).
    #[serde(skip)]
    pub content: Arc<Vec<u8>>,
}

/// A data file of rows substituted into a request's placeholders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DataSource {
    /// The file (`data`, resolved against the scenario's directory).
    pub file: PathBuf,
    /// `csv` (header row = column names) or `json` (an array of objects).
    pub format: String,
    /// How each request's row is chosen.
    pub pick: DataPick,
    /// Column names, in file order.
    pub columns: Vec<String>,
    /// Number of rows.
    pub rows: usize,
    /// SHA-256 of the file (hex): a rerun with other data shows a different hash.
    pub sha256: String,
    /// The rows: loaded once at validation, before any load starts; not written to
    /// run.json (it keeps the file, row count and hash).
    #[serde(skip)]
    pub table: Arc<Vec<Vec<String>>>,
}

/// How a request kind's data row is chosen for each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataPick {
    /// Rows in file order, one per request of the kind, wrapping around at the end.
    Sequential,
    /// A row at random per request, from the scenario's seed (runs reproduce).
    Random,
}

/// Which stack driver runs the configs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Driver {
    /// nginx and php-fpm from the distribution's packages, as child processes.
    Native,
    /// The compose stack under `docker/`.
    Docker,
    /// A stack someone else runs; only the generator (and HTTP probes) point at it.
    External {
        url: String,
        /// How an `https://` URL's certificate is verified (`--ca-file`, `--insecure-tls`).
        #[serde(default)]
        tls: TlsVerify,
    },
}

impl Driver {
    /// How an `https://` target is verified: the external driver's setting; the stacks
    /// fpmlab starts answer plain http.
    pub fn tls_verify(&self) -> TlsVerify {
        match self {
            Driver::External { tls, .. } => tls.clone(),
            Driver::Native | Driver::Docker => TlsVerify::default(),
        }
    }
}
