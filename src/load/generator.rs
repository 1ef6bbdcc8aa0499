//! Executes a plan's phases against one target. Open-loop phases: a dispatcher task sleeps
//! precisely (timerfd) until each intended time and starts the request, whether or not
//! earlier ones have returned. Closed-loop phases: N users send, wait, think, repeat.
//! Latency is always measured from the intended time.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::client::Client;
use super::rng::{Rng, WeightedPick};
use super::schedule::{phase_starts_us, Schedule, Scheduled};
use super::timer::PreciseTimer;
use crate::record::{Ending, FailureKind, Outcome, Recorder};
use crate::scenario::{Arrival, Plan};

/// State shared by the dispatcher, the request tasks and the progress display.
pub struct Shared {
    pub recorder: Mutex<Recorder>,
    pub in_flight: AtomicU64,
    /// Index of the phase now running; `usize::MAX` once all phases are over (draining).
    pub phase: AtomicUsize,
    next_id: AtomicU64,
}

impl Shared {
    pub fn new(recorder: Recorder) -> Arc<Self> {
        Arc::new(Shared {
            recorder: Mutex::new(recorder),
            in_flight: AtomicU64::new(0),
            phase: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        })
    }
}

/// Everything one request task needs.
struct Ctx {
    client: Client,
    shared: Arc<Shared>,
    methods: Vec<hyper::Method>,
    uris: Vec<hyper::Uri>,
    timeout: Duration,
    max_in_flight: u64,
    cancel: CancellationToken,
}

/// Runs every phase, then waits for in-flight requests (each bounded by the client timeout).
/// Returns when done or when `cancel` fires (in-flight requests are then recorded as
/// cancelled).
pub async fn run(
    plan: &Plan,
    base_url: &str,
    shared: Arc<Shared>,
    load_start: Instant,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let methods = plan
        .requests
        .iter()
        .map(|r| hyper::Method::from_bytes(r.method.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let ctx = Arc::new(Ctx {
        client: Client::new(base_url).await?,
        shared: shared.clone(),
        methods,
        uris: plan
            .requests
            .iter()
            .map(|r| r.path.parse::<hyper::Uri>())
            .collect::<Result<Vec<_>, _>>()?,
        timeout: Duration::from_millis(plan.load.client_timeout_ms),
        max_in_flight: plan.load.max_in_flight as u64,
        cancel: cancel.clone(),
    });
    let starts = phase_starts_us(&plan.phases);

    // The open-loop schedule spans all phases; closed phases are skipped by it and run
    // here, each at its start time.
    let dispatcher = spawn_dispatcher(plan, ctx.clone(), load_start);
    for (i, phase) in plan.phases.iter().enumerate() {
        let start = load_start + Duration::from_micros(starts[i]);
        let end = start + Duration::from_millis(phase.duration_ms);
        tokio::select! {
            _ = tokio::time::sleep_until(start.into()) => {}
            _ = cancel.cancelled() => break,
        }
        shared.phase.store(i, Ordering::Relaxed);
        if let Arrival::Closed {
            users,
            think_time_ms,
        } = phase.arrival
        {
            run_closed(
                &ctx,
                plan,
                i,
                users,
                Duration::from_millis(think_time_ms),
                end,
            )
            .await;
        } else {
            tokio::select! {
                _ = tokio::time::sleep_until(end.into()) => {}
                _ = cancel.cancelled() => break,
            }
        }
    }
    let _ = dispatcher.await;
    shared.phase.store(usize::MAX, Ordering::Relaxed);
    // Every request ends by itself within the client timeout; this loop only waits.
    while shared.in_flight.load(Ordering::Acquire) > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Sends every open-loop request at its intended time, from a task on the runtime itself so
/// a send never waits for another thread to wake.
fn spawn_dispatcher(
    plan: &Plan,
    ctx: Arc<Ctx>,
    load_start: Instant,
) -> tokio::task::JoinHandle<()> {
    let phases = plan.phases.clone();
    let requests = plan.requests.clone();
    let seed = plan.seed;
    tokio::spawn(async move {
        let mut timer = match PreciseTimer::new() {
            Ok(t) => t,
            Err(e) => {
                // Without a timerfd the run cannot keep its schedule honestly: stop it.
                eprintln!("error: cannot create a timer for the schedule: {e}");
                ctx.cancel.cancel();
                return;
            }
        };
        for Scheduled { at_us, phase, kind } in Schedule::new(&phases, &requests, seed) {
            let at = load_start + Duration::from_micros(at_us);
            tokio::select! {
                biased;
                _ = ctx.cancel.cancelled() => return,
                r = timer.sleep_until(at) => if let Err(e) = r {
                    eprintln!("error: schedule timer failed: {e}");
                    ctx.cancel.cancel();
                    return;
                },
            }
            let ctx = ctx.clone();
            tokio::spawn(async move { one(&ctx, phase, kind, at).await });
        }
    })
}

async fn run_closed(
    ctx: &Arc<Ctx>,
    plan: &Plan,
    phase: usize,
    users: u32,
    think: Duration,
    end: Instant,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for user in 0..users {
        let ctx = ctx.clone();
        let pick = WeightedPick::new(plan.requests.iter().map(|r| r.weight));
        let mut rng = Rng::new(
            plan.seed ^ (u64::from(user) + 1).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ phase as u64,
        );
        tasks.spawn(async move {
            while Instant::now() < end && !ctx.cancel.is_cancelled() {
                one(&ctx, phase, pick.pick(&mut rng), Instant::now()).await;
                if !think.is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(think) => {}
                        _ = ctx.cancel.cancelled() => {}
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Sends one request intended for `intended` and records how it ended.
async fn one(ctx: &Ctx, phase: usize, kind: usize, intended: Instant) {
    let shared = &ctx.shared;
    let n = shared.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
    if n > ctx.max_in_flight {
        shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        shared
            .recorder
            .lock()
            .expect("recorder lock")
            .on_dropped(phase, kind, Instant::now());
        return;
    }
    shared
        .recorder
        .lock()
        .expect("recorder lock")
        .on_send(phase, kind, Instant::now(), n);
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let work = ctx.client.exchange(&ctx.methods[kind], &ctx.uris[kind], id);
    let failed = |failure: FailureKind, message: String| Outcome {
        phase,
        kind,
        intended,
        sent: None,
        first_byte: None,
        done: Instant::now(),
        ending: Ending::Failed {
            kind: failure,
            message,
        },
        fpm: None,
        id,
    };
    let outcome = tokio::select! {
        x = tokio::time::timeout(ctx.timeout, work) => match x {
            Ok(x) => Outcome { phase, kind, intended, sent: x.sent, first_byte: x.first_byte, done: x.done, ending: x.ending, fpm: x.fpm, id },
            Err(_) => failed(FailureKind::Timeout, format!("no response within the client timeout ({} ms)", ctx.timeout.as_millis())),
        },
        _ = ctx.cancel.cancelled() => failed(FailureKind::Cancelled, "the run was stopped".into()),
    };
    shared
        .recorder
        .lock()
        .expect("recorder lock")
        .record(&outcome);
    shared.in_flight.fetch_sub(1, Ordering::AcqRel);
}
