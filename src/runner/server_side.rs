//! A config's server side as the run goes: the sampler (every 250 ms) and the load
//! balancer's health probes (once a second), each appending to its file beside run.json.
//! Each sample is also folded into running figures: the config's summary, each phase's,
//! and the events the samples show. No sample or probe is kept in memory, so a checkpoint
//! reads the figures in constant time and memory stays flat however long the run;
//! whatever needs a whole series (the health intervals at the end, the report's charts)
//! reads it back from its file.
//!
//! No live reader needs past samples: the live metrics endpoint keeps the last one itself,
//! the progress line reads the generator's counters, and thresholds are checked once the
//! run is over.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::live::LiveMetrics;
use crate::clock::RunClock;
use crate::events::SampleEvents;
use crate::probe::health::{self, HealthReport, HealthSample};
use crate::probe::{self, RunningSummary, Sample, SampleSummary};
use crate::progress::ConfigProgress;
use crate::results::series::{self, LineWriter, SeriesFiles};
use crate::results::PhaseServer;
use crate::scenario::{phase_starts_us, Phase, Plan};
use crate::stack::Endpoints;

/// How often server-side samples are taken.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(250);

/// The sampler and the health probes of one running config.
pub struct ServerSide {
    /// The running figures, read by every checkpoint.
    pub figures: Arc<Mutex<ServerFigures>>,
    stop: CancellationToken,
    sampler: JoinHandle<()>,
    health: JoinHandle<()>,
    health_file: PathBuf,
    health_timeout_ms: u64,
    app_health_path: String,
}

/// Appends each item to `out`, flushed at once so the file is current at any moment; a
/// failure is said once, not silently dropped.
pub(super) fn streamer<T: serde::Serialize>(
    mut out: LineWriter,
    what: &'static str,
    progress: ConfigProgress,
) -> impl FnMut(&T) + Send {
    let mut warned = false;
    move |item: &T| {
        if let Err(e) = out.append(item).and_then(|_| out.flush()) {
            if !std::mem::replace(&mut warned, true) {
                progress.note(&format!("warning: {what} are not all saved: {e:#}"));
            }
        }
    }
}

impl ServerSide {
    /// Starts sampling config `name` and probing its health, on the run's clock.
    pub fn start(
        plan: &Plan,
        name: &str,
        endpoints: &Endpoints,
        clock: RunClock,
        files: (&Path, &SeriesFiles),
        progress: &ConfigProgress,
        live: Option<Arc<LiveMetrics>>,
    ) -> anyhow::Result<Self> {
        let (dir, files) = files;
        let health_file = dir.join(files.health.as_deref().unwrap_or_default());
        let mut to_samples = streamer(
            LineWriter::create(&dir.join(&files.samples))?,
            "samples",
            progress.clone(),
        );
        let mut to_health = streamer(
            LineWriter::create(&health_file)?,
            "health probes",
            progress.clone(),
        );
        let figures = Arc::new(Mutex::new(ServerFigures::new(&plan.phases)));
        let (sample_figures, name) = (figures.clone(), name.to_string());
        let sink = move |s: &Sample| {
            to_samples(s);
            sample_figures.lock().unwrap().add(s);
            if let Some(live) = &live {
                live.sample(&name, s);
            }
        };
        let stop = CancellationToken::new();
        let sampler = tokio::spawn(probe::run_sampler_with(
            endpoints.clone(),
            clock,
            SAMPLE_INTERVAL,
            stop.clone(),
            sink,
        ));
        // The load balancer's health checks, next to the sampler and on the same clock.
        let health = tokio::spawn(health::run_health(
            endpoints.clone(),
            clock,
            Duration::from_millis(plan.load.health_timeout_ms),
            stop.clone(),
            move |h: HealthSample| to_health(&h),
        ));
        Ok(ServerSide {
            figures,
            stop,
            sampler,
            health,
            health_file,
            health_timeout_ms: plan.load.health_timeout_ms,
            app_health_path: endpoints.app_health_path.clone(),
        })
    }

    /// Stops both; gives the figures and the health report (its probes read back from
    /// their file, whole).
    pub async fn stop(self, progress: &ConfigProgress) -> (ServerFigures, HealthReport) {
        self.stop.cancel();
        let _ = self.sampler.await;
        let _ = self.health.await;
        let figures = self.figures.lock().unwrap().clone();
        let probes = series::read_health(&self.health_file).unwrap_or_else(|e| {
            progress.note(&format!("warning: the health probes are lost: {e:#}"));
            Vec::new()
        });
        let report = health::report(probes, self.health_timeout_ms, &self.app_health_path);
        (figures, report)
    }
}

/// Running server-side figures of one config.
#[derive(Debug, Clone)]
pub struct ServerFigures {
    whole: RunningSummary,
    phases: Vec<PhaseFigures>,
    events: SampleEvents,
}

/// One phase's span on the run's clock and its running summary.
#[derive(Debug, Clone)]
struct PhaseFigures {
    name: String,
    start_ms: u64,
    end_ms: u64,
    summary: RunningSummary,
}

