//! Replay of an incident window from an access log (nginx `combined` or the AWS ALB's):
//! the log is read and parsed once, at validation, into the requests of the window with
//! their arrival times shifted to the phase start and divided by the speed factor; the
//! generator's ordinary open-loop schedule then sends them. For an ALB log, the
//! production figures of each second (counts, processing times, status codes) are kept to
//! set beside the reproduction's.

pub mod alb;
mod fields;
pub mod nginx;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// How many bad lines are kept as examples (all are counted).
pub const MAX_BAD_EXAMPLES: usize = 5;
/// Largest log accepted: every request of the window is held in memory during the load.
pub const MAX_LOG_BYTES: u64 = 512 * 1024 * 1024;
/// The request kind of logged requests no `[[request]]` matches.
pub const UNMATCHED_KIND: &str = "replay-unmatched";

/// The access-log formats fpmlab replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// AWS Application Load Balancer access log.
    Alb,
    /// nginx's `combined` (or `common`) log format.
    Nginx,
}

impl LogFormat {
    /// As the scenario spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Alb => "alb",
            LogFormat::Nginx => "nginx",
        }
    }

    /// What a line of this format looks like, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            LogFormat::Alb => "an AWS ALB access log (type time elb client:port target:port request_processing_time target_processing_time response_processing_time elb_status_code target_status_code received_bytes sent_bytes \"request\" ...)",
            LogFormat::Nginx => "nginx's combined log format ($remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\")",
        }
    }
}

/// A replay phase, resolved: what the log held, the window, and (not in run.json) the
/// requests to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Replay {
    /// The access log (resolved against the scenario's directory).
    pub log: PathBuf,
    /// Its format.
    pub format: LogFormat,
    /// SHA-256 of the log file (hex): says which log a run replayed.
    pub sha256: String,
    /// Speed factor: 1 replays at the log's pace, 2 twice as fast (arrival offsets halved).
    pub speed: f64,
    /// Start of the window, RFC 3339 UTC, inclusive.
    pub from: String,
    /// End of the window, RFC 3339 UTC, exclusive.
    pub to: String,
    /// Start of the window, epoch µs.
    pub from_epoch_us: i64,
    /// End of the window, epoch µs.
    pub to_epoch_us: i64,
    /// Non-blank lines in the log.
    pub log_lines: u64,
    /// Lines that did not parse: counted here, never replayed.
    pub bad_lines: u64,
    /// The first few of them, with their line numbers and why they did not parse.
    pub bad_examples: Vec<BadLine>,
    /// Requests in the window: what the phase sends.
    pub requests: u64,
    /// Parsed requests outside the window (not sent).
    pub outside_window: u64,
    /// Requests in the window no `[[request]]` matched: sent as plain requests of kind
    /// `replay-unmatched` (no headers or body beyond fpmlab's own).
    pub unmatched: u64,
    /// The requests to send, in time order (not in run.json: the log, its hash and the
    /// window say what was sent).
    #[serde(skip)]
    pub entries: Arc<Vec<ReplayRequest>>,
    /// The ALB's own figures for each second of the window (empty for nginx logs), to set
    /// beside the reproduction's.
    #[serde(skip)]
    pub production: Arc<Vec<AlbFigures>>,
    /// The ALB's figures over the whole window (`None` for nginx logs).
    #[serde(skip)]
    pub production_total: Option<AlbFigures>,
}

/// One request of a replay phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRequest {
    /// Intended send time, µs after the phase start (the log's offset ÷ speed, floored).
    pub at_us: u64,
    /// The second of the window it arrived in, in the log (0 = the window's first).
    pub second: u32,
    /// The request kind whose template gives its headers and body.
    pub kind: u32,
    /// `METHOD /path?query`, as sent.
    pub line: Box<str>,
    /// Length of the method in `line`.
    pub method_len: u8,
    /// Its line in the log (1-based).
    pub log_line: u64,
}

