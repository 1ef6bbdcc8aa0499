//! php-fpm's status page (`?json&full`): fetch through nginx and parse.
//!
//! The page is served by the separate `pm.status_listen` pool, so it answers in milliseconds
//! even when every worker of the main pool is busy. Its pool-wide numbers refresh once a second
//! (fpm's maintenance heartbeat); the per-process list is live.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::stack::Endpoints;

/// Pool-wide numbers from php-fpm's status page, keys as in `run.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FpmStatus {
    /// Pool name (`pool`).
    pub pool: String,
    /// `static`, `dynamic` or `ondemand` (`process manager`).
    pub process_manager: String,
    /// Seconds since the pool started (`start since`); a drop means fpm restarted.
    pub start_since_s: u64,
    /// Connections accepted by the pool's workers since it started (`accepted conn`).
    pub accepted_conn: u64,
    /// Accept-queue length as fpm saw it at its last 1 s sample (`listen queue`); always 0 on
    /// unix sockets: use the sample's `accept_queue` instead.
    pub listen_queue: u32,
    /// High-water mark of `listen_queue` since the pool started (`max listen queue`).
    pub max_listen_queue: u32,
    /// Backlog of the pool's socket (`listen queue len`); 0 on unix sockets.
    pub listen_queue_len: u32,
    /// Workers waiting for a request (`idle processes`).
    pub idle_processes: u32,
    /// Workers handling a request (`active processes`); may briefly exceed max_children
    /// (php bug #76003).
    pub active_processes: u32,
    /// Workers alive (`total processes`).
    pub total_processes: u32,
    /// High-water mark of `active_processes` since the pool started (`max active processes`).
    pub max_active_processes: u32,
    /// Episodes of hitting `pm.max_children` since the pool started (`max children reached`);
    /// never counts for `static`.
    pub max_children_reached: u64,
    /// Requests that hit `request_slowlog_timeout` (`slow requests`).
    pub slow_requests: u64,
}

/// One worker as the status page's `processes` list reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FpmProcess {
    /// Pid in php-fpm's own pid namespace (differs from the host pid in a container).
    pub pid: u32,
    /// `Idle`, `Running`, `Reading headers`, `Getting request information`, `Ending`, `Finishing`.
    pub state: String,
    /// Requests served by this worker.
    pub requests: u64,
    /// Microseconds: the current request's age while busy (queue wait excluded), the last
    /// request's duration when idle.
    pub request_duration_us: u64,
}

/// A parsed status page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPage {
    /// Pool-wide numbers.
    pub status: FpmStatus,
    /// Per-worker rows; empty without `&full`.
    pub processes: Vec<FpmProcess>,
}

/// php-fpm's JSON, keys with spaces as it writes them.
#[derive(Deserialize)]
struct RawStatus {
    pool: String,
    #[serde(rename = "process manager")]
    process_manager: String,
    #[serde(rename = "start since")]
    start_since: u64,
    #[serde(rename = "accepted conn")]
    accepted_conn: u64,
    #[serde(rename = "listen queue")]
    listen_queue: u32,
    #[serde(rename = "max listen queue")]
    max_listen_queue: u32,
    #[serde(rename = "listen queue len")]
    listen_queue_len: u32,
    #[serde(rename = "idle processes")]
    idle_processes: u32,
    #[serde(rename = "active processes")]
    active_processes: u32,
    #[serde(rename = "total processes")]
    total_processes: u32,
    #[serde(rename = "max active processes")]
    max_active_processes: u32,
    #[serde(rename = "max children reached")]
    max_children_reached: u64,
    #[serde(rename = "slow requests")]
    slow_requests: u64,
    #[serde(default)]
    processes: Vec<RawProcess>,
}

#[derive(Deserialize)]
struct RawProcess {
    pid: u32,
    state: String,
    requests: u64,
    #[serde(rename = "request duration")]
    request_duration: u64,
}

/// Parses a `?json` or `?json&full` body.
pub fn parse_status(body: &str) -> anyhow::Result<StatusPage> {
    let raw: RawStatus = serde_json::from_str(body).with_context(|| {
        let head: String = body.chars().take(120).collect();
        format!("php-fpm status is not the expected JSON (starts {head:?})")
    })?;
    Ok(StatusPage {
        status: FpmStatus {
            pool: raw.pool,
            process_manager: raw.process_manager,
            start_since_s: raw.start_since,
            accepted_conn: raw.accepted_conn,
            listen_queue: raw.listen_queue,
            max_listen_queue: raw.max_listen_queue,
            listen_queue_len: raw.listen_queue_len,
            idle_processes: raw.idle_processes,
            active_processes: raw.active_processes,
            total_processes: raw.total_processes,
            max_active_processes: raw.max_active_processes,
            max_children_reached: raw.max_children_reached,
            slow_requests: raw.slow_requests,
        },
        processes: raw
            .processes
            .into_iter()
            .map(|p| FpmProcess {
                pid: p.pid,
                state: p.state,
                requests: p.requests,
                request_duration_us: p.request_duration,
            })
            .collect(),
    })
}

