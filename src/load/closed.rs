//! Closed-loop users: each sends, waits for the response (and its retries, if the phase
//! retries), thinks, repeats. Think time is drawn from the phase's distribution around
//! `think_time`; its draws and the retries' jitter come from the seed and the user's index.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::backoff::think;
use super::rng::{Rng, WeightedPick};
use super::send::{one, Ctx};
use crate::scenario::Plan;

/// Runs phase `phase`'s `users` until `end`; `mean_think` is the phase's `think_time`.
pub(super) async fn run(
    ctx: &Rc<Ctx>,
    plan: &Plan,
    phase: usize,
    users: u32,
    mean_think: Duration,
    end: Instant,
) {
    let dist = plan.phases[phase].client.think;
    let mut tasks = Vec::with_capacity(users as usize);
    for user in 0..users {
        let ctx = ctx.clone();
        let pick = WeightedPick::new(plan.requests.iter().map(|r| r.weight));
        let mut rng = Rng::new(
            plan.seed ^ (u64::from(user) + 1).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ phase as u64,
        );
        // Apart from the kind picks, so a distribution or a retry never changes the mix.
        let mut think_rng = Rng::new(
            plan.seed ^ 0x7417_0000_0000_0000 ^ (u64::from(user) + 1).wrapping_mul(0x9E37_79B9),
        );
        let mut jitter = (ctx.retries[phase].as_ref()).map(|r| r.stream_of(user));
        tasks.push(tokio::task::spawn_local(async move {
            // One timer per user, re-armed for each request: pushing a registered timer's
            // deadline later costs tokio no lock, a fresh one per request would.
            let mut deadline = std::pin::pin!(tokio::time::sleep(ctx.timeouts[phase]));
            loop {
                // A user sends now: the intended time is this instant.
                let now = Instant::now();
                if now >= end || ctx.cancel.is_cancelled() {
                    break;
                }
                let kind = pick.pick(&mut rng);
                match jitter.as_mut() {
                    None => {
                        one(&ctx, phase, kind, None, now, deadline.as_mut()).await;
                    }
                    Some(j) => {
                        ctx.recorder.borrow_mut().client_request(phase);
                        super::retry::send(&ctx, phase, kind, None, now, deadline.as_mut(), j)
                            .await;
                    }
                }
                let wait = think(dist, mean_think, &mut think_rng);
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
