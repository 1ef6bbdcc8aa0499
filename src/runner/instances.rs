//! A fleet's instances sampled one by one, each directly (its own nginx's status route, its
//! php-fpm master's /proc, its containers' cgroups), from the moment it starts to the load's
//! end. The config's own sampler reaches the fleet through the balancer and sees whichever
//! instance answers; these see each instance, also the one the balancer has taken out.
//!
//! Each instance's samples go to `<config>/instances/<name>/samples.jsonl` as they are
//! taken, and are folded into its per-second readings and summary (nothing per sample is
//! kept), and into the running figures a config's own sampler keeps, whole and per phase:
//! a fleet config's peaks in run.json are the highest any one instance reached (see
//! [`PeaksFrom`]). Each sample also goes to the live metrics endpoint, if there is one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::live::LiveMetrics;
use super::server_side::{streamer, ServerFigures};
use crate::clock::RunClock;
use crate::events::SampleEvents;
use crate::fleet_view::{fleet_peaks, InstanceSampled, SampledFold};
use crate::probe::{self, Sample, SampleSummary};
use crate::progress::ConfigProgress;
use crate::results::series::LineWriter;
use crate::results::PhaseServer;
use crate::scenario::Phase;
use crate::stack::{Endpoints, InstanceEndpoints};

/// How often each instance is sampled: twice a second keeps the cost of N samplers near
/// that of the config's own one (every 250 ms), and still shows a queue that lasts a second.
const INSTANCE_INTERVAL: Duration = Duration::from_millis(500);

/// One instance's samples folded: its per-second readings, and its peaks whole and per
/// phase.
pub struct InstanceFold {
    sampled: SampledFold,
    figures: ServerFigures,
}

type Folds = Arc<Mutex<BTreeMap<String, InstanceFold>>>;

/// Where a config's server-side peaks (run.json's `server` and `server_by_phase`) come
/// from, during the load (each checkpoint) and at its end.
#[derive(Clone)]
pub enum PeaksFrom {
    /// The config's own sampler.
    Sampler(Arc<Mutex<ServerFigures>>),
    /// A fleet's instances, each sampled directly: figure by figure the highest any one
    /// instance reached. The config's own sampler looks through the balancer, at whichever
    /// instance answers each status request, so its peaks would mix instances (a listen
    /// queue of one beside the busy workers of another). Phase names in scenario order.
    Instances(Folds, Vec<String>),
}

impl PeaksFrom {
    /// The peaks so far: the whole config's, and each phase's in scenario order.
    pub fn read(&self) -> (SampleSummary, Vec<PhaseServer>) {
        let (folds, phases) = match self {
            PeaksFrom::Sampler(f) => {
                let f = f.lock().unwrap();
                return (f.summary(), f.phases());
            }
            PeaksFrom::Instances(folds, phases) => (folds.lock().unwrap(), phases),
        };
        let whole: Vec<SampleSummary> = folds.values().map(|f| f.figures.summary()).collect();
        let by_phase: Vec<Vec<PhaseServer>> = folds.values().map(|f| f.figures.phases()).collect();
        let phases = (phases.iter().enumerate())
            .map(|(k, name)| PhaseServer {
                name: name.clone(),
                server: fleet_peaks(by_phase.iter().map(|p| &p[k].server)),
            })
            .collect();
        (fleet_peaks(&whole), phases)
    }
}

/// The per-instance samplers of one running fleet config.
pub struct InstanceSamplers {
    stop: CancellationToken,
    watcher: JoinHandle<Vec<JoinHandle<()>>>,
    folds: Folds,
    phase_names: Vec<String>,
}

