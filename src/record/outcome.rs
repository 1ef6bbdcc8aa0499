//! What the generator reports for each request: instants, never durations, so every
//! derived figure is computed in one place.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Client-side failures: the request got no HTTP response. Never merged with status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The TCP connection was refused (nothing listening).
    Refused,
    /// The connection was reset or closed before a complete response header arrived.
    Reset,
    /// The client timeout (the load balancer's idle timeout) expired.
    Timeout,
    /// Headers arrived but the body was cut short.
    Incomplete,
    /// The run was stopped (Ctrl-C or a failure) while the request was in flight.
    Cancelled,
    /// Anything else (the message goes to the run's error examples).
    Other,
}

/// The php side's own timestamps, from the app's response headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FpmTiming {
    /// `REQUEST_TIME_FLOAT`: when a php-fpm worker picked the request up, epoch µs.
    pub request_time_us: i64,
    /// `microtime(true)` at the script's start, epoch µs.
    pub script_start_us: i64,
    /// `microtime(true)` at the script's end, epoch µs.
    pub script_end_us: i64,
    /// The worker's pid.
    pub pid: u32,
    /// The script's peak memory (`memory_get_peak_usage(true)`), bytes, when reported.
    pub peak_memory_bytes: Option<u64>,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// An HTTP response, fully read.
    Response { status: u16 },
    /// No (complete) response.
    Failed { kind: FailureKind, message: String },
}

/// One finished request.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Phase index.
    pub phase: usize,
    /// Request-kind index.
    pub kind: usize,
    /// When the schedule said to send it.
    pub intended: Instant,
    /// When its first byte was handed to the connection (None if it never was).
    pub sent: Option<Instant>,
    /// When the response headers arrived.
    pub first_byte: Option<Instant>,
    /// When the body was fully read, or the failure happened.
    pub done: Instant,
    /// Response or failure.
    pub ending: Ending,
    /// php's timing headers, when the app answered them.
    pub fpm: Option<FpmTiming>,
    /// The `X-Fpmlab-Id` header it carried: the key into nginx's and php-fpm's access logs.
    pub id: u64,
    /// In a replay phase, the index of the logged request it replayed.
    pub replay: Option<u32>,
}
