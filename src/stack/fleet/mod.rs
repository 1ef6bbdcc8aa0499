//! The fleet: one nginx + php-fpm instance per server (native: a pair of processes in its
//! own directory with its own ports and pool; docker: a compose project whose php-fpm
//! container has the instance's CPU and memory limits), behind HAProxy configured like an AWS
//! ALB. HAProxy runs on this machine for both drivers and reaches each instance's nginx on
//! 127.0.0.1 (docs/fleet.md says why). The generator targets HAProxy; events act on
//! instances during the load; HAProxy's view of each server is polled throughout.
//!
//! Layout under the config's directory: `instances/<name>/` (each instance's `stack/`,
//! `logs/`), `balancer/haproxy.cfg`, `logs/haproxy.log` (HAProxy's stdout: one line per
//! request, and its health-check messages).

mod control;
pub mod haproxy;
mod instance;
pub mod record;
pub mod runtime;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::local::{free_ports, short_socket_dir};
use super::process::{stop_all, Daemon, Watchdog};
use super::{Endpoints, Stack, StackInfo};
use crate::scenario::{Driver, EventAction, Fleet, InstanceSpec, PoolConfig, StackSettings};
pub use haproxy::haproxy_binary;
use haproxy::haproxy_version;
use instance::{each_instance, Instance};
pub use record::{EventRecord, FleetRecord, HealthChange, InstanceRecord};

/// How long `up` waits for HAProxy's socket and frontend.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// One instance of the fleet.
pub(super) struct Member {
    pub spec: InstanceSpec,
    pub stack: Instance,
    pub port: Option<u16>,
    /// Its `app.nginx` directives without the cold one: what a reload restores.
    pub warm_nginx: Vec<String>,
    /// Stops its throttle's duty cycle.
    pub throttle: Option<CancellationToken>,
}

/// nginx's answer while an instance is cold: application requests (`.php`) only, so nginx's
/// and the deep health check's paths still answer 200 (the seed-004 worker passed its
/// health check while it answered 401).
pub fn cold_directive(status: u16) -> String {
    format!("if ($uri ~ \"\\.php\") {{ return {status} \"cold\\n\"; }}")
}

/// The fleet for one pool config of the matrix.
pub struct FleetStack {
    fleet: Fleet,
    members: Arc<tokio::sync::Mutex<Vec<Member>>>,
    dir: PathBuf,
    haproxy_bin: PathBuf,
    socket_dir: Option<PathBuf>,
    haproxy: Option<Daemon>,
    watchdog: Option<Watchdog>,
    cpuset: Option<Vec<usize>>,
    record: Arc<Mutex<FleetRecord>>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    info: StackInfo,
}

