//! Server-side sampling on the run's timeline (php-fpm status, accept queue, workers).
//! Placeholder with the agreed API; the real sampler lands with the probe branch.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::clock::RunClock;
use crate::stack::Endpoints;

/// One sample.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sample {
    /// ms since the run's clock start.
    pub t_ms: u64,
}

/// Peaks over a config's samples.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SampleSummary {
    pub samples: u32,
    pub max_listen_queue: Option<u64>,
    pub peak_total_workers: Option<u64>,
    pub peak_worker_pss_kib: Option<u64>,
}

pub async fn run_sampler(
    _e: Endpoints,
    _c: RunClock,
    _i: Duration,
    cancel: CancellationToken,
) -> Vec<Sample> {
    cancel.cancelled().await;
    Vec::new()
}

pub fn summarize(_s: &[Sample]) -> SampleSummary {
    SampleSummary::default()
}
