//! A phase's retry policy on the load thread, with what its requests share: the budget and
//! the seeded jitter streams.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use super::budget::Budget;
use super::rng::Rng;
use crate::scenario::retry::RetryPolicy;
use crate::scenario::Plan;

/// One phase's retry policy and the state its requests share.
pub(super) struct PhaseRetries {
    pub(super) policy: RetryPolicy,
    /// Shared by all the phase's clients, as a client library's budget is.
    pub(super) budget: Option<RefCell<Budget>>,
    /// Open-loop requests started so far: each one's jitter stream comes from the seed and
    /// this count, so a run's backoff draws reproduce whatever order requests finish in.
    started: Cell<u64>,
    seed: u64,
}

/// Each phase's retries (`None` for a phase without a policy).
pub(super) fn for_plan(plan: &Plan) -> Vec<Option<PhaseRetries>> {
    let now = Instant::now();
    (plan.phases.iter().enumerate())
        .map(|(i, ph)| {
            let policy = ph.client.retry.clone()?;
            Some(PhaseRetries {
                budget: (policy.budget.as_ref()).map(|b| RefCell::new(Budget::new(b, now))),
                policy,
                started: Cell::new(0),
                seed: plan.seed ^ 0x7E72_0000_0000_0000 ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9),
            })
        })
        .collect()
}

impl PhaseRetries {
    /// A jitter stream for the next open-loop request.
    pub(super) fn next_stream(&self) -> Rng {
        let n = self.started.get();
        self.started.set(n + 1);
        Rng::new(self.seed ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D))
    }

    /// A jitter stream for closed-loop user or client `who`.
    pub(super) fn stream_of(&self, who: u32) -> Rng {
        Rng::new(self.seed ^ !(u64::from(who) + 1).wrapping_mul(0x2545_F491_4F6C_DD1D))
    }
}
