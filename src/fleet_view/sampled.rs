//! Each instance as its own php-fpm and containers showed it: the sampler that runs for a
//! single stack, run against every instance directly (its nginx's status route, its
//! master's /proc, its containers' cgroups), never through the balancer. The balancer's
//! log says what the instance did with the requests it got; these samples say what it had
//! to do it with (workers busy against `max_children`, the listen queue, CPU and memory),
//! second by second beside the health state the balancer gave it.

use serde::{Deserialize, Serialize};

use crate::probe::{RunningSummary, Sample, SampleSummary};

/// One instance's own samples over one config's load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstanceSampled {
    /// Its samples, one per line, relative to the run directory (e.g.
    /// `static-4/instances/i1/samples.jsonl`).
    pub samples_file: String,
    /// How often it was sampled, milliseconds.
    pub interval_ms: u64,
    /// Peaks over every sample: workers, queues, memory; container CPU and memory (docker).
    pub summary: SampleSummary,
    /// Per second that had a sample, the highest readings in it.
    pub seconds: Vec<SampledSecond>,
}

impl InstanceSampled {
    /// Second `t_s`'s readings, if it had a sample (seconds are in time order: a binary
    /// search, so a day's charts and tables stay linear in their seconds).
    pub fn second(&self, t_s: u64) -> Option<&SampledSecond> {
        let k = self.seconds.binary_search_by_key(&t_s, |s| s.t_s).ok()?;
        Some(&self.seconds[k])
    }
}

/// The highest readings of one instance's samples within one second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SampledSecond {
    /// Seconds after the load's start (`[t_s, t_s + 1)`).
    pub t_s: u64,
    /// Most php-fpm workers busy (status page `active processes`, the status request's own
    /// worker is in the status pool, not counted); `None`: no status page this second.
    pub fpm_active_max: Option<u32>,
    /// Deepest listen queue: the kernel's accept queue of the pool socket or php-fpm's own
    /// `listen queue`, whichever is deeper.
    pub listen_queue_max: Option<u32>,
    /// Highest CPU use over a sample interval, percent of one core: the php-fpm container's
    /// (docker), else the sum over its workers (native).
    pub cpu_pct_max: Option<f64>,
    /// Highest memory, MiB: the php-fpm container's charge (docker), else the sum of its
    /// workers' PSS (native).
    pub memory_mib_max: Option<f64>,
    /// Samples in this second whose status page did not answer (the instance's nginx or its
    /// status pool was down or too slow).
    pub status_unanswered: u32,
    /// Whether its php-fpm master was alive at every sample in this second (`None`: not
    /// known, e.g. a docker master whose pid was not found).
    pub master_alive: Option<bool>,
}

/// Folds an instance's samples as they come: its summary and its seconds, nothing per
/// sample.
#[derive(Debug, Clone)]
pub struct SampledFold {
    samples_file: String,
    interval_ms: u64,
    running: RunningSummary,
    seconds: Vec<SampledSecond>,
}

impl SampledFold {
    /// A fold for samples taken every `interval_ms` and saved to `samples_file`.
    pub fn new(samples_file: String, interval_ms: u64) -> Self {
        SampledFold {
            samples_file,
            interval_ms,
            running: RunningSummary::default(),
            seconds: Vec::new(),
        }
    }

    /// Takes the next sample (in time order) into account.
    pub fn add(&mut self, s: &Sample) {
        self.running.add(s);
        let t_s = s.t_ms / 1000;
        if self.seconds.last().is_none_or(|l| l.t_s != t_s) {
            self.seconds.push(SampledSecond {
                t_s,
                ..SampledSecond::default()
            });
        }
        let sec = self.seconds.last_mut().expect("pushed above");
        let reading = SampledReading::of(s);
        sec.fpm_active_max = max(sec.fpm_active_max, reading.active);
        sec.listen_queue_max = max(sec.listen_queue_max, reading.queue);
        sec.cpu_pct_max = max_f(sec.cpu_pct_max, reading.cpu_pct);
        sec.memory_mib_max = max_f(sec.memory_mib_max, reading.memory_mib);
        sec.status_unanswered += u32::from(!reading.status_answered);
        sec.master_alive = match (sec.master_alive, s.fpm_master_alive) {
            (None, a) => a,
            (Some(a), b) => Some(a && b.unwrap_or(true)),
        };
    }

    /// What was folded so far.
    pub fn sampled(&self) -> InstanceSampled {
        InstanceSampled {
            samples_file: self.samples_file.clone(),
            interval_ms: self.interval_ms,
            summary: self.running.summary(),
            seconds: self.seconds.clone(),
        }
    }
}

