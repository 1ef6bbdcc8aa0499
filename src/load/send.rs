//! One request from send to record, and what every request task shares: the open-loop
//! dispatcher, closed-loop users and self-disabling clients all send through [`one`].

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

use super::client::Client;
use super::rows::RowPicker;
use crate::record::{Ending, FailureKind, Outcome, Recorder};
use crate::scenario::replay::ReplayRequest;

/// Everything one request task needs; lives on the load thread only.
pub(super) struct Ctx {
    pub(super) client: Client,
    /// Each kind's data-row picker; a row is picked as its request's id is, at send time,
    /// so ids and rows follow the same order.
    pub(super) rows: RefCell<Vec<RowPicker>>,
    /// Per phase, a replay phase's logged requests (their method and path).
    pub(super) replays: Vec<Option<Arc<Vec<ReplayRequest>>>>,
    pub(super) recorder: Rc<RefCell<Recorder>>,
    pub(super) in_flight: Cell<u64>,
    pub(super) next_id: Cell<u64>,
    /// Per phase, its requests' client timeout: the phase's `client_timeout`, else
    /// `load.client_timeout`. A retry waits its own phase's, whatever triggered it.
    pub(super) timeouts: Vec<Duration>,
    pub(super) max_in_flight: u64,
    /// `load.max_connections`' slots (see [`super::slots`]).
    pub(super) slots: super::slots::Slots,
    pub(super) cancel: CancellationToken,
    /// Per phase, its retry policy and budget (`None`: the phase retries nothing).
    pub(super) retries: Vec<Option<super::policy::PhaseRetries>>,
}

/// How one request ended, as the code that may retry it needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    /// A response with this status.
    Status(u16),
    /// No response.
    Failed(FailureKind),
    /// Not sent: `max_in_flight` was reached.
    Dropped,
}

impl Sent {
    pub(super) fn status(self) -> Option<u16> {
        match self {
            Sent::Status(s) => Some(s),
            Sent::Failed(_) | Sent::Dropped => None,
        }
    }

    pub(super) fn is_2xx(self) -> bool {
        self.status().is_some_and(|s| (200..300).contains(&s))
    }
}

/// A request between its send and its record. Dropped unrecorded (the run was stopped and
/// its task dropped), it records the request as cancelled, so every request is counted
/// exactly once however the run ends.
struct InFlight<'a> {
    ctx: &'a Ctx,
    phase: usize,
    kind: usize,
    replay: Option<u32>,
    intended: Instant,
    id: u64,
    recorded: bool,
}

impl InFlight<'_> {
    fn record(&mut self, outcome: &Outcome) {
        self.ctx.recorder.borrow_mut().record(outcome);
        self.recorded = true;
    }

    fn failed(&self, kind: FailureKind, message: String) -> Outcome {
        Outcome {
            phase: self.phase,
            kind: self.kind,
            intended: self.intended,
            sent: None,
            first_byte: None,
            done: Instant::now(),
            ending: Ending::Failed { kind, message },
            fpm: None,
            id: self.id,
            replay: self.replay,
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            let o = self.failed(FailureKind::Cancelled, "the run was stopped".into());
            self.record(&o);
        }
        self.ctx.in_flight.set(self.ctx.in_flight.get() - 1);
    }
}

/// Sends one request intended for `intended` and records how it ended. `deadline` is the
/// caller's timer, re-armed here to the phase's client timeout. `replay`: the logged request of a
/// replay phase it sends (its method and path replace the kind's). Returns how it ended.
pub(super) async fn one(
    ctx: &Ctx,
    phase: usize,
    kind: usize,
    replay: Option<u32>,
    intended: Instant,
    mut deadline: Pin<&mut Sleep>,
) -> Sent {
    let n = ctx.in_flight.get() + 1;
    if n > ctx.max_in_flight {
        ctx.recorder
            .borrow_mut()
            .on_dropped(phase, kind, Instant::now());
        return Sent::Dropped;
    }
    ctx.in_flight.set(n);
    let now = Instant::now();
    ctx.recorder.borrow_mut().on_send(phase, kind, now, n);
    let id = ctx.next_id.get();
    ctx.next_id.set(id + 1);
    let row = ctx.rows.borrow_mut()[kind].pick();
    let line = replay.and_then(|i| {
        let entries = ctx.replays[phase].as_ref()?;
        Some(entries[i as usize].line.as_bytes())
    });
    let mut req = InFlight {
        ctx,
        phase,
        kind,
        replay,
        intended,
        id,
        recorded: false,
    };
    let timeout = ctx.timeouts[phase];
    deadline
        .as_mut()
        .reset(tokio::time::Instant::from_std(now) + timeout);
    let outcome = match tokio::select! {
        biased;
        x = async {
            // A wait for a connection counts against the client timeout too.
            let (_slot, waited) = ctx.slots.take().await;
            if let Some(w) = waited {
                ctx.recorder.borrow_mut().on_connection_wait(phase, kind, w);
            }
            ctx.client.exchange(kind, id, row, line).await
        } => Ok(x),
        () = deadline.as_mut() => Err(()),
    } {
        Ok(x) => Outcome {
            phase,
            kind,
            intended,
            sent: x.sent,
            first_byte: x.first_byte,
            done: x.done,
            ending: x.ending,
            fpm: x.fpm,
            id,
            replay,
        },
        Err(_) => req.failed(
            FailureKind::Timeout,
            format!(
                "no response within the client timeout ({} ms)",
                timeout.as_millis()
            ),
        ),
    };
    req.record(&outcome);
    ctx.client.log_handshakes(&ctx.recorder);
    match outcome.ending {
        Ending::Response { status } => Sent::Status(status),
        Ending::Failed { kind, .. } => Sent::Failed(kind),
    }
}
