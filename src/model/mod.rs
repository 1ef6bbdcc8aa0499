//! A queueing model of a php-fpm pool: predicts latency, queue wait, throughput and refused
//! requests for any pool, core count and traffic shape, from a few measured inputs (service
//! time and its variability, CPU per request).
//!
//! The children of a pool all `accept()` from one socket: one FIFO in front of c workers.
//! - Below saturation, a rate is an M/G/c (G/G/c for evenly spaced arrivals): Erlang C with
//!   Allen–Cunneen's correction for the variability of arrivals and service ([`queue`]).
//! - More workers than cores: the CPU part of each request queues for the cores (processor
//!   sharing), so the delay moves from queue wait into service time; [`Prediction::delay_in_service`]
//!   says so. Throughput is capped at min(cores / CPU, workers / service).
//! - Bursts and overloads: a deterministic replay ([`replay`]) of the arrivals through a
//!   finite backlog and php-fpm's process manager (dynamic's once-a-second spawn ramp,
//!   see [`spawn`]), which is the fluid view made exact for a known arrival sequence.
//!
//! Pure: no I/O, no clock.

pub mod queue;
pub mod replay;
pub mod spawn;

#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

/// What one request costs, measured at low load.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// Mean service time (php-fpm's own request duration), ms.
    pub mean_ms: f64,
    /// Mean CPU time per request, ms (the rest is I/O: waiting for a database, a sleep).
    pub cpu_ms: f64,
    /// Coefficient of variation of the service time (standard deviation ÷ mean).
    pub cv: f64,
}

/// How the pool's workers come and go.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "pm")]
pub enum Spawn {
    /// `pm = static`: all workers from the start.
    Static,
    /// `pm = dynamic`: starts with `start`, and once a second forks
    /// min(spawn rate, min_spare − idle, max − running), the spawn rate doubling on each
    /// busy pass up to `max_spawn_rate` (php-src, fpm_process_ctl.c).
    Dynamic {
        start: u32,
        min_spare: u32,
        max_spare: u32,
        max_spawn_rate: u32,
    },
    /// `pm = ondemand`: forks on accept when no worker is idle.
    Ondemand,
}

/// A pool as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    /// `pm.max_children`.
    pub max_children: u32,
    /// The process manager.
    pub spawn: Spawn,
    /// `listen.backlog`: connections that may wait for a worker; more are refused (502).
    pub backlog: u32,
}

/// The machine the workers run on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPUs the workers may use (a cpuset's size, or a CFS quota in cores).
    pub cores: f64,
}

/// One phase of traffic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "shape")]
pub enum Traffic {
    /// A steady rate; `poisson` for random arrivals, evenly spaced otherwise.
    Rate {
        rate: f64,
        poisson: bool,
        duration_ms: u64,
    },
    /// `size` requests at once every `every_ms`.
    Burst {
        size: u32,
        every_ms: u64,
        duration_ms: u64,
    },
}

impl Traffic {
    /// Requests the phase sends.
    pub fn requests(&self) -> f64 {
        match *self {
            Traffic::Rate {
                rate, duration_ms, ..
            } => rate * duration_ms as f64 / 1000.0,
            Traffic::Burst {
                size,
                every_ms,
                duration_ms,
            } => f64::from(size) * (duration_ms as f64 / every_ms.max(1) as f64).ceil(),
        }
    }
}

/// Which resource caps the pool's throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// The cores: cores ÷ CPU per request is below workers ÷ service time.
    Cpu,
    /// The workers: workers ÷ service time is below cores ÷ CPU per request.
    Workers,
}

/// What the model predicts for a pool under some traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Median latency (queue wait + service), ms.
    pub latency_p50_ms: f64,
    /// 99th percentile latency, ms.
    pub latency_p99_ms: f64,
    /// Median wait in the accept queue, ms.
    pub queue_wait_p50_ms: f64,
    /// 99th percentile wait in the accept queue, ms.
    pub queue_wait_p99_ms: f64,
    /// Mean service time once workers share the cores, ms.
    pub service_ms: f64,
    /// Requests served per second.
    pub throughput_rps: f64,
    /// The most the pool can serve per second: min(cores ÷ CPU, workers ÷ service).
    pub capacity_rps: f64,
    /// Share of requests refused (backlog full: nginx answers 502), 0..1.
    pub refused_share: f64,
    /// What caps `capacity_rps`.
    pub bound: Bound,
    /// True when workers outnumber busy cores enough that requests wait for CPU inside
    /// their service time (the delay moved out of the queue: the status page shows busy
    /// workers, not a listen queue).
    pub delay_in_service: bool,
    /// True when the traffic outruns capacity and the backlog grows for the whole phase.
    pub overloaded: bool,
    /// Most workers at once (dynamic and ondemand grow; static has them all).
    pub peak_workers: u32,
}

/// Capacity of a pool, requests per second, and what caps it.
pub fn capacity(pool: &Pool, machine: &Machine, svc: &Service) -> (f64, Bound) {
    let workers = f64::from(pool.max_children) / (svc.mean_ms / 1000.0).max(1e-9);
    let cpu = if svc.cpu_ms > 0.0 {
        machine.cores / (svc.cpu_ms / 1000.0)
    } else {
        f64::INFINITY
    };
    if cpu < workers {
        (cpu, Bound::Cpu)
    } else {
        (workers, Bound::Workers)
    }
}