impl InstanceSamplers {
    /// Samples every instance in `list` as it appears, on the run's clock; files go under
    /// the config's directory `config` (relative to the run directory `dir`); each sample
    /// also goes to `live`.
    pub fn start(
        mut list: InstanceEndpoints,
        clock: RunClock,
        (dir, config): (&Path, &str),
        phases: &[Phase],
        progress: &ConfigProgress,
        live: Option<Arc<LiveMetrics>>,
    ) -> Self {
        let stop = CancellationToken::new();
        let folds: Folds = Arc::default();
        let started = Started {
            dir: dir.to_path_buf(),
            config: config.to_string(),
            clock,
            phases: phases.to_vec(),
            stop: stop.clone(),
            folds: folds.clone(),
            progress: progress.clone(),
            live,
        };
        let watch_stop = stop.clone();
        let watcher = tokio::spawn(async move {
            let mut tasks = Vec::new();
            loop {
                let new: Vec<(String, Endpoints)> = {
                    let all = list.borrow_and_update();
                    let folds = started.folds.lock().unwrap();
                    (all.iter())
                        .filter(|(name, _)| !folds.contains_key(name))
                        .cloned()
                        .collect()
                };
                tasks.extend(new.into_iter().filter_map(|(n, ep)| started.sample(n, ep)));
                tokio::select! {
                    biased;
                    _ = watch_stop.cancelled() => break,
                    changed = list.changed() => if changed.is_err() { break },
                }
            }
            tasks
        });
        InstanceSamplers {
            stop,
            watcher,
            folds,
            phase_names: phases.iter().map(|p| p.name.clone()).collect(),
        }
    }

    /// The config's peaks from its instances' samples, current at every read.
    pub fn peaks(&self) -> PeaksFrom {
        PeaksFrom::Instances(self.folds.clone(), self.phase_names.clone())
    }

    /// Stops every sampler; gives each instance's samples by name, and the events each
    /// instance's own samples showed (OOM kills, its php-fpm master's death).
    pub async fn stop(
        self,
    ) -> (
        BTreeMap<String, InstanceSampled>,
        Vec<(String, SampleEvents)>,
    ) {
        self.stop.cancel();
        for t in self.watcher.await.unwrap_or_default() {
            let _ = t.await;
        }
        let folds = self.folds.lock().unwrap();
        let sampled = (folds.iter())
            .map(|(name, f)| (name.clone(), f.sampled.sampled()))
            .collect();
        let events = (folds.iter())
            .map(|(name, f)| (name.clone(), f.figures.events()))
            .collect();
        (sampled, events)
    }
}

/// What starting one instance's sampler needs.
struct Started {
    dir: PathBuf,
    config: String,
    clock: RunClock,
    phases: Vec<Phase>,
    stop: CancellationToken,
    folds: Folds,
    progress: ConfigProgress,
    live: Option<Arc<LiveMetrics>>,
}

impl Started {
    /// Starts sampling instance `name`; `None` (said once) if its file cannot be created.
    fn sample(&self, name: String, endpoints: Endpoints) -> Option<JoinHandle<()>> {
        let file = format!("{}/instances/{name}/samples.jsonl", self.config);
        let out = match LineWriter::create(&self.dir.join(&file)) {
            Ok(out) => out,
            Err(e) => {
                let note = format!("warning: instance {name} is not sampled: {e:#}");
                self.progress.note(&note);
                return None;
            }
        };
        let interval_ms = INSTANCE_INTERVAL.as_millis() as u64;
        let fold = InstanceFold {
            sampled: SampledFold::new(file, interval_ms),
            figures: ServerFigures::new(&self.phases),
        };
        (self.folds.lock().unwrap()).insert(name.clone(), fold);
        let mut to_file = streamer(out, "instance samples", self.progress.clone());
        let (folds, live, config) = (self.folds.clone(), self.live.clone(), self.config.clone());
        let scrape_uri = format!("{}{}", endpoints.base_url, endpoints.fpm_status_path);
        let sink = move |s: &Sample| {
            to_file(s);
            if let Some(f) = folds.lock().unwrap().get_mut(&name) {
                f.sampled.add(s);
                f.figures.add(s);
            }
            if let Some(live) = &live {
                live.instance_sample(&config, &name, &scrape_uri, s);
            }
        };
        Some(tokio::spawn(probe::run_sampler_with(
            endpoints,
            self.clock,
            INSTANCE_INTERVAL,
            self.stop.clone(),
            sink,
        )))
    }
}
