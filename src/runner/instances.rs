//! A fleet's instances sampled one by one, each directly (its own nginx's status route, its
//! php-fpm master's /proc, its containers' cgroups), from the moment it starts to the load's
//! end. The config's own sampler reaches the fleet through the balancer and sees whichever
//! instance answers; these see each instance, also the one the balancer has taken out.
//!
//! Each instance's samples go to `<config>/instances/<name>/samples.jsonl` as they are
//! taken, and are folded into its per-second readings and summary (nothing per sample is
//! kept).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::server_side::streamer;
use crate::clock::RunClock;
use crate::fleet_view::{InstanceSampled, SampledFold};
use crate::probe::{self, Sample};
use crate::progress::ConfigProgress;
use crate::results::series::LineWriter;
use crate::stack::{Endpoints, InstanceEndpoints};

/// How often each instance is sampled: twice a second keeps the cost of N samplers near
/// that of the config's own one (every 250 ms), and still shows a queue that lasts a second.
const INSTANCE_INTERVAL: Duration = Duration::from_millis(500);

type Folds = Arc<Mutex<BTreeMap<String, SampledFold>>>;

/// The per-instance samplers of one running fleet config.
pub struct InstanceSamplers {
    stop: CancellationToken,
    watcher: JoinHandle<Vec<JoinHandle<()>>>,
    folds: Folds,
}

impl InstanceSamplers {
    /// Samples every instance in `list` as it appears, on the run's clock; files go under
    /// the config's directory `config` (relative to the run directory `dir`).
    pub fn start(
        mut list: InstanceEndpoints,
        clock: RunClock,
        (dir, config): (&Path, &str),
        progress: &ConfigProgress,
    ) -> Self {
        let stop = CancellationToken::new();
        let folds: Folds = Arc::default();
        let started = Started {
            dir: dir.to_path_buf(),
            config: config.to_string(),
            clock,
            stop: stop.clone(),
            folds: folds.clone(),
            progress: progress.clone(),
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
        }
    }

    /// Stops every sampler; gives each instance's samples by name.
    pub async fn stop(self) -> BTreeMap<String, InstanceSampled> {
        self.stop.cancel();
        for t in self.watcher.await.unwrap_or_default() {
            let _ = t.await;
        }
        let folds = self.folds.lock().unwrap();
        (folds.iter())
            .map(|(name, f)| (name.clone(), f.sampled()))
            .collect()
    }
}

/// What starting one instance's sampler needs.
struct Started {
    dir: PathBuf,
    config: String,
    clock: RunClock,
    stop: CancellationToken,
    folds: Folds,
    progress: ConfigProgress,
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
        (self.folds.lock().unwrap()).insert(name.clone(), SampledFold::new(file, interval_ms));
        let mut to_file = streamer(out, "instance samples", self.progress.clone());
        let folds = self.folds.clone();
        let sink = move |s: &Sample| {
            to_file(s);
            if let Some(f) = folds.lock().unwrap().get_mut(&name) {
                f.add(s);
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
