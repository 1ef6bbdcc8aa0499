//! Per-config summary of the server-side samples.

use serde::{Deserialize, Serialize};

use super::{CgroupUsage, Sample};

/// Peaks and counts over one run's samples; `None` where no sample had the data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SampleSummary {
    /// Samples taken.
    pub samples: u32,
    /// Samples with at least one error.
    pub failed_samples: u32,
    /// Deepest listen queue seen by either source: the kernel accept queue or fpm's own
    /// `listen queue` (which reads 0 on unix sockets).
    pub max_listen_queue: Option<u32>,
    /// Deepest kernel accept queue sampled.
    pub max_accept_queue: Option<u32>,
    /// Highest `listen queue` on fpm's status page (fpm's own 1 s samples; its `max listen
    /// queue` is not used because it counts from the pool's start, before the run).
    pub max_fpm_listen_queue: Option<u32>,
    /// Most workers alive at once (status page `total processes`).
    pub peak_total_workers: Option<u32>,
    /// Most workers busy at once (status page `active processes`).
    pub peak_active_workers: Option<u32>,
    /// Largest single worker's PSS, KiB.
    pub peak_worker_pss_kib: Option<u64>,
    /// Largest sum of PSS over all workers in one sample, KiB: the pool's real memory.
    /// Samples where some worker's PSS is missing are left out (their sum would undercount).
    pub peak_total_pss_kib: Option<u64>,
    /// Last `max children reached` counter seen (episodes since the pool started).
    pub max_children_reached: Option<u64>,
    /// Increase of `max children reached` between the first and last sample that had it.
    pub max_children_reached_in_run: Option<u64>,
    /// Listen backlog of the pool socket: from the kernel, else fpm's `listen queue len`
    /// (TCP only; 0 means unknown there).
    pub listen_backlog: Option<u32>,
    /// Container CPU and memory over the run (docker driver); `None` for the other drivers.
    #[serde(default)]
    pub container: Option<ContainerSummary>,
}

/// Per-container figures over one run's samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContainerSummary {
    /// The php-fpm container.
    pub php_fpm: Option<ContainerPeaks>,
    /// The nginx container.
    pub nginx: Option<ContainerPeaks>,
}

/// One container's peaks and counter increases over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContainerPeaks {
    /// Highest memory charged to the container (page cache included), bytes.
    pub peak_memory_bytes: u64,
    /// Its memory limit, bytes; `None` when unlimited.
    pub memory_limit_bytes: Option<u64>,
    /// Highest CPU use over one sample interval, percent of one core.
    pub peak_cpu_pct: Option<f64>,
    /// Mean CPU use between the first and last sample, percent of one core.
    pub mean_cpu_pct: Option<f64>,
    /// Time the CPU quota held the container back during the run, ms.
    pub cpu_throttled_ms: Option<u64>,
    /// Times memory usage hit the limit during the run.
    pub memory_limit_hits: Option<u64>,
    /// Processes killed by the kernel's OOM killer during the run.
    pub oom_kills: Option<u64>,
}

/// Summarizes `samples` (any order; counters are read in time order).
pub fn summarize(samples: &[Sample]) -> SampleSummary {
    let mut ordered: Vec<&Sample> = samples.iter().collect();
    ordered.sort_by_key(|s| s.t_ms);
    let fpm = || ordered.iter().filter_map(|s| s.fpm.as_ref());
    let accept = || ordered.iter().filter_map(|s| s.accept_queue.as_ref());

    let max_accept_queue = accept().map(|q| q.queued).max();
    let max_fpm_listen_queue = fpm().map(|f| f.listen_queue).max();
    let reached: Vec<u64> = fpm().map(|f| f.max_children_reached).collect();
    let listen_backlog = accept()
        .filter_map(|q| q.backlog)
        .max()
        .or_else(|| fpm().map(|f| f.listen_queue_len).filter(|&n| n > 0).max());

    SampleSummary {
        samples: samples.len() as u32,
        failed_samples: samples.iter().filter(|s| !s.errors.is_empty()).count() as u32,
        max_listen_queue: max_accept_queue.max(max_fpm_listen_queue),
        max_accept_queue,
        max_fpm_listen_queue,
        peak_total_workers: fpm().map(|f| f.total_processes).max(),
        peak_active_workers: fpm().map(|f| f.active_processes).max(),
        peak_worker_pss_kib: samples
            .iter()
            .flat_map(|s| &s.workers)
            .filter_map(|w| w.pss_kib)
            .max(),
        peak_total_pss_kib: samples
            .iter()
            .filter_map(|s| s.workers.iter().map(|w| w.pss_kib).sum::<Option<u64>>())
            .filter(|&sum| sum > 0)
            .max(),
        max_children_reached: reached.last().copied(),
        // A restarted pool resets the counter: count no negative episodes.
        max_children_reached_in_run: match (reached.first(), reached.last()) {
            (Some(first), Some(last)) => Some(last.saturating_sub(*first)),
            _ => None,
        },
        listen_backlog,
        container: summarize_containers(&ordered),
    }
}

fn summarize_containers(ordered: &[&Sample]) -> Option<ContainerSummary> {
    let peaks = |pick: fn(&super::ContainerSample) -> Option<&CgroupUsage>| {
        let seen: Vec<(u64, &CgroupUsage)> = ordered
            .iter()
            .filter_map(|s| Some((s.t_ms, pick(s.container.as_ref()?)?)))
            .collect();
        let (first, last) = (seen.first()?, seen.last()?);
        let increase =
            |f: fn(&CgroupUsage) -> Option<u64>| Some(f(last.1)?.saturating_sub(f(first.1)?));
        let wall_us = (last.0 - first.0) as f64 * 1000.0;
        Some(ContainerPeaks {
            peak_memory_bytes: seen.iter().map(|(_, u)| u.memory_bytes).max()?,
            memory_limit_bytes: last.1.memory_limit_bytes,
            peak_cpu_pct: seen
                .iter()
                .filter_map(|(_, u)| u.cpu_pct)
                .max_by(f64::total_cmp),
            mean_cpu_pct: (wall_us > 0.0).then(|| {
                last.1.cpu_usage_us.saturating_sub(first.1.cpu_usage_us) as f64 / wall_us * 100.0
            }),
            cpu_throttled_ms: increase(|u| u.cpu_throttled_us).map(|us| us / 1000),
            memory_limit_hits: increase(|u| u.memory_limit_hits),
            oom_kills: increase(|u| u.oom_kills),
        })
    };
    let summary = ContainerSummary {
        php_fpm: peaks(|c| c.php_fpm.as_ref()),
        nginx: peaks(|c| c.nginx.as_ref()),
    };
    (summary != ContainerSummary::default()).then_some(summary)
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
