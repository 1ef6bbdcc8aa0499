//! Runs a plan: for each pool config, bring the stack up, sample it and drive the load, take
//! it down (always), and keep `run.json` current throughout.

mod checkpoint;
mod instances;
pub mod live;
mod server_side;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::bottleneck::{self, CpuUse};
use crate::clock::RunClock;
use crate::cpu_per_request::CpuPerRequest;
use crate::events::SampleEvents;
use crate::fleet_view::InstanceSampled;
use crate::load::generator::{self, Shared};
use crate::progress::ConfigProgress;
use crate::record::request_log::{Names, RequestLog};
use crate::record::{FailedList, Recorder};
use crate::results::series::{self, LineWriter, SeriesFiles};
use crate::results::{ConfigResult, Environment, RunResult, Status};
use crate::scenario::{Driver, Plan};
use crate::stack::calibrate::CpuUnit;
use crate::{probe, stack};
use checkpoint::{Checkpoint, TimelineOut};
use instances::{InstanceSamplers, PeaksFrom};
use live::LiveMetrics;
use server_side::ServerSide;

/// Seconds of the timeline kept in memory; older ones are in timeline.jsonl (a checkpoint
/// appends them every few seconds, well within this).
const TIMELINE_KEPT_S: u64 = 120;
/// Head start between the stack being ready and the first scheduled request, so the
/// sampler has a baseline and the first requests are not late by construction.
const LOAD_LEAD: Duration = Duration::from_millis(300);
/// Events shown as progress notes; run.json has all of them.
const MAX_EVENT_NOTES: usize = 5;

/// Options of one run besides the plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The scenario file, as given (recorded in run.json).
    pub scenario_file: PathBuf,
    /// Run directory; default `results/<scenario>/<timestamp>`.
    pub out: Option<PathBuf>,
    /// No progress display.
    pub quiet: bool,
    /// Where to write one line per finished request (`.csv` or `.jsonl`), if anywhere.
    pub request_log: Option<PathBuf>,
    /// Where to serve the live metrics endpoint (loopback, checked by the caller).
    pub metrics_listen: Option<SocketAddr>,
}

/// What every config of a run shares besides the plan and run.json.
struct Outputs {
    quiet: bool,
    live: Option<Arc<LiveMetrics>>,
    log: Option<RequestLog>,
}

/// A finished (or stopped) run.
pub struct Finished {
    pub dir: PathBuf,
    pub result: RunResult,
}

