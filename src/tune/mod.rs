//! `fpmlab tune`: measures a first pool, fits the queueing model ([`crate::model`]) to it,
//! measures the few pools the model and the measurements point at (bracket the knee, then
//! bisect), never a pool the memory budget cannot hold, within a time cap; re-runs the
//! recommendation, and writes `tune.json` and a `pool.conf` snippet.
//!
//! Above the runner: each point is an ordinary one-config run with its own run.json.

pub mod measure;
pub mod objective;
pub mod output;
mod runs;
pub mod search;
mod watch;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::scenario::Plan;
use measure::Outcome;
use objective::Settings;
use runs::{point, Runs};
use search::Fit;

pub use crate::results::tune::{CurvePoint, HeadroomCheck, MemoryOnly, Point, TuneResult};

/// Model error above which the run warns and trusts the measurements, percent.
pub const WARN_MODEL_ERROR_PCT: f64 = 25.0;
/// Largest memory-only pool tune will run to show what it does.
pub const MAX_MEASURED_MEMORY_ONLY: u32 = 64;
/// Heaviest traffic the headroom check runs: rates and burst sizes × this at most.
pub const MAX_HEADROOM_CHECKED: f64 = 4.0;
/// Most search points (besides the first, the re-run and the checks).
pub const MAX_SEARCH_POINTS: usize = 6;

