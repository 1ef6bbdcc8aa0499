//! The fleet during the load: events carried out on time, and HAProxy's view of every
//! server polled and kept whenever it changes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::haproxy::{BACKEND, FAIL_OPEN_SUFFIX};
use super::instance::Instance;
use super::record::{EventRecord, FleetRecord, HealthChange};
use super::{port_of, runtime, Member, Started};
use crate::scenario::{Balancer, EventAction, FleetEvent};

/// What the fleet's tasks share.
#[derive(Clone)]
pub(super) struct Ctx {
    pub members: Arc<tokio::sync::Mutex<Vec<Member>>>,
    pub socket: PathBuf,
    /// The balancer reaches instances by name (it runs in a container on the fleet's
    /// network, where every instance is known from the start): a join sets no address.
    pub by_name: bool,
    pub record: Arc<Mutex<FleetRecord>>,
    pub stop: CancellationToken,
    /// The load's start: every time is counted from it.
    pub origin: Instant,
    /// Where each started instance answers (an added one joins it).
    pub started: Started,
}

impl Ctx {
    fn now_ms(&self) -> i64 {
        let now = Instant::now();
        if now >= self.origin {
            now.duration_since(self.origin).as_millis() as i64
        } else {
            -(self.origin.duration_since(now).as_millis() as i64)
        }
    }

    fn note(&self, planned_ms: u64, instance: &str, action: &str, outcome: anyhow::Result<String>) {
        let (detail, error) = match outcome {
            Ok(d) => (d, None),
            Err(e) => (String::new(), Some(format!("{e:#}"))),
        };
        self.record.lock().unwrap().events.push(EventRecord {
            planned_ms,
            t_ms: self.now_ms().max(0) as u64,
            instance: instance.into(),
            action: action.into(),
            detail,
            error,
        });
    }

    /// `set server` on the instance's line and its fail-open twin.
    async fn set_both(&self, name: &str, what: &str) -> anyhow::Result<()> {
        for s in [name.to_string(), format!("{name}{FAIL_OPEN_SUFFIX}")] {
            runtime::act(&self.socket, &format!("set server {BACKEND}/{s} {what}")).await?;
        }
        Ok(())
    }
}

/// Often enough to see each check's effect: half the check interval, 50 to 250 ms.
pub(super) fn poll_interval(b: &Balancer) -> Duration {
    Duration::from_millis((b.interval_ms / 2).clamp(50, 250))
}

/// Reads `show stat` every `every` until stopped; keeps each server's changes.
pub(super) async fn poll_health(ctx: Ctx, every: Duration) {
    let mut last: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = ctx.stop.cancelled() => return,
        }
        let Ok(csv) = runtime::command(&ctx.socket, "show stat").await else {
            continue;
        };
        let t_ms = ctx.now_ms();
        for s in runtime::parse_stat(&csv, BACKEND) {
            let key = (s.status.clone(), s.weight);
            if last.get(&s.server) == Some(&key) {
                continue;
            }
            last.insert(s.server.clone(), key);
            ctx.record.lock().unwrap().health.push(HealthChange {
                t_ms,
                server: s.server,
                status: s.status,
                check_failures: s.check_failures,
                check_status: s.check_status,
                weight: s.weight,
            });
        }
    }
}

/// Carries out the events at their times (each after the previous one finished).
pub(super) async fn run_events(ctx: Ctx, events: Vec<FleetEvent>) {
    for e in events {
        let at = ctx.origin + Duration::from_millis(e.at_ms);
        tokio::select! {
            _ = tokio::time::sleep_until(at.into()) => {}
            _ = ctx.stop.cancelled() => return,
        }
        let outcome = match &e.action {
            EventAction::Add { cold } => add(&ctx, &e.instance, cold.as_ref()).await,
            EventAction::Kill => kill(&ctx, &e.instance).await,
            EventAction::Drain => ctx
                .set_both(&e.instance, "state drain")
                .await
                .map(|_| "HAProxy: set server state drain".into()),
            EventAction::Remove => ctx
                .set_both(&e.instance, "state maint")
                .await
                .map(|_| "HAProxy: set server state maint (deregistered)".into()),
            EventAction::Throttle { cpu_share, for_ms } => {
                throttle(&ctx, &e, *cpu_share, *for_ms).await
            }
        };
        ctx.note(e.at_ms, &e.instance, e.action.name(), outcome);
    }
}