/// Runs every config of the plan in order. Returns Err only when nothing could be recorded
/// (e.g. the results directory cannot be written); per-config failures are in the result.
pub async fn run(
    plan: Plan,
    warnings: Vec<String>,
    opts: &RunOptions,
    cancel: CancellationToken,
) -> anyhow::Result<Finished> {
    let dir = match &opts.out {
        Some(d) => d.clone(),
        None => PathBuf::from("results")
            .join(&plan.name)
            .join(chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()),
    };
    std::fs::create_dir_all(&dir).with_context(|| {
        format!(
            "cannot create the results directory {}: pass --out DIR",
            dir.display()
        )
    })?;
    let mut warnings = warnings;
    let mut environment = Environment::detect();
    if !matches!(plan.driver, Driver::External { .. }) {
        // Measured before the first stack starts, while the machine is quiet.
        let unit = stack::calibrate::cpu_unit();
        environment.cpu_unit_iterations = Some(unit.iterations());
        if let CpuUnit::Reference(why) = unit {
            let w = format!("cannot measure this machine's CPU unit ({why}): a cpu.php unit is the reference machine's millisecond, not this one's");
            if !opts.quiet {
                eprintln!("warning: {w}");
            }
            warnings.push(w);
        }
    }
    let state = Arc::new(Mutex::new(RunResult {
        schema_version: crate::results::SCHEMA_VERSION,
        fpmlab_version: env!("CARGO_PKG_VERSION").into(),
        status: Status::Running,
        partial: true,
        error: None,
        started_at: now_rfc3339(),
        finished_at: None,
        scenario_file: opts.scenario_file.display().to_string(),
        plan: plan.clone(),
        environment,
        warnings,
        configs: plan.configs.iter().map(ConfigResult::pending).collect(),
        thresholds: Vec::new(),
        tune: None,
    }));
    save(&state, &dir)?;
    let log = match &opts.request_log {
        Some(path) => Some(RequestLog::create(
            path,
            Names {
                configs: plan.configs.iter().map(|c| c.name.clone()).collect(),
                phases: plan.phases.iter().map(|p| p.name.clone()).collect(),
                kinds: plan.requests.iter().map(|k| k.name.clone()).collect(),
            },
        )?),
        None => None,
    };
    let stop_live = CancellationToken::new();
    let live = match opts.metrics_listen {
        Some(addr) => {
            let listener = live::bind(addr).await?;
            let live = Arc::new(LiveMetrics::default());
            tokio::spawn(live::serve(listener, live.clone(), stop_live.clone()));
            Some(live)
        }
        None => None,
    };
    let outputs = Outputs {
        quiet: opts.quiet,
        live,
        log,
    };

    for i in 0..plan.configs.len() {
        if cancel.is_cancelled() {
            state.lock().unwrap().configs[i].status = Status::Skipped;
            continue;
        }
        state.lock().unwrap().configs[i].status = Status::Running;
        let outcome = run_config(&plan, i, &dir, &state, &cancel, &outputs).await;
        let mut s = state.lock().unwrap();
        let c = &mut s.configs[i];
        c.status = match outcome {
            Err(e) => {
                c.error = Some(format!("{e:#}"));
                Status::Failed
            }
            Ok(()) if cancel.is_cancelled() => Status::Interrupted,
            Ok(()) => Status::Complete,
        };
        drop(s);
        save(&state, &dir)?;
    }

    stop_live.cancel();
    if let Some(log) = outputs.log {
        let path = log.path().display().to_string();
        if let Err(e) = log.finish() {
            let w = format!("the request log {path} is incomplete: {e:#}");
            if !opts.quiet {
                eprintln!("warning: {w}");
            }
            state.lock().unwrap().warnings.push(w);
        }
    }
    let mut result = state.lock().unwrap().clone();
    result.finished_at = Some(now_rfc3339());
    result.partial = result.configs.iter().any(|c| c.status != Status::Complete);
    result.status = if cancel.is_cancelled() {
        Status::Interrupted
    } else if result.configs.iter().any(|c| c.status == Status::Failed) {
        result.error = Some("one or more configs failed (see configs[].error)".into());
        Status::Failed
    } else {
        Status::Complete
    };
    result.save(&dir)?;
    // Read back as `fpmlab report` will, time series from their files included; then
    // run.json gets its own verdict.
    let mut result = RunResult::load(&dir)?;
    result.thresholds = crate::thresholds::evaluate(&result);
    result.save(&dir)?;
    Ok(Finished { dir, result })
}

