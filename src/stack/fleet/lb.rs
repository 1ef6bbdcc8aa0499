//! The fleet's HAProxy, run where its instances run: with the native driver a child process
//! of fpmlab on 127.0.0.1; with the docker driver a container of the stack image on the
//! fleet's docker network, reaching each instance's nginx by its instance name, its frontend
//! published on 127.0.0.1 only. Either way fpmlab reads the same things: its request log in
//! `<config>/logs/haproxy.log` and its stats socket in a short host directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::haproxy::{self, Place, Server};
use super::runtime;
use crate::scenario::Balancer;
use crate::stack::docker::{BalancerContainer, BalancerDirs, BALANCER_PORT, BALANCER_RUN_DIR};
use crate::stack::local::{free_ports, is_root, short_socket_dir};
use crate::stack::process::{stop_all, Daemon, Watchdog};

/// How long `start` waits for HAProxy's socket and frontend.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// A container's HAProxy gets longer: `compose up` itself takes seconds on a busy machine.
const CONTAINER_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of HAProxy's output quoted when it did not start.
const TAIL: usize = 15;

/// The balancer of one config's fleet.
pub(super) struct Lb {
    /// Native: the haproxy binary. `None`: a container of the stack image.
    bin: Option<PathBuf>,
    /// The config's directory (`balancer/haproxy.cfg`, `logs/haproxy.log`).
    dir: PathBuf,
    cpuset: Option<Vec<usize>>,
    socket_dir: Option<PathBuf>,
    daemon: Option<Daemon>,
    watchdog: Option<Watchdog>,
    container: Option<BalancerContainer>,
    /// Docker: removes the socket dir (the socket in it is the container's root's) if
    /// fpmlab is killed; the container's own watchdog takes the container down.
    dir_watchdog: Option<Watchdog>,
}

impl Lb {
    /// Native HAProxy from this machine, or (`in_container`) the stack image's. Starts nothing.
    pub fn new(in_container: bool, dir: &Path, cpuset: Option<Vec<usize>>) -> Result<Lb> {
        Ok(Lb {
            bin: match in_container {
                true => None,
                false => Some(haproxy::haproxy_binary()?),
            },
            dir: dir.to_path_buf(),
            cpuset,
            socket_dir: None,
            daemon: None,
            watchdog: None,
            container: None,
            dir_watchdog: None,
        })
    }

