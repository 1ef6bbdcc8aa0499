//! The model against closed forms.

use super::queue::*;
use super::spawn::{busy_ramp, seconds_to_reach};
use super::*;

fn near(a: f64, b: f64, pct: f64) -> bool {
    ((a - b) / b).abs() * 100.0 <= pct
}

const WIDE: Machine = Machine { cores: 64.0 };

fn static_pool(c: u32) -> Pool {
    Pool {
        max_children: c,
        spawn: Spawn::Static,
        backlog: 1_000_000,
    }
}

#[test]
fn erlang_c_closed_forms() {
    // M/M/1: P(wait) = ρ.
    assert!(near(erlang_c(1, 0.6), 0.6, 1e-9));
    // M/M/2 at a = 1: C = 1/3.
    assert!(near(erlang_c(2, 1.0), 1.0 / 3.0, 1e-9));
    // Saturated and idle.
    assert_eq!(erlang_c(3, 3.0), 1.0);
    assert_eq!(erlang_c(3, 0.0), 0.0);
    // Large c does not overflow.
    assert!(erlang_c(500, 450.0).is_finite());
}

#[test]
fn mm1_closed_form() {
    // M/M/1, S = 100 ms, λ = 8/s: Wq = ρS/(1−ρ) = 400 ms; sojourn p99 = ln(100)/(μ−λ).
    let svc = Service {
        mean_ms: 100.0,
        cpu_ms: 0.0,
        cv: 1.0,
    };
    let p = predict(
        &static_pool(1),
        &WIDE,
        &svc,
        &Traffic::Rate {
            rate: 8.0,
            poisson: true,
            duration_ms: 60_000,
        },
    );
    let w = Wait::allen_cunneen(1, 8.0, 0.1, 1.0, 1.0).expect("stable");
    assert!(near(w.mean(), 0.4, 1e-9));
    let sojourn_p99 = 100f64.ln() / (10.0 - 8.0) * 1000.0;
    assert!(
        near(p.latency_p99_ms, sojourn_p99, 5.0),
        "{}",
        p.latency_p99_ms
    );
    assert!(!p.overloaded);
    assert!(near(p.throughput_rps, 8.0, 0.1));
}

#[test]
fn md1_pollaczek_khinchine() {
    // M/D/1: Wq = ρS / (2(1−ρ)).
    let (rho, s) = (0.8, 0.05);
    let w = Wait::allen_cunneen(1, rho / s, s, 1.0, 0.0).expect("stable");
    assert!(near(w.mean(), rho * s / (2.0 * (1.0 - rho)), 1e-9));
}

#[test]
fn mmc_erlang_c_mean_wait() {
    // M/M/c: E[Wq] = C·S/(c−a).
    let (c, a, s) = (5u32, 4.0, 0.2);
    let w = Wait::allen_cunneen(c, a / s, s, 1.0, 1.0).expect("stable");
    assert!(near(
        w.mean(),
        erlang_c(c, a) * s / (f64::from(c) - a),
        1e-9
    ));
    assert!(Wait::allen_cunneen(c, 5.0 / s, s, 1.0, 1.0).is_none());
}

#[test]
fn burst_waits_are_floor_k_over_c_times_s() {
    // 20 at once, 4 workers of 100 ms: the k-th (from 0) waits floor(k/4)·100 ms.
    let svc = Service {
        mean_ms: 100.0,
        cpu_ms: 0.0,
        cv: 0.0,
    };
    let p = predict(
        &static_pool(4),
        &WIDE,
        &svc,
        &Traffic::Burst {
            size: 20,
            every_ms: 10_000,
            duration_ms: 1_000,
        },
    );
    assert!(
        near(p.queue_wait_p50_ms, 200.0, 0.1),
        "{}",
        p.queue_wait_p50_ms
    );
    assert!(near(p.queue_wait_p99_ms, 400.0, 0.1));
    assert!(near(p.latency_p99_ms, 500.0, 0.1));
    assert_eq!(p.refused_share, 0.0);
}

#[test]
fn full_backlog_refuses() {
    // 10 at once, 2 workers, backlog 3: 2 served at once, 3 wait, 5 refused.
    let svc = Service {
        mean_ms: 100.0,
        cpu_ms: 0.0,
        cv: 0.0,
    };
    let pool = Pool {
        backlog: 3,
        ..static_pool(2)
    };
    let p = predict(
        &pool,
        &WIDE,
        &svc,
        &Traffic::Burst {
            size: 10,
            every_ms: 10_000,
            duration_ms: 1_000,
        },
    );
    assert!(near(p.refused_share, 0.5, 1e-9));
    // M/M/1/K closed form: blocking = (1−ρ)ρ^K' / (1−ρ^(K'+1)) with K' = 1 + k places.
    let (rho, places) = (0.5f64, 3u32);
    let want = (1.0 - rho) * rho.powi(places as i32) / (1.0 - rho.powi(places as i32 + 1));
    assert!(near(blocking_share(1, places - 1, rho), want, 1e-9));
}

