//! Timeout-chain attribution (seed 002): which component cut each failed request.
//!
//! Not guessed from status codes: every failed request the recorder kept is joined with the
//! stack's own log lines. Its `X-Fpmlab-Id` finds its nginx access line (`id=`), whose
//! `conn=$connection` finds nginx's error lines (`*N`, the same number) for that request;
//! php-fpm's access log gives the worker pid for an id, and php-fpm's log says which worker
//! was terminated, killed, or printed a PHP fatal. Runs after the stack is down, when every
//! log line is written.

mod join;
pub mod logs;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::record::FailedList;

/// The component (or limit) that cut a request, in the order of the chain from the client
/// inwards. JSON: the snake_case name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The client (load balancer) timeout expired first; nginx logs 499 when it notices.
    ClientTimeout,
    /// The client could not connect to nginx at all.
    NginxDown,
    /// nginx `fastcgi_connect_timeout`: a full TCP backlog drops SYNs (504).
    NginxConnectTimeout,
    /// nginx `fastcgi_read_timeout` (504); the worker itself runs on.
    NginxReadTimeout,
    /// A full unix socket backlog refuses at once with EAGAIN (502).
    UnixBacklogFull,
    /// Nothing listens on php-fpm's socket: connection refused or no socket file (502).
    UpstreamDown,
    /// fpm `request_terminate_timeout` killed the worker (502, "execution timed out").
    FpmTerminateTimeout,
    /// The worker was killed by SIGKILL, e.g. by the OOM killer (502, "exited on signal 9").
    WorkerKilled,
    /// The worker's connection broke mid-request with no php-fpm line saying why (502).
    UpstreamDied,
    /// php `max_execution_time` (CPU time) ended the script (500, "Maximum execution time").
    MaxExecutionTime,
    /// php `memory_limit` ended the script (500, "Allowed memory size … exhausted").
    MemoryLimit,
    /// Another PHP fatal error (500).
    PhpFatal,
    /// The app itself answered this status (its timing headers came back): nobody cut it.
    AppStatus,
    /// nginx logged another error for this request.
    NginxOther,
    /// The run was stopped while the request was in flight.
    Cancelled,
    /// No log line explains it (see the examples).
    Unexplained,
}

impl Cause {
    /// Words for tables: the component and setting.
    pub fn label(self) -> &'static str {
        match self {
            Cause::ClientTimeout => "client/LB timeout",
            Cause::NginxDown => "nginx refused the connection",
            Cause::NginxConnectTimeout => "nginx fastcgi_connect_timeout (TCP backlog full)",
            Cause::NginxReadTimeout => "nginx fastcgi_read_timeout",
            Cause::UnixBacklogFull => "unix socket backlog full (EAGAIN)",
            Cause::UpstreamDown => "php-fpm down (refused)",
            Cause::FpmTerminateTimeout => "fpm request_terminate_timeout",
            Cause::WorkerKilled => "worker killed (SIGKILL)",
            Cause::UpstreamDied => "worker died mid-request (no fpm line)",
            Cause::MaxExecutionTime => "php max_execution_time",
            Cause::MemoryLimit => "php memory_limit",
            Cause::PhpFatal => "other php fatal error",
            Cause::AppStatus => "the app's own status",
            Cause::NginxOther => "other nginx error",
            Cause::Cancelled => "run stopped",
            Cause::Unexplained => "no log evidence",
        }
    }
}

/// How many example requests each cause keeps, and log lines per example.
const EXAMPLES_PER_CAUSE: usize = 3;
const LINES_PER_EXAMPLE: usize = 3;
/// Log lines in examples are cut to this many characters.
const MAX_LINE_CHARS: usize = 500;

/// Per-config attribution, in run.json as `attribution`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attribution {
    /// Failed requests (status >= 400 or no response) that were attributed.
    pub failed: u64,
    /// Failed requests past the recorder's cap: counted but not attributed.
    pub over_cap: u64,
    /// One entry per cause that occurred, in chain order.
    pub causes: Vec<CauseCount>,
    /// What limited the attribution (a missing log, an external stack, …).
    pub notes: Vec<String>,
}

/// The requests one cause cut.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CauseCount {
    /// The cause.
    pub cause: Cause,
    /// Its words, as in the table.
    pub label: String,
    /// Requests attributed to it.
    pub count: u64,
    /// What the client saw for them: status (`"502"`) or client failure (`"timeout"`).
    pub outcomes: BTreeMap<String, u64>,
    /// A few of them with the log lines that name the cause.
    pub examples: Vec<Example>,
}

/// One attributed request and its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Example {
    /// Its `X-Fpmlab-Id`.
    pub id: u64,
    /// What the client saw.
    pub outcome: String,
    /// The log lines that were joined to it (nginx access, nginx error, php-fpm).
    pub lines: Vec<String>,
}

/// One failed request with the cause that cut it and the log lines that show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributed {
    pub id: u64,
    pub cause: Cause,
    pub lines: Vec<String>,
}

/// Attributes every kept failed request using the logs in `logs_dir` (the native driver's
/// `<config>/logs`). `load_start_epoch_ms` places the recorder's times on the logs' clock;
/// `zone_offset_s` is the stack's zone (`stack::log_utc_offset_s`).
/// Returns the summary and each request's cause, in the list's order.
pub fn attribute(
    logs_dir: &Path,
    failed: &FailedList,
    load_start_epoch_ms: i64,
    zone_offset_s: i32,
) -> (Attribution, Vec<Attributed>) {
    let ids = failed.kept.iter().map(|r| r.id).collect();
    let (logs, mut notes) = join::Logs::read(logs_dir, &ids, zone_offset_s);
    let verdicts = join::classify(&logs, &failed.kept, load_start_epoch_ms);
    if failed.over_cap > 0 {
        notes.push(format!(
            "{} failed requests past the first {} were counted but not attributed",
            failed.over_cap,
            failed.kept.len()
        ));
    }
    (summarize(failed, &verdicts, notes), verdicts)
}

/// Counts attributed requests per cause, with examples.
pub fn summarize(failed: &FailedList, verdicts: &[Attributed], notes: Vec<String>) -> Attribution {
    let mut by_cause: BTreeMap<Cause, CauseCount> = BTreeMap::new();
    for (r, v) in failed.kept.iter().zip(verdicts) {
        let outcome = r.ending.label();
        let c = by_cause.entry(v.cause).or_insert_with(|| CauseCount {
            cause: v.cause,
            label: v.cause.label().into(),
            count: 0,
            outcomes: BTreeMap::new(),
            examples: Vec::new(),
        });
        c.count += 1;
        *c.outcomes.entry(outcome.clone()).or_default() += 1;
        if c.examples.len() < EXAMPLES_PER_CAUSE {
            c.examples.push(Example {
                id: r.id,
                outcome,
                lines: v
                    .lines
                    .iter()
                    .take(LINES_PER_EXAMPLE)
                    .map(|l| l.chars().take(MAX_LINE_CHARS).collect())
                    .collect(),
            });
        }
    }
    Attribution {
        failed: failed.kept.len() as u64,
        over_cap: failed.over_cap,
        causes: by_cause.into_values().collect(),
        notes,
    }
}

impl Attribution {
    /// Requests attributed to `cause`.
    pub fn count(&self, cause: Cause) -> u64 {
        self.causes
            .iter()
            .find(|c| c.cause == cause)
            .map_or(0, |c| c.count)
    }
}