impl ServerFigures {
    /// Figures for a config running `phases`, whose spans are those the recorder gives
    /// them (a sample belongs to the phase with `start_ms <= t_ms < start_ms + duration_ms`).
    pub fn new(phases: &[Phase]) -> Self {
        let phases = (phases.iter().zip(phase_starts_us(phases)))
            .map(|(ph, start_us)| PhaseFigures {
                name: ph.name.clone(),
                start_ms: start_us / 1000,
                end_ms: start_us / 1000 + ph.duration_ms,
                summary: RunningSummary::default(),
            })
            .collect();
        ServerFigures {
            whole: RunningSummary::default(),
            phases,
            events: SampleEvents::default(),
        }
    }

    /// Takes the next sample (in time order) into account.
    pub fn add(&mut self, s: &Sample) {
        self.whole.add(s);
        let phase = self.phases.iter_mut();
        if let Some(p) = phase
            .into_iter()
            .find(|p| (p.start_ms..p.end_ms).contains(&s.t_ms))
        {
            p.summary.add(s);
        }
        self.events.add(s);
    }

    /// The whole config's summary so far.
    pub fn summary(&self) -> SampleSummary {
        self.whole.summary()
    }

    /// Each phase's summary so far, in scenario order.
    pub fn phases(&self) -> Vec<PhaseServer> {
        (self.phases.iter())
            .map(|p| PhaseServer {
                name: p.name.clone(),
                server: p.summary.summary(),
            })
            .collect()
    }

    /// The events the samples showed.
    pub fn events(&self) -> SampleEvents {
        self.events.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{summarize, AcceptQueue, FpmStatus, WorkerSample};

    /// A varied sample: queues, workers and memory move with `i`, and spike now and then.
    fn sample(i: u64) -> Sample {
        let spike = i.is_multiple_of(9_973);
        Sample {
            t_ms: i * 250,
            fpm: (i % 7 != 3).then(|| FpmStatus {
                pool: "www".into(),
                process_manager: "dynamic".into(),
                start_since_s: 10 + i / 4,
                accepted_conn: i,
                listen_queue: 0,
                max_listen_queue: 0,
                listen_queue_len: 0,
                idle_processes: 1,
                active_processes: (i % 5) as u32 + u32::from(spike) * 20,
                total_processes: 6,
                max_active_processes: 6,
                max_children_reached: 3 + i / 1000,
                slow_requests: 0,
            }),
            fpm_status_rtt_us: Some(900),
            accept_queue: Some(AcceptQueue {
                queued: (i % 11) as u32 + u32::from(spike) * 300,
                backlog: Some(511),
            }),
            workers: (0..4)
                .map(|w| WorkerSample {
                    pid: 100 + w,
                    state: Some("Idle".into()),
                    requests: Some(i),
                    request_duration_us: Some(1000),
                    pss_kib: (!i.is_multiple_of(13) || w != 2)
                        .then_some(20_000 + (i * 37 + w as u64) % 900),
                    cpu_pct: Some(1.0),
                })
                .collect(),
            errors: if i.is_multiple_of(101) {
                vec!["status page: timeout".into()]
            } else {
                Vec::new()
            },
            container: None,
            fpm_master_alive: Some(!(40_000..=40_010).contains(&i)),
        }
    }

    fn phase(name: &str, duration_ms: u64) -> Phase {
        Phase {
            name: name.into(),
            duration_ms,
            arrival: crate::scenario::Arrival::Constant { rate: 1.0 },
            client: Default::default(),
        }
    }

    /// What keeps long runs flat: after a day's worth of samples the figures hold nothing
    /// that grows with the run, and equal what the whole series gives.
    #[test]
    fn running_figures_equal_the_whole_series_in_bounded_memory() {
        let phases = vec![phase("warm", 3_600_000), phase("soak", 20 * 3_600_000)];
        let mut figures = ServerFigures::new(&phases);
        let n = 86_400 * 4 / 8; // three hours at 4 a second keeps the test fast
        let all: Vec<Sample> = (0..n).map(sample).collect();
        all.iter().for_each(|s| figures.add(s));
        assert_eq!(figures.summary(), summarize(&all));
        let by_phase = figures.phases();
        let warm: Vec<Sample> = all.iter().filter(|s| s.t_ms < 3_600_000).cloned().collect();
        let soak: Vec<Sample> = all
            .iter()
            .filter(|s| s.t_ms >= 3_600_000)
            .cloned()
            .collect();
        assert_eq!(by_phase[0].server, summarize(&warm));
        assert_eq!(by_phase[1].server, summarize(&soak));
        assert_eq!(figures.summary().max_listen_queue, Some(310));
        assert_eq!(
            figures.events().events,
            crate::events::from_samples(&all),
            "the master's death is seen once"
        );
        assert_eq!(figures.events().events.len(), 1);
        // Nothing in the figures is per sample: their size is that of a fresh set.
        let size = |f: &ServerFigures| format!("{:?}", f).len();
        let fresh = {
            let mut f = ServerFigures::new(&phases);
            f.add(&sample(1));
            f
        };
        assert!(
            size(&figures) < size(&fresh) + 2_000,
            "{} vs {}",
            size(&figures),
            size(&fresh)
        );
    }
}
