//! `fpmlab tune`: measures a first pool, fits the queueing model ([`crate::model`]) to it,
//! measures the few pools the model and the measurements point at (bracket the knee, then
//! bisect), never a pool the memory budget cannot hold, within a time cap; re-runs the
//! recommendation, and writes `tune.json` and a `pool.conf` snippet.
//!
//! Above the runner: each point is an ordinary one-config run with its own run.json.

pub mod measure;
pub mod objective;
pub mod output;
pub mod search;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::model::Prediction;
use crate::runner::{self, RunOptions};
use crate::scenario::{Plan, PoolConfig};
use measure::{Inputs, Outcome};
use objective::Settings;
use search::Fit;

/// Model error above which the run warns and trusts the measurements, percent.
pub const WARN_MODEL_ERROR_PCT: f64 = 25.0;
/// Largest memory-only pool tune will run to show what it does.
pub const MAX_MEASURED_MEMORY_ONLY: u32 = 64;

/// Options besides the plan.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    pub scenario_file: PathBuf,
    pub out: Option<PathBuf>,
    pub quiet: bool,
    pub settings: Settings,
}

/// `tune.json`: everything tune measured, predicted and chose.
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
    /// The recommended pool; `None` when nothing could be measured.
    pub recommendation: Option<output::Recommendation>,
    /// What the memory-only formula picks and what it does.
    pub memory_only: Option<MemoryOnly>,
    /// Largest |model error| over the points, percent of the measured p99.
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
    /// Why it ran: `first`, `search`, `recheck` (the recommendation again), `memory_only`.
    pub role: String,
    /// Its run directory (run.json, report).
    pub dir: String,
    /// What it did.
    pub measured: Outcome,
    /// What the model predicted for it (fitted on the first point).
    pub predicted: Option<Prediction>,
    /// (predicted − measured) ÷ measured p99 latency, percent.
    pub p99_error_pct: Option<f64>,
    /// Whether the measurement met the objective.
    pub meets: bool,
    /// Wall time of the run, s.
    pub duration_s: f64,
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

