//! `tune.json`: what `fpmlab tune` measured, predicted and chose. The tune writes it; the
//! report reads it (a tune directory's report carries a tune section), so the types live
//! here with the other JSON contracts.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::model::{Prediction, Service};

/// The whole tune.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TuneResult {
    /// The scenario file, as given.
    pub scenario_file: String,
    /// Objective, budget and time cap.
    pub settings: Settings,
    /// The model's inputs, from the first point.
    pub inputs: Option<Inputs>,
    /// Most workers the budget holds (budget ÷ p95 worker PSS).
    pub memory_ceiling: Option<u32>,
    /// The model's own choice before any search.
    pub model_choice: Option<u32>,
    /// Every measured point, in the order run.
    pub points: Vec<Point>,
    /// The model's curve: its prediction for static pools of 1 to a few past the largest
    /// point measured (the report draws it against the points).
    #[serde(default)]
    pub curve: Vec<CurvePoint>,
    /// The recommended pool; `None` when nothing could be measured.
    pub recommendation: Option<Recommendation>,
    /// What the memory-only formula picks and what it does.
    pub memory_only: Option<MemoryOnly>,
    /// Largest |model error| over the points run in full, percent of the measured p99.
    pub model_error_max_pct: Option<f64>,
    /// Warnings (model off by more than 25 %, time cap reached, budget too small).
    pub warnings: Vec<String>,
    /// Wall time of the whole tune, s.
    pub elapsed_s: f64,
}

/// One measured pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    /// `pm.max_children` (pm = static).
    pub max_children: u32,
    /// Why it ran: `first`, `search`, `recheck` (the recommendation again), `memory_only`,
    /// `headroom` (the recommendation under the traffic × the headroom factor).
    pub role: String,
    /// Its run directory (run.json), as tune wrote it.
    pub dir: String,
    /// What it did (of what ran, when stopped early).
    pub measured: Outcome,
    /// What the model predicted for it (fitted on the first point).
    pub predicted: Option<Prediction>,
    /// (predicted − measured) ÷ measured p99 latency, percent; `None` for a point stopped
    /// early (its p99 covers only what ran).
    pub p99_error_pct: Option<f64>,
    /// Whether the measurement met the objective (never, when stopped early).
    pub meets: bool,
    /// Why the point was stopped before its phases ended: the objective could no longer be
    /// met, with the figures. `None`: it ran in full.
    #[serde(default)]
    pub stopped_early: Option<String>,
    /// Wall time of the run, s.
    pub duration_s: f64,
}

/// The model's prediction for one static pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// `pm.max_children`.
    pub max_children: u32,
    /// Predicted p99 latency, ms.
    pub latency_p99_ms: f64,
    /// Predicted p99 wait in the accept queue, ms.
    pub queue_wait_p99_ms: f64,
    /// Predicted share refused (backlog full), 0..1.
    pub refused_share: f64,
}

/// The memory-only formula: budget ÷ average worker size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryOnly {
    /// The pool it picks.
    pub max_children: u32,
    /// What the model predicts for it.
    pub predicted: Option<Prediction>,
    /// What it did when run (`None` if not run: time, or over 64 workers).
    pub measured: Option<Outcome>,
}

/// The recommended pool, in `tune.json` as `recommendation`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recommendation {
    /// `pm` (static: bursts cannot wait for dynamic's spawn ramp).
    pub pm: String,
    /// `pm.max_children`.
    pub max_children: u32,
    /// `pm.max_requests` (0: workers do not grow, never recycle).
    pub max_requests: u32,
    /// `listen.backlog`.
    pub listen_backlog: u32,
    /// php.ini `max_execution_time` (CPU seconds on Linux): cuts first.
    pub max_execution_time_s: u32,
    /// Pool `request_terminate_timeout` (wall seconds).
    pub request_terminate_timeout_s: u32,
    /// nginx `fastcgi_read_timeout`, s.
    pub fastcgi_read_timeout_s: u32,
    /// The load balancer's idle timeout (`load.client_timeout`), s: every limit sits under it.
    pub lb_idle_timeout_s: u32,
    /// Whether a measured run of this pool met the objective.
    pub meets_objective: bool,
    /// The bound that decided it: `cpu`, `memory`, `queueing` or `measured` (no bound of
    /// the model's: the measurements chose).
    #[serde(default)]
    pub decided_by: String,
    /// What decided it, one line each with the figures.
    pub why: Vec<String>,
    /// Traffic × this still meets the objective, by the model (1 = no headroom).
    pub headroom_factor: f64,
    /// The re-run's measured figures.
    pub recheck: Option<Outcome>,
    /// One run of this pool at the headroom load; `None` when not run (no headroom, time,
    /// or a replayed phase that cannot be scaled).
    #[serde(default)]
    pub headroom_check: Option<HeadroomCheck>,
}

