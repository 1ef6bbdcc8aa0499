//! What the clients of one phase did, for a phase of self-disabling clients (`pattern =
//! "clients"`) or one whose clients retry (`[phase.retry]`): how much they meant to send,
//! what they sent, what got through, the retries the budget refused, and the clients lost.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// One phase with client behaviour.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClientsPhase {
    /// The phase's name.
    pub phase: String,
    /// Clients at the phase's start (`clients` pattern; 0 for other patterns).
    pub clients: u32,
    /// Requests the clients meant to send, retries not counted: the schedule's requests
    /// (open loop), the users' requests (closed loop), or the batches the clients would
    /// have sent had none switched off (one request each).
    pub intended: u64,
    /// Requests sent, retries included.
    pub attempted: u64,
    /// Of those, retries (a later attempt of the same request or batch).
    pub retries: u64,
    /// Requests (batches) that ended with a 2xx, at the first attempt or a retry.
    pub succeeded: u64,
    /// `attempted / (intended requests actually started)`: the retry amplification factor.
    pub amplification: f64,
    /// Retries the retry budget refused: the request ended with the answer it had.
    #[serde(default)]
    pub retries_suppressed: u64,
    /// Requests whose last allowed attempt still got a retryable answer.
    #[serde(default)]
    pub retries_exhausted: u64,
    /// `succeeded` per second of the phase's planned length: the goodput.
    #[serde(default)]
    pub goodput_per_s: f64,
    /// Requests (batches) that ended with a 2xx, per second since the load's start (index =
    /// second): when the goodput fell and when it came back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goodput_by_second: Vec<u64>,
    /// Clients that switched themselves off for good.
    pub lost: u32,
    /// When each was lost, ms after the load's start, in order.
    pub lost_at_ms: Vec<u64>,
    /// Batches started (by clients still on).
    #[serde(skip)]
    pub started: u64,
}

impl ClientsPhase {
    /// A batch starts (its first try); its population planned it in `intended` already.
    pub fn on_batch(&mut self) {
        self.started += 1;
    }

    /// A client switched itself off at `t_ms`.
    pub fn on_lost(&mut self, t_ms: u64) {
        self.lost += 1;
        self.lost_at_ms.push(t_ms);
    }
}

impl super::Recorder {
    /// A request of phase `phase` starts whose population plans nothing ahead (open and
    /// closed loop): it is intended as it starts.
    pub fn client_request(&mut self, phase: usize) {
        let c = self.clients_of(phase);
        c.intended += 1;
        c.started += 1;
    }

    /// An attempt of phase `phase` ended now: `retry` if it was not its request's first,
    /// `ok` if it got a 2xx.
    pub fn client_try(&mut self, phase: usize, retry: bool, ok: bool) {
        let second = Instant::now()
            .saturating_duration_since(self.load_start)
            .as_secs() as usize;
        let secs = (self.phases.get(phase)).map_or(1.0, |p| p.duration_ms as f64 / 1000.0);
        let c = self.clients_of(phase);
        c.attempted += 1;
        c.retries += u64::from(retry);
        c.amplification = c.attempted as f64 / c.started.max(1) as f64;
        if ok {
            c.succeeded += 1;
            c.goodput_per_s = c.succeeded as f64 / secs;
            if c.goodput_by_second.len() <= second {
                c.goodput_by_second.resize(second + 1, 0);
            }
            c.goodput_by_second[second] += 1;
        }
    }

    /// The budget refused a retry of phase `phase`.
    pub fn client_retry_suppressed(&mut self, phase: usize) {
        self.clients_of(phase).retries_suppressed += 1;
    }

    /// A request of phase `phase` used its last attempt and still failed retryably.
    pub fn client_retries_exhausted(&mut self, phase: usize) {
        self.clients_of(phase).retries_exhausted += 1;
    }
}
