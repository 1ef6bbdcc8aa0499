//! Server-side sampling on the run's timeline: php-fpm's status page, the kernel's accept
//! queue of the pool socket, and each worker's memory (PSS) and CPU from /proc.
//!
//! One small [`Sample`] per tick; a piece that fails goes into the sample's `errors` and the
//! other pieces are still recorded.

pub mod accept_queue;
pub mod container;
pub mod fpm_status;
pub mod health;
mod local;
mod sock_diag;
mod summary;
pub mod worker_cpu;

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::clock::RunClock;
use crate::stack::Endpoints;

pub use accept_queue::AcceptQueue;
pub use container::{CgroupUsage, ContainerSample};
pub use fpm_status::FpmStatus;
pub use summary::{summarize, ContainerPeaks, ContainerSummary, RunningSummary, SampleSummary};

use fpm_status::StatusClient;
use local::LocalProbe;

/// One server-side observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sample {
    /// Milliseconds since the run's start when the sample was begun (`RunClock::now_ms`).
    pub t_ms: u64,
    /// The main pool's status page; `None` if the fetch failed (see `errors`).
    pub fpm: Option<FpmStatus>,
    /// Round trip of the status request through nginx, in microseconds; it grows when nginx
    /// itself is congested, since fpm's status pool answers in milliseconds.
    pub fpm_status_rtt_us: Option<u64>,
    /// The kernel's accept queue of the pool socket; `None` for an external stack (no master
    /// pid) or when it could not be read (see `errors`).
    pub accept_queue: Option<AcceptQueue>,
    /// php-fpm's workers, by pid. With a known master pid: every child of the master
    /// (including the `pm.status_listen` pool's worker, which has no status row); otherwise
    /// the status page's process list.
    pub workers: Vec<WorkerSample>,
    /// What failed in this sample, one line each; empty when every piece was read.
    pub errors: Vec<String>,
    /// CPU and memory of the stack's containers from their cgroups (docker driver); `None`
    /// for the other drivers.
    #[serde(default)]
    pub container: Option<ContainerSample>,
    /// Whether the php-fpm master was alive (`None`: no master pid, e.g. an external stack).
    /// Its workers may go on serving after it dies, but nothing respawns or supervises them.
    #[serde(default)]
    pub fpm_master_alive: Option<bool>,
}

/// One php-fpm worker at one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkerSample {
    /// Host pid when the master pid is known, else the pid the status page reports.
    pub pid: u32,
    /// Status page state (`Idle`, `Running`, `Reading headers`, ...); `None` when the page
    /// has no row for this worker or was not fetched.
    pub state: Option<String>,
    /// Requests this worker has served, from the status page.
    pub requests: Option<u64>,
    /// Status page `request duration`, microseconds: the current request's age while busy
    /// (queue wait excluded), the last request's duration when idle.
    pub request_duration_us: Option<u64>,
    /// Proportional set size in KiB (`/proc/PID/smaps_rollup` `Pss`).
    pub pss_kib: Option<u64>,
    /// CPU use since the previous sample, percent of one core (utime+stime delta over the wall
    /// delta); `None` on a worker's first sample.
    pub cpu_pct: Option<f64>,
}

/// Runs until `cancel` fires; returns every sample taken, in time order.
///
/// Samples every `interval` (first at once; ticks missed while a sample overran are skipped,
/// not bunched). Without `endpoints.fpm_master_pid` (external stack) only the status page is
/// sampled.
pub async fn run_sampler(
    endpoints: Endpoints,
    clock: RunClock,
    interval: Duration,
    cancel: CancellationToken,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    run_sampler_with(endpoints, clock, interval, cancel, |s| {
        samples.push(s.clone())
    })
    .await;
    samples
}

/// [`run_sampler`] for runs of any length: each sample goes to `sink` as it is taken (a file,
/// running figures, a live endpoint) and none is kept here, so memory stays flat however
/// long the run.
pub async fn run_sampler_with(
    endpoints: Endpoints,
    clock: RunClock,
    interval: Duration,
    cancel: CancellationToken,
    mut sink: impl FnMut(&Sample) + Send,
) {
    // tokio's interval panics on zero.
    let interval = interval.max(Duration::from_millis(1));
    let mut sampler = Sampler::new(&endpoints, interval).await;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => {}
        }
        // A sample in flight when the run ends is dropped rather than delaying the caller.
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            sample = sampler.sample(&clock) => sink(&sample),
        }
    }
}