impl ReplayRequest {
    pub fn method(&self) -> &str {
        &self.line[..usize::from(self.method_len)]
    }

    pub fn path(&self) -> &str {
        &self.line[usize::from(self.method_len) + 1..]
    }
}

/// A line of the log that was not replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BadLine {
    /// Line number in the log, 1-based.
    pub line: u64,
    /// Why it did not parse.
    pub reason: String,
    /// The line (at most 200 characters).
    pub text: String,
}

/// One parsed log line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Line number, 1-based.
    pub line: u64,
    /// When the request arrived, epoch µs.
    pub arrival_us: i64,
    pub method: String,
    /// Path and query, relative to the target.
    pub path: String,
    /// The ALB's own figures (ALB logs only).
    pub alb: Option<AlbTimes>,
}

/// What an ALB logged about one request; `None` where it logged `-1` or `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlbTimes {
    pub request_us: Option<u64>,
    pub target_us: Option<u64>,
    pub response_us: Option<u64>,
    pub elb_status: Option<u16>,
    pub target_status: Option<u16>,
}

/// A log, parsed: the entries in arrival order, and what did not parse.
#[derive(Debug, Clone, Default)]
pub struct ParsedLog {
    /// Non-blank lines.
    pub lines: u64,
    pub entries: Vec<LogEntry>,
    pub bad: u64,
    pub bad_examples: Vec<BadLine>,
    /// The first non-blank line, for the message when nothing parsed.
    pub first_line: Option<String>,
}

/// Parses a whole log. Blank lines are skipped; every other line that does not parse is
/// counted, and the first few kept. Entries come out in arrival order (a log is written in
/// completion order). nginx's second-resolution times are spread: the k-th of n requests
/// logged in one second arrives k/n of the way into it, in log order, so a busy second is
/// not one burst at its start.
pub fn parse_log(bytes: &[u8], format: LogFormat) -> ParsedLog {
    let mut out = ParsedLog::default();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line_no = i as u64 + 1;
        out.lines += 1;
        let text = String::from_utf8_lossy(raw);
        if out.first_line.is_none() {
            out.first_line = Some(fields::clip(&text));
        }
        let parsed = match std::str::from_utf8(raw) {
            Err(e) => Err(format!("not UTF-8 text ({e})")),
            Ok(line) => match format {
                LogFormat::Alb => alb::parse(line_no, line),
                LogFormat::Nginx => nginx::parse(line_no, line),
            },
        };
        match parsed {
            Ok(e) => out.entries.push(e),
            Err(reason) => {
                out.bad += 1;
                if out.bad_examples.len() < MAX_BAD_EXAMPLES {
                    out.bad_examples.push(BadLine {
                        line: line_no,
                        reason,
                        text: fields::clip(&text),
                    });
                }
            }
        }
    }
    out.entries.sort_by_key(|e| e.arrival_us);
    if format == LogFormat::Nginx {
        spread_seconds(&mut out.entries);
    }
    out
}

/// Spreads each run of entries sharing one second evenly over it.
fn spread_seconds(entries: &mut [LogEntry]) {
    let mut start = 0;
    while start < entries.len() {
        let second = entries[start].arrival_us;
        let n = entries[start..]
            .iter()
            .take_while(|e| e.arrival_us == second)
            .count();
        for (k, e) in entries[start..start + n].iter_mut().enumerate() {
            e.arrival_us += (k as i64 * 1_000_000) / n as i64;
        }
        start += n;
    }
}

