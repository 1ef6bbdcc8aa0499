//! A deterministic replay of one phase through the pool: arrivals, a FIFO accept queue of
//! finite length (the listen backlog), workers that share the cores, and php-fpm's process
//! manager (static, dynamic's once-a-second maintenance pass, ondemand's fork on accept).
//!
//! This is the fluid view made exact for a known arrival sequence: a burst of n at c workers
//! of service S gives the k-th request a wait of floor(k/c)·S, an overload grows the backlog
//! at (rate − capacity) and drains after, and a full backlog refuses (nginx answers 502).
//! Service time is its mean (the variability matters little once requests queue by the
//! dozen; the stationary formulas carry it below saturation).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::{Machine, Pool, Service, Spawn};

/// php-fpm's maintenance pass (FPM_IDLE_SERVER_MAINTENANCE_HEARTBEAT), µs.
const PASS_US: i64 = 1_000_000;
/// When the first pass falls after the phase starts: the timer is not aligned with the load,
/// so half a period on average.
const FIRST_PASS_US: i64 = PASS_US / 2;

/// What the replay saw, in ms.
#[derive(Debug, Default, Clone)]
pub struct Replayed {
    /// Queue wait of each served request.
    pub waits_ms: Vec<f64>,
    /// Wait + service of each served request.
    pub latencies_ms: Vec<f64>,
    /// Requests refused because the backlog was full.
    pub refused: u64,
    /// Time the last request finished, µs from the phase start.
    pub end_us: i64,
    /// Largest number of workers at once.
    pub peak_workers: u32,
    /// Mean service time of the served requests (after CPU sharing).
    pub service_ms: f64,
}

/// Service time of a request that starts while `busy` workers (itself included) run:
/// the CPU part stretches once busy workers outnumber the cores (processor sharing).
pub fn stretched_us(svc: &Service, machine: &Machine, busy: u32) -> f64 {
    let io = (svc.mean_ms - svc.cpu_ms).max(0.0);
    let share = (f64::from(busy) / machine.cores.max(0.01)).max(1.0);
    (io + svc.cpu_ms * share) * 1000.0
}

/// Replays `arrivals_us` (sorted, µs from the phase start).
pub fn replay(pool: &Pool, machine: &Machine, svc: &Service, arrivals_us: &[i64]) -> Replayed {
    let max = pool.max_children.max(1);
    let (mut running, mut rate) = match pool.spawn {
        Spawn::Static => (max, 1),
        Spawn::Dynamic { start, .. } => (start.clamp(1, max), 1),
        Spawn::Ondemand => (0, 1),
    };
    let mut idle = running;
    let mut out = Replayed {
        peak_workers: running,
        ..Replayed::default()
    };
    let mut queue: VecDeque<i64> = VecDeque::new();
    let mut next_pass = FIRST_PASS_US;
    let mut service_sum = 0.0;
    let mut i = 0;
    let mut start = |t: i64, arrived: i64, idle: &mut u32, running: u32, out: &mut Replayed| {
        *idle -= 1;
        let s = stretched_us(svc, machine, running - *idle);
        let end = t + s.round() as i64;
        out.waits_ms.push((t - arrived) as f64 / 1000.0);
        out.latencies_ms.push((end - arrived) as f64 / 1000.0);
        out.end_us = out.end_us.max(end);
        service_sum += s / 1000.0;
        end
    };
    // Completion times of the requests in service.
    let mut finishing: BinaryHeap<Reverse<i64>> = BinaryHeap::new();
    loop {
        let arrival = arrivals_us.get(i).copied();
        let completion = finishing.peek().map(|r| r.0);
        let dynamic = matches!(pool.spawn, Spawn::Dynamic { .. });
        let busy_left = arrival.is_some() || completion.is_some() || !queue.is_empty();
        if !busy_left {
            break;
        }
        let pass = if dynamic { Some(next_pass) } else { None };
        let t = [arrival, completion, pass]
            .into_iter()
            .flatten()
            .min()
            .expect("an event is left");
        if completion == Some(t) {
            finishing.pop();
            idle += 1;
            if let Some(arrived) = queue.pop_front() {
                let end = start(t, arrived, &mut idle, running, &mut out);
                finishing.push(Reverse(end));
            }
        } else if arrival == Some(t) {
            i += 1;
            if idle == 0 && matches!(pool.spawn, Spawn::Ondemand) && running < max {
                // ondemand forks on accept when no worker is idle (fpm_pctl_on_socket_accept).
                running += 1;
                idle += 1;
            }
            if idle > 0 {
                let end = start(t, t, &mut idle, running, &mut out);
                finishing.push(Reverse(end));
            } else if (queue.len() as u64) < u64::from(pool.backlog) {
                queue.push_back(t);
            } else {
                out.refused += 1;
            }
        } else if let Spawn::Dynamic {
            min_spare,
            max_spare,
            max_spawn_rate,
            ..
        } = pool.spawn
        {
            // fpm_pctl_perform_idle_server_maintenance, once a second.
            next_pass += PASS_US;
            if idle > max_spare {
                idle -= 1;
                running -= 1;
                rate = 1;
            } else if idle < min_spare && running < max {
                let n = rate.min(min_spare - idle).min(max - running);
                running += n;
                idle += n;
                rate = (rate * 2).min(max_spawn_rate.max(1));
                while idle > 0 {
                    let Some(arrived) = queue.pop_front() else {
                        break;
                    };
                    let end = start(t, arrived, &mut idle, running, &mut out);
                    finishing.push(Reverse(end));
                }
            } else {
                rate = 1;
            }
        }
        out.peak_workers = out.peak_workers.max(running);
    }
    let served = out.waits_ms.len();
    if served > 0 {
        out.service_ms = service_sum / served as f64;
    }
    out
}

/// Arrival times of a phase, µs: `size` at once every `every_us`, or evenly spaced at `rate`.
pub fn burst_arrivals(size: u32, every_us: i64, duration_us: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut t = 0;
    while t < duration_us {
        out.extend(std::iter::repeat_n(t, size as usize));
        t += every_us.max(1);
    }
    out
}

/// Evenly spaced arrivals at `rate` per second over `duration_us`.
pub fn even_arrivals(rate: f64, duration_us: i64) -> Vec<i64> {
    let n = (rate * duration_us as f64 / 1e6).round() as i64;
    (0..n).map(|k| (k as f64 * 1e6 / rate) as i64).collect()
}