/// What thinning keeps of two neighbouring samples: the deeper listen queue, then the more
/// active workers.
pub fn thinning_key(s: &Sample) -> u64 {
    let accept = s.accept_queue.as_ref().map_or(0, |q| q.queued);
    let (fpm_queue, active) = s
        .fpm
        .as_ref()
        .map_or((0, 0), |f| (f.listen_queue, f.active_processes));
    (u64::from(accept.max(fpm_queue)) << 32) | u64::from(active)
}

/// Sampler state kept between ticks.
struct Sampler {
    status: Result<StatusClient, String>,
    /// /proc and netlink readers; `None` for an external stack. Taken out while a blocking
    /// read runs on tokio's blocking pool, so the runtime's threads (and with them the load
    /// generator's timing) never wait on /proc.
    local: Option<LocalProbe>,
    /// Set if opening or a blocking read panicked and took the local readers with it;
    /// repeated in every sample so the gap is never silent.
    local_lost: Option<String>,
}

impl Sampler {
    async fn new(endpoints: &Endpoints, interval: Duration) -> Self {
        // The status pool answers in milliseconds; a slower answer is itself a finding, and
        // must not make the next tick late.
        let timeout = interval.mul_f64(0.8);
        let status = StatusClient::new(endpoints, timeout).map_err(|e| format!("{e:#}"));
        let (mut local, mut local_lost) = (None, None);
        if let Some(pid) = endpoints.fpm_master_pid {
            let listen = endpoints.fpm_listen.clone();
            let containers = endpoints.containers.clone();
            // Opening netlink may enter another network namespace: blocking work.
            let open = move || LocalProbe::new(pid, listen, containers);
            match tokio::task::spawn_blocking(open).await {
                Ok(probe) => local = Some(probe),
                Err(e) => local_lost = Some(format!("opening the /proc and netlink probes: {e}")),
            }
        }
        Sampler {
            status,
            local,
            local_lost,
        }
    }

    async fn sample(&mut self, clock: &RunClock) -> Sample {
        let t_ms = clock.now_ms();
        let status = &self.status;
        let fetch = async {
            match status {
                Ok(client) => client.fetch().await.map_err(|e| format!("{e:#}")),
                Err(e) => Err(e.clone()),
            }
        };
        let local = self.local.take();
        let read_local = async move {
            let probe = local?;
            Some(
                tokio::task::spawn_blocking(move || {
                    let mut probe = probe;
                    let reading = probe.read();
                    (probe, reading)
                })
                .await,
            )
        };
        let (fetched, local) = tokio::join!(fetch, read_local);

        let mut errors = Vec::new();
        let (page, rtt) = match fetched {
            Ok((page, rtt)) => (Some(page), Some(rtt.as_micros() as u64)),
            Err(e) => {
                errors.push(e);
                (None, None)
            }
        };
        let mut reading = match local {
            Some(Ok((probe, reading))) => {
                self.local = Some(probe);
                Some(reading)
            }
            Some(Err(join_error)) => {
                self.local_lost = Some(format!("local probes lost: {join_error}"));
                None
            }
            None => None,
        };
        errors.extend(self.local_lost.clone());

        let rows: HashMap<u32, &fpm_status::FpmProcess> = page
            .iter()
            .flat_map(|p| &p.processes)
            .map(|p| (p.pid, p))
            .collect();
        let container = reading.as_mut().and_then(|r| r.container.take());
        let fpm_master_alive = reading.as_ref().map(|r| r.master_alive);
        let (accept_queue, workers) = match reading {
            Some(reading) => {
                errors.extend(reading.errors);
                let workers = reading
                    .workers
                    .into_iter()
                    .map(|w| {
                        let row = rows.get(&w.ns_pid);
                        WorkerSample {
                            pid: w.pid,
                            state: row.map(|r| r.state.clone()),
                            requests: row.map(|r| r.requests),
                            request_duration_us: row.map(|r| r.request_duration_us),
                            pss_kib: w.pss_kib,
                            cpu_pct: w.cpu_pct,
                        }
                    })
                    .collect();
                (reading.accept_queue, workers)
            }
            // External stack (or lost readers): the status page's own list.
            None => (
                None,
                page.iter()
                    .flat_map(|p| &p.processes)
                    .map(status_worker)
                    .collect(),
            ),
        };
        Sample {
            t_ms,
            fpm: page.map(|p| p.status),
            fpm_status_rtt_us: rtt,
            accept_queue,
            workers,
            errors,
            container,
            fpm_master_alive,
        }
    }
}

fn status_worker(p: &fpm_status::FpmProcess) -> WorkerSample {
    WorkerSample {
        pid: p.pid,
        state: Some(p.state.clone()),
        requests: Some(p.requests),
        request_duration_us: Some(p.request_duration_us),
        pss_kib: None,
        cpu_pct: None,
    }
}

#[cfg(test)]
#[path = "sampler_tests.rs"]
mod tests;