/// The figures of one instance's sample that its second keeps the highest of, and that the
/// live metrics endpoint shows as the instance's latest.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SampledReading {
    /// Whether its status page answered.
    pub status_answered: bool,
    /// php-fpm workers busy (status page `active processes`).
    pub active: Option<u32>,
    /// Listen queue: the kernel's accept queue of the pool socket or php-fpm's own, the
    /// deeper.
    pub queue: Option<u32>,
    /// CPU over the last interval, percent of one core: the php-fpm container's, else the
    /// sum over its workers (`None` until every worker has a reading).
    pub cpu_pct: Option<f64>,
    /// Memory, MiB: the php-fpm container's charge, else the sum of its workers' PSS.
    pub memory_mib: Option<f64>,
}

impl SampledReading {
    /// What sample `s` says.
    pub fn of(s: &Sample) -> SampledReading {
        let accept = s.accept_queue.as_ref().map(|q| q.queued);
        let fpm_queue = s.fpm.as_ref().map(|f| f.listen_queue);
        let container = s.container.as_ref().and_then(|c| c.php_fpm.as_ref());
        let workers_cpu = (s.workers.iter().map(|w| w.cpu_pct)).collect::<Option<Vec<_>>>();
        let workers_pss = (s.workers.iter().map(|w| w.pss_kib)).collect::<Option<Vec<_>>>();
        SampledReading {
            status_answered: s.fpm.is_some(),
            active: s.fpm.as_ref().map(|f| f.active_processes),
            queue: max(accept, fpm_queue),
            cpu_pct: match container {
                Some(c) => c.cpu_pct,
                None => none_if_empty(workers_cpu).map(|v| v.iter().sum()),
            },
            memory_mib: match container {
                Some(c) => Some(c.memory_bytes as f64 / 1_048_576.0),
                None => (none_if_empty(workers_pss)).map(|v| v.iter().sum::<u64>() as f64 / 1024.0),
            },
        }
    }
}

/// A fleet config's server-side peaks (run.json's `server`, and per phase) from its
/// instances' own summaries: figure by figure, the highest any one instance reached, so no
/// figure mixes instances as the config's own sampler does (it looks through the balancer,
/// at whichever instance answers each status request). The sample counts add up. No
/// container figures: a peak of one instance beside the limit of another would read as one
/// container's; each instance's are in `fleet.instances[]`.
pub fn fleet_peaks<'a>(instances: impl IntoIterator<Item = &'a SampleSummary>) -> SampleSummary {
    let mut out = SampleSummary::default();
    for s in instances {
        out.samples += s.samples;
        out.failed_samples += s.failed_samples;
        // `None` (no reading) sorts below any reading.
        out.max_listen_queue = out.max_listen_queue.max(s.max_listen_queue);
        out.max_accept_queue = out.max_accept_queue.max(s.max_accept_queue);
        out.max_fpm_listen_queue = out.max_fpm_listen_queue.max(s.max_fpm_listen_queue);
        out.peak_total_workers = out.peak_total_workers.max(s.peak_total_workers);
        out.peak_active_workers = out.peak_active_workers.max(s.peak_active_workers);
        out.peak_worker_pss_kib = out.peak_worker_pss_kib.max(s.peak_worker_pss_kib);
        out.peak_total_pss_kib = out.peak_total_pss_kib.max(s.peak_total_pss_kib);
        out.max_children_reached = out.max_children_reached.max(s.max_children_reached);
        out.max_children_reached_in_run =
            (out.max_children_reached_in_run).max(s.max_children_reached_in_run);
        out.listen_backlog = out.listen_backlog.max(s.listen_backlog);
    }
    out
}

/// A sum over no worker is no reading, not zero.
fn none_if_empty<T>(v: Option<Vec<T>>) -> Option<Vec<T>> {
    v.filter(|v| !v.is_empty())
}

