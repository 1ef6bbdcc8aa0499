//! Discrete things that happened to the stack during a config's run, on the run's timeline:
//! processes killed by the kernel's OOM killer (container cgroup counters) and php-fpm workers
//! that died on a signal (php-fpm's own log).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::attribution::logs::{self, FpmEventKind};
use crate::probe::{ContainerSample, Sample};

/// Event kinds.
pub mod kind {
    /// The kernel's OOM killer killed processes in a container (its cgroup's `oom_kill`
    /// counter went up). `detail` names the container, the count and the memory figures.
    pub const OOM_KILL: &str = "oom_kill";
    /// php-fpm logged that a worker exited on a signal (`child N exited on signal 9
    /// (SIGKILL)`): killed by the OOM killer, `request_terminate_timeout`, or by hand.
    pub const WORKER_KILLED: &str = "worker_killed";
    /// php-fpm's master process died (the sampler saw it gone): its workers may go on
    /// serving, as php-fpm's do, but nothing respawns, recycles or supervises them.
    pub const FPM_MASTER_DIED: &str = "fpm_master_died";
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Event {
    /// Milliseconds since the load's start (negative: before it, e.g. during startup).
    /// Cgroup events carry the time of the sample that saw them (250 ms resolution); log
    /// events the middle of the second their log line names (php-fpm logs whole seconds
    /// unless `log_level = debug`), so they are within ±500 ms.
    pub t_ms: i64,
    /// What happened: one of [`kind`].
    pub kind: String,
    /// A sentence for people, with the numbers and the source.
    pub detail: String,
    /// The fleet instance it happened to (a fleet's events come from each instance's own
    /// samples and php-fpm log); absent for a single stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

impl Event {
    /// Its kind, after the instance it happened to if any (`i2 oom_kill`): what a table
    /// row or a chart marker names it by.
    pub fn title(&self) -> String {
        match &self.instance {
            Some(i) => format!("{i} {}", self.kind),
            None => self.kind.clone(),
        }
    }
}

/// Every event of one config's run, in time order: those `from_samples` found in the
/// samples (OOM kills from the cgroup counters, the master's death), and worker deaths from
/// php-fpm's log `fpm_log` (if it exists). `log_utc_offset_s` is the zone php-fpm wrote its
/// log in (`stack::log_utc_offset_s`).
pub fn collect(
    from_samples: SampleEvents,
    fpm_log: &Path,
    load_start_epoch_us: i64,
    log_utc_offset_s: i32,
) -> Vec<Event> {
    let mut events = from_samples.events;
    if let Ok(text) = std::fs::read_to_string(fpm_log) {
        events.extend(from_fpm_log(&text, load_start_epoch_us, log_utc_offset_s));
    }
    events.sort_by_key(|e| e.t_ms);
    events
}

/// One fleet instance's sources of events: its name, what its own samples showed, and its
/// php-fpm log.
pub struct InstanceEvents {
    pub name: String,
    pub from_samples: SampleEvents,
    pub fpm_log: std::path::PathBuf,
}

/// Every event of a fleet config's run, in time order: each instance's, as [`collect`]
/// finds them in its own samples and php-fpm log, marked with its name. (The config's own
/// sampler looks through the balancer at whichever instance answers, so its events would
/// belong to no instance in particular.)
pub fn collect_fleet(
    instances: Vec<InstanceEvents>,
    load_start_epoch_us: i64,
    log_utc_offset_s: i32,
) -> Vec<Event> {
    let mut events: Vec<Event> = (instances.into_iter())
        .flat_map(|i| {
            let found = collect(
                i.from_samples,
                &i.fpm_log,
                load_start_epoch_us,
                log_utc_offset_s,
            );
            found.into_iter().map(move |e| Event {
                instance: Some(i.name.clone()),
                ..e
            })
        })
        .collect();
    events.sort_by_key(|e| e.t_ms);
    events
}

/// `oom_kill` events where a container's OOM-kill counter went up between two samples, and
/// `fpm_master_died` at the first sample that found php-fpm's master gone.
pub fn from_samples(samples: &[Sample]) -> Vec<Event> {
    let mut ordered: Vec<&Sample> = samples.iter().collect();
    ordered.sort_by_key(|s| s.t_ms);
    let mut found = SampleEvents::default();
    ordered.into_iter().for_each(|s| found.add(s));
    found.events
}

/// [`from_samples`] one sample at a time, in time order: what a run of any length uses, so
/// its samples need not stay in memory. Holds only the last readings and the events found.
#[derive(Debug, Clone, Default)]
pub struct SampleEvents {
    alive_before: bool,
    /// Last OOM-kill counter seen, per [`ContainerSample::SERVICES`] entry.
    last_kills: [Option<u64>; ContainerSample::SERVICES.len()],
    /// The events found so far, in time order.
    pub events: Vec<Event>,
}

impl SampleEvents {
    /// Looks at the next sample.
    pub fn add(&mut self, s: &Sample) {
        match s.fpm_master_alive {
            Some(true) => self.alive_before = true,
            Some(false) if self.alive_before => {
                self.events.push(Event {
                    t_ms: s.t_ms as i64,
                    kind: kind::FPM_MASTER_DIED.into(),
                    detail:
                        "php-fpm's master process is gone (seen by the sampler, within 250 ms): \
                         its workers may go on serving, but nothing respawns or recycles them \
                         and the pool cannot grow"
                            .into(),
                    instance: None,
                });
                self.alive_before = false;
            }
            _ => {}
        }
        for (service, last) in ContainerSample::SERVICES.iter().zip(&mut self.last_kills) {
            let Some(usage) = s.container.as_ref().and_then(|c| c.service(service)) else {
                continue;
            };
            let Some(kills) = usage.oom_kills else {
                continue;
            };
            if let Some(prev) = last.filter(|&prev| kills > prev) {
                let n = kills - prev;
                let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
                let limit = usage
                    .memory_limit_bytes
                    .map_or("no limit".to_string(), |l| {
                        format!("limit {:.0} MiB", mib(l))
                    });
                self.events.push(Event {
                    t_ms: s.t_ms as i64,
                    kind: kind::OOM_KILL.into(),
                    detail: format!(
                        "the kernel's OOM killer killed {n} process{} in the {service} container \
                         (memory {:.1} MiB, {limit})",
                        if n == 1 { "" } else { "es" },
                        mib(usage.memory_bytes)
                    ),
                    instance: None,
                });
            }
            *last = Some(kills);
        }
    }
}

/// `worker_killed` events from php-fpm's error log lines such as
/// `[22-Nov-2026 11:44:42] WARNING: [pool www] child 57 exited on signal 9 (SIGKILL) after
/// 1.5 seconds from start`, parsed by the one php-fpm log parser (`attribution::logs`).
/// `utc_offset_s` is the zone php-fpm wrote its log in.
pub fn from_fpm_log(text: &str, load_start_epoch_us: i64, utc_offset_s: i32) -> Vec<Event> {
    text.lines()
        .filter_map(logs::fpm_event)
        .filter(|e| matches!(e.kind, FpmEventKind::Signalled { .. }))
        .map(|e| {
            let mut epoch_ms = logs::local_to_epoch_ms(e.local, utc_offset_s);
            if !e.subsecond {
                // Somewhere in that second: its middle is off by at most half of it.
                epoch_ms += 500;
            }
            let what = e
                .line
                .find("child ")
                .map_or(e.line.as_str(), |at| &e.line[at..]);
            let mut detail = format!("php-fpm: {}", what.trim());
            if what.contains("(SIGKILL)") {
                detail.push_str(
                    " (SIGKILL: the OOM killer, when the container has a memory limit, or \
                     request_terminate_timeout's last resort)",
                );
            }
            Event {
                t_ms: epoch_ms - load_start_epoch_us / 1000,
                kind: kind::WORKER_KILLED.into(),
                detail,
                instance: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::CgroupUsage;

    fn with_kills(t_ms: u64, kills: Option<u64>) -> Sample {
        Sample {
            t_ms,
            fpm: None,
            fpm_status_rtt_us: None,
            accept_queue: None,
            workers: Vec::new(),
            errors: Vec::new(),
            container: Some(ContainerSample {
                php_fpm: Some(CgroupUsage {
                    memory_bytes: 96 << 20,
                    memory_limit_bytes: Some(96 << 20),
                    oom_kills: kills,
                    ..CgroupUsage::default()
                }),
                nginx: None,
            }),
            fpm_master_alive: None,
        }
    }

    #[test]
    fn the_master_dying_is_an_event_once() {
        let at = |t_ms, alive| Sample {
            fpm_master_alive: alive,
            container: None,
            ..with_kills(t_ms, None)
        };
        let samples = [
            at(0, Some(true)),
            at(250, Some(true)),
            at(500, Some(false)),
            at(750, Some(false)),
        ];
        let events = from_samples(&samples);
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(
            (events[0].t_ms, events[0].kind.as_str()),
            (500, "fpm_master_died")
        );
        // A stack whose master was never seen alive (external) has no such event.
        assert!(from_samples(&[at(0, None), at(250, Some(false))]).is_empty());
    }

    #[test]
    fn oom_counter_increases_become_events() {
        let samples = [
            with_kills(500, Some(3)),
            with_kills(0, Some(1)),
            with_kills(250, Some(1)),
            with_kills(750, None),
        ];
        let events = from_samples(&samples);
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].t_ms, 500);
        assert_eq!(events[0].kind, "oom_kill");
        assert!(
            events[0]
                .detail
                .contains("killed 2 processes in the php-fpm container")
                && events[0].detail.contains("limit 96 MiB"),
            "{}",
            events[0].detail
        );
    }

    #[test]
    fn signal_exits_in_the_fpm_log_become_events() {
        let log = "\
[22-Nov-2026 11:44:42] NOTICE: ready to handle connections
[22-Nov-2026 11:44:45] WARNING: [pool www] child 57 exited on signal 9 (SIGKILL) after 3.2 seconds from start
[22-Nov-2026 11:44:45] NOTICE: [pool www] child 60 started
[22-Nov-2026 11:44:46.250000] WARNING: [pool www] child 58 exited on signal 15 (SIGTERM) after 4 seconds from start
";
        // Load started at 11:44:44.500 UTC.
        let start =
            chrono::NaiveDateTime::parse_from_str("2026-11-22 11:44:44.5", "%Y-%m-%d %H:%M:%S%.f")
                .unwrap()
                .and_utc()
                .timestamp_micros();
        let events = from_fpm_log(log, start, 0);
        assert_eq!(events.len(), 2, "{events:?}");
        // Whole seconds count from their middle; fractions are taken as they are.
        assert_eq!((events[0].t_ms, events[1].t_ms), (1000, 1750));
        assert!(events[0]
            .detail
            .contains("child 57 exited on signal 9 (SIGKILL)"));
        assert!(events[0].detail.contains("OOM killer"));
        assert!(!events[1].detail.contains("OOM"));
        // A log written in UTC+1 is an hour ahead.
        assert_eq!(from_fpm_log(log, start, 3600)[0].t_ms, 1000 - 3_600_000);
    }

    #[test]
    fn collect_merges_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("php-fpm.log");
        std::fs::write(
            &log,
            "[01-Jan-1970 00:00:01] WARNING: [pool www] child 7 exited on signal 9 (SIGKILL) after 1 seconds from start\n",
        )
        .unwrap();
        let mut found = SampleEvents::default();
        for s in [with_kills(0, Some(0)), with_kills(2000, Some(1))] {
            found.add(&s);
        }
        let events = collect(found.clone(), &log, 0, 0);
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["worker_killed", "oom_kill"]);
        assert_eq!(collect(found, &dir.path().join("none"), 0, 0).len(), 1);
    }

    #[test]
    fn a_fleets_events_are_each_instances_own_marked_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let log = |name: &str, text: &str| {
            let path = dir.path().join(name).join("php-fpm.log");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        };
        let mut i1 = SampleEvents::default();
        for s in [with_kills(0, Some(0)), with_kills(3000, Some(2))] {
            i1.add(&s);
        }
        let instances = vec![
            InstanceEvents {
                name: "i1".into(),
                from_samples: i1,
                fpm_log: dir.path().join("i1/none.log"),
            },
            InstanceEvents {
                name: "i2".into(),
                from_samples: SampleEvents::default(),
                fpm_log: log("i2", "[01-Jan-1970 00:00:01] WARNING: [pool www] child 7 exited on signal 9 (SIGKILL) after 1 seconds from start\n"),
            },
        ];
        let events = collect_fleet(instances, 0, 0);
        let got: Vec<(i64, String)> = events.iter().map(|e| (e.t_ms, e.title())).collect();
        assert_eq!(
            got,
            [
                (1500, "i2 worker_killed".to_string()),
                (3000, "i1 oom_kill".to_string())
            ]
        );
        // The instance is in run.json only for a fleet's events.
        let json = serde_json::to_string(&events[0]).unwrap();
        assert!(json.contains("\"instance\":\"i2\""), "{json}");
        let single = Event {
            instance: None,
            ..events[0].clone()
        };
        assert!(!serde_json::to_string(&single).unwrap().contains("instance"));
    }
}
