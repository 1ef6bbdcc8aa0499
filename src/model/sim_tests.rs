//! The model against a small discrete-event simulation written for these tests: Poisson
//! arrivals, random service, c servers, one FIFO (each arrival takes the earliest free server,
//! which is FIFO for a single queue). Independent of the model's own replay.

use super::queue::{erlang_c, Wait};
use super::*;

/// xorshift64*: reproducible, no dependency.
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * self.unit().ln()
    }
}

/// Waits of `n` customers of an M/G/c queue (after a warm-up), service drawn by `service`.
fn simulate(
    c: usize,
    rate: f64,
    n: usize,
    seed: u64,
    mut service: impl FnMut(&mut Rng) -> f64,
) -> Vec<f64> {
    let mut rng = Rng(seed);
    let mut free = vec![0.0_f64; c];
    let mut t = 0.0;
    let mut waits = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        t += rng.exp(1.0 / rate);
        let (k, &f) = free
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .expect("servers");
        let start = t.max(f);
        free[k] = start + service(&mut rng);
        if i >= n / 10 {
            waits.push(start - t);
        }
    }
    waits
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn close(model: f64, sim: f64, pct: f64) -> bool {
    ((model - sim) / sim).abs() * 100.0 <= pct
}

#[test]
fn mmc_wait_matches_simulation() {
    for (c, rho) in [(1usize, 0.7), (4, 0.8), (8, 0.85)] {
        let s = 1.0;
        let rate = rho * c as f64 / s;
        let waits = simulate(c, rate, 2_000_000, 7 + c as u64, |r| r.exp(s));
        let w = Wait::allen_cunneen(c as u32, rate, s, 1.0, 1.0).expect("stable");
        assert!(
            close(w.mean(), mean(&waits), 5.0),
            "c={c} mean {} vs {}",
            w.mean(),
            mean(&waits)
        );
        let p99 = quantile(&waits, 0.99);
        assert!(
            close(w.quantile(0.99), p99, 5.0),
            "c={c} p99 {} vs {p99}",
            w.quantile(0.99)
        );
        let waited = waits.iter().filter(|&&x| x > 0.0).count() as f64 / waits.len() as f64;
        assert!(close(erlang_c(c as u32, rate * s), waited, 5.0));
    }
}

#[test]
fn md1_wait_matches_simulation() {
    let (s, rate) = (0.1, 7.0); // ρ = 0.7
    let waits = simulate(1, rate, 2_000_000, 3, |_| s);
    let w = Wait::allen_cunneen(1, rate, s, 1.0, 0.0).expect("stable");
    assert!(
        close(w.mean(), mean(&waits), 5.0),
        "{} vs {}",
        w.mean(),
        mean(&waits)
    );
}

#[test]
fn mgc_latency_p99_matches_simulation() {
    // M/M/4 at ρ = 0.75 through the public predict(): sojourn p99 (wait + service).
    let svc = Service {
        mean_ms: 50.0,
        cpu_ms: 0.0,
        cv: 1.0,
    };
    let pool = Pool {
        max_children: 4,
        spawn: Spawn::Static,
        backlog: 1_000_000,
    };
    let rate = 0.75 * 4.0 / 0.05;
    let mut rng = Rng(11);
    let mut sojourn = Vec::new();
    let mut free = [0.0_f64; 4];
    let mut t = 0.0;
    for _ in 0..1_000_000 {
        t += rng.exp(1.0 / rate);
        let k = (0..4)
            .min_by(|&a, &b| free[a].total_cmp(&free[b]))
            .expect("servers");
        let start = t.max(free[k]);
        free[k] = start + rng.exp(0.05);
        sojourn.push((free[k] - t) * 1000.0);
    }
    let p = predict(
        &pool,
        &Machine { cores: 64.0 },
        &svc,
        &Traffic::Rate {
            rate,
            poisson: true,
            duration_ms: 60_000,
        },
    );
    let sim = quantile(&sojourn, 0.99);
    assert!(
        close(p.latency_p99_ms, sim, 5.0),
        "{} vs {sim}",
        p.latency_p99_ms
    );
    // And M/D/1 (cv = 0) at ρ = 0.7: deterministic service, Poisson arrivals.
    let svc = Service {
        mean_ms: 100.0,
        cpu_ms: 0.0,
        cv: 0.0,
    };
    let mut rng = Rng(5);
    let (mut free, mut t, mut sojourn) = (0.0_f64, 0.0, Vec::new());
    for _ in 0..1_000_000 {
        t += rng.exp(1.0 / 7.0);
        let start = t.max(free);
        free = start + 0.1;
        sojourn.push((free - t) * 1000.0);
    }
    let one = Pool {
        max_children: 1,
        ..pool
    };
    let p = predict(
        &one,
        &Machine { cores: 64.0 },
        &svc,
        &Traffic::Rate {
            rate: 7.0,
            poisson: true,
            duration_ms: 60_000,
        },
    );
    let sim = quantile(&sojourn, 0.99);
    // Allen–Cunneen matches P-K's mean exactly (md1_wait_matches_simulation) but keeps an
    // exponential tail of that mean, which decays slower than M/D/1's own: the p99 comes out
    // about 9 % high, on the safe side. Pinned here so a change that worsens it shows.
    let err = (p.latency_p99_ms - sim) / sim * 100.0;
    assert!(
        (0.0..12.0).contains(&err),
        "M/D/1 {} vs {sim}",
        p.latency_p99_ms
    );
}

#[test]
fn burst_replay_matches_simulation() {
    // Bursts of 30 every 2 s at 4 workers of 100 ms: the replay against the test simulation
    // fed the same arrivals with fixed service.
    let svc = Service {
        mean_ms: 100.0,
        cpu_ms: 0.0,
        cv: 0.0,
    };
    let pool = Pool {
        max_children: 4,
        spawn: Spawn::Static,
        backlog: 10_000,
    };
    let p = predict(
        &pool,
        &Machine { cores: 8.0 },
        &svc,
        &Traffic::Burst {
            size: 30,
            every_ms: 2000,
            duration_ms: 10_000,
        },
    );
    let mut free = [0.0_f64; 4];
    let mut waits = Vec::new();
    for b in 0..5 {
        let t = f64::from(b) * 2.0;
        for _ in 0..30 {
            let k = (0..4)
                .min_by(|&a, &b| free[a].total_cmp(&free[b]))
                .expect("servers");
            let start = t.max(free[k]);
            free[k] = start + 0.1;
            waits.push((start - t) * 1000.0);
        }
    }
    assert!(close(p.queue_wait_p99_ms, quantile(&waits, 0.99), 5.0));
    assert!(close(p.queue_wait_p50_ms, quantile(&waits, 0.50), 5.0));
}
