//! Stack drivers: bring an nginx + php-fpm stack up for one pool config, say where it
//! answers, and take it down again, always (also on error, panic and Ctrl-C).

pub mod image;

use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Where a running stack answers and what probes need to observe it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoints {
    /// Base URL of nginx, e.g. `http://127.0.0.1:38211` (no trailing slash).
    pub base_url: String,
    /// Path answered by nginx alone (never reaches php-fpm), e.g. `/nginx-health`.
    pub nginx_health_path: String,
    /// Path nginx routes to php-fpm's ping through the status listener, e.g. `/fpm-ping`.
    pub fpm_ping_path: String,
    /// Path nginx routes to php-fpm's status page through the status listener.
    /// Probes append `?json&full`.
    pub fpm_status_path: String,
    /// Path of a php script served by the main pool that answers at once (health through fpm).
    pub app_health_path: String,
    /// Host pid of the php-fpm master, when the driver knows it (native; docker via inspect).
    pub fpm_master_pid: Option<u32>,
    /// The pool's listening socket, for reading the kernel's accept queue.
    pub fpm_listen: Option<FpmListen>,
}

/// php-fpm's main pool socket as seen from the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FpmListen {
    /// TCP port (on 127.0.0.1 for native; inside the container's namespace for docker).
    Tcp { port: u16 },
    /// Unix socket path (as seen from the fpm master's mount namespace).
    Unix { path: PathBuf },
}

/// What the driver reports about the stack it runs, for `run.json`'s environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StackInfo {
    /// `native`, `docker` or `external`.
    pub driver: String,
    /// nginx version string (e.g. `1.22.1`), when known.
    pub nginx_version: Option<String>,
    /// php-fpm version string (e.g. `8.2.36`), when known.
    pub php_version: Option<String>,
}

/// A stack for one pool config.
#[async_trait]
pub trait Stack: Send {
    /// Starts the stack and waits until it is ready to serve.
    async fn up(&mut self) -> anyhow::Result<Endpoints>;
    /// Stops everything `up` started and removes temporary files. Idempotent.
    async fn down(&mut self) -> anyhow::Result<()>;
    /// Driver name and versions.
    fn info(&self) -> StackInfo;
}