fn max<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn max_f(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{AcceptQueue, CgroupUsage, ContainerSample, FpmStatus, WorkerSample};

    fn fpm(active: u32, listen_queue: u32) -> FpmStatus {
        FpmStatus {
            pool: "www".into(),
            process_manager: "static".into(),
            start_since_s: 1,
            accepted_conn: 0,
            listen_queue,
            max_listen_queue: 0,
            listen_queue_len: 511,
            idle_processes: 4 - active.min(4),
            active_processes: active,
            total_processes: 4,
            max_active_processes: 4,
            max_children_reached: 0,
            slow_requests: 0,
        }
    }

    fn worker(pid: u32, cpu_pct: Option<f64>, pss_kib: u64) -> WorkerSample {
        WorkerSample {
            pid,
            state: None,
            requests: None,
            request_duration_us: None,
            pss_kib: Some(pss_kib),
            cpu_pct,
        }
    }

    fn native(t_ms: u64, active: u32, accept: u32) -> Sample {
        Sample {
            t_ms,
            fpm: Some(fpm(active, 0)),
            fpm_status_rtt_us: Some(500),
            accept_queue: Some(AcceptQueue {
                queued: accept,
                backlog: Some(511),
            }),
            workers: vec![
                worker(10, Some(40.0), 10_240),
                worker(11, Some(35.0), 10_240),
            ],
            errors: Vec::new(),
            container: None,
            fpm_master_alive: Some(true),
        }
    }

    #[test]
    fn a_second_keeps_the_highest_readings_of_its_samples() {
        let mut fold = SampledFold::new("c/instances/i1/samples.jsonl".into(), 500);
        fold.add(&native(0, 1, 0));
        fold.add(&native(500, 4, 7));
        fold.add(&native(1_000, 2, 0));
        let mut dead = native(1_500, 0, 0);
        dead.fpm = None;
        dead.fpm_master_alive = Some(false);
        fold.add(&dead);
        let s = fold.sampled();
        assert_eq!(s.seconds.len(), 2);
        assert_eq!(s.second(1), Some(&s.seconds[1]));
        assert_eq!(s.second(2), None);
        let (first, second) = (&s.seconds[0], &s.seconds[1]);
        assert_eq!((first.t_s, first.fpm_active_max), (0, Some(4)));
        assert_eq!(first.listen_queue_max, Some(7));
        // Native: the workers' CPU and PSS summed.
        assert_eq!(first.cpu_pct_max, Some(75.0));
        assert_eq!(first.memory_mib_max, Some(20.0));
        assert_eq!(
            (first.status_unanswered, first.master_alive),
            (0, Some(true))
        );
        assert_eq!(
            (second.fpm_active_max, second.status_unanswered),
            (Some(2), 1)
        );
        assert_eq!(
            second.master_alive,
            Some(false),
            "one dead sample marks the second"
        );
        assert_eq!(s.summary.samples, 4);
        assert_eq!(s.summary.peak_active_workers, Some(4));
        assert_eq!(s.summary.max_accept_queue, Some(7));
    }

    #[test]
    fn a_fleets_peaks_are_each_the_highest_one_instance_reached() {
        let mut i1 = SampledFold::new(String::new(), 500);
        i1.add(&native(0, 8, 0));
        let mut i2 = SampledFold::new(String::new(), 500);
        i2.add(&native(0, 1, 117));
        i2.add(&native(500, 1, 40));
        let (a, b) = (i1.sampled().summary, i2.sampled().summary);
        let f = fleet_peaks([&a, &b]);
        assert_eq!(f.peak_active_workers, Some(8), "i1's");
        assert_eq!(f.max_listen_queue, Some(117), "i2's");
        assert_eq!(f.samples, 3, "counts add up");
        assert_eq!(f.peak_total_pss_kib, Some(20_480));
        assert_eq!(f.container, None);
        // An instance without a reading takes nothing away; no instance, no figure.
        assert_eq!(
            fleet_peaks([&a, &SampleSummary::default()]).max_listen_queue,
            Some(0)
        );
        assert_eq!(fleet_peaks(std::iter::empty()).peak_active_workers, None);
    }

    #[test]
    fn a_container_reading_is_preferred_over_the_workers() {
        let mut s = native(2_300, 3, 0);
        s.container = Some(ContainerSample {
            php_fpm: Some(CgroupUsage {
                cpu_pct: Some(98.5),
                memory_bytes: 300 * 1_048_576,
                ..CgroupUsage::default()
            }),
            nginx: None,
        });
        let mut fold = SampledFold::new(String::new(), 500);
        fold.add(&s);
        let sec = &fold.sampled().seconds[0];
        assert_eq!(sec.t_s, 2);
        assert_eq!(sec.cpu_pct_max, Some(98.5));
        assert_eq!(sec.memory_mib_max, Some(300.0));
        // A worker's first sample has no CPU yet: no sum that undercounts.
        let mut first = native(0, 1, 0);
        first.workers[1].cpu_pct = None;
        let mut fold = SampledFold::new(String::new(), 500);
        fold.add(&first);
        assert_eq!(fold.sampled().seconds[0].cpu_pct_max, None);
    }
}
