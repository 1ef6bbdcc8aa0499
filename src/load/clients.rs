//! Self-disabling clients (`pattern = "clients"`, seed 004): N clients, each sending one
//! request (a batch) every period at its own offset, that switch themselves off for good
//! once every try of one batch got a `disable_on` status. With `tries = 1` the first such
//! answer is enough, as the AppSignal gem did; with more, the client retries at once, and
//! behind a balancer the retry usually lands on another instance. With a retry policy
//! (`[phase.retry]`) a batch is retried as the policy says instead (backoff, budget), and
//! the client switches off when the batch's last attempt got a `disable_on` status.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::retry::send;
use super::rng::{Rng, WeightedPick};
use super::send::{one, Ctx};
use crate::scenario::{Arrival, Plan};

/// Runs phase `phase`'s clients from `start` until `end`.
pub(super) async fn run(ctx: &Rc<Ctx>, plan: &Plan, phase: usize, start: Instant, end: Instant) {
    let Arrival::Clients {
        clients,
        every_ms,
        ref disable_on,
        tries,
    } = plan.phases[phase].arrival
    else {
        return;
    };
    let every = Duration::from_millis(every_ms);
    let batches = (plan.phases[phase].duration_ms).div_ceil(every_ms);
    {
        let mut rec = ctx.recorder.borrow_mut();
        let c = rec.clients_of(phase);
        c.clients = clients;
        c.intended = u64::from(clients) * batches;
    }
    let load_start =
        start - Duration::from_micros(crate::scenario::phase_starts_us(&plan.phases)[phase]);
    let mut tasks = Vec::with_capacity(clients as usize);
    for client in 0..clients {
        let ctx = ctx.clone();
        let disable_on = disable_on.clone();
        let pick = WeightedPick::new(plan.requests.iter().map(|r| r.weight));
        let mut rng = Rng::new(
            plan.seed ^ (u64::from(client) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ phase as u64,
        );
        // Clients are spread evenly over the period, as independent processes would be.
        let offset = every.mul_f64(f64::from(client) / f64::from(clients));
        let mut jitter = (ctx.retries[phase].as_ref()).map(|r| r.stream_of(client));
        tasks.push(tokio::task::spawn_local(async move {
            let mut deadline = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
            let mut at = start + offset;
            while at < end && !ctx.cancel.is_cancelled() {
                tokio::time::sleep_until(at.into()).await;
                ctx.recorder.borrow_mut().clients_of(phase).on_batch();
                let disabled = match jitter.as_mut() {
                    Some(j) => {
                        let kind = pick.pick(&mut rng);
                        let now = Instant::now();
                        let sent = send(&ctx, phase, kind, None, now, deadline.as_mut(), j).await;
                        sent.status().is_some_and(|s| disable_on.contains(&s))
                    }
                    None => {
                        tries_at_once(
                            &ctx,
                            phase,
                            tries,
                            &disable_on,
                            &pick,
                            &mut rng,
                            deadline.as_mut(),
                        )
                        .await
                    }
                };
                if disabled {
                    let t_ms = Instant::now()
                        .saturating_duration_since(load_start)
                        .as_millis() as u64;
                    ctx.recorder.borrow_mut().clients_of(phase).on_lost(t_ms);
                    return;
                }
                at += every;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// A batch tried up to `tries` times at once; whether every try got a `disable_on` status.
async fn tries_at_once(
    ctx: &Ctx,
    phase: usize,
    tries: u32,
    disable_on: &[u16],
    pick: &WeightedPick,
    rng: &mut Rng,
    mut deadline: std::pin::Pin<&mut tokio::time::Sleep>,
) -> bool {
    for attempt in 0..tries {
        let kind = pick.pick(rng);
        let sent = one(ctx, phase, kind, None, Instant::now(), deadline.as_mut()).await;
        ctx.recorder
            .borrow_mut()
            .client_try(phase, attempt > 0, sent.is_2xx());
        if !sent.status().is_some_and(|s| disable_on.contains(&s)) {
            return false;
        }
    }
    true
}