async fn add(
    ctx: &Ctx,
    name: &str,
    cold: Option<&crate::scenario::Cold>,
) -> anyhow::Result<String> {
    let port = {
        let mut members = ctx.members.lock().await;
        let m = member(&mut members, name)?;
        // A docker instance already runs (started with the fleet); a native one starts now.
        if m.port.is_none() {
            let ep = m.stack.stack().up().await?;
            m.port = port_of(&ep.base_url);
            (ctx.started).send_modify(|v| v.push((name.to_string(), ep)));
            (ctx.record.lock().unwrap()).keep_readings(name, m.stack.readings());
        }
        m.port
            .ok_or_else(|| anyhow::anyhow!("{name} has no port"))?
    };
    if let Some(r) = ctx
        .record
        .lock()
        .unwrap()
        .instances
        .iter_mut()
        .find(|i| i.name == name)
    {
        r.port = Some(port);
    }
    if !ctx.by_name {
        ctx.set_both(name, &format!("addr 127.0.0.1 port {port}"))
            .await?;
    }
    ctx.set_both(name, "state ready").await?;
    let Some(cold) = cold.cloned() else {
        return Ok(format!("started on port {port}, registered with HAProxy"));
    };
    let (ctx2, name2) = (ctx.clone(), name.to_string());
    let planned = ctx.now_ms().max(0) as u64 + cold.for_ms;
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(cold.for_ms)) => {}
            _ = ctx2.stop.cancelled() => return,
        }
        let outcome = async {
            let mut members = ctx2.members.lock().await;
            let m = member(&mut members, &name2)?;
            let warm = m.warm_nginx.clone();
            m.stack.reload_nginx_with(warm).await?;
            Ok("nginx reloaded without the cold answer".to_string())
        }
        .await;
        ctx2.note(planned, &name2, "cold_end", outcome);
    });
    Ok(format!(
        "started on port {port}, registered cold: answers {} to .php requests for {} ms",
        cold.status, cold.for_ms
    ))
}

async fn kill(ctx: &Ctx, name: &str) -> anyhow::Result<String> {
    let mut members = ctx.members.lock().await;
    let m = member(&mut members, name)?;
    if let Some(t) = m.throttle.take() {
        t.cancel();
    }
    // A container's peak memory and OOM kills go with it.
    (ctx.record.lock().unwrap()).keep_readings(name, m.stack.readings());
    m.stack.kill().await
}

/// The instance's php-fpm gets `share` of the CPU it had. Docker: `docker update --cpus` on
/// its container (a CFS quota, as a cloud instance's CPU credits running out), restored
/// after `for_ms`. Native: a SIGSTOP/SIGCONT duty cycle on php-fpm's process group, 100 ms
/// periods (in whole slices: a request may stall up to the stopped part of a period).
async fn throttle(
    ctx: &Ctx,
    e: &FleetEvent,
    share: f64,
    for_ms: Option<u64>,
) -> anyhow::Result<String> {
    let token = ctx.stop.child_token();
    let pgid = {
        let mut members = ctx.members.lock().await;
        let m = member(&mut members, &e.instance)?;
        if let Some(old) = m.throttle.replace(token.clone()) {
            old.cancel();
        }
        if let Instance::Docker(d) = &m.stack {
            // Without a quota of its own it had the CPUs it may run on.
            let cpus = (m.spec.cpuset.as_ref().map(Vec::len))
                .unwrap_or_else(|| crate::affinity::all_cpus().len());
            let full = m.spec.cpus.unwrap_or(cpus as f64);
            d.set_cpus(full * share).await?;
            drop(members);
            if let Some(ms) = for_ms {
                tokio::spawn(unthrottle_docker(
                    ctx.clone(),
                    e.instance.clone(),
                    full,
                    ms,
                    token,
                ));
            }
            return Ok(format!(
                "docker update --cpus {:.2} (of {full}) on its php-fpm container",
                full * share
            ));
        }
        m.stack
            .fpm_group()
            .ok_or_else(|| anyhow::anyhow!("php-fpm of {} is not running", e.instance))?
    };
    let period = Duration::from_millis(100);
    let run = period.mul_f64(share);
    let end = for_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
    let (ctx2, name) = (ctx.clone(), e.instance.clone());
    tokio::spawn(async move {
        let signal = |s| unsafe {
            // SAFETY: plain syscall; the group is our child's, cancelled before it is killed.
            libc::killpg(pgid as libc::pid_t, s);
        };
        loop {
            signal(libc::SIGCONT);
            tokio::time::sleep(run).await;
            if token.is_cancelled() || end.is_some_and(|e| Instant::now() >= e) {
                break;
            }
            signal(libc::SIGSTOP);
            tokio::select! {
                _ = tokio::time::sleep(period - run) => {}
                _ = token.cancelled() => {}
            }
        }
        signal(libc::SIGCONT);
        if end.is_some() && !token.is_cancelled() {
            let planned = ctx2.now_ms().max(0) as u64;
            ctx2.note(
                planned,
                &name,
                "throttle_end",
                Ok("php-fpm runs freely again".into()),
            );
        }
    });
    Ok(format!(
        "php-fpm (process group {pgid}) runs {:.0} ms of every 100 ms (SIGSTOP/SIGCONT)",
        share * 100.0
    ))
}

/// A docker throttle's end: the quota back to `full` cores after `ms`.
async fn unthrottle_docker(ctx: Ctx, name: String, full: f64, ms: u64, token: CancellationToken) {
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
        _ = token.cancelled() => return,
    }
    let planned = ctx.now_ms().max(0) as u64;
    let outcome = async {
        let mut members = ctx.members.lock().await;
        match &member(&mut members, &name)?.stack {
            Instance::Docker(d) => d.set_cpus(full).await,
            Instance::Native(_) => Ok(()),
        }
    }
    .await;
    let outcome = outcome.map(|_| format!("docker update --cpus {full}: runs freely again"));
    ctx.note(planned, &name, "throttle_end", outcome);
}

fn member<'a>(members: &'a mut [Member], name: &str) -> anyhow::Result<&'a mut Member> {
    members
        .iter_mut()
        .find(|m| m.spec.name == name)
        .ok_or_else(|| anyhow::anyhow!("no instance {name}"))
}
