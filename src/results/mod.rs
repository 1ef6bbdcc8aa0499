//! `run.json`: the one canonical result file every report, export and comparison reads.
//! It is rewritten atomically (temp file + rename) at the start, every few seconds during
//! load and at the end, so an interrupted run leaves a valid file that says it is partial.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

mod checks;
mod metrics;
pub mod series;
pub mod tune;

pub use crate::bottleneck::GeneratorStats;
pub use crate::events::Event;
use crate::probe::{Sample, SampleSummary};
use crate::record::Recorded;
use crate::scenario::{Plan, PoolConfig};
use crate::stack::{Endpoints, StackInfo};
pub use checks::{CheckOutcome, ThresholdCheck};
pub use metrics::Scope;
pub use series::SeriesFiles;

/// Bumped on any incompatible change of this file's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// State of a run or of one config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not started yet.
    Pending,
    /// Under way (a file left in this state means fpmlab was killed).
    Running,
    /// Finished normally.
    Complete,
    /// Stopped by Ctrl-C / SIGTERM; the figures cover what ran.
    Interrupted,
    /// Stopped by an error (see `error`).
    Failed,
    /// Not run because the run stopped earlier.
    Skipped,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunResult {
    /// Shape version of this file ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// fpmlab's version.
    pub fpmlab_version: String,
    /// Where the run is.
    pub status: Status,
    /// True unless every config completed: the figures then cover only part of the plan.
    pub partial: bool,
    /// Why the run failed, if it did.
    pub error: Option<String>,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// RFC 3339 UTC, once finished.
    pub finished_at: Option<String>,
    /// The scenario file as given.
    pub scenario_file: String,
    /// The resolved scenario.
    pub plan: Plan,
    /// The machine and the stack.
    pub environment: Environment,
    /// Valid-but-suspect settings noticed by validation, and generator warnings.
    pub warnings: Vec<String>,
    /// One entry per pool config, in scenario order.
    pub configs: Vec<ConfigResult>,
    /// The scenario's thresholds checked at the end of the run: one verdict per threshold
    /// and config (empty without thresholds, or before the run ended).
    #[serde(default)]
    pub thresholds: Vec<ThresholdCheck>,
    /// Not in run.json: the tune this run belongs to, read from the tune directory's
    /// tune.json by [`RunResult::load`] (the report then carries a tune section).
    #[serde(skip)]
    pub tune: Option<Box<tune::TuneResult>>,
}

/// The machine and the stack the run used.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Environment {
    /// Host name.
    pub hostname: String,
    /// Kernel release.
    pub kernel: String,
    /// CPU model.
    pub cpu_model: String,
    /// CPUs available to fpmlab.
    pub cores: usize,
    /// Total memory, MiB.
    pub memory_mib: u64,
    /// Driver and versions of nginx and php-fpm.
    pub stack: StackInfo,
    /// Iterations of the built-in app's CPU loop in one `cpu.php` unit: 1 ms of CPU time on
    /// this machine, measured with its PHP when the run started (`None` for an external
    /// stack, whose app fpmlab does not configure).
    #[serde(default)]
    pub cpu_unit_iterations: Option<u64>,
}

/// One pool config's results.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfigResult {
    /// Config name.
    pub name: String,
    /// The pool settings.
    pub pool: PoolConfig,
    /// Where this config is.
    pub status: Status,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Directory with the rendered configs and logs, relative to the run directory.
    pub dir: String,
    /// Where the stack answered.
    pub endpoints: Option<Endpoints>,
    /// Epoch µs of the load's start: t = 0 of `timeline`, `samples` and phase offsets.
    pub load_start_epoch_us: Option<i64>,
    /// Client-side figures, histograms and the per-second timeline.
    #[serde(flatten)]
    pub recorded: Recorded,
    /// Peaks of the server-side samples (kept current during the load). A fleet: from each
    /// instance's own samples (`fleet.instances[].sampled`), figure by figure the highest
    /// any one instance reached, never from `samples`, which look through the balancer at
    /// whichever instance answers; `samples` and `failed_samples` add up over the
    /// instances, and `container` is left out (each instance's is in its own summary).
    pub server: SampleSummary,
    /// The same peaks per phase, in scenario order, from every sample taken during each
    /// phase (kept running as samples arrive, so exact however long the run); a fleet's as
    /// `server` says. Absent in runs written before it existed: per-phase figures then come
    /// from `samples`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_by_phase: Vec<PhaseServer>,
    /// Server-side samples, every 250 ms. A fleet: taken through the balancer, each from
    /// whichever instance answered (each instance's own are in its `samples_file`).
    pub samples: Vec<Sample>,
    /// The generator's own cost during this config.
    pub generator: GeneratorStats,
    /// Which component cut each failed request (timeout-chain attribution from the stack's
    /// logs); `None` before the config's teardown or when no logs were available.
    #[serde(default)]
    pub attribution: Option<crate::attribution::Attribution>,
    /// The load balancer's view against the APM's, side by side.
    #[serde(default)]
    pub lb_vs_apm: Option<crate::incident::LbVsApm>,
    /// The load balancer's health probes (nginx alone, and through php-fpm), once a second.
    #[serde(default)]
    pub health: Option<crate::probe::health::HealthReport>,
    /// Runs of seconds with failed requests, and whether requests recovered.
    #[serde(default)]
    pub error_windows: Option<crate::incident::ErrorWindows>,
    /// What happened to the stack during the run, in time order: OOM kills (container
    /// cgroups) and php-fpm workers that died on a signal (php-fpm's log).
    #[serde(default)]
    pub events: Vec<Event>,
    /// CPU time the php-fpm workers spent per request during the load (from /proc), next to
    /// what the scenario asked for (`cpu.php?ms=`), with a warning when they differ by more
    /// than 10 %. `None` before the load ended, and for an external stack, whose workers
    /// fpmlab cannot see.
    #[serde(default)]
    pub cpu_per_request: Option<crate::cpu_per_request::CpuPerRequest>,
    /// Files beside run.json holding `samples`, `timeline` and `health.samples` (one JSON
    /// object a line, appended as the run goes); they stay empty in run.json then. `None`: they are inline
    /// (runs written before the series files existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesFiles>,
    /// The fleet's view (a scenario with `[fleet]`): which instance served or failed each
    /// request, per-instance figures, each instance's health as the balancer saw it, the
    /// events as carried out, and failures in the ALB's codes and causes. `None` without a
    /// fleet, and before the stack was torn down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<crate::fleet_view::FleetView>,
}