/// Predicts one phase.
pub fn predict(pool: &Pool, machine: &Machine, svc: &Service, traffic: &Traffic) -> Prediction {
    let (cap, bound) = capacity(pool, machine, svc);
    if let Traffic::Rate { rate, poisson, .. } = *traffic {
        if let Some(p) = stationary(pool, machine, svc, rate, poisson) {
            return Prediction {
                capacity_rps: cap,
                bound,
                ..p
            };
        }
    }
    let arrivals = match *traffic {
        Traffic::Rate {
            rate, duration_ms, ..
        } => replay::even_arrivals(rate, duration_ms as i64 * 1000),
        Traffic::Burst {
            size,
            every_ms,
            duration_ms,
        } => replay::burst_arrivals(size, every_ms as i64 * 1000, duration_ms as i64 * 1000),
    };
    let r = replay::replay(pool, machine, svc, &arrivals);
    let served = r.waits_ms.len() as f64;
    let total = arrivals.len().max(1) as f64;
    let duration_ms = match *traffic {
        Traffic::Rate { duration_ms, .. } | Traffic::Burst { duration_ms, .. } => duration_ms,
    };
    let span_s = (r.end_us as f64 / 1e6)
        .max(duration_ms as f64 / 1000.0)
        .max(1e-3);
    let overloaded = traffic.requests() / (duration_ms as f64 / 1000.0).max(1e-3) > cap;
    Prediction {
        latency_p50_ms: quantile(&r.latencies_ms, 0.50),
        latency_p99_ms: quantile(&r.latencies_ms, 0.99),
        queue_wait_p50_ms: quantile(&r.waits_ms, 0.50),
        queue_wait_p99_ms: quantile(&r.waits_ms, 0.99),
        service_ms: r.service_ms,
        throughput_rps: served / span_s,
        capacity_rps: cap,
        refused_share: r.refused as f64 / total,
        bound,
        delay_in_service: r.service_ms > svc.mean_ms * 1.05,
        overloaded,
        peak_workers: r.peak_workers,
    }
}

/// Below saturation: Erlang C with Allen–Cunneen, on the service time stretched by CPU
/// sharing. `None` when the rate reaches capacity (the replay takes over).
fn stationary(
    pool: &Pool,
    machine: &Machine,
    svc: &Service,
    rate: f64,
    poisson: bool,
) -> Option<Prediction> {
    let c = pool.max_children.max(1);
    let s = queue::shared_service(
        rate,
        svc.mean_ms / 1000.0,
        svc.cpu_ms / 1000.0,
        c,
        machine.cores,
    )?;
    let s_ms = s * 1000.0;
    let ca2 = if poisson { 1.0 } else { 0.0 };
    let wait = queue::Wait::allen_cunneen(c, rate, s, ca2, svc.cv * svc.cv)?;
    let wq = |p: f64| wait.quantile(p) * 1000.0;
    let lat = |p: f64| queue::latency_quantile(&wait, s, svc.cv, p) * 1000.0;
    let refused = queue::blocking_share(c, pool.backlog, rate * s);
    Some(Prediction {
        latency_p50_ms: lat(0.50),
        latency_p99_ms: lat(0.99),
        queue_wait_p50_ms: wq(0.50),
        queue_wait_p99_ms: wq(0.99),
        service_ms: s_ms,
        throughput_rps: rate * (1.0 - refused),
        capacity_rps: 0.0,
        refused_share: refused,
        bound: Bound::Workers,
        delay_in_service: s_ms > svc.mean_ms * 1.05,
        overloaded: false,
        peak_workers: match pool.spawn {
            Spawn::Static => c,
            _ => ((rate * s).ceil() as u32 + 1).min(c),
        },
    })
}

/// Predicts a whole scenario: the phases one after the other. p99 and queue wait p99 are the
/// worst phase's (a tail quantile of the whole run is dominated by its worst phase), p50 the
/// request-weighted mean of the phases' medians, throughput and refusals request-weighted.
pub fn predict_all(
    pool: &Pool,
    machine: &Machine,
    svc: &Service,
    phases: &[Traffic],
) -> Option<Prediction> {
    let preds: Vec<(f64, Prediction)> = phases
        .iter()
        .map(|t| (t.requests(), predict(pool, machine, svc, t)))
        .collect();
    let total: f64 = preds.iter().map(|(n, _)| n).sum();
    let mut out = preds.first()?.1.clone();
    if total <= 0.0 {
        return Some(out);
    }
    let w =
        |f: &dyn Fn(&Prediction) -> f64| preds.iter().map(|(n, p)| n * f(p)).sum::<f64>() / total;
    let max = |f: &dyn Fn(&Prediction) -> f64| preds.iter().map(|(_, p)| f(p)).fold(0.0, f64::max);
    out.latency_p50_ms = w(&|p| p.latency_p50_ms);
    out.queue_wait_p50_ms = w(&|p| p.queue_wait_p50_ms);
    out.service_ms = w(&|p| p.service_ms);
    out.throughput_rps = w(&|p| p.throughput_rps);
    out.refused_share = w(&|p| p.refused_share);
    out.latency_p99_ms = max(&|p| p.latency_p99_ms);
    out.queue_wait_p99_ms = max(&|p| p.queue_wait_p99_ms);
    out.delay_in_service = preds.iter().any(|(_, p)| p.delay_in_service);
    out.overloaded = preds.iter().any(|(_, p)| p.overloaded);
    out.peak_workers = preds.iter().map(|(_, p)| p.peak_workers).max().unwrap_or(0);
    Some(out)
}

/// The `p` quantile of unsorted values (nearest rank); 0 when empty.
pub fn quantile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}
