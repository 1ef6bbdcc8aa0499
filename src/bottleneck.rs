//! Whether the generator, not the stack, set the pace: the verdict behind the warnings a
//! run prints and stores in `configs[].generator`.

use serde::{Deserialize, Serialize};

use crate::record::Summary;

/// Client lag p99 above this means requests left late: the generator could not keep its
/// schedule (latency is still measured from the intended time, so it stays honest).
pub const LAG_WARN_US: u64 = 10_000;
/// The load thread busy above this share of its one core has no headroom left.
pub const LOAD_THREAD_WARN_PCT: f64 = 85.0;
/// The whole process above this share of a core competes with the stack on a small machine.
pub const PROCESS_WARN_PCT: f64 = 80.0;

/// The generator's own resource use, so a saturated generator is never mistaken for a
/// saturated stack.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GeneratorStats {
    /// CPU time fpmlab used (user + sys), ms.
    pub cpu_ms: u64,
    /// Wall time of the load, ms.
    pub wall_ms: u64,
    /// cpu_ms / wall_ms × 100: 100 means one core fully busy.
    pub cpu_pct: f64,
    /// CPU time of the load thread alone (it sends, reads and records every request), ms.
    #[serde(default)]
    pub load_thread_cpu_ms: u64,
    /// load_thread_cpu_ms / wall_ms × 100. The load thread runs on one core: near 100 it,
    /// not the stack, sets the pace.
    #[serde(default)]
    pub load_thread_cpu_pct: f64,
    /// Warnings such as "client lag p99 12 ms: the generator could not keep up".
    pub warnings: Vec<String>,
}

/// CPU times measured over one config's load.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    /// The whole fpmlab process (user + sys), ms.
    pub process_ms: u64,
    /// The load thread alone, ms.
    pub load_thread_ms: u64,
    /// Wall time of the load, ms.
    pub wall_ms: u64,
}

fn pct(part_ms: u64, wall_ms: u64) -> f64 {
    if wall_ms == 0 {
        return 0.0;
    }
    (part_ms as f64 / wall_ms as f64 * 1000.0).round() / 10.0
}

/// The generator's figures and warnings for one config.
pub fn assess(cpu: CpuUse, summary: &Summary) -> GeneratorStats {
    let cpu_pct = pct(cpu.process_ms, cpu.wall_ms);
    let load_thread_cpu_pct = pct(cpu.load_thread_ms, cpu.wall_ms);
    let mut warnings = Vec::new();
    let lag = summary.client_lag.p99_us;
    let waited = &summary.connection_wait;
    if lag > LAG_WARN_US && waited.count > 0 {
        warnings.push(format!("client lag p99 {:.1} ms: {} requests waited for one of load.max_connections' connections (p99 {:.1} ms): queueing in the client, as in a load balancer, not in the server", lag as f64 / 1000.0, waited.count, waited.p99_us as f64 / 1000.0));
    } else if lag > LAG_WARN_US {
        warnings.push(format!("client lag p99 {:.1} ms: the generator could not send on time, so part of the latency is its own (it is still measured from the intended time)", lag as f64 / 1000.0));
    }
    if load_thread_cpu_pct > LOAD_THREAD_WARN_PCT {
        warnings.push(format!("the load thread was busy {load_thread_cpu_pct:.0}% of its core: the generator, not the stack, may have set the pace (lower the rate or the users, or give the generator a core of its own with load.cpuset)"));
    }
    if cpu_pct > PROCESS_WARN_PCT {
        warnings.push(format!("the generator used {cpu_pct:.0}% of a core: on a small machine it competes with the stack for CPU (set load.cpuset / stack.cpuset)"));
    }
    if summary.dropped_max_in_flight > 0 {
        warnings.push(format!(
            "{} scheduled requests were not sent because load.max_in_flight was reached",
            summary.dropped_max_in_flight
        ));
    }
    GeneratorStats {
        cpu_ms: cpu.process_ms,
        wall_ms: cpu.wall_ms,
        cpu_pct,
        load_thread_cpu_ms: cpu.load_thread_ms,
        load_thread_cpu_pct,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(lag_p99_us: u64, dropped: u64) -> Summary {
        let mut s = Summary::default();
        s.client_lag.p99_us = lag_p99_us;
        s.dropped_max_in_flight = dropped;
        s
    }

    fn cpu(process_ms: u64, load_thread_ms: u64) -> CpuUse {
        CpuUse {
            process_ms,
            load_thread_ms,
            wall_ms: 10_000,
        }
    }

    #[test]
    fn a_relaxed_generator_says_nothing() {
        let g = assess(cpu(2_000, 1_500), &summary(80, 0));
        assert!(g.warnings.is_empty(), "{:?}", g.warnings);
        assert_eq!(g.cpu_pct, 20.0);
        assert_eq!(g.load_thread_cpu_pct, 15.0);
    }

    #[test]
    fn late_sends_are_named() {
        let g = assess(cpu(2_000, 1_500), &summary(12_500, 0));
        assert_eq!(g.warnings.len(), 1);
        assert!(
            g.warnings[0].starts_with("client lag p99 12.5 ms"),
            "{:?}",
            g.warnings
        );
    }

    #[test]
    fn a_busy_load_thread_is_named_even_with_small_lag() {
        // Closed loop: a saturated generator shows no lag (users wait for it), only CPU.
        let g = assess(cpu(7_000, 9_300), &summary(0, 0));
        assert_eq!(g.warnings.len(), 1, "{:?}", g.warnings);
        assert!(g.warnings[0].contains("load thread was busy 93%"));
        let g = assess(cpu(9_500, 9_300), &summary(0, 3));
        assert_eq!(g.warnings.len(), 3, "{:?}", g.warnings);
    }

    #[test]
    fn no_wall_time_no_division() {
        let g = assess(CpuUse::default(), &summary(0, 0));
        assert_eq!(g.cpu_pct, 0.0);
    }
}
