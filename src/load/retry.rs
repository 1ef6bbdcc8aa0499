//! Retries: one request of a phase with a retry policy, from its first attempt to its last.
//! Each attempt goes through [`one`] and is recorded as any request is; what the clients
//! meant and what it cost (intended, attempted, retries, suppressed) goes to the phase's
//! client figures. A phase without a policy never comes here: its requests cost exactly
//! what they cost before retries existed.

use std::pin::Pin;
use std::rc::Rc;
use std::time::Instant;

use tokio::time::Sleep;

use super::backoff::Backoff;
use super::policy::PhaseRetries;
use super::rng::Rng;
use super::send::{one, Ctx, Sent};
use crate::record::FailureKind;
use crate::scenario::retry::{RetryFailure, RetryPolicy};

/// An open-loop request of a phase with a retry policy, as its own task.
pub(super) async fn open_loop(
    ctx: Rc<Ctx>,
    phase: usize,
    kind: usize,
    replay: Option<u32>,
    at: Instant,
) {
    let Some(r) = ctx.retries[phase].as_ref() else {
        return;
    };
    let mut rng = r.next_stream();
    ctx.recorder.borrow_mut().client_request(phase);
    let deadline = std::pin::pin!(tokio::time::sleep(ctx.timeouts[phase]));
    send(&ctx, phase, kind, replay, at, deadline, &mut rng).await;
}

/// Sends a request intended at `intended` and retries it as the phase's policy says (a
/// phase without one: a single attempt). The caller has counted the request as intended.
/// `rng`: the jitter stream. Returns how the last attempt ended.
pub(super) async fn send(
    ctx: &Ctx,
    phase: usize,
    kind: usize,
    replay: Option<u32>,
    intended: Instant,
    mut deadline: Pin<&mut Sleep>,
    rng: &mut Rng,
) -> Sent {
    let Some(r) = ctx.retries[phase].as_ref() else {
        let sent = one(ctx, phase, kind, replay, intended, deadline).await;
        if sent != Sent::Dropped {
            ctx.recorder
                .borrow_mut()
                .client_try(phase, false, sent.is_2xx());
        }
        return sent;
    };
    if let Some(b) = &r.budget {
        b.borrow_mut().on_first(Instant::now());
    }
    let mut backoff = Backoff::new(&r.policy);
    let mut at = intended;
    let mut attempt = 0;
    loop {
        let sent = one(ctx, phase, kind, replay, at, deadline.as_mut()).await;
        if sent == Sent::Dropped {
            return sent;
        }
        attempt += 1;
        if !may_retry(ctx, r, phase, sent, attempt) {
            return sent;
        }
        let wait = backoff.next(&r.policy, rng);
        if ctx.cancel.is_cancelled() {
            return sent;
        }
        tokio::time::sleep(wait).await;
        // A retry is meant to go when its backoff ends: its latency counts from then.
        at = Instant::now();
    }
}

/// Records an attempt that ended as `sent`, its `attempt`-th, and says whether it is
/// retried: a retryable answer, attempts left, and the budget (if any) allows it.
fn may_retry(ctx: &Ctx, r: &PhaseRetries, phase: usize, sent: Sent, attempt: u32) -> bool {
    let mut rec = ctx.recorder.borrow_mut();
    rec.client_try(phase, attempt > 1, sent.is_2xx());
    if !retryable(&r.policy, sent) {
        return false;
    }
    if attempt >= r.policy.attempts {
        rec.client_retries_exhausted(phase);
        return false;
    }
    let allowed = (r.budget.as_ref()).is_none_or(|b| b.borrow_mut().try_retry(Instant::now()));
    if !allowed {
        rec.client_retry_suppressed(phase);
    }
    allowed
}

/// Whether `sent` is an answer `policy` retries.
fn retryable(policy: &RetryPolicy, sent: Sent) -> bool {
    match sent {
        Sent::Status(s) => policy.on_status.contains(&s),
        Sent::Failed(kind) => {
            let as_policy = match kind {
                FailureKind::Timeout => RetryFailure::Timeout,
                FailureKind::Refused => RetryFailure::Refused,
                FailureKind::Reset => RetryFailure::Reset,
                FailureKind::Incomplete => RetryFailure::Incomplete,
                FailureKind::Cancelled | FailureKind::Other => return false,
            };
            policy.on_failure.contains(&as_policy)
        }
        Sent::Dropped => false,
    }
}
