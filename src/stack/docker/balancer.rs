//! A docker fleet's balancer: HAProxy from the stack image in its own compose project
//! (`docker/compose.balancer.yaml`), which owns the fleet's network. Each instance's nginx
//! joins that network under its instance name (`compose.fleet-network.yaml`), so the
//! balancer reaches it as `<instance>:80`; the frontend is published on 127.0.0.1 only.
//!
//! What fpmlab reads from it is what it reads from a native HAProxy: its stdout (one line per
//! request and the health-check messages) lands in the mounted log dir as `haproxy.log`,
//! and its stats socket is created in a mounted host directory, where fpmlab polls `show
//! stat` and sends the events' `set server` commands.
//!
//! Life cycle: [`BalancerContainer::create`] makes the network and the container (not
//! started) before the instances start; [`BalancerContainer::start`] once every instance
//! runs (HAProxy resolves their names at start); [`BalancerContainer::down`] after the
//! instances went (their nginx containers detach from the network). A watchdog process runs
//! `compose down` if fpmlab is killed; `Drop` does it on a panic.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};

use super::compose::{docker, watchdog, Compose};
use super::inspect::{parse_port, remove_leftovers};
use super::{env, preflight, DOWN_TIMEOUT, QUERY_TIMEOUT, UP_TIMEOUT};
use crate::stack::image;
use crate::stack::process::Watchdog;

/// The compose service.
const SERVICE: &str = "haproxy";
/// Where compose.balancer.yaml mounts the host's config dir.
const CONFIG_IN_CONTAINER: &str = "/etc/fpmlab";
/// Where the stats socket's host directory is mounted in the container.
pub const RUN_IN_CONTAINER: &str = "/run/fpmlab";
/// The port HAProxy's frontend listens on inside the container (published on 127.0.0.1).
pub const FRONTEND_PORT: u16 = 80;

/// Host directories the container mounts.
pub struct BalancerDirs<'a> {
    /// Holds `haproxy.cfg` (written before `start`).
    pub config: &'a Path,
    /// Where `haproxy.log` is written.
    pub logs: &'a Path,
    /// Where HAProxy creates its stats socket.
    pub run: &'a Path,
}

/// HAProxy in a container, for one config's fleet.
pub struct BalancerContainer {
    compose: Compose,
    network: String,
    watchdog: Option<Watchdog>,
    /// The container's id once created.
    id: Option<String>,
}

impl BalancerContainer {
    /// Creates the fleet's network and the balancer's container, not started yet.
    pub async fn create(
        config: &str,
        dirs: &BalancerDirs<'_>,
        cpuset: Option<&[usize]>,
    ) -> Result<BalancerContainer> {
        let argv = preflight()?;
        let docker_dir = std::fs::canonicalize(super::super::docker_dir())
            .context("fpmlab's docker/ directory not found: set FPMLAB_DOCKER_DIR to it")?;
        let dir = docker_dir.clone();
        let tag = tokio::task::spawn_blocking(move || {
            image::ensure_image(&dir, &mut |line| eprintln!("[balancer] {line}"))
        })
        .await
        .context("the image build panicked")??;
        let project = env::project_name(&format!("{config}-lb"));
        let network = format!("{project}-fleet");
        let path = |p: &Path| p.display().to_string();
        let cpuset = cpuset.map_or(String::new(), |set| {
            set.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        });
        let somaxconn = env::somaxconn(-1, env::host_somaxconn());
        let vars = [
            ("FPMLAB_IMAGE", tag),
            ("FPMLAB_BALANCER_DIR", path(dirs.config)),
            ("FPMLAB_LOG_DIR", path(dirs.logs)),
            ("FPMLAB_RUN_DIR", path(dirs.run)),
            ("FPMLAB_FLEET_NETWORK", network.clone()),
            ("FPMLAB_CPUSET", cpuset),
            ("FPMLAB_PORT", String::new()),
            ("FPMLAB_SOMAXCONN", somaxconn.to_string()),
        ];
        let compose = Compose {
            argv,
            project,
            files: vec![docker_dir.join(env::BALANCER_FILE)],
            env: (vars.into_iter())
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        };
        let mut lb = BalancerContainer {
            watchdog: Some(watchdog(&compose)?),
            compose,
            network,
            id: None,
        };
        lb.compose
            .run(&["up", "--no-start", "--no-build"], UP_TIMEOUT)
            .await
            .context("creating the balancer's container and the fleet's network")?;
        let id = lb.compose.run(&["ps", "-a", "-q", SERVICE], QUERY_TIMEOUT);
        lb.id = Some(id.await?.trim().to_string()).filter(|id| !id.is_empty());
        Ok(lb)
    }