impl FleetStack {
    /// Prepares every instance of the plan (started ones and ones events add) on `driver`
    /// (native or docker); starts nothing. `config` is the matrix's pool, which instances
    /// without their own run.
    pub fn new(
        driver: &Driver,
        stack: &StackSettings,
        fleet: &Fleet,
        configs: &[PoolConfig],
        config: &PoolConfig,
        config_dir: &Path,
    ) -> Result<FleetStack> {
        let haproxy_bin = haproxy_binary()?;
        std::fs::create_dir_all(config_dir.join("logs"))?;
        let dir = std::fs::canonicalize(config_dir)?;
        let mut members = Vec::new();
        let mut instances = Vec::new();
        for spec in &fleet.instances {
            let pool = spec.own_pool.as_ref().unwrap_or_else(|| {
                spec.pool
                    .as_ref()
                    .and_then(|n| configs.iter().find(|c| &c.name == n))
                    .unwrap_or(config)
            });
            let mut settings = stack.clone();
            settings.cpuset = spec.cpuset.clone().or_else(|| stack.cpuset.clone());
            let warm_nginx = settings.app.nginx.clone();
            let cold = fleet.events.iter().find_map(|e| match &e.action {
                EventAction::Add { cold: Some(c) } if e.instance == spec.name => Some(c),
                _ => None,
            });
            if let Some(c) = cold {
                settings.app.nginx.push(cold_directive(c.status));
            }
            let inst_dir = dir.join("instances").join(&spec.name);
            let mut not_enforced = Vec::new();
            let native = *driver == Driver::Native;
            if let Some(c) = spec.cpus.filter(|_| native) {
                not_enforced.push(format!(
                    "cpus = {c}: the native driver has no CPU quota (give cpuset instead)"
                ));
            }
            if let Some(m) = spec.memory_mib.filter(|_| native) {
                not_enforced.push(format!("memory = {m} MiB: the native driver has no memory limit (no OOM kill as in a container)"));
            }
            instances.push(InstanceRecord {
                name: spec.name.clone(),
                pool: pool.name.clone(),
                port: None,
                dir: inst_dir.clone(),
                cpuset: settings.cpuset.clone(),
                not_enforced,
                container: None,
            });
            let mut spec = spec.clone();
            if !native {
                // The limits its container gets (what a throttle takes a share of).
                spec.cpus = spec.cpus.or(stack.cpus);
                spec.memory_mib = spec.memory_mib.or(stack.memory_mib);
            }
            members.push(Member {
                stack: Instance::new(driver, &settings, &spec, pool, &inst_dir)?,
                spec,
                port: None,
                warm_nginx,
                throttle: None,
            });
        }
        let info = StackInfo {
            driver: match driver {
                Driver::Docker => "docker-fleet".into(),
                _ => "native-fleet".into(),
            },
            ..members[0].stack.stack().info()
        };
        let record = FleetRecord {
            balancer_log: dir.join("logs/haproxy.log"),
            haproxy_version: haproxy_version(&haproxy_bin),
            instances,
            ..FleetRecord::default()
        };
        Ok(FleetStack {
            fleet: fleet.clone(),
            members: Arc::new(tokio::sync::Mutex::new(members)),
            dir,
            haproxy_bin,
            socket_dir: None,
            haproxy: None,
            watchdog: None,
            cpuset: stack.cpuset.clone(),
            record: Arc::new(Mutex::new(record)),
            stop: CancellationToken::new(),
            tasks: Vec::new(),
            info,
        })
    }

    fn socket(&self) -> PathBuf {
        self.socket_dir
            .clone()
            .unwrap_or_default()
            .join("haproxy.sock")
    }