/// Whether a `[[request]]`'s `replay_match` pattern matches a logged path. With a `*`, the
/// pattern is a glob over the whole path and query (`*` = any characters, `/` and `?`
/// included); without one, it must equal the path with its query left out.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    if !pattern.contains('*') {
        let bare = path.split_once('?').map_or(path, |(p, _)| p);
        return pattern == bare;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !path.starts_with(first) || !path.ends_with(last) || path.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &path[first.len()..path.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// The ALB's figures over some requests (one second of the window, or all of it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AlbFigures {
    /// The second, counted from the window's start (0 for the whole window).
    pub t_s: u64,
    /// Requests that arrived in it.
    pub requests: u64,
    /// `request_processing_time` median over the requests where it was measured, µs.
    pub request_processing_p50_us: Option<u64>,
    /// `request_processing_time` 99th percentile, µs.
    pub request_processing_p99_us: Option<u64>,
    /// `target_processing_time` median (the target's answer, as the ALB timed it), µs.
    pub target_processing_p50_us: Option<u64>,
    /// `target_processing_time` 99th percentile, µs.
    pub target_processing_p99_us: Option<u64>,
    /// `response_processing_time` median, µs.
    pub response_processing_p50_us: Option<u64>,
    /// `response_processing_time` 99th percentile, µs.
    pub response_processing_p99_us: Option<u64>,
    /// The three processing times summed (the ALB's whole time for the request; only
    /// where all three were measured) median, µs.
    pub total_p50_us: Option<u64>,
    /// The three processing times summed, 99th percentile, µs.
    pub total_p99_us: Option<u64>,
    /// Requests whose target processing time was not measured (`-1`: no target answered).
    pub target_unmeasured: u64,
    /// `elb_status_code` counts (what clients saw); `-` where none was logged.
    pub elb_status: BTreeMap<String, u64>,
    /// `target_status_code` counts (what the targets answered); `-` where no target did.
    pub target_status: BTreeMap<String, u64>,
}

impl AlbFigures {
    /// The figures of `times`, labelled second `t_s`.
    pub fn of<'a>(t_s: u64, times: impl Iterator<Item = &'a AlbTimes>) -> Self {
        let mut f = AlbFigures {
            t_s,
            ..Default::default()
        };
        let (mut req, mut tgt, mut resp) = (Vec::new(), Vec::new(), Vec::new());
        let mut total = Vec::new();
        for t in times {
            f.requests += 1;
            req.extend(t.request_us);
            tgt.extend(t.target_us);
            resp.extend(t.response_us);
            if let (Some(a), Some(b), Some(c)) = (t.request_us, t.target_us, t.response_us) {
                total.push(a + b + c);
            }
            f.target_unmeasured += u64::from(t.target_us.is_none());
            *f.elb_status.entry(code(t.elb_status)).or_default() += 1;
            *f.target_status.entry(code(t.target_status)).or_default() += 1;
        }
        (f.request_processing_p50_us, f.request_processing_p99_us) = p50_p99(&mut req);
        (f.target_processing_p50_us, f.target_processing_p99_us) = p50_p99(&mut tgt);
        (f.response_processing_p50_us, f.response_processing_p99_us) = p50_p99(&mut resp);
        (f.total_p50_us, f.total_p99_us) = p50_p99(&mut total);
        f
    }

    /// Requests the clients saw answered with a 5xx.
    pub fn elb_5xx(&self) -> u64 {
        count_5xx(&self.elb_status)
    }
}

/// Requests with a 5xx status in a status → count map.
pub fn count_5xx(status: &BTreeMap<String, u64>) -> u64 {
    status
        .iter()
        .filter(|(s, _)| s.starts_with('5') && s.len() == 3)
        .map(|(_, n)| n)
        .sum()
}

fn code(status: Option<u16>) -> String {
    status.map_or_else(|| "-".to_string(), |s| s.to_string())
}

/// Nearest-rank median and 99th percentile of some values (sorted here).
pub fn p50_p99(values: &mut [u64]) -> (Option<u64>, Option<u64>) {
    if values.is_empty() {
        return (None, None);
    }
    values.sort_unstable();
    let rank = |q: f64| {
        let r = (q * values.len() as f64).ceil() as usize;
        values[r.clamp(1, values.len()) - 1]
    };
    (Some(rank(0.50)), Some(rank(0.99)))
}

#[cfg(test)]
mod tests;
