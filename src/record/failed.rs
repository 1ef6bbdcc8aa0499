//! The requests that did not succeed, kept one by one (bounded) so that each can be joined
//! with the stack's log lines after the run: which component cut it (the attribution module).

use serde::{Deserialize, Serialize};

use super::outcome::FailureKind;

/// How many failed requests a config keeps; the rest are counted in
/// [`FailedList::over_cap`]. 100k entries are a few MiB.
pub const MAX_FAILED_KEPT: usize = 100_000;

/// How a failed request ended, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailedEnding {
    /// An HTTP response with a status of 400 or more.
    Status(u16),
    /// No (complete) HTTP response.
    Client(FailureKind),
}

impl FailedEnding {
    /// `502`, or the client failure kind (`timeout`, `reset`, …).
    pub fn label(&self) -> String {
        match self {
            FailedEnding::Status(s) => s.to_string(),
            FailedEnding::Client(k) => format!("{k:?}").to_lowercase(),
        }
    }
}

/// One failed request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FailedRequest {
    /// The `X-Fpmlab-Id` it carried (logged by nginx and php-fpm as `id=`).
    pub id: u64,
    /// Phase index.
    pub phase: usize,
    /// Request-kind index.
    pub kind: usize,
    /// Status or client failure.
    pub ending: FailedEnding,
    /// When it ended, ms after the load's start.
    pub t_ms: u64,
    /// Whether the app's timing headers came back (the app itself answered the status).
    pub reported_by_app: bool,
}

/// Failed requests in completion order, at most [`MAX_FAILED_KEPT`].
#[derive(Debug, Clone, Default)]
pub struct FailedList {
    /// The kept requests.
    pub kept: Vec<FailedRequest>,
    /// Failed requests not kept because the list was full: never silently dropped.
    pub over_cap: u64,
}

impl FailedList {
    /// Keeps `r`, or counts it when the list is full.
    pub fn push(&mut self, r: FailedRequest) {
        if self.kept.len() < MAX_FAILED_KEPT {
            self.kept.push(r);
        } else {
            self.over_cap += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_past_the_cap() {
        let mut l = FailedList::default();
        for id in 0..(MAX_FAILED_KEPT as u64 + 3) {
            l.push(FailedRequest {
                id,
                phase: 0,
                kind: 0,
                ending: FailedEnding::Status(502),
                t_ms: 0,
                reported_by_app: false,
            });
        }
        assert_eq!(l.kept.len(), MAX_FAILED_KEPT);
        assert_eq!(l.over_cap, 3);
        assert_eq!(
            FailedEnding::Client(FailureKind::Timeout).label(),
            "timeout"
        );
    }
}