/// Options besides the plan.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    pub scenario_file: PathBuf,
    pub out: Option<PathBuf>,
    pub quiet: bool,
    pub settings: Settings,
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
        curve: Vec::new(),
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
        scenario_file: &opts.scenario_file,
        quiet: opts.quiet,
        settings: s,
        dir: &dir,
        cancel: &cancel,
        n: 0,
    };
    let said = |p: &Point| {
        if let Some(why) = &p.stopped_early {
            say(&format!("max_children = {}: {why}", p.max_children));
        }
    };

    // 1. The first point: as many workers as cores, so service time is the requests' own.
    let c0 = (cores.ceil() as u32).max(1);
    say(&format!(
        "first point: static, max_children = {c0} (one per core)"
    ));
    // Never stopped early: its whole run is the model's measurement.
    let first = runs.point(c0, None, false).await?;
    let Some(inputs) = measure::inputs(&first.config, cores) else {
        out.warnings.push("the first point served no request: check the scenario's requests and the stack (its run.json says more)".into());
        out.points.push(point(&first, "first", None, s));
        return finish(dir, out, started);
    };
    let fit = Fit {
        inputs: inputs.clone(),
        traffic: measure::traffic(&plan),
        backlog,
    };
    out.inputs = Some(inputs.clone());
    out.points.push(point(&first, "first", fit.at(c0), s));
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
    let per_point = first.duration_s;
    let fits = |elapsed: f64| elapsed + per_point * 1.2 <= s.max_time_s as f64;
    while let Some(c) = search::next_point(&done, choice, ceiling) {
        if cancel.is_cancelled() {
            break;
        }
        if !fits(started.elapsed().as_secs_f64()) || done.len() >= MAX_SEARCH_POINTS {
            out.warnings.push(format!("stopped the search before max_children = {c}: the time cap (--max-time {} s) or the point limit ({MAX_SEARCH_POINTS}) was reached", s.max_time_s));
            break;
        }
        say(&format!("point: static, max_children = {c}"));
        let r = runs.point(c, None, true).await?;
        let p = point(&r, "search", fit.at(c), s);
        said(&p);
        done.insert(c, (p.meets, p.measured.latency_p99_ms));
        out.points.push(p);
    }

    // 3. Recommend from the measurements, and re-run it.
    // A point stopped early has the p99 of what ran only, lower than its whole run's: it
    // never wins on p99 over a point run in full.
    let full = |p: &&Point| p.stopped_early.is_none();
    let within = |p: &&Point| p.max_children <= ceiling;
    let ranked = |pts: Vec<&Point>| -> BTreeMap<u32, (Outcome, bool)> {
        (pts.into_iter())
            .map(|p| (p.max_children, (p.measured.clone(), p.meets)))
            .collect()
    };
    let mut measured = ranked(out.points.iter().filter(within).filter(full).collect());
    if measured.is_empty() {
        measured = ranked(out.points.iter().filter(within).collect());
    }
    let rec = search::recommend(&measured)
        .map(|(c, _)| c)
        .unwrap_or(choice.min(ceiling));
    let mut recheck = None;
    if !cancel.is_cancelled() && fits(started.elapsed().as_secs_f64()) {
        say(&format!(
            "re-running the recommendation: static, max_children = {rec}"
        ));
        let r = runs.point(rec, None, true).await?;
        let p = point(&r, "recheck", fit.at(rec), s);
        said(&p);
        recheck = Some(p.measured.clone());
        out.points.push(p);
    } else {
        out.warnings
            .push("the recommendation was not re-run: the time cap was reached".into());
    }
    let met = measured.get(&rec).is_some_and(|(_, ok)| *ok);
    let mut recommendation =
        output::recommendation(&fit, &plan, s, rec, ceiling, met, recheck, &first.config);

    // 4. The headroom, checked by one run at that load.
    let factor = recommendation.headroom_factor.min(MAX_HEADROOM_CHECKED);
    match measure::scaled_plan(&plan, factor) {
        _ if factor < 1.05 => {}
        None => out.warnings.push(
            "the headroom was not checked by a run: a replayed phase cannot be scaled".into(),
        ),
        Some(_) if cancel.is_cancelled() || !fits(started.elapsed().as_secs_f64()) => out
            .warnings
            .push("the headroom was not checked by a run: the time cap was reached".into()),
        Some(heavier) => {
            say(&format!(
                "checking the headroom: max_children = {rec} under the traffic × {factor:.2}"
            ));
            let r = runs.point(rec, Some(&heavier), true).await?;
            let p = point(&r, "headroom", fit.at_scaled(rec, factor), s);
            said(&p);
            recommendation.headroom_check = Some(HeadroomCheck {
                factor,
                predicted: p.predicted.clone(),
                measured: p.measured.clone(),
                meets: p.meets,
            });
            out.points.push(p);
        }
    }

    // 5. What the memory-only formula picks, and what it does.
    let m = search::memory_only(s, &inputs);
    let mut mem = MemoryOnly {
        max_children: m,
        predicted: fit.at(m),
        measured: None,
    };
    if let Some(p) = (out.points.iter()).find(|p| p.max_children == m && p.role != "headroom") {
        mem.measured = Some(p.measured.clone());
    } else if m <= MAX_MEASURED_MEMORY_ONLY
        && !cancel.is_cancelled()
        && fits(started.elapsed().as_secs_f64())
    {
        say(&format!(
            "the memory-only formula's pool: static, max_children = {m}"
        ));
        let r = runs.point(m, None, true).await?;
        let p = point(&r, "memory_only", fit.at(m), s);
        said(&p);
        mem.measured = Some(p.measured.clone());
        out.points.push(p);
    }
    out.memory_only = Some(mem);

    out.model_error_max_pct = (out.points.iter())
        .filter_map(|p| p.p99_error_pct)
        .map(f64::abs)
        .fold(None, |a: Option<f64>, e| Some(a.map_or(e, |a| a.max(e))));
    for p in &out.points {
        if let Some(e) = p.p99_error_pct.filter(|e| e.abs() > WARN_MODEL_ERROR_PCT) {
            out.warnings.push(format!("the model is off by {e:+.0} % at max_children = {}{} (predicted p99 {:.0} ms, measured {:.0} ms): the recommendation follows the measurements", p.max_children, if p.role == "headroom" { " under the headroom load" } else { "" }, p.predicted.as_ref().map_or(0.0, |x| x.latency_p99_ms), p.measured.latency_p99_ms));
        }
    }
    out.curve = search::curve(&fit, &out.points, ceiling);
    out.recommendation = Some(recommendation);
    finish(dir, out, started)
}

/// Writes tune.json, pool.conf and the report (the recommendation's run with the tune
/// section on top).
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
    if !out.points.is_empty() {
        let run = crate::results::RunResult::load(&dir)?;
        crate::report::export::write(
            &crate::report::html::HtmlReport,
            &run,
            &dir.join("report.html"),
        )?;
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
