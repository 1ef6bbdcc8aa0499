//! Executes a plan's phases against one target. Open-loop phases: a dispatcher sleeps
//! precisely (timerfd) until each intended time and starts the request, whether or not
//! earlier ones have returned. Closed-loop phases: N users send, wait, think, repeat.
//! Latency is always measured from the intended time.
//!
//! The load runs on a thread of its own with a single-threaded runtime: on a small machine
//! it suits one pinned core, no request ever waits for another thread to wake, and the
//! recorder is owned by that thread (no lock, no atomic per request). Other threads see it
//! through [`Shared`], published a few times a second.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::client::Client;
use super::rows::RowPicker;
use super::schedule::{Batched, Schedule, Scheduled};
use super::send::{one, Ctx};
use super::timer::{Nudge, PreciseTimer};
use crate::record::{Live, Recorder};
use crate::scenario::phase_starts_us;
use crate::scenario::{Arrival, Plan};

/// How late an open-loop send may go out when no response wakes the load thread at its
/// moment (see [`super::timer`]): a timer wake-up then serves every send due by then. Client
/// lag is measured as ever; this bounds what the sharing adds to it.
const SEND_SLACK: Duration = Duration::from_micros(50);

/// How often the live counters are published.
const LIVE_EVERY: Duration = Duration::from_millis(100);
/// How often a copy of the whole recorder is published (for run.json checkpoints). A copy
/// is a memcpy of the histograms: cheap, but not free, so not every tick.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(2);

/// What the load thread shows the rest of the process.
pub struct Shared {
    /// The recorder as last published: a copy every [`SNAPSHOT_EVERY`] during the load, the
    /// final one once [`run`] returns. Give the recorder to start with to [`Shared::new`].
    pub recorder: Mutex<Recorder>,
    /// Live counters, published every [`LIVE_EVERY`].
    pub live: Mutex<Live>,
    /// Requests in flight, as last published.
    pub in_flight: AtomicU64,
    /// Index of the phase now running; `usize::MAX` once all phases are over (draining).
    pub phase: AtomicUsize,
    /// CPU time (user + sys) the load thread used, µs; set when [`run`] returns.
    pub load_thread_cpu_us: AtomicU64,
}

impl Shared {
    pub fn new(recorder: Recorder) -> Arc<Self> {
        Arc::new(Shared {
            live: Mutex::new(recorder.live()),
            recorder: Mutex::new(recorder),
            in_flight: AtomicU64::new(0),
            phase: AtomicUsize::new(0),
            load_thread_cpu_us: AtomicU64::new(0),
        })
    }
}

/// Runs every phase on the load thread, then waits for in-flight requests (each bounded by
/// the client timeout). Returns when done or when `cancel` fires (in-flight requests are
/// then recorded as cancelled). The recorder in `shared` is the final one afterwards.
/// An `https://` `base_url` is verified as the plan's driver says.
pub async fn run(
    plan: &Plan,
    base_url: &str,
    shared: Arc<Shared>,
    load_start: Instant,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let (plan, base_url) = (plan.clone(), base_url.to_string());
    let verify = plan.driver.tls_verify();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("fpmlab-load".into())
        .spawn(move || {
            let target = (base_url.as_str(), &verify);
            let _ = tx.send(run_here(&plan, target, &shared, load_start, &cancel));
        })
        .context("cannot start the load thread")?;
    rx.await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the load thread panicked")))
}

fn run_here(
    plan: &Plan,
    (base_url, verify): (&str, &crate::tls::TlsVerify),
    shared: &Arc<Shared>,
    load_start: Instant,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    // Spawned from a side thread that yields to the load: this one must not.
    crate::affinity::normal_policy();
    let cpu_start = crate::clock::thread_cpu_us();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the load thread's runtime")?;
    let local = tokio::task::LocalSet::new();
    let recorder = Rc::new(RefCell::new(shared.recorder.lock().expect("lock").clone()));
    let mut handshakes_of = None;
    let result = local.block_on(&rt, async {
        let ctx = Rc::new(Ctx {
            client: Client::new(base_url, &plan.requests, verify).await?,
            rows: RefCell::new(RowPicker::for_kinds(&plan.requests, plan.seed)),
            replays: (plan.phases.iter())
                .map(|ph| match &ph.arrival {
                    Arrival::Replay(r) => Some(r.entries.clone()),
                    _ => None,
                })
                .collect(),
            recorder: recorder.clone(),
            in_flight: Cell::new(0),
            next_id: Cell::new(1),
            timeouts: (plan.phases.iter())
                .map(|ph| {
                    Duration::from_millis(ph.client.timeout_ms_or(plan.load.client_timeout_ms))
                })
                .collect(),
            max_in_flight: plan.load.max_in_flight as u64,
            slots: super::slots::Slots::new(plan.load.max_connections),
            cancel: cancel.clone(),
            retries: super::policy::for_plan(plan),
        });
        handshakes_of = Some(ctx.clone());
        tokio::task::spawn_local(publish_live(ctx.clone(), shared.clone()));
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Ok(()),
            r = drive(plan, &ctx, shared, load_start) => r,
        }
    });
    // Dropping the tasks still running ends their requests: each records itself as
    // cancelled (see `InFlight`).
    drop(local);
    if let Some(ctx) = handshakes_of {
        ctx.client.log_handshakes(&ctx.recorder);
    }
    let final_recorder = recorder.borrow().clone();
    *shared.live.lock().expect("lock") = final_recorder.live();
    shared.in_flight.store(0, Ordering::Relaxed);
    *shared.recorder.lock().expect("lock") = final_recorder;
    let cpu_us = crate::clock::thread_cpu_us().saturating_sub(cpu_start);
    shared.load_thread_cpu_us.store(cpu_us, Ordering::Relaxed);
    result
}

