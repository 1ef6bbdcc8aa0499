//! `load.max_connections`: a fixed pool of connections to the target, as a load balancer
//! keeps to each of its targets. An exchange holds one slot from before it takes a
//! connection until it has put the connection back (or dropped it), so connections open =
//! slots held + idle ones ≤ the cap: the client opens a new connection only when none is
//! idle, that is when every open one is held. Requests that find no slot wait in arrival
//! order (tokio's semaphore is fair); the wait happens before `sent`, so it is part of the
//! request's client lag and latency, and is also recorded apart as queueing in the client.

use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// The pool's slots; without a cap, taking one costs a branch.
pub(super) struct Slots(Option<Semaphore>);

impl Slots {
    pub(super) fn new(max_connections: Option<usize>) -> Self {
        Slots(max_connections.map(Semaphore::new))
    }

    /// Takes a slot, waiting for one if all are held. Returns it (held until dropped) and
    /// how long the request waited (`None`: a slot was free, or there is no cap).
    pub(super) async fn take(&self) -> (Option<SemaphorePermit<'_>>, Option<Duration>) {
        let Some(sem) = &self.0 else {
            return (None, None);
        };
        if let Ok(p) = sem.try_acquire() {
            return (Some(p), None);
        }
        let asked = Instant::now();
        // The semaphore is never closed, so acquiring only ends with a permit.
        let p = sem.acquire().await.ok();
        (p, Some(asked.elapsed()))
    }
}