/// Fetches the status page over HTTP, reusing one keep-alive connection to nginx.
#[derive(Debug, Clone)]
pub struct StatusClient {
    client: reqwest::Client,
    url: String,
}

impl StatusClient {
    /// A client for `{base_url}{fpm_status_path}?json&full` giving up after `timeout`.
    pub fn new(endpoints: &Endpoints, timeout: Duration) -> anyhow::Result<Self> {
        // Direct: an HTTP_PROXY in the environment must not reroute probes.
        let client = crate::tls::http_client(&endpoints.base_url, &endpoints.tls)
            .map_err(anyhow::Error::msg)?
            .timeout(timeout)
            .pool_max_idle_per_host(1)
            .build()
            .context("building the HTTP client for php-fpm's status page")?;
        Ok(StatusClient {
            client,
            url: format!(
                "{}{}?json&full",
                endpoints.base_url, endpoints.fpm_status_path
            ),
        })
    }

    /// One fetch; also returns the round trip, which grows when nginx itself is congested.
    pub async fn fetch(&self) -> anyhow::Result<(StatusPage, Duration)> {
        let started = Instant::now();
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .with_context(|| format!("fpm status: GET {}", self.url))?;
        let code = response.status();
        let body = response
            .text()
            .await
            .with_context(|| format!("fpm status: reading the body of {}", self.url))?;
        let took = started.elapsed();
        if !code.is_success() {
            let head: String = body.chars().take(120).collect();
            bail!("fpm status: GET {} answered {code}: {head:?}", self.url);
        }
        let page = parse_status(&body).with_context(|| format!("fpm status: {}", self.url))?;
        Ok((page, took))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From the reference doc (php-fpm 8.2.36, `?json`, unix pool).
    const REFERENCE_JSON: &str = r#"{"pool":"www","process manager":"static","start time":1795342330,"start since":5,"accepted conn":2,"listen queue":0,"max listen queue":0,"listen queue len":0,"idle processes":2,"active processes":0,"total processes":2,"max active processes":1,"max children reached":0,"slow requests":0}"#;
    /// Captured from php-fpm 8.2 with two workers busy on `sleep.php` (unix socket).
    const BUSY_FULL: &str = include_str!("testdata/status_full_unix_busy.json");
    /// Captured from a saturated dynamic TCP pool: fpm does see its queue on TCP.
    const BUSY_TCP: &str = include_str!("testdata/status_tcp_busy.json");

    #[test]
    fn reference_example() {
        let page = parse_status(REFERENCE_JSON).unwrap();
        assert_eq!(page.status.pool, "www");
        assert_eq!(page.status.process_manager, "static");
        assert_eq!(page.status.start_since_s, 5);
        assert_eq!(page.status.accepted_conn, 2);
        assert_eq!(page.status.idle_processes, 2);
        assert_eq!(page.status.total_processes, 2);
        assert_eq!(page.status.max_active_processes, 1);
        assert!(page.processes.is_empty());
    }

    #[test]
    fn captured_full_page() {
        let page = parse_status(BUSY_FULL).unwrap();
        assert_eq!(page.status.active_processes, 2);
        assert_eq!(
            page.status.listen_queue_len, 0,
            "unix: fpm cannot see its queue"
        );
        assert_eq!(page.processes.len(), 2);
        let p = &page.processes[0];
        assert_eq!((p.pid, p.state.as_str(), p.requests), (15590, "Running", 2));
        assert_eq!(p.request_duration_us, 1_287_683);
    }

    #[test]
    fn captured_tcp_page() {
        let s = parse_status(BUSY_TCP).unwrap().status;
        assert_eq!(s.process_manager, "dynamic");
        assert_eq!(
            (s.listen_queue, s.max_listen_queue, s.listen_queue_len),
            (2, 4, 50)
        );
        assert_eq!(s.max_children_reached, 1);
    }

    #[test]
    fn garbage_is_an_error_with_context() {
        let err = parse_status("<html>502 Bad Gateway</html>").unwrap_err();
        assert!(format!("{err:#}").contains("502 Bad Gateway"), "{err:#}");
    }

    #[test]
    fn serializes_snake_case() {
        let v = serde_json::to_value(parse_status(REFERENCE_JSON).unwrap().status).unwrap();
        assert_eq!(v["listen_queue_len"], 0);
        assert_eq!(v["max_children_reached"], 0);
        assert_eq!(v["start_since_s"], 5);
    }
}