    async fn start_instances(&mut self) -> Result<Vec<haproxy::Server>> {
        let mut members = self.members.lock().await;
        // Docker: the instances events add start now too, and join the balancer at their
        // event's time, as an ALB registers a target that already runs: a `compose up`
        // takes seconds (tens on a busy machine) that would otherwise delay the event.
        let started = each_instance(&mut members, |mut m| async move {
            let start = m.spec.initial || matches!(m.stack, Instance::Docker(_));
            let up = match start {
                true => Some(m.stack.stack().up().await),
                false => None,
            };
            (m, up)
        })
        .await;
        let mut record = self.record.lock().unwrap();
        let mut failed = None;
        for (m, up) in members.iter_mut().zip(started) {
            match up {
                Some(Ok(ep)) => {
                    m.port = port_of(&ep.base_url);
                    if let Some(r) = (record.instances.iter_mut()).find(|r| r.name == m.spec.name) {
                        r.port = m.port;
                    }
                    record.keep_readings(&m.spec.name, m.stack.readings());
                }
                Some(Err(e)) if failed.is_none() => {
                    failed = Some(e.context(format!("instance {}", m.spec.name)))
                }
                _ => {}
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        // Instances not in the fleet at the start are declared disabled until they join.
        Ok((members.iter())
            .map(|m| haproxy::Server {
                name: m.spec.name.clone(),
                port: m.port.filter(|_| m.spec.initial),
            })
            .collect())
    }

    async fn start_haproxy(&mut self, servers: &[haproxy::Server]) -> Result<u16> {
        self.socket_dir = Some(short_socket_dir()?);
        let port = free_ports()?[0];
        let cfg_dir = self.dir.join("balancer");
        std::fs::create_dir_all(&cfg_dir)?;
        let cfg = cfg_dir.join("haproxy.cfg");
        let text = haproxy::render(&self.fleet.balancer, port, &self.socket(), servers);
        std::fs::write(&cfg, text).with_context(|| format!("cannot write {}", cfg.display()))?;
        let check = tokio::process::Command::new(&self.haproxy_bin)
            .arg("-c")
            .arg("-f")
            .arg(&cfg)
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
        let mut cmd = std::process::Command::new(&self.haproxy_bin);
        cmd.arg("-db").arg("-f").arg(&cfg);
        let log = self.dir.join("logs/haproxy.log");
        let cpus = self
            .cpuset
            .clone()
            .unwrap_or_else(crate::affinity::all_cpus);
        let daemon = Daemon::spawn("haproxy", cmd, &log, &log, Some(&cpus))?;
        self.watchdog = Some(Watchdog::spawn(std::slice::from_ref(&daemon))?);
        self.haproxy = Some(daemon);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let socket_ok = runtime::command(&self.socket(), "show info").await.is_ok();
            let fe_ok = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok();
            if socket_ok && fe_ok {
                return Ok(port);
            }
            let h = self.haproxy.as_mut().expect("just set");
            if h.exit_status().is_some() || Instant::now() > deadline {
                bail!(
                    "HAProxy did not start; {} ends with:\n{}",
                    log.display(),
                    h.stdio_tail(15)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop_everything(&mut self) {
        self.stop.cancel();
        for t in self.tasks.drain(..) {
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                eprintln!("fpmlab: a fleet task did not stop within 5 s");
            }
        }
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
        if let Some(mut h) = self.haproxy.take() {
            // The load is over: SIGTERM stops at once (each request's line is already written).
            h.signal_group(libc::SIGTERM);
            stop_all(std::slice::from_mut(&mut h), Duration::from_secs(1)).await;
        }
        let mut members = self.members.lock().await;
        for m in members.iter_mut() {
            if let Some(pgid) = m.stack.fpm_group() {
                // A throttled php-fpm left stopped would ignore SIGQUIT.
                // SAFETY: plain syscall; the group is our child's (not reaped).
                unsafe {
                    libc::killpg(pgid as libc::pid_t, libc::SIGCONT);
                }
            }
            // Its peak memory and OOM kills, before the cgroup goes with the container.
            let readings = m.stack.readings();
            self.record
                .lock()
                .unwrap()
                .keep_readings(&m.spec.name, readings);
        }
        each_instance(&mut members, |mut m| async move {
            if let Err(e) = m.stack.stack().down().await {
                eprintln!("fpmlab: instance {}: {e:#}", m.spec.name);
            }
            (m, ())
        })
        .await;
        if let Some(d) = self.socket_dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn port_of(base_url: &str) -> Option<u16> {
    base_url.rsplit(':').next()?.parse().ok()
}

#[async_trait]
impl Stack for FleetStack {
    async fn up(&mut self) -> Result<Endpoints> {
        let started = async {
            let servers = self.start_instances().await?;
            self.start_haproxy(&servers).await
        }
        .await;
        let port = match started {
            Ok(p) => p,
            Err(e) => {
                self.stop_everything().await;
                return Err(e);
            }
        };
        let first = self.fleet.balancer.health_path.clone();
        Ok(Endpoints {
            base_url: format!("http://127.0.0.1:{port}"),
            nginx_health_path: "/nginx-health".into(),
            fpm_ping_path: "/fpm-ping".into(),
            fpm_status_path: "/fpm-status".into(),
            app_health_path: first,
            fpm_master_pid: None,
            fpm_listen: None,
            containers: Vec::new(),
            // The balancer listens in plain HTTP on loopback.
            tls: Default::default(),
        })
    }

    async fn down(&mut self) -> Result<()> {
        self.stop_everything().await;
        Ok(())
    }

    fn info(&self) -> StackInfo {
        self.info.clone()
    }

    fn load_starts(&mut self, at: Instant) {
        let ctx = control::Ctx {
            members: self.members.clone(),
            socket: self.socket(),
            record: self.record.clone(),
            stop: self.stop.clone(),
            origin: at,
        };
        let poll = control::poll_interval(&self.fleet.balancer);
        self.record.lock().unwrap().poll_interval_ms = poll.as_millis() as u64;
        self.tasks
            .push(tokio::spawn(control::poll_health(ctx.clone(), poll)));
        self.tasks.push(tokio::spawn(control::run_events(
            ctx,
            self.fleet.events.clone(),
        )));
    }

    fn fleet_record(&self) -> Option<FleetRecord> {
        Some(self.record.lock().unwrap().clone())
    }
}

impl Drop for FleetStack {
    /// Panic safety: HAProxy is killed here; each instance's own drop kills its daemons or
    /// takes its compose project down, once the tasks holding the instances have ended.
    fn drop(&mut self) {
        self.stop.cancel();
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
        if let Some(mut h) = self.haproxy.take() {
            h.kill_and_reap();
        }
        if let Some(d) = self.socket_dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
