//! What one measured point says: the model's inputs (service time and its variability, CPU
//! per request, worker memory) and the outcome the objective is judged on.

use std::collections::BTreeMap;

use crate::model::Traffic;
use crate::results::ConfigResult;
use crate::scenario::{Arrival, Plan};

pub use crate::results::tune::{Inputs, Outcome};

/// The outcome of a finished config.
pub fn outcome(c: &ConfigResult) -> Outcome {
    let s = &c.recorded.summary;
    Outcome {
        latency_p50_ms: s.latency.p50_us as f64 / 1000.0,
        latency_p99_ms: s.latency.p99_us as f64 / 1000.0,
        queue_wait_p99_ms: s.queue_wait.p99_us as f64 / 1000.0,
        error_share: s.error_rate,
        throughput_rps: s.achieved_rps,
    }
}

/// Requests a worker serves before its memory counts as settled.
const WARM_UP: u64 = 20;
/// Fewest requests over which growth is measured.
const SPAN: u64 = 50;

/// The model's inputs from the first point. `None` when the run served nothing measurable.
pub fn inputs(c: &ConfigResult, cores: f64) -> Option<Inputs> {
    let svc = &c.recorded.summary.service;
    if svc.count == 0 {
        return None;
    }
    let mean = svc.mean_us / 1000.0;
    let (p50, p90) = (svc.p50_us.max(1) as f64, svc.p90_us.max(1) as f64);
    // A lognormal through p50 and p90 gives σ; its cv is √(e^σ² − 1).
    let sigma = (p90 / p50).ln().max(0.0) / 1.2816;
    let cv = ((sigma * sigma).exp() - 1.0).sqrt();
    let cpu = c
        .cpu_per_request
        .as_ref()
        .and_then(|x| x.measured_ms.or(x.asked_ms))
        .unwrap_or(mean)
        .min(mean);
    // Requests of cpu.php only need CPU: any wall time beyond it was spent waiting for a core
    // (the first point has one worker per core, so the wait is the machine's other work).
    // The cores the pool really got follow: workers × CPU ÷ wall, and the service time is
    // the CPU itself; the model then stretches it back under sharing.
    let cpu_only = c
        .cpu_per_request
        .as_ref()
        .is_some_and(|x| x.asked_ms.is_some());
    let workers = f64::from(c.pool.max_children);
    let (mean, cores) = if cpu_only && cpu > 0.0 && mean > cpu * 1.2 {
        (cpu, (workers * cpu / mean).clamp(0.05, cores))
    } else {
        (mean, cores)
    };
    let mut pss: Vec<f64> = Vec::new();
    let mut per_pid: BTreeMap<u32, Vec<(u64, u64)>> = BTreeMap::new();
    for s in &c.samples {
        for w in &s.workers {
            if let Some(k) = w.pss_kib {
                pss.push(k as f64 / 1024.0);
                if let Some(r) = w.requests {
                    per_pid.entry(w.pid).or_default().push((r, k));
                }
            }
        }
    }
    let mut growth: Vec<f64> = per_pid
        .values()
        .filter_map(|v| {
            // A fresh worker grows over its first requests (opcache, autoloaders): only the
            // samples after its first WARM_UP requests count, over at least SPAN more.
            let mut warm = v.iter().filter(|(r, _)| *r >= WARM_UP);
            let (r0, k0) = *warm.next()?;
            let (r1, k1) = *warm.next_back()?;
            (r1 >= r0 + SPAN).then(|| (k1 as f64 - k0 as f64).max(0.0) / (r1 - r0) as f64)
        })
        .collect();
    growth.sort_by(f64::total_cmp);
    let q = |v: &[f64], p: f64| crate::model::quantile(v, p);
    Some(Inputs {
        cores,
        service_mean_ms: mean,
        service_cv: cv,
        cpu_per_request_ms: cpu,
        io_share: ((mean - cpu) / mean).clamp(0.0, 1.0),
        worker_pss_p50_mib: q(&pss, 0.50),
        worker_pss_p95_mib: q(&pss, 0.95),
        worker_pss_max_mib: q(&pss, 1.0),
        pss_growth_kib_per_request: growth.get(growth.len() / 2).copied().unwrap_or(0.0),
    })
}

/// The scenario's phases as the model's traffic. A ramp is held at its higher end (the
/// pool must hold the peak).
pub fn traffic(plan: &Plan) -> Vec<Traffic> {
    plan.phases
        .iter()
        .filter_map(|ph| {
            let duration_ms = ph.duration_ms;
            Some(match ph.arrival {
                Arrival::Constant { rate } => Traffic::Rate {
                    rate,
                    poisson: false,
                    duration_ms,
                },
                Arrival::Poisson { rate } => Traffic::Rate {
                    rate,
                    poisson: true,
                    duration_ms,
                },
                Arrival::Ramp { from_rate, to_rate } => Traffic::Rate {
                    rate: from_rate.max(to_rate),
                    poisson: false,
                    duration_ms,
                },
                // The model has no trace input: a replayed window is held at its mean rate,
                // as Poisson arrivals (a log's bursts are then under-stated; the measured
                // points are what the recommendation trusts).
                Arrival::Replay(ref r) => Traffic::Rate {
                    rate: r.requests as f64 * 1000.0 / duration_ms.max(1) as f64,
                    poisson: true,
                    duration_ms,
                },
                Arrival::Burst { size, every_ms } => Traffic::Burst {
                    size,
                    every_ms,
                    duration_ms,
                },
                // Each client sends once per period, spread evenly: a steady rate.
                Arrival::Clients {
                    clients, every_ms, ..
                } => Traffic::Rate {
                    rate: f64::from(clients) * 1000.0 / every_ms.max(1) as f64,
                    poisson: false,
                    duration_ms,
                },
                Arrival::Closed { .. } => return None,
            })
        })
        .collect()
}

/// The same traffic `factor` times heavier (rates and burst sizes scaled).
pub fn scaled(traffic: &[Traffic], factor: f64) -> Vec<Traffic> {
    traffic
        .iter()
        .map(|t| match *t {
            Traffic::Rate {
                rate,
                poisson,
                duration_ms,
            } => Traffic::Rate {
                rate: rate * factor,
                poisson,
                duration_ms,
            },
            Traffic::Burst {
                size,
                every_ms,
                duration_ms,
            } => Traffic::Burst {
                size: ((f64::from(size) * factor).round() as u32).max(1),
                every_ms,
                duration_ms,
            },
        })
        .collect()
}

/// The plan with every phase's traffic `factor` times heavier (rates, burst sizes and
/// client counts scaled); `None` when a phase cannot be scaled (a replayed log).
pub fn scaled_plan(plan: &Plan, factor: f64) -> Option<Plan> {
    let times = |n: u32| ((f64::from(n) * factor).round() as u32).max(1);
    let mut out = plan.clone();
    for ph in &mut out.phases {
        match &mut ph.arrival {
            Arrival::Constant { rate } | Arrival::Poisson { rate } => *rate *= factor,
            Arrival::Ramp { from_rate, to_rate } => {
                *from_rate *= factor;
                *to_rate *= factor;
            }
            Arrival::Burst { size, .. } => *size = times(*size),
            Arrival::Clients { clients, .. } => *clients = times(*clients),
            Arrival::Closed { .. } | Arrival::Replay(_) => return None,
        }
    }
    Some(out)
}