    /// The fleet's network, for the instances to join.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The container's name (`docker ps` shows it).
    pub async fn name(&self) -> Option<String> {
        let id = self.id.as_deref()?;
        let name = docker(&["inspect", "-f", "{{.Name}}", id], QUERY_TIMEOUT).await;
        Some(name.ok()?.trim().trim_start_matches('/').to_string())
    }

    /// `haproxy -c` on the rendered config, in a one-off container of the same service (the
    /// same image, mounts and network, where the instances' names resolve; no port
    /// published), before HAProxy starts: a config HAProxy refuses is reported in HAProxy's
    /// own words, as the native driver's check does, not found later in a log's tail.
    pub async fn check(&self, cfg_on_host: &Path) -> Result<()> {
        let cfg = format!("{CONFIG_IN_CONTAINER}/haproxy.cfg");
        let args = [
            "run",
            "--rm",
            "--no-deps",
            "-T",
            SERVICE,
            "haproxy",
            "-c",
            "-f",
            &cfg,
        ];
        match self.compose.run(&args, UP_TIMEOUT).await {
            Ok(_) => Ok(()),
            Err(e) => Err(anyhow!(
                "HAProxy rejected {} (`haproxy -c` in the stack image): {e:#}",
                cfg_on_host.display()
            )),
        }
    }

    /// Starts HAProxy; returns its frontend's port on 127.0.0.1.
    pub async fn start(&self) -> Result<u16> {
        self.compose
            .run(&["up", "-d", "--no-build", SERVICE], UP_TIMEOUT)
            .await
            .context("starting the balancer's container")?;
        let port = self.compose.run(&["port", SERVICE, "80"], QUERY_TIMEOUT);
        let port = port.await?;
        parse_port(&port).ok_or_else(|| {
            anyhow!(
                "`{} port {SERVICE} 80` printed {port:?}",
                self.compose.text()
            )
        })
    }

    /// Whether HAProxy still runs (the container stops with it).
    pub async fn running(&self) -> bool {
        let Some(id) = self.id.as_deref() else {
            return false;
        };
        let state = docker(&["inspect", "-f", "{{.State.Running}}", id], QUERY_TIMEOUT).await;
        state.is_ok_and(|s| s.trim() == "true")
    }

    /// `haproxy -v` inside the container: its version.
    pub async fn version(&self) -> Option<String> {
        let id = self.id.as_deref()?;
        let out = docker(&["exec", id, "haproxy", "-v"], QUERY_TIMEOUT).await;
        out.ok()?.split_whitespace().nth(2).map(str::to_string)
    }

    /// Stops HAProxy (SIGTERM: at once, every request's line is already written), before the
    /// instances go down.
    pub async fn stop(&self) {
        if let Some(id) = self.id.as_deref() {
            let _ = docker(&["stop", "-t", "2", id], QUERY_TIMEOUT).await;
        }
    }

    /// Removes the container and the network (after the instances went: a network with
    /// containers attached cannot be removed, so any left are disconnected first).
    pub async fn down(&mut self) -> Result<()> {
        let args = ["down", "-v", "--remove-orphans", "-t", "2"];
        if self.compose.run(&args, DOWN_TIMEOUT).await.is_err() {
            self.disconnect_all().await;
        }
        let cleaned = remove_leftovers(&self.compose.project).await;
        if cleaned.is_ok() {
            if let Some(w) = self.watchdog.take() {
                w.disarm();
            }
        }
        self.id = None;
        cleaned.with_context(|| {
            format!(
                "the balancer's container or the network {n} may remain: remove them with \
                 `docker rm -f $(docker ps -aq --filter label=com.docker.compose.project={p})` \
                 and `docker network rm {n}`",
                p = self.compose.project,
                n = self.network
            )
        })
    }

    async fn disconnect_all(&self) {
        let format = "{{range $id, $c := .Containers}}{{$id}} {{end}}";
        let ids = docker(
            &["network", "inspect", "-f", format, &self.network],
            QUERY_TIMEOUT,
        )
        .await
        .unwrap_or_default();
        for id in ids.split_whitespace() {
            let args = ["network", "disconnect", "-f", &self.network, id];
            let _ = docker(&args, QUERY_TIMEOUT).await;
        }
    }
}

impl Drop for BalancerContainer {
    /// Panic safety: take the project down synchronously. When the network still has
    /// instances attached this fails; dropping the watchdog then retries in the background.
    fn drop(&mut self) {
        if self.watchdog.is_none() {
            return;
        }
        let args = ["down", "-v", "--remove-orphans", "-t", "0"];
        if self.compose.run_blocking(&args, Duration::from_secs(30)) {
            if let Some(w) = self.watchdog.take() {
                w.disarm();
            }
        }
    }
}
