//! Per-config summary of the server-side samples, over a slice or kept running as they come.

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
    let mut running = RunningSummary::default();
    ordered.into_iter().for_each(|s| running.add(s));
    running.summary()
}

/// [`summarize`] kept up to date one sample at a time, in bounded memory: maxima, counts
/// and the first and last counter readings, so a run of any length never needs its samples
/// back to know its peaks.
#[derive(Debug, Clone, Default)]
pub struct RunningSummary {
    samples: u32,
    failed_samples: u32,
    max_accept_queue: Option<u32>,
    max_fpm_listen_queue: Option<u32>,
    peak_total_workers: Option<u32>,
    peak_active_workers: Option<u32>,
    peak_worker_pss_kib: Option<u64>,
    peak_total_pss_kib: Option<u64>,
    /// `max children reached` at the first and the last sample that had it.
    reached: Option<(u64, u64)>,
    max_accept_backlog: Option<u32>,
    max_fpm_queue_len: Option<u32>,
    php_fpm: Option<RunningContainer>,
    nginx: Option<RunningContainer>,
}

/// One container's running figures.
#[derive(Debug, Clone)]
struct RunningContainer {
    first: (u64, CgroupUsage),
    last: (u64, CgroupUsage),
    peak_memory_bytes: u64,
    peak_cpu_pct: Option<f64>,
}

impl RunningContainer {
    fn add(slot: &mut Option<Self>, t_ms: u64, u: &CgroupUsage) {
        let Some(c) = slot else {
            *slot = Some(RunningContainer {
                first: (t_ms, u.clone()),
                last: (t_ms, u.clone()),
                peak_memory_bytes: u.memory_bytes,
                peak_cpu_pct: u.cpu_pct,
            });
            return;
        };
        c.last = (t_ms, u.clone());
        c.peak_memory_bytes = c.peak_memory_bytes.max(u.memory_bytes);
        c.peak_cpu_pct = match (c.peak_cpu_pct, u.cpu_pct) {
            (Some(a), Some(b)) if a.total_cmp(&b).is_gt() => Some(a),
            (a, b) => b.or(a),
        };
    }

    fn peaks(&self) -> ContainerPeaks {
        let ((t0, first), (t1, last)) = (&self.first, &self.last);
        let increase =
            |f: fn(&CgroupUsage) -> Option<u64>| Some(f(last)?.saturating_sub(f(first)?));
        let wall_us = (t1 - t0) as f64 * 1000.0;
        ContainerPeaks {
            peak_memory_bytes: self.peak_memory_bytes,
            memory_limit_bytes: last.memory_limit_bytes,
            peak_cpu_pct: self.peak_cpu_pct,
            mean_cpu_pct: (wall_us > 0.0).then(|| {
                last.cpu_usage_us.saturating_sub(first.cpu_usage_us) as f64 / wall_us * 100.0
            }),
            cpu_throttled_ms: increase(|u| u.cpu_throttled_us).map(|us| us / 1000),
            memory_limit_hits: increase(|u| u.memory_limit_hits),
            oom_kills: increase(|u| u.oom_kills),
        }
    }
}

/// `a` raised to `b`, where `None` is no reading yet.
fn raise<T: Ord + Copy>(a: &mut Option<T>, b: Option<T>) {
    *a = (*a).max(b);
}

impl RunningSummary {
    /// Takes the next sample into account (samples in time order: counters are read so).
    pub fn add(&mut self, s: &Sample) {
        self.samples += 1;
        self.failed_samples += u32::from(!s.errors.is_empty());
        if let Some(q) = &s.accept_queue {
            raise(&mut self.max_accept_queue, Some(q.queued));
            raise(&mut self.max_accept_backlog, q.backlog);
        }
        if let Some(f) = &s.fpm {
            raise(&mut self.max_fpm_listen_queue, Some(f.listen_queue));
            raise(&mut self.peak_total_workers, Some(f.total_processes));
            raise(&mut self.peak_active_workers, Some(f.active_processes));
            raise(
                &mut self.max_fpm_queue_len,
                Some(f.listen_queue_len).filter(|&n| n > 0),
            );
            let n = f.max_children_reached;
            self.reached = Some(self.reached.map_or((n, n), |(first, _)| (first, n)));
        }
        raise(
            &mut self.peak_worker_pss_kib,
            s.workers.iter().filter_map(|w| w.pss_kib).max(),
        );
        // Samples where some worker's PSS is missing are left out (their sum would undercount).
        let total = s.workers.iter().map(|w| w.pss_kib).sum::<Option<u64>>();
        raise(&mut self.peak_total_pss_kib, total.filter(|&sum| sum > 0));
        if let Some(c) = &s.container {
            if let Some(u) = &c.php_fpm {
                RunningContainer::add(&mut self.php_fpm, s.t_ms, u);
            }
            if let Some(u) = &c.nginx {
                RunningContainer::add(&mut self.nginx, s.t_ms, u);
            }
        }
    }

    /// The summary of every sample added so far.
    pub fn summary(&self) -> SampleSummary {
        let container = ContainerSummary {
            php_fpm: self.php_fpm.as_ref().map(RunningContainer::peaks),
            nginx: self.nginx.as_ref().map(RunningContainer::peaks),
        };
        SampleSummary {
            samples: self.samples,
            failed_samples: self.failed_samples,
            max_listen_queue: self.max_accept_queue.max(self.max_fpm_listen_queue),
            max_accept_queue: self.max_accept_queue,
            max_fpm_listen_queue: self.max_fpm_listen_queue,
            peak_total_workers: self.peak_total_workers,
            peak_active_workers: self.peak_active_workers,
            peak_worker_pss_kib: self.peak_worker_pss_kib,
            peak_total_pss_kib: self.peak_total_pss_kib,
            max_children_reached: self.reached.map(|(_, last)| last),
            // A restarted pool resets the counter: count no negative episodes.
            max_children_reached_in_run: self
                .reached
                .map(|(first, last)| last.saturating_sub(first)),
            listen_backlog: self.max_accept_backlog.or(self.max_fpm_queue_len),
            container: (container != ContainerSummary::default()).then_some(container),
        }
    }
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
