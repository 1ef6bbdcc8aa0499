//! Stack drivers: bring an nginx + php-fpm stack up for one pool config, say where it
//! answers, and take it down again, always (also on error, panic and Ctrl-C).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::scenario::{Driver, PoolConfig, StackSettings};
use crate::tls::TlsVerify;

pub mod calibrate;
pub mod container;
mod discover;
pub mod docker;
pub mod external;
pub mod fleet;
pub mod image;
mod local;
pub mod native;
mod native_control;
pub mod preflight;
mod process;
pub mod render;

pub use container::{CgroupPaths, ContainerRef};
pub use discover::Binaries;
pub use docker::DockerStack;
pub use external::ExternalStack;
pub use native::NativeStack;

/// Where a running stack answers and what probes need to observe it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// The stack's containers (docker driver; php-fpm first), for container CPU and memory
    /// samples; empty for the other drivers.
    #[serde(default)]
    pub containers: Vec<ContainerRef>,
    /// How the probes verify an `https://` `base_url` (as the generator does).
    #[serde(default)]
    pub tls: TlsVerify,
}

/// php-fpm's main pool socket as seen from the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FpmListen {
    /// TCP port (on 127.0.0.1 for native; inside the container's namespace for docker).
    Tcp { port: u16 },
    /// Unix socket path (as seen from the fpm master's mount namespace).
    Unix { path: PathBuf },
}

/// What the driver reports about the stack it runs, for `run.json`'s environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StackInfo {
    /// `native`, `docker` or `external`.
    pub driver: String,
    /// nginx version string (e.g. `1.22.1`), when known.
    pub nginx_version: Option<String>,
    /// php-fpm version string (e.g. `8.2.36`), when known.
    pub php_version: Option<String>,
}

/// A fleet's instances as they start, each by name with where it answers: what samples each
/// instance on its own. An instance an event adds appears once it has started.
pub type InstanceEndpoints = tokio::sync::watch::Receiver<Vec<(String, Endpoints)>>;

/// A stack for one pool config.
#[async_trait]
pub trait Stack: Send {
    /// Starts the stack and waits until it is ready to serve.
    async fn up(&mut self) -> anyhow::Result<Endpoints>;
    /// Stops everything `up` started and removes temporary files. Idempotent.
    async fn down(&mut self) -> anyhow::Result<()>;
    /// Driver name and versions.
    fn info(&self) -> StackInfo;
    /// The load starts at `at` (a fleet times its events and health record from it).
    fn load_starts(&mut self, _at: std::time::Instant) {}
    /// What a fleet did and what its balancer saw; `None` for a single stack.
    fn fleet_record(&self) -> Option<fleet::FleetRecord> {
        None
    }
    /// A fleet's instances as they start; `None` for a single stack (its endpoints are
    /// `up`'s).
    fn instance_endpoints(&self) -> Option<InstanceEndpoints> {
        None
    }
}

/// fpmlab's request agent, in `docker/agent/` (see the file's header).
pub const AGENT_FILE: &str = "fpmlab-agent.php";

/// fpmlab's `docker/` directory (the PHP app, config templates, compose files):
/// `FPMLAB_DOCKER_DIR` if set, else the source tree's `docker/` when it exists (a binary run
/// from its checkout), else `./docker`.
pub fn docker_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FPMLAB_DOCKER_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let in_source = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker");
    if in_source.is_dir() {
        return in_source;
    }
    PathBuf::from("docker")
}

/// The stack for one pool config with the scenario's `stack` settings, run by `driver`. `config_dir` is the config's
/// run directory (native: rendered configs, logs and temp files go under it). Nothing is
/// started until [`Stack::up`].
pub fn create(
    driver: &Driver,
    stack: &StackSettings,
    config: &PoolConfig,
    config_dir: &Path,
) -> anyhow::Result<Box<dyn Stack>> {
    Ok(match driver {
        Driver::Native => Box::new(NativeStack::new(stack, config, config_dir)?),
        Driver::External { url, tls } => {
            Box::new(ExternalStack::new(url, &stack.app.health_path, tls))
        }
        Driver::Docker => Box::new(DockerStack::new(stack, config, config_dir)?),
    })
}

/// The stack for one pool config of `plan`: its fleet when it has one (native or docker
/// instances), else [`create`].
pub fn create_for(
    plan: &crate::scenario::Plan,
    config: &PoolConfig,
    config_dir: &Path,
) -> anyhow::Result<Box<dyn Stack>> {
    match &plan.fleet {
        Some(f) => Ok(Box::new(fleet::FleetStack::new(
            &plan.driver,
            &plan.stack,
            f,
            &plan.configs,
            config,
            config_dir,
        )?)),
        None => create(&plan.driver, &plan.stack, config, config_dir),
    }
}

/// The zone, in seconds east of UTC, the stack's nginx and php-fpm write their log times in:
/// fpmlab's image runs in UTC; a native stack in this machine's local zone (as is a stack
/// the user runs, whose logs fpmlab does not read). The one rule for every log reader; a
/// log whose lines declare their offset (access logs with `%z`) is read by that instead.
pub fn log_utc_offset_s(driver: &Driver) -> i32 {
    use chrono::Offset;
    match driver {
        Driver::Docker => 0,
        Driver::Native | Driver::External { .. } => {
            chrono::Local::now().offset().fix().local_minus_utc()
        }
    }
}

/// `--stack auto`: docker when an engine answers and a compose command exists, else native.
/// Returns the driver and why, e.g. `engine answered` or `no docker engine: …`.
pub fn auto_driver() -> (Driver, String) {
    match docker::preflight() {
        Ok(_) => (Driver::Docker, "engine answered".into()),
        Err(e) => (Driver::Native, format!("{e:#}")),
    }
}