/// The server-side peaks of one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PhaseServer {
    /// Phase name.
    pub name: String,
    /// Peaks and counts over the samples taken during the phase.
    pub server: SampleSummary,
}

impl ConfigResult {
    pub fn pending(pool: &PoolConfig) -> Self {
        ConfigResult {
            name: pool.name.clone(),
            pool: pool.clone(),
            status: Status::Pending,
            error: None,
            dir: pool.name.clone(),
            endpoints: None,
            load_start_epoch_us: None,
            recorded: Recorded::default(),
            server: SampleSummary::default(),
            server_by_phase: Vec::new(),
            samples: Vec::new(),
            generator: GeneratorStats::default(),
            attribution: None,
            lb_vs_apm: None,
            health: None,
            error_windows: None,
            events: Vec::new(),
            cpu_per_request: None,
            series: None,
            fleet: None,
        }
    }
}

/// The JSON Schema of run.json, generated from these types (committed as
/// `docs/run.schema.json`; `tests/schema.rs` keeps the two equal).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(RunResult);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

/// True if any check is not a pass (a failure, or no data to show the limit held).
pub fn breached(checks: &[ThresholdCheck]) -> bool {
    checks.iter().any(|v| v.outcome != CheckOutcome::Pass)
}

impl RunResult {
    /// Reads a run.json, or the run.json inside a run directory.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        if let Some(run) = tune::tune_dir_run(path) {
            return run;
        }
        let file = if path.is_dir() {
            path.join("run.json")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let mut run: RunResult = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an fpmlab run.json", file.display()))?;
        if run.schema_version != SCHEMA_VERSION {
            anyhow::bail!(
                "{} has schema_version {}, this fpmlab reads {SCHEMA_VERSION}",
                file.display(),
                run.schema_version
            );
        }
        let dir = file.parent().unwrap_or(Path::new("."));
        for c in &mut run.configs {
            let Some(files) = &c.series else { continue };
            let (samples, timeline) = (dir.join(&files.samples), dir.join(&files.timeline));
            // A config that never reached its load has no files yet.
            if samples.exists() {
                c.samples = series::read_samples(&samples)?;
            }
            if timeline.exists() {
                c.recorded.timeline = series::read_timeline(&timeline)?;
            }
            let health = files.health.as_ref().map(|h| dir.join(h));
            if let (Some(report), Some(path)) = (&mut c.health, health) {
                if path.exists() {
                    report.samples = series::read_health(&path)?;
                }
            }
        }
        Ok(run)
    }

    /// A copy whose configs keep their series in files only: what run.json holds.
    fn without_streamed_series(&self) -> RunResult {
        let mut run = self.clone();
        for c in run.configs.iter_mut() {
            let Some(files) = &c.series else { continue };
            c.samples = Vec::new();
            c.recorded.timeline = Vec::new();
            if let (Some(_), Some(h)) = (&files.health, &mut c.health) {
                h.samples = Vec::new();
            }
        }
        run
    }

    /// Writes `run.json` into `dir` atomically.
    pub fn save(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let path = dir.join("run.json");
        let tmp = dir.join(".run.json.tmp");
        let streamed = |c: &ConfigResult| {
            let Some(files) = &c.series else { return false };
            let health = c.health.as_ref().is_some_and(|h| !h.samples.is_empty());
            !c.samples.is_empty()
                || !c.recorded.timeline.is_empty()
                || files.health.is_some() && health
        };
        let text = if self.configs.iter().any(streamed) {
            serde_json::to_vec_pretty(&self.without_streamed_series())?
        } else {
            serde_json::to_vec_pretty(self)?
        };
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }
}

impl Environment {
    /// Reads the machine's facts; the stack's are filled in once a driver reports them.
    pub fn detect() -> Self {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let cpu_model = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
            .unwrap_or_default();
        let memory_mib = read("/proc/meminfo")
            .lines()
            .find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(0, |kib| kib / 1024);
        Environment {
            hostname: read("/proc/sys/kernel/hostname"),
            kernel: read("/proc/sys/kernel/osrelease"),
            cpu_model,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_mib,
            stack: StackInfo::default(),
            cpu_unit_iterations: None,
        }
    }
}

/// The run.json every unit test of the readers loads (`tests/fixtures/bursts/run.json`).
#[cfg(test)]
pub(crate) fn test_fixture() -> RunResult {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/bursts/run.json"
    );
    RunResult::load(Path::new(path)).unwrap()
}