/// Copies the live counters (often) and the recorder (now and then) where other threads
/// can read them.
async fn publish_live(ctx: Rc<Ctx>, shared: Arc<Shared>) {
    let mut every = tokio::time::interval(LIVE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_snapshot = Instant::now();
    loop {
        every.tick().await;
        if let Some(old) = publish(&ctx, &shared, &mut last_snapshot) {
            // Freed after the requests due now have gone out.
            tokio::task::yield_now().await;
            drop(old);
        }
    }
}

/// One tick of [`publish_live`]; gives back the recorder copy it replaced, if it did.
fn publish(ctx: &Ctx, shared: &Shared, last_snapshot: &mut Instant) -> Option<Recorder> {
    let rec = ctx.recorder.borrow();
    *shared.live.lock().expect("lock") = rec.live();
    shared
        .in_flight
        .store(ctx.in_flight.get(), Ordering::Relaxed);
    if last_snapshot.elapsed() < SNAPSHOT_EVERY {
        return None;
    }
    // A checkpoint holds this lock while it serializes the histograms (milliseconds): the
    // load thread never waits for it, it tries again at the next tick.
    let mut published = match shared.recorder.try_lock() {
        Ok(g) => g,
        Err(TryLockError::WouldBlock) => return None,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
    };
    *last_snapshot = Instant::now();
    Some(std::mem::replace(&mut *published, rec.clone()))
}

async fn drive(
    plan: &Plan,
    ctx: &Rc<Ctx>,
    shared: &Shared,
    load_start: Instant,
) -> anyhow::Result<()> {
    let starts = phase_starts_us(&plan.phases);
    // The open-loop schedule spans all phases; closed phases are skipped by it and run
    // here, each at its start time.
    let dispatcher = tokio::task::spawn_local(dispatch(plan.clone(), ctx.clone(), load_start));
    for (i, phase) in plan.phases.iter().enumerate() {
        let start = load_start + Duration::from_micros(starts[i]);
        let end = start + Duration::from_millis(phase.duration_ms);
        tokio::time::sleep_until(start.into()).await;
        shared.phase.store(i, Ordering::Relaxed);
        if let Arrival::Closed {
            users,
            think_time_ms,
        } = phase.arrival
        {
            let think = Duration::from_millis(think_time_ms);
            super::closed::run(ctx, plan, i, users, think, end).await;
        } else if let Arrival::Clients { .. } = phase.arrival {
            super::clients::run(ctx, plan, i, start, end).await;
        } else {
            tokio::time::sleep_until(end.into()).await;
        }
        ctx.recorder.borrow_mut().on_phase_end(i);
    }
    dispatcher.await.context("the dispatcher failed")??;
    shared.phase.store(usize::MAX, Ordering::Relaxed);
    // Every request ends by itself within the client timeout; this loop only waits.
    while ctx.in_flight.get() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Sends every open-loop request at its intended time.
async fn dispatch(plan: Plan, ctx: Rc<Ctx>, load_start: Instant) -> anyhow::Result<()> {
    let result = dispatch_all(&plan, &ctx, load_start).await;
    if let Err(e) = &result {
        // Without its timer the run cannot keep its schedule honestly: it stops.
        eprintln!("error: {e:#}");
        ctx.cancel.cancel();
    }
    result
}

async fn dispatch_all(plan: &Plan, ctx: &Rc<Ctx>, load_start: Instant) -> anyhow::Result<()> {
    let mut timer = PreciseTimer::new().context("cannot create a timer for the schedule")?;
    let nudge = Rc::new(Nudge::default());
    let schedule = Schedule::new(&plan.phases, &plan.requests, plan.seed);
    for (
        Scheduled {
            at_us,
            phase,
            kind,
            replay,
        },
        last_us,
    ) in Batched::new(schedule, plan.load.send_window_us)
    {
        let at = load_start + Duration::from_micros(at_us);
        // With `load.send_window`, sends close together share one wake-up at the last one's
        // moment (a wake-up from idle, and the target's, which each send finding it asleep
        // pays for with an interrupt, costs more than the requests), and no nudge splits
        // them. A lone send may ride on a response's wake-up, or goes SEND_SLACK late.
        // A send already due (the rest of a batch just woken for) goes at once.
        if at > Instant::now() {
            let (wake, slack) = match last_us > at_us {
                true => (load_start + Duration::from_micros(last_us), Duration::ZERO),
                false => (at, SEND_SLACK),
            };
            timer
                .sleep_until_late(wake, slack, &nudge)
                .await
                .context("the schedule's timer failed")?;
        }
        let (ctx, nudge) = (ctx.clone(), nudge.clone());
        if ctx.retries[phase].is_some() {
            tokio::task::spawn_local(super::retry::open_loop(ctx, phase, kind, replay, at));
            continue;
        }
        tokio::task::spawn_local(async move {
            let deadline = std::pin::pin!(tokio::time::sleep(ctx.timeouts[phase]));
            one(&ctx, phase, kind, replay, at, deadline).await;
            // The thread is awake for this response anyway: a send that is due goes now.
            nudge.poke();
        });
    }
    Ok(())
}
