//! Client behaviours of a phase as the plan carries them: how long a client waits before it
//! abandons a request, retries (which answers, how many attempts, backoff with jitter, a
//! retry budget) and how closed-loop users' think time is drawn. `retry` validates them
//! from the scenario's keys.

use serde::{Deserialize, Serialize};

/// What the clients of one phase do beyond sending: the default waits `load.client_timeout`,
/// retries nothing and thinks exactly `think_time`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClientBehaviour {
    /// The phase's client timeout, ms (`[[phase]] client_timeout`): a client that has no
    /// response after this long abandons the request and closes its connection (a failure
    /// of kind `timeout`, which its retry policy may retry). `None`: `load.client_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Retries of failed requests (`None`: a failed request is not retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// How a closed-loop user's think time is drawn, with `think_time_ms` as its mean.
    #[serde(default, skip_serializing_if = "ThinkDist::is_fixed")]
    pub think: ThinkDist,
}

impl ClientBehaviour {
    /// Nothing beyond sending: how most phases are.
    pub fn is_default(&self) -> bool {
        *self == ClientBehaviour::default()
    }

    /// The client timeout of the phase's requests, ms: its own, else the load's.
    pub fn timeout_ms_or(&self, load_timeout_ms: u64) -> u64 {
        self.timeout_ms.unwrap_or(load_timeout_ms)
    }
}

/// Distribution of a closed-loop user's think time; every one has `think_time` as its mean,
/// so changing the distribution keeps the offered load.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ThinkDist {
    /// Exactly `think_time`.
    #[default]
    Fixed,
    /// Uniform between 0 and twice `think_time`.
    Uniform,
    /// Exponential with mean `think_time` (users as a Poisson source between requests).
    Exponential,
}

impl ThinkDist {
    fn is_fixed(&self) -> bool {
        *self == ThinkDist::Fixed
    }
}

/// A request failure without a response that a policy may retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetryFailure {
    /// The client timeout expired.
    Timeout,
    /// The connection was refused.
    Refused,
    /// The connection was reset or closed before a response.
    Reset,
    /// The response was cut short.
    Incomplete,
}

/// How the wait before a retry is drawn; `n` counts retries from 0, and the exponential
/// ceiling is `min(cap, base·2ⁿ)` (the names of the AWS Architecture Blog's "Exponential
/// Backoff and Jitter").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// The ceiling itself: every client that failed together retries together.
    None,
    /// Uniform between 0 and the ceiling.
    Full,
    /// Half the ceiling plus a uniform draw over the other half.
    Equal,
    /// Uniform between `base` and three times the previous wait, capped at `cap`.
    Decorrelated,
}

/// Retries of one phase's requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RetryPolicy {
    /// Statuses that are retried.
    pub on_status: Vec<u16>,
    /// Failures without a response that are retried.
    pub on_failure: Vec<RetryFailure>,
    /// Attempts per request, the first included (≥ 2).
    pub attempts: u32,
    /// How the wait before each retry is drawn.
    pub jitter: Jitter,
    /// Backoff base, milliseconds: the first retry's ceiling.
    pub base_ms: u64,
    /// Backoff cap, milliseconds: no wait is longer.
    pub cap_ms: u64,
    /// The phase's retry budget (`None`: unlimited, every retryable failure is retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<RetryBudget>,
}

/// A retry budget shared by all of a phase's clients, as Finagle's `RetryBudget` and gRPC's
/// retry throttling bound retries: over the last `window_ms`, retries may be at most
/// `ratio` × first attempts plus `min_per_s` × the window's seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RetryBudget {
    /// Retries allowed per first attempt in the window (0.1 = 10 %).
    pub ratio: f64,
    /// Retries allowed per second whatever the traffic, so a quiet client can still retry.
    pub min_per_s: f64,
    /// The sliding window, milliseconds.
    pub window_ms: u64,
}