/// Runs the tune. Err only when nothing could be recorded.
pub async fn tune(
    plan: Plan,
    warnings: Vec<String>,
    opts: &TuneOptions,
    cancel: CancellationToken,
) -> anyhow::Result<(PathBuf, TuneResult)> {
    let started = Instant::now();
    let s = &opts.settings;
    let dir = opts.out.clone().unwrap_or_else(|| {
        PathBuf::from("results").join(&plan.name).join(format!(
            "tune-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ))
    });
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create {}: pass --out DIR", dir.display()))?;
    let mut out = TuneResult {
        scenario_file: opts.scenario_file.display().to_string(),
        settings: s.clone(),
        inputs: None,
        memory_ceiling: None,
        model_choice: None,
        points: Vec::new(),
        recommendation: None,
        memory_only: None,
        model_error_max_pct: None,
        warnings: Vec::new(),
        elapsed_s: 0.0,
    };
    let cores = stack_cores(&plan);
    let backlog = listen_backlog(&plan);
    let say = |m: &str| {
        if !opts.quiet {
            eprintln!("tune: {m}");
        }
    };
    let mut runs = Runs {
        plan: &plan,
        warnings: &warnings,
        opts,
        dir: &dir,
        cancel: &cancel,
        n: 0,
    };

    // 1. The first point: as many workers as cores, so service time is the requests' own.
    let c0 = (cores.ceil() as u32).max(1);
    say(&format!(
        "first point: static, max_children = {c0} (one per core)"
    ));
    let (first, t0) = runs.point(c0).await?;
    let Some(inputs) = measure::inputs(&first.0, cores) else {
        out.warnings.push("the first point served no request: check the scenario's requests and the stack (its run.json says more)".into());
        out.points.push(point(&first, c0, "first", None, s, t0));
        return finish(dir, out, started);
    };
    let fit = Fit {
        inputs: inputs.clone(),
        traffic: measure::traffic(&plan),
        backlog,
    };
    out.inputs = Some(inputs.clone());
    out.points
        .push(point(&first, c0, "first", fit.at(c0), s, t0));
    let ceiling = search::memory_ceiling(s, &inputs);
    out.memory_ceiling = Some(ceiling);
    if ceiling == 0 {
        out.warnings.push(format!(
            "the budget ({:.0} MiB) holds no worker of {:.1} MiB (p95 PSS): raise --memory",
            s.memory_budget_mib, inputs.worker_pss_p95_mib
        ));
        return finish(dir, out, started);
    }
    let (choice, _) = search::model_choice(&fit, s, ceiling);
    out.model_choice = Some(choice);
    say(&format!("model: {:.1} ms per request ({:.1} ms CPU, cv {:.2}), worker PSS p95 {:.1} MiB: memory holds {ceiling}, the model picks {choice}", inputs.service_mean_ms, inputs.cpu_per_request_ms, inputs.service_cv, inputs.worker_pss_p95_mib));

    // 2. Bracket the knee, then bisect, within the time cap.
    let mut done = search::Done::new();
    if c0 <= ceiling {
        done.insert(
            c0,
            (out.points[0].meets, out.points[0].measured.latency_p99_ms),
        );
    }
    let per_point = t0;
    let fits = |elapsed: f64| elapsed + per_point * 1.2 <= s.max_time_s as f64;
    while let Some(c) = search::next_point(&done, choice, ceiling) {
        if cancel.is_cancelled() {
            break;
        }
        if !fits(started.elapsed().as_secs_f64()) || done.len() >= 6 {
            out.warnings.push(format!("stopped the search before max_children = {c}: the time cap (--max-time {} s) or the point limit (6) was reached", s.max_time_s));
            break;
        }
        say(&format!("point: static, max_children = {c}"));
        let (r, t) = runs.point(c).await?;
        let p = point(&r, c, "search", fit.at(c), s, t);
        done.insert(c, (p.meets, p.measured.latency_p99_ms));
        out.points.push(p);
    }

    // 3. Recommend from the measurements, and re-run it.
    let measured: BTreeMap<u32, (Outcome, bool)> = out
        .points
        .iter()
        .filter(|p| p.max_children <= ceiling)
        .map(|p| (p.max_children, (p.measured.clone(), p.meets)))
        .collect();
    let rec = search::recommend(&measured)
        .map(|(c, _)| c)
        .unwrap_or(choice.min(ceiling));
    let mut recheck = None;
    if !cancel.is_cancelled() && fits(started.elapsed().as_secs_f64()) {
        say(&format!(
            "re-running the recommendation: static, max_children = {rec}"
        ));
        let (r, t) = runs.point(rec).await?;
        let p = point(&r, rec, "recheck", fit.at(rec), s, t);
        recheck = Some(p.measured.clone());
        out.points.push(p);
    } else {
        out.warnings
            .push("the recommendation was not re-run: the time cap was reached".into());
    }

    // 4. What the memory-only formula picks, and what it does.
    let m = search::memory_only(s, &inputs);
    let mut mem = MemoryOnly {
        max_children: m,
        predicted: fit.at(m),
        measured: None,
    };
    if let Some(p) = out.points.iter().find(|p| p.max_children == m) {
        mem.measured = Some(p.measured.clone());
    } else if m <= MAX_MEASURED_MEMORY_ONLY
        && !cancel.is_cancelled()
        && fits(started.elapsed().as_secs_f64())
    {
        say(&format!(
            "the memory-only formula's pool: static, max_children = {m}"
        ));
        let (r, t) = runs.point(m).await?;
        let p = point(&r, m, "memory_only", fit.at(m), s, t);
        mem.measured = Some(p.measured.clone());
        out.points.push(p);
    }
    out.memory_only = Some(mem);

    let max_err = out
        .points
        .iter()
        .filter_map(|p| p.p99_error_pct)
        .map(f64::abs)
        .fold(None, |a: Option<f64>, e| Some(a.map_or(e, |a| a.max(e))));
    out.model_error_max_pct = max_err;
    for p in &out.points {
        if let Some(e) = p.p99_error_pct.filter(|e| e.abs() > WARN_MODEL_ERROR_PCT) {
            out.warnings.push(format!("the model is off by {e:+.0} % at max_children = {} (predicted p99 {:.0} ms, measured {:.0} ms): the recommendation follows the measurements", p.max_children, p.predicted.as_ref().map_or(0.0, |x| x.latency_p99_ms), p.measured.latency_p99_ms));
        }
    }
    let met = measured.get(&rec).is_some_and(|(_, ok)| *ok);
    out.recommendation = Some(output::recommendation(
        &fit, &plan, s, rec, ceiling, met, recheck, &first.0,
    ));
    finish(dir, out, started)
}

/// Runs one-config plans into numbered point directories.
struct Runs<'a> {
    plan: &'a Plan,
    warnings: &'a [String],
    opts: &'a TuneOptions,
    dir: &'a Path,
    cancel: &'a CancellationToken,
    n: usize,
}

/// A finished point: its config result and directory.
type Ran = (crate::results::ConfigResult, String);

impl Runs<'_> {
    async fn point(&mut self, c: u32) -> anyhow::Result<(Ran, f64)> {
        self.n += 1;
        let name = format!("static-{c}");
        let mut plan = self.plan.clone();
        plan.configs = vec![PoolConfig::static_pool(&name, c)];
        // Thresholds may name the scenario's own configs; tune judges by its objective.
        plan.thresholds.clear();
        let dir = self.dir.join(format!("{:02}-{name}", self.n));
        let t = Instant::now();
        let f = runner::run(
            plan,
            self.warnings.to_vec(),
            &RunOptions {
                scenario_file: self.opts.scenario_file.clone(),
                out: Some(dir.clone()),
                quiet: self.opts.quiet,
                request_log: None,
                metrics_listen: None,
            },
            self.cancel.clone(),
        )
        .await?;
        let c = f
            .result
            .configs
            .into_iter()
            .next()
            .context("the point's run recorded no config")?;
        if let Some(e) = &c.error {
            anyhow::bail!(
                "the point max_children = {c_} failed: {e}",
                c_ = c.pool.max_children
            );
        }
        Ok(((c, dir.display().to_string()), t.elapsed().as_secs_f64()))
    }
}

