//! What a population of self-disabling clients did in one phase (`pattern = "clients"`):
//! how much it meant to send, what it sent, what got through, and the clients it lost.

use serde::{Deserialize, Serialize};

/// One `clients` phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClientsPhase {
    /// The phase's name.
    pub phase: String,
    /// Clients at the phase's start.
    pub clients: u32,
    /// Batches the clients meant to send had none switched off (one request each).
    pub intended: u64,
    /// Requests sent, retries included.
    pub attempted: u64,
    /// Of those, retries (a try after a disabling answer within one batch).
    pub retries: u64,
    /// Batches that got a 2xx: the goodput.
    pub succeeded: u64,
    /// `attempted / (intended batches actually started)`: the retry amplification factor.
    pub amplification: f64,
    /// Clients that switched themselves off for good.
    pub lost: u32,
    /// When each was lost, ms after the load's start, in order.
    pub lost_at_ms: Vec<u64>,
    /// Batches started (by clients still on).
    #[serde(skip)]
    pub started: u64,
}

impl ClientsPhase {
    /// A batch starts (its first try).
    pub fn on_batch(&mut self) {
        self.started += 1;
    }

    /// A try ended: `retry` if it was not the batch's first, `ok` if it got a 2xx.
    pub fn on_try(&mut self, retry: bool, ok: bool) {
        self.attempted += 1;
        self.retries += u64::from(retry);
        self.succeeded += u64::from(ok);
        self.amplification = self.attempted as f64 / self.started.max(1) as f64;
    }

    /// A client switched itself off at `t_ms`.
    pub fn on_lost(&mut self, t_ms: u64) {
        self.lost += 1;
        self.lost_at_ms.push(t_ms);
    }
}