#[test]
fn workers_beyond_cores_move_the_delay_into_service() {
    // 8 CPU-only workers of 100 ms on 2 cores, 8 at once: each runs at a quarter speed.
    let svc = Service {
        mean_ms: 100.0,
        cpu_ms: 100.0,
        cv: 0.0,
    };
    let m = Machine { cores: 2.0 };
    let p = predict(
        &static_pool(8),
        &m,
        &svc,
        &Traffic::Burst {
            size: 8,
            every_ms: 10_000,
            duration_ms: 1_000,
        },
    );
    assert_eq!(p.bound, Bound::Cpu);
    assert!(near(p.capacity_rps, 20.0, 1e-9));
    assert!(p.delay_in_service);
    assert_eq!(p.queue_wait_p99_ms, 0.0);
    assert!(near(p.latency_p99_ms, 400.0, 0.1));
    // The same burst at 2 workers: the same makespan, in the queue instead.
    let q = predict(
        &static_pool(2),
        &m,
        &svc,
        &Traffic::Burst {
            size: 8,
            every_ms: 10_000,
            duration_ms: 1_000,
        },
    );
    assert!(!q.delay_in_service);
    assert!(near(q.queue_wait_p99_ms, 300.0, 0.1));
    assert!(near(q.latency_p99_ms, 400.0, 0.1));
    // Stationary: below the cores' capacity, sharing stretches service a little.
    let s = shared_service(15.0, 0.1, 0.1, 8, 2.0).expect("stable");
    assert!(s > 0.1 && s < 0.4);
    assert!(shared_service(25.0, 0.1, 0.1, 8, 2.0).is_none());
}

#[test]
fn overload_backlog_grows_at_rate_minus_capacity() {
    // 20/s against 10/s of capacity for 10 s: the last arrival waits about 10 s.
    let svc = Service {
        mean_ms: 100.0,
        cpu_ms: 0.0,
        cv: 0.0,
    };
    let p = predict(
        &static_pool(1),
        &WIDE,
        &svc,
        &Traffic::Rate {
            rate: 20.0,
            poisson: false,
            duration_ms: 10_000,
        },
    );
    assert!(p.overloaded);
    assert!(
        near(p.queue_wait_p99_ms, 9_900.0, 2.0),
        "{}",
        p.queue_wait_p99_ms
    );
    assert!(near(p.throughput_rps, 10.0, 2.0));
}

#[test]
fn dynamic_spawn_ramp() {
    // Stock pool: min_spare 1 grows one worker a second whatever max_spawn_rate says.
    assert_eq!(busy_ramp(1, 5, 1, 32, 100), vec![1, 1, 1, 1]);
    // The rate doubles per busy pass, capped by min_spare and max_children.
    assert_eq!(busy_ramp(2, 30, 8, 32, 100), vec![1, 2, 4, 8, 8, 5]);
    assert_eq!(busy_ramp(1, 100, 64, 4, 4), vec![1, 2, 4, 4]);
    assert_eq!(seconds_to_reach(1, 5, 10, 1, 32), Some(4));
    assert_eq!(seconds_to_reach(1, 11, 10, 1, 32), None);
    // A 20-request burst of 1 s requests on a dynamic pool that starts at 1 with min_spare 1
    // waits far longer than on a static pool of 8.
    let svc = Service {
        mean_ms: 1000.0,
        cpu_ms: 0.0,
        cv: 0.0,
    };
    let burst = Traffic::Burst {
        size: 20,
        every_ms: 60_000,
        duration_ms: 1_000,
    };
    let dynamic = Pool {
        spawn: Spawn::Dynamic {
            start: 1,
            min_spare: 1,
            max_spare: 2,
            max_spawn_rate: 32,
        },
        ..static_pool(8)
    };
    let d = predict(&dynamic, &WIDE, &svc, &burst);
    let s = predict(&static_pool(8), &WIDE, &svc, &burst);
    assert!(
        d.queue_wait_p99_ms > s.queue_wait_p99_ms * 1.5,
        "{} vs {}",
        d.queue_wait_p99_ms,
        s.queue_wait_p99_ms
    );
    assert!(d.peak_workers > 1 && d.peak_workers <= 8);
}

#[test]
fn whole_scenario_takes_the_worst_tail() {
    let svc = Service {
        mean_ms: 100.0,
        cpu_ms: 0.0,
        cv: 0.0,
    };
    let phases = [
        Traffic::Rate {
            rate: 1.0,
            poisson: false,
            duration_ms: 10_000,
        },
        Traffic::Burst {
            size: 20,
            every_ms: 10_000,
            duration_ms: 1_000,
        },
    ];
    let p = predict_all(&static_pool(4), &WIDE, &svc, &phases).expect("phases");
    assert!(near(p.latency_p99_ms, 500.0, 0.1));
    assert!(predict_all(&static_pool(4), &WIDE, &svc, &[]).is_none());
}
