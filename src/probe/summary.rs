//! Per-config summary of the server-side samples.

use serde::{Deserialize, Serialize};

use super::Sample;

/// Peaks and counts over one run's samples; `None` where no sample had the data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    }
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