/// The recommendation run once under heavier traffic, to check the model's headroom.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadroomCheck {
    /// Rates and burst sizes were multiplied by this (the headroom factor, at most 4).
    pub factor: f64,
    /// The model's prediction at that load.
    pub predicted: Option<Prediction>,
    /// What the run measured.
    pub measured: Outcome,
    /// Whether it met the objective (the model says it just does).
    pub meets: bool,
}

/// The model's inputs, measured at the first point; in `tune.json` as `inputs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// CPUs the workers got: the stack's cpuset or quota, else the machine's; for cpu.php
    /// requests (CPU only by construction), the share of them the first point really had
    /// (workers × CPU per request ÷ service time), lower on a machine busy with other work.
    pub cores: f64,
    /// Mean service time (php-fpm's request duration), ms.
    pub service_mean_ms: f64,
    /// Coefficient of variation of the service time, from its p50 and p90.
    pub service_cv: f64,
    /// CPU time per request from the workers' own accounting, ms.
    pub cpu_per_request_ms: f64,
    /// Share of the service time not spent on CPU (I/O, sleeps), 0..1.
    pub io_share: f64,
    /// Worker PSS over every sample of every worker: median, MiB.
    pub worker_pss_p50_mib: f64,
    /// 95th percentile, MiB.
    pub worker_pss_p95_mib: f64,
    /// Largest, MiB.
    pub worker_pss_max_mib: f64,
    /// Median growth of a worker's PSS per request it served, KiB (0 when flat).
    pub pss_growth_kib_per_request: f64,
}

impl Inputs {
    /// The model's view of one request.
    pub fn service(&self) -> Service {
        Service {
            mean_ms: self.service_mean_ms,
            cpu_ms: self.cpu_per_request_ms,
            cv: self.service_cv,
        }
    }
}

/// What a run did, judged against the objective; in `tune.json` under each point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Median latency, ms.
    pub latency_p50_ms: f64,
    /// 99th percentile latency, ms.
    pub latency_p99_ms: f64,
    /// 99th percentile wait in php-fpm's accept queue, ms.
    pub queue_wait_p99_ms: f64,
    /// Share of requests that failed (non-2xx or client failures), 0..1.
    pub error_share: f64,
    /// Requests per second the run achieved.
    pub throughput_rps: f64,
}

/// The validated objective and budget, in `tune.json` as `settings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Objective: p99 latency at most this, ms.
    pub p99_ms: f64,
    /// Objective: at most this share of requests fail (non-2xx or client failures), 0..1.
    pub max_error_share: f64,
    /// Memory the pool's workers may use, MiB.
    pub memory_budget_mib: f64,
    /// Where the budget comes from (the flag, the container limit, the host less a reserve).
    pub memory_source: String,
    /// Time cap for the whole tune, s.
    pub max_time_s: u64,
}

impl TuneResult {
    /// Reads `tune.json` from a tune directory.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let file = dir.join("tune.json");
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not an fpmlab tune.json", file.display()))
    }

    /// The run the report of a tune directory shows beside the tune: the recommendation's
    /// re-run, else the recommended pool's last point, else the last point. Its directory is
    /// taken inside `dir`, so a moved tune directory still reads.
    pub fn shown_run(&self, dir: &Path) -> Option<PathBuf> {
        let rec = self.recommendation.as_ref().map(|r| r.max_children);
        let p = (self.points.iter().rev())
            .find(|p| p.role == "recheck")
            .or_else(|| {
                (self.points.iter().rev())
                    .find(|p| Some(p.max_children) == rec && p.role != "headroom")
            })
            .or(self.points.last())?;
        Some(dir.join(Path::new(&p.dir).file_name()?))
    }
}

/// A tune directory (tune.json, no run.json) read as a run: the run [`TuneResult::shown_run`]
/// names, carrying the tune. `None` for any other path.
pub fn tune_dir_run(path: &Path) -> Option<anyhow::Result<super::RunResult>> {
    if !path.is_dir() || path.join("run.json").exists() || !path.join("tune.json").exists() {
        return None;
    }
    Some(read_tune_dir(path))
}

fn read_tune_dir(path: &Path) -> anyhow::Result<super::RunResult> {
    let t = TuneResult::load(path)?;
    let shown = t.shown_run(path).with_context(|| {
        format!(
            "{} measured no point: there is no run to report",
            path.display()
        )
    })?;
    let mut run = super::RunResult::load(&shown)?;
    run.tune = Some(Box::new(t));
    Ok(run)
}
