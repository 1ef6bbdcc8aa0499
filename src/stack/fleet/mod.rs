//! The fleet: one nginx + php-fpm instance per server (native: a pair of processes in its
//! own directory with its own ports and pool; docker: a compose project whose php-fpm
//! container has the instance's CPU and memory limits), behind HAProxy configured like an AWS
//! ALB. Native: HAProxy runs on this machine and reaches each nginx on 127.0.0.1. Docker:
//! HAProxy runs in a container of the stack image on the fleet's network and reaches each
//! nginx by its instance name (`lb.rs`). The generator targets HAProxy; events act on
//! instances during the load; HAProxy's view of each server is polled throughout.
//!
//! Layout under the config's directory: `instances/<name>/` (each instance's `stack/`,
//! `logs/`), `balancer/haproxy.cfg`, `logs/haproxy.log` (HAProxy's stdout: one line per
//! request, and its health-check messages).

mod control;
pub mod haproxy;
mod instance;
mod lb;
pub mod record;
pub mod runtime;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{Endpoints, InstanceEndpoints, Stack, StackInfo};
use crate::scenario::{Driver, EventAction, Fleet, InstanceSpec, PoolConfig, StackSettings};
pub use haproxy::haproxy_binary;
use instance::{each_instance, Instance};
use lb::Lb;
pub use record::{EventRecord, FleetRecord, HealthChange, InstanceRecord};

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
    config: String,
    lb: Lb,
    record: Arc<Mutex<FleetRecord>>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    info: StackInfo,
    /// Each started instance's endpoints, for per-instance sampling.
    started: Started,
}

/// Where each started instance answers, published as instances start.
pub(super) type Started = Arc<tokio::sync::watch::Sender<Vec<(String, Endpoints)>>>;

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
        std::fs::create_dir_all(config_dir.join("logs"))?;
        let dir = std::fs::canonicalize(config_dir)?;
        let lb = Lb::new(*driver == Driver::Docker, &dir, stack.cpuset.clone())?;
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
            balancer_log: lb.log(),
            haproxy_version: lb.version(),
            balancer_driver: lb.driver().into(),
            instances,
            ..FleetRecord::default()
        };
        Ok(FleetStack {
            fleet: fleet.clone(),
            members: Arc::new(tokio::sync::Mutex::new(members)),
            config: config.name.clone(),
            lb,
            record: Arc::new(Mutex::new(record)),
            stop: CancellationToken::new(),
            tasks: Vec::new(),
            info,
            started: Arc::new(tokio::sync::watch::channel(Vec::new()).0),
        })
    }

    async fn start_instances(&mut self) -> Result<Vec<haproxy::Server>> {
        let mut members = self.members.lock().await;
        if let Some(network) = self.lb.prepare(&self.config).await? {
            // Each nginx joins the balancer's network under its instance's name.
            for m in members.iter_mut() {
                if let Instance::Docker(d) = &mut m.stack {
                    d.join_fleet_network(&network, &m.spec.name);
                }
            }
        }
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
                    (self.started).send_modify(|v| v.push((m.spec.name.clone(), ep)));
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
        // A container's HAProxy knows every instance by name from the start (all run); a
        // native one gets a joining instance's port when it joins.
        let by_name = self.lb.by_name();
        Ok((members.iter())
            .map(|m| haproxy::Server {
                name: m.spec.name.clone(),
                addr: match by_name {
                    true => Some(format!("{}:80", m.spec.name)),
                    false => (m.port.filter(|_| m.spec.initial)).map(|p| format!("127.0.0.1:{p}")),
                },
                enabled: m.spec.initial,
            })
            .collect())
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
        // The load is over: the balancer first, so the instances' ends are not in its log.
        self.lb.stop().await;
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
        drop(members);
        // Docker: the container and the fleet's network, once no instance is attached.
        self.lb.remove().await;
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
            let port = self.lb.start(&self.fleet.balancer, &servers).await?;
            let (version, container) = self.lb.container_facts().await;
            let mut r = self.record.lock().unwrap();
            r.haproxy_version = r.haproxy_version.take().or(version);
            r.balancer_container = container;
            anyhow::Ok(port)
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
            socket: self.lb.socket(),
            by_name: self.lb.by_name(),
            record: self.record.clone(),
            stop: self.stop.clone(),
            origin: at,
            started: self.started.clone(),
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

    fn instance_endpoints(&self) -> Option<InstanceEndpoints> {
        Some(self.started.subscribe())
    }
}

impl Drop for FleetStack {
    /// Panic safety: each instance's own drop kills its daemons or takes its compose project
    /// down (here when no task holds the instances any more, else once those tasks end);
    /// then the balancer's drop kills HAProxy or takes its container and the fleet's
    /// network down (the network's removal waits for the instances: its watchdog retries).
    fn drop(&mut self) {
        self.stop.cancel();
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if let Some(members) = Arc::get_mut(&mut self.members) {
            members.get_mut().clear();
        }
    }
}
