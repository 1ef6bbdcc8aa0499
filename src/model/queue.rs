//! Closed forms for a shared accept queue in front of `c` identical workers.
//!
//! Notation as in the queueing literature: offered load `a = λ·S` (in workers), utilisation
//! `ρ = a / c`. Everything here is stationary (ρ < 1); overload is the fluid replay's job
//! (`replay.rs`). Hand-written: these are a handful of textbook formulas, and the crates that
//! carry them (aimed at call centres and database pools) bring none of the M/G/c corrections.

/// Erlang C: the probability that an arrival finds all `c` workers busy and waits, for an
/// offered load of `a` workers. 1 when `a >= c` (the queue never empties).
pub fn erlang_c(c: u32, a: f64) -> f64 {
    if c == 0 || a >= f64::from(c) {
        return 1.0;
    }
    if a <= 0.0 {
        return 0.0;
    }
    // Erlang B by its stable recursion, then C from B: no factorials, no overflow at c = 500.
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    let rho = a / f64::from(c);
    b / (1.0 - rho * (1.0 - b))
}

/// Waiting time of an M/G/c (or G/G/c) queue by Allen–Cunneen: Erlang C's exponential tail
/// with its scale multiplied by `(ca² + cs²) / 2`. Exact for M/M/c, and for M/G/1 its mean is
/// Pollaczek–Khinchine's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wait {
    /// Probability that a request waits at all.
    pub p_wait: f64,
    /// Mean wait of the requests that do wait, in the unit of the service time.
    pub scale: f64,
}

impl Wait {
    /// M/G/c by Allen–Cunneen. `service` is the mean service time, `ca2` and `cs2` the squared
    /// coefficients of variation of inter-arrival and service times. `None` when ρ ≥ 1.
    pub fn allen_cunneen(c: u32, rate: f64, service: f64, ca2: f64, cs2: f64) -> Option<Wait> {
        let a = rate * service;
        if c == 0 || a >= f64::from(c) {
            return None;
        }
        let p_wait = erlang_c(c, a);
        let mmc_scale = service / (f64::from(c) - a);
        Some(Wait {
            p_wait,
            scale: mmc_scale * (ca2 + cs2) / 2.0,
        })
    }

    /// Mean wait over all requests.
    pub fn mean(&self) -> f64 {
        self.p_wait * self.scale
    }

    /// The `p` quantile of the wait (0 < p < 1): P(W > t) = p_wait · e^(−t / scale).
    pub fn quantile(&self, p: f64) -> f64 {
        if self.p_wait <= 1.0 - p || self.scale <= 0.0 {
            return 0.0;
        }
        self.scale * (self.p_wait / (1.0 - p)).ln()
    }
}

/// Mean service time once `c` workers share `cores` CPUs (processor sharing), for requests
/// of mean wall time `service` of which `cpu` is CPU, arriving at `rate`. With no more workers
/// than cores nothing is shared. Otherwise the CPU part queues for the cores as an M/M/k:
/// `S_eff = S + C(k, λD) · D / (k − λD)`. `None` when the CPU is saturated (λD ≥ k).
pub fn shared_service(rate: f64, service: f64, cpu: f64, c: u32, cores: f64) -> Option<f64> {
    if f64::from(c) <= cores || cpu <= 0.0 {
        return Some(service);
    }
    let load = rate * cpu;
    if load >= cores {
        return None;
    }
    // Erlang C wants whole servers: fractional cores (a CFS quota) round down, the pessimistic
    // side, but never to 0.
    let k = (cores.floor() as u32).max(1);
    if load >= f64::from(k) {
        return None;
    }
    Some(service + erlang_c(k, load) * cpu / (f64::from(k) - load))
}

/// M/M/c/K: the share of arrivals refused because `c` workers are busy and `k` more already
/// wait (the listen backlog is full), for an offered load of `a` workers. Birth-death chain,
/// computed by ratios so large `c` and `k` do not overflow.
pub fn blocking_share(c: u32, k: u32, a: f64) -> f64 {
    if a <= 0.0 || c == 0 {
        return 0.0;
    }
    // p_n / p_0 for n = 0..=c+k, normalised at the end; rescale when it grows large.
    let (mut term, mut sum) = (1.0_f64, 1.0_f64);
    for n in 1..=(c + k) {
        term *= a / f64::from(n.min(c));
        sum += term;
        if sum > 1e250 {
            term /= sum;
            sum = 1.0;
        }
    }
    term / sum
}

/// Quantile of a request's own service time: a gamma distribution with this mean and
/// coefficient of variation (exponential at cv = 1, deterministic at cv = 0), by the
/// Wilson–Hilferty approximation (within 1 % of the exponential's p99).
pub fn service_quantile(mean: f64, cv: f64, p: f64) -> f64 {
    if cv <= 0.0 {
        return mean;
    }
    let k = 1.0 / (cv * cv);
    let h = 1.0 / (9.0 * k);
    let base = 1.0 - h + normal_quantile(p) * h.sqrt();
    mean * base.max(0.0).powi(3)
}

/// Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The `p` quantile of latency = wait + own service time, with the wait as above (0 with
/// probability 1 − p_wait, else exponential) and the service gamma (mean, cv): the tail of
/// the sum, by a discretised service distribution and bisection. Adding the two quantiles
/// instead would overshoot; taking the larger would undershoot by a fifth at c = 4.
pub fn latency_quantile(wait: &Wait, service: f64, cv: f64, p: f64) -> f64 {
    const N: usize = 2000;
    let xs: Vec<f64> = (0..N)
        .map(|i| service_quantile(service, cv, (i as f64 + 0.5) / N as f64))
        .collect();
    let tail = |t: f64| {
        let mut sum = 0.0;
        for &x in &xs {
            sum += if x > t {
                1.0
            } else if wait.scale > 0.0 {
                wait.p_wait * (-(t - x) / wait.scale).exp()
            } else {
                0.0
            };
        }
        sum / N as f64
    };
    let (mut lo, mut hi) = (
        0.0,
        xs[N - 1] + wait.scale * (1.0 / (1.0 - p)).ln() + service,
    );
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if tail(mid) > 1.0 - p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}