    /// `native` or `docker`: where HAProxy runs.
    pub fn driver(&self) -> &'static str {
        match self.bin {
            Some(_) => "native",
            None => "docker",
        }
    }

    /// Whether it reaches the instances by name on the fleet's network (else on 127.0.0.1).
    pub fn by_name(&self) -> bool {
        self.bin.is_none()
    }

    /// The stats socket on this machine.
    pub fn socket(&self) -> PathBuf {
        self.socket_dir
            .clone()
            .unwrap_or_default()
            .join("haproxy.sock")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("logs/haproxy.log")
    }

    fn cfg_dir(&self) -> PathBuf {
        self.dir.join("balancer")
    }

    /// Native: `haproxy -v` now. Docker: `None` until it runs (see [`Lb::version_running`]).
    pub fn version(&self) -> Option<String> {
        haproxy::haproxy_version(self.bin.as_ref()?)
    }

    /// Docker: before the instances start, creates the balancer's container and the fleet's
    /// network (returned, for the instances to join). Native: nothing.
    pub async fn prepare(&mut self, config: &str) -> Result<Option<String>> {
        if self.bin.is_some() {
            return Ok(None);
        }
        self.socket_dir = Some(short_socket_dir()?);
        let (cfg, logs) = (self.cfg_dir(), self.dir.join("logs"));
        for d in [&cfg, &logs] {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
        }
        let run = self.socket_dir.clone().expect("just set");
        self.dir_watchdog = Some(dir_watchdog(&run)?);
        let dirs = BalancerDirs {
            config: &cfg,
            logs: &logs,
            run: &run,
        };
        let c = BalancerContainer::create(config, &dirs, self.cpuset.as_deref()).await?;
        let network = c.network().to_string();
        self.container = Some(c);
        Ok(Some(network))
    }

    /// Writes `haproxy.cfg` for `servers` and starts HAProxy; returns the frontend's port on
    /// 127.0.0.1 once the stats socket answers.
    pub async fn start(&mut self, b: &Balancer, servers: &[Server]) -> Result<u16> {
        let cfg_dir = self.cfg_dir();
        std::fs::create_dir_all(&cfg_dir)?;
        let cfg = cfg_dir.join("haproxy.cfg");
        let (port, place) = match &self.bin {
            Some(_) => {
                let dir = short_socket_dir()?;
                self.dir_watchdog = Some(dir_watchdog(&dir)?);
                self.socket_dir = Some(dir);
                let port = free_ports()?[0];
                let place = Place {
                    bind: format!("127.0.0.1:{port}"),
                    socket: self.socket(),
                    socket_uid: None,
                };
                (port, place)
            }
            None => {
                // SAFETY: getuid has no preconditions.
                let uid = (!is_root()).then(|| unsafe { libc::getuid() });
                let socket = Path::new(BALANCER_RUN_DIR).join("haproxy.sock");
                let bind = format!("0.0.0.0:{}", BALANCER_PORT);
                let place = Place {
                    bind,
                    socket,
                    socket_uid: uid,
                };
                (0, place)
            }
        };
        let text = haproxy::render(b, &place, servers);
        std::fs::write(&cfg, text).with_context(|| format!("cannot write {}", cfg.display()))?;
        match self.bin.clone() {
            Some(bin) => {
                self.start_native(&bin, &cfg, port).await?;
                Ok(port)
            }
            None => self.start_container().await,
        }
    }

    async fn start_native(&mut self, bin: &Path, cfg: &Path, port: u16) -> Result<()> {
        let check = tokio::process::Command::new(bin)
            .arg("-c")
            .arg("-f")
            .arg(cfg)
            .output()
            .await
            .context("cannot run haproxy -c")?;
        if !check.status.success() {
            bail!(
                "haproxy rejected {}:\n{}{}",
                cfg.display(),
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            );
        }
        let mut cmd = std::process::Command::new(bin);
        cmd.arg("-db").arg("-f").arg(cfg);
        let log = self.log();
        let cpus = (self.cpuset.clone()).unwrap_or_else(crate::affinity::all_cpus);
        let daemon = Daemon::spawn("haproxy", cmd, &log, &log, Some(&cpus))?;
        self.watchdog = Some(Watchdog::spawn(std::slice::from_ref(&daemon))?);
        self.daemon = Some(daemon);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let socket_ok = runtime::command(&self.socket(), "show info").await.is_ok();
            let fe_ok = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok();
            if socket_ok && fe_ok {
                return Ok(());
            }
            let h = self.daemon.as_mut().expect("just set");
            if h.exit_status().is_some() || Instant::now() > deadline {
                bail!(
                    "HAProxy did not start; {} ends with:\n{}",
                    log.display(),
                    h.stdio_tail(TAIL)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The socket answering means every listener is bound (docker's port proxy on
    /// 127.0.0.1 accepts before HAProxy listens, so a TCP connect proves nothing).
    async fn start_container(&mut self) -> Result<u16> {
        let c = self
            .container
            .as_ref()
            .context("the balancer was not prepared")?;
        c.check(&self.cfg_dir().join("haproxy.cfg")).await?;
        let port = c.start().await?;
        let deadline = Instant::now() + CONTAINER_READY_TIMEOUT;
        loop {
            if runtime::command(&self.socket(), "show info").await.is_ok() {
                return Ok(port);
            }
            if !c.running().await || Instant::now() > deadline {
                let log = self.log();
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                bail!(
                    "HAProxy's container did not start; {} ends with:\n{}",
                    log.display(),
                    lines[lines.len().saturating_sub(TAIL)..].join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Docker, once it runs: HAProxy's version and the container's name.
    pub async fn container_facts(&self) -> (Option<String>, Option<String>) {
        match &self.container {
            Some(c) => (c.version().await, c.name().await),
            None => (None, None),
        }
    }

    /// Stops HAProxy before the instances go down (SIGTERM stops at once: each request's
    /// line is already written).
    pub async fn stop(&mut self) {
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
        if let Some(mut h) = self.daemon.take() {
            h.signal_group(libc::SIGTERM);
            stop_all(std::slice::from_mut(&mut h), Duration::from_secs(1)).await;
        }
        if let Some(c) = &self.container {
            c.stop().await;
        }
    }

    /// After the instances went: the container and the fleet's network removed, the socket
    /// dir too.
    pub async fn remove(&mut self) {
        if let Some(mut c) = self.container.take() {
            if let Err(e) = c.down().await {
                eprintln!("fpmlab: balancer: {e:#}");
            }
        }
        if let Some(d) = self.socket_dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
        if let Some(w) = self.dir_watchdog.take() {
            w.disarm();
        }
    }
}

impl Drop for Lb {
    /// Panic safety: native HAProxy killed; the container's own `Drop` takes it down.
    fn drop(&mut self) {
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
        if let Some(mut h) = self.daemon.take() {
            h.kill_and_reap();
        }
        self.container.take();
        if let Some(d) = self.socket_dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
        if let Some(w) = self.dir_watchdog.take() {
            w.disarm();
        }
    }
}

/// Removes the socket dir `dir` (under the system temp dir) if fpmlab is killed before it
/// could: SIGKILL must leave no temp dir behind, whichever driver runs the balancer.
fn dir_watchdog(dir: &Path) -> Result<Watchdog> {
    let mut rm = std::process::Command::new("/bin/sh");
    rm.arg("-c")
        .arg(r#"read _; rm -rf "$1""#)
        .arg("fpmlab-socket-dir-watchdog")
        .arg(dir);
    Watchdog::arm(rm, "the balancer's socket dir watchdog")
}
