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
    /// second): when the goodput fell and when it came back. It runs at least to the
    /// phase's last second, zeros included, so an outage at the end of the phase shows (a
    /// run stopped before the phase's end stops at its last 2xx).
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

    /// Phase `phase` has run its planned length: its clients' goodput per second is
    /// extended with zeros to the phase's last second (requests still in flight may add
    /// seconds after it).
    pub fn on_phase_end(&mut self, phase: usize) {
        let Some(slot) = self.phases.get(phase) else {
            return;
        };
        let end_s = (slot.start_us / 1000 + slot.duration_ms).div_ceil(1000) as usize;
        if let Some((_, c)) = self.clients.iter_mut().find(|(p, _)| *p == phase) {
            if c.goodput_by_second.len() < end_s {
                c.goodput_by_second.resize(end_s, 0);
            }
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::record::Recorder;
    use crate::scenario::{Arrival, Phase};

    fn phase(name: &str, duration_ms: u64) -> Phase {
        Phase {
            name: name.into(),
            duration_ms,
            arrival: Arrival::Constant { rate: 10.0 },
            client: Default::default(),
        }
    }

    #[test]
    fn goodput_runs_to_the_phases_end_with_its_silent_seconds() {
        // The load started 2.5 s ago: a 2xx now ends in second 2, in the second phase
        // (2 s to 6.5 s).
        let load_start = Instant::now() - Duration::from_millis(2_500);
        let phases = [phase("warm", 2_000), phase("storm", 4_500)];
        let mut rec = Recorder::new(load_start, &phases, &[]);
        rec.client_request(1);
        rec.client_try(1, false, true);
        rec.client_request(1);
        rec.client_try(1, false, false);
        assert_eq!(rec.clients[0].1.goodput_by_second, vec![0, 0, 1]);
        // The first phase has no client figures: its end changes nothing.
        rec.on_phase_end(0);
        assert_eq!(rec.clients.len(), 1);
        // Nothing succeeded in seconds 3 to 6: the outage shows to the phase's end.
        rec.on_phase_end(1);
        let c = &rec.result().clients[0];
        assert_eq!(c.goodput_by_second, vec![0, 0, 1, 0, 0, 0, 0]);
        assert_eq!((c.attempted, c.succeeded), (2, 1));
        // Ending it twice changes nothing.
        rec.on_phase_end(1);
        assert_eq!(rec.clients[0].1.goodput_by_second.len(), 7);
    }
}