fn save(state: &Mutex<RunResult>, dir: &Path) -> anyhow::Result<()> {
    let snapshot = state.lock().unwrap().clone();
    snapshot.save(dir).map(|_| ())
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn run_config(
    plan: &Plan,
    i: usize,
    dir: &Path,
    state: &Arc<Mutex<RunResult>>,
    cancel: &CancellationToken,
    outputs: &Outputs,
) -> anyhow::Result<()> {
    let quiet = outputs.quiet;
    let cfg = &plan.configs[i];
    let config_dir = dir.join(&cfg.name);
    std::fs::create_dir_all(&config_dir)
        .with_context(|| format!("cannot create {}", config_dir.display()))?;
    let mut stack = stack::create_for(plan, cfg, &config_dir)?;
    state.lock().unwrap().environment.stack = stack.info();
    let progress = ConfigProgress::new(quiet, &cfg.name, plan);
    progress.note(&format!("starting the {} stack", stack.info().driver));
    let up = tokio::select! {
        r = stack.up() => r,
        _ = cancel.cancelled() => Err(anyhow::anyhow!("interrupted while the stack was starting")),
    };
    let started = up.is_ok();
    let (failed, sampled, result) = match up {
        Ok(endpoints) => {
            // Drivers learn versions once the stack runs (docker: from inside the containers).
            state.lock().unwrap().environment.stack = stack.info();
            drive(
                plan,
                i,
                dir,
                state,
                cancel,
                &progress,
                outputs,
                endpoints,
                stack.as_mut(),
            )
            .await
        }
        Err(e) => (FailedList::default(), Default::default(), Err(e)),
    };
    progress.note("tearing the stack down");
    let down = stack.down().await;
    if started {
        // After teardown: every log line the attribution joins has been written.
        progress.note("attributing failed requests");
        let mut s = state.lock().unwrap();
        let c = &mut s.configs[i];
        let epoch_us = c.load_start_epoch_us.unwrap_or(0);
        let zone = stack::log_utc_offset_s(&plan.driver);
        if let Some(rec) = stack.fleet_record() {
            // A fleet's failures are attributed from the balancer's log; the single-stack
            // attribution would look for one nginx's logs, which a fleet does not have.
            let text = std::fs::read_to_string(&rec.balancer_log).unwrap_or_default();
            let facts = crate::fleet_view::PlanFacts::of(plan, &c.name);
            let view =
                crate::fleet_view::analyse(&rec, &text, &failed, epoch_us / 1000, &facts, &sampled);
            c.fleet = Some(view);
        } else {
            let views = crate::incident::analyse(
                &c.name,
                &c.recorded,
                epoch_us,
                zone,
                &config_dir,
                &failed,
            );
            c.attribution = Some(views.attribution);
            c.lb_vs_apm = Some(views.lb_vs_apm);
            c.error_windows = Some(views.error_windows);
        }
        if c.series.is_some() {
            // In timeline.jsonl and health.jsonl: kept out of memory (and run.json) for the
            // configs after.
            c.recorded.timeline = Vec::new();
            if let Some(h) = &mut c.health {
                h.samples = Vec::new();
            }
        }
    }
    progress.finish();
    result?;
    down.context("tearing the stack down")
}

/// Samples, probes health and drives the load. Returns the failed requests (attributed after
/// the teardown, once the logs are complete), a fleet's samples of each instance, and the
/// load's result.
#[allow(clippy::too_many_arguments)]
async fn drive(
    plan: &Plan,
    i: usize,
    dir: &Path,
    state: &Arc<Mutex<RunResult>>,
    cancel: &CancellationToken,
    progress: &ConfigProgress,
    outputs: &Outputs,
    endpoints: stack::Endpoints,
    stack: &mut dyn stack::Stack,
) -> (
    FailedList,
    BTreeMap<String, InstanceSampled>,
    anyhow::Result<()>,
) {
    let name = plan.configs[i].name.clone();
    let files = SeriesFiles::for_config(&name);
    let timeline_out = match LineWriter::create(&dir.join(&files.timeline)) {
        Ok(out) => out,
        Err(e) => return (FailedList::default(), BTreeMap::new(), Err(e)),
    };
    state.lock().unwrap().configs[i].series = Some(files.clone());
    let load_start = Instant::now() + LOAD_LEAD;
    stack.load_starts(load_start);
    let clock = RunClock::starting_at(load_start);
    {
        let mut s = state.lock().unwrap();
        s.configs[i].endpoints = Some(endpoints.clone());
        s.configs[i].load_start_epoch_us = Some(clock.start_epoch_us());
    }
    let live = outputs.live.clone();
    let server_side = ServerSide::start(
        plan,
        &name,
        &endpoints,
        clock,
        (dir, &files),
        progress,
        live,
    );
    let server_side = match server_side {
        Ok(s) => s,
        Err(e) => return (FailedList::default(), BTreeMap::new(), Err(e)),
    };
    let instance_samplers = (stack.instance_endpoints()).map(|list| {
        let live = outputs.live.clone();
        InstanceSamplers::start(list, clock, (dir, &name), &plan.phases, progress, live)
    });
    // A fleet's peaks come from its instances' own samples, never mixed across them.
    let peaks = match &instance_samplers {
        Some(s) => s.peaks(),
        None => PeaksFrom::Sampler(server_side.figures.clone()),
    };
    let recorder = Recorder::new(load_start, &plan.phases, &plan.requests)
        .bounded_timeline(TIMELINE_KEPT_S)
        .with_request_log(outputs.log.as_ref().map(|l| l.sender(i)));
    let shared = Shared::new(recorder);
    if let Some(live) = &outputs.live {
        let scrape_uri = format!("{}{}", endpoints.base_url, endpoints.fpm_status_path);
        live.start_config(
            &name,
            scrape_uri,
            shared.clone(),
            instance_samplers.is_some(),
        );
    }
    let stop_tick = CancellationToken::new();
    let ticker = tokio::spawn(checkpoint::tick(
        Checkpoint {
            i,
            dir: dir.to_path_buf(),
            state: state.clone(),
            shared: shared.clone(),
            server: peaks.clone(),
            progress: progress.clone(),
            load_start,
            timeline: TimelineOut {
                file: timeline_out,
                next_t: 0,
            },
        },
        stop_tick.clone(),
    ));
    // The pool's CPU over the load, against what it asked: only where its workers are visible.
    let access_log = dir
        .join(&plan.configs[i].name)
        .join("logs/php-fpm-access.log");
    let pool_cpu = endpoints
        .fpm_master_pid
        .map(|pid| probe::worker_cpu::start(pid, &access_log));
    let cpu_before = crate::clock::process_cpu_us();
    let load = generator::run(
        plan,
        &endpoints.base_url,
        shared.clone(),
        load_start,
        cancel.clone(),
    )
    .await;
    let cpu = CpuUse {
        process_ms: crate::clock::process_cpu_us().saturating_sub(cpu_before) / 1000,
        load_thread_ms: shared.load_thread_cpu_us.load(Ordering::Relaxed) / 1000,
        wall_ms: load_start.elapsed().as_millis() as u64,
    };
    let cpu_per_request = pool_cpu.map(|start| {
        let window = start.and_then(|s| probe::worker_cpu::finish(&s));
        CpuPerRequest::of_window(&plan.requests, plan.stack.app_root.is_none(), window)
    });
    stop_tick.cancel();
    let timeline_out = ticker.await;
    let (figures, health) = server_side.stop(progress).await;
    let (sampled, instance_events) = match instance_samplers {
        Some(s) => {
            let (sampled, events) = s.stop().await;
            (sampled, Some(events))
        }
        None => (BTreeMap::new(), None),
    };
    let failed = shared.recorder.lock().unwrap().failed().clone();

    let mut recorded = shared.recorder.lock().unwrap().result();
    // The rest of the timeline, then all of it back for the analysis after the teardown.
    let timeline_file = dir.join(&files.timeline);
    let full_timeline = timeline_out
        .map_err(anyhow::Error::from)
        .and_then(|mut out| {
            out.append(&recorded, u64::MAX)?;
            series::read_timeline(&timeline_file)
        });
    match full_timeline {
        Ok(t) => recorded.timeline = t,
        Err(e) => progress.note(&format!("warning: the timeline is incomplete: {e:#}")),
    }
    let generator = bottleneck::assess(cpu, &recorded.summary);
    for w in (generator.warnings.iter()).chain(cpu_per_request.iter().flat_map(|c| &c.warning)) {
        progress.note(&format!("warning: {w}"));
    }
    let config_dir = dir.join(&plan.configs[i].name);
    let offset_s = stack::log_utc_offset_s(&plan.driver);
    let own = figures.events();
    let events = config_events(
        &config_dir,
        own,
        instance_events,
        (clock.start_epoch_us(), offset_s),
    );
    for e in events.iter().take(MAX_EVENT_NOTES) {
        let at = e.t_ms as f64 / 1000.0;
        progress.note(&format!("event at {at:.1} s: {}: {}", e.title(), e.detail));
    }
    if events.len() > MAX_EVENT_NOTES {
        let more = events.len() - MAX_EVENT_NOTES;
        progress.note(&format!("... and {more} more events (run.json: events)"));
    }
    let (server, server_by_phase) = peaks.read();
    let mut s = state.lock().unwrap();
    let c = &mut s.configs[i];
    c.server = server;
    c.server_by_phase = server_by_phase;
    c.recorded = recorded;
    c.generator = generator;
    c.health = Some(health);
    c.events = events;
    c.cpu_per_request = cpu_per_request;
    (failed, sampled, load)
}

/// A config's events, from what samples showed and php-fpm logs: a single stack's from its
/// sampler's (`own`) and its log; a fleet's (`instances`: what each instance's own samples
/// showed, by name) each instance's, with its `instances/<name>/logs/php-fpm.log`. `at`: the
/// load's start (µs since the epoch) and the logs' UTC offset (s).
fn config_events(
    config_dir: &Path,
    own: SampleEvents,
    instances: Option<Vec<(String, SampleEvents)>>,
    (load_start_epoch_us, log_offset_s): (i64, i32),
) -> Vec<crate::events::Event> {
    match instances {
        Some(instances) => {
            let instances = (instances.into_iter())
                .map(|(name, from_samples)| crate::events::InstanceEvents {
                    fpm_log: config_dir.join(format!("instances/{name}/logs/php-fpm.log")),
                    name,
                    from_samples,
                })
                .collect();
            crate::events::collect_fleet(instances, load_start_epoch_us, log_offset_s)
        }
        None => crate::events::collect(
            own,
            &config_dir.join("logs/php-fpm.log"),
            load_start_epoch_us,
            log_offset_s,
        ),
    }
}