fn point(
    r: &Ran,
    c: u32,
    role: &str,
    predicted: Option<Prediction>,
    s: &Settings,
    t: f64,
) -> Point {
    let measured = measure::outcome(&r.0);
    let p99_error_pct = predicted.as_ref().and_then(|p| {
        (measured.latency_p99_ms > 0.0)
            .then(|| (p.latency_p99_ms - measured.latency_p99_ms) / measured.latency_p99_ms * 100.0)
    });
    Point {
        max_children: c,
        role: role.into(),
        dir: r.1.clone(),
        meets: search::measured_ok(&measured, s),
        measured,
        predicted,
        p99_error_pct,
        duration_s: t,
    }
}

fn finish(
    dir: PathBuf,
    mut out: TuneResult,
    started: Instant,
) -> anyhow::Result<(PathBuf, TuneResult)> {
    out.elapsed_s = started.elapsed().as_secs_f64();
    let json = serde_json::to_string_pretty(&out)?;
    std::fs::write(dir.join("tune.json"), json)
        .with_context(|| format!("cannot write tune.json in {}", dir.display()))?;
    if let Some(r) = &out.recommendation {
        std::fs::write(dir.join("pool.conf"), output::snippet(&out, r))
            .with_context(|| format!("cannot write pool.conf in {}", dir.display()))?;
    }
    Ok((dir, out))
}

/// CPUs the stack's workers may use.
fn stack_cores(plan: &Plan) -> f64 {
    let host = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let mut cores = plan.stack.cpuset.as_ref().map_or(host, |s| s.len() as f64);
    if let Some(q) = plan.stack.cpus {
        cores = cores.min(q);
    }
    cores.max(0.01)
}

/// The listen backlog the stack runs with: the scenario's, or the kernel's somaxconn for -1.
fn listen_backlog(plan: &Plan) -> u32 {
    if plan.stack.listen_backlog >= 0 {
        return plan.stack.listen_backlog as u32;
    }
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(4096)
}
