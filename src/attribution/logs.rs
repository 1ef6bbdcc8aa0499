//! Parsers for the four log files the stack writes (formats set by
//! `docker/templates/*.tmpl`): nginx's access log (`fpmlab` format) and error log, php-fpm's
//! access log and its own log. Each parser takes one line and returns `None` for lines it
//! has no use for, so a foreign or truncated line never stops attribution.

use chrono::NaiveDateTime;

/// One nginx access log line, the fields attribution uses.
#[derive(Debug, Clone, PartialEq)]
pub struct NginxAccess {
    /// `$http_x_fpmlab_id`: the harness's request id (`None` for `-`: probes, foreign clients).
    pub id: Option<u64>,
    /// `$connection`: the same number as `*N` in nginx's error log.
    pub conn: u64,
    /// `$status` (499: the client closed the connection first).
    pub status: u16,
    /// `$msec`: when the line was written (the request's end), epoch ms.
    pub end_ms: i64,
    /// `$request_time`, ms: the request's start is `end_ms - request_ms`.
    pub request_ms: i64,
    /// UTC offset of nginx's local time in seconds, from `$time_iso8601`: the error log's
    /// timestamps are local time without a zone.
    pub utc_offset_s: Option<i32>,
    /// Method and URI (`GET /io.php?ms=4000`), as the error log's `request: "…"` has them.
    pub request: String,
}

/// Parses a line of the `fpmlab` log format.
pub fn nginx_access(line: &str) -> Option<NginxAccess> {
    let msec = field(line, "msec=")?;
    let end_ms = seconds_to_ms(msec)?;
    let request_ms = seconds_to_ms(field(line, "rt=")?)?;
    let conn = field(line, "conn=")?.parse().ok()?;
    let id = field(line, "id=").and_then(|v| v.parse().ok());
    // The status is the first token after the quoted request line.
    let after_request = line.split_once("\" ")?.1;
    let status = after_request.split_whitespace().next()?.parse().ok()?;
    let utc_offset_s = line
        .split_once('[')
        .and_then(|(_, r)| r.split_once(']'))
        .and_then(|(t, _)| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.offset().local_minus_utc());
    let request = line
        .split_once('"')
        .and_then(|(_, r)| r.split_once("\" "))
        .map(|(r, _)| r.rsplit_once(' ').map_or(r, |(req, _)| req).to_string())
        .unwrap_or_default();
    Some(NginxAccess {
        id,
        conn,
        status,
        end_ms,
        request_ms,
        utc_offset_s,
        request,
    })
}

/// One nginx error log line about a request (`*N` present).
#[derive(Debug, Clone, PartialEq)]
pub struct NginxError {
    /// Local time, whole seconds, as written (no zone).
    pub local: NaiveDateTime,
    /// The connection number `*N`.
    pub conn: u64,
    /// The whole line, for examples and classification.
    pub line: String,
}

/// Parses `2026/11/22 11:42:01 [error] 412#412: *15 upstream timed out …`.
pub fn nginx_error(line: &str) -> Option<NginxError> {
    let local = NaiveDateTime::parse_from_str(line.get(..19)?, "%Y/%m/%d %H:%M:%S").ok()?;
    let rest = line.get(20..)?;
    let (_, after) = rest.split_once(": *")?;
    let conn = after.split(' ').next()?.parse().ok()?;
    Some(NginxError {
        local,
        conn,
        line: line.to_string(),
    })
}

/// One php-fpm access log line.
#[derive(Debug, Clone, PartialEq)]
pub struct FpmAccess {
    /// The harness's request id (`None` for `-`).
    pub id: Option<u64>,
    /// Status the worker answered.
    pub status: u16,
    /// The worker's pid.
    pub pid: u32,
    /// UTC offset of php-fpm's local time, from the `%z` of the line's timestamp.
    pub utc_offset_s: Option<i32>,
}

/// Parses `2026-11-22T11:42:00+0000 id=2 "GET /loop.php" 500 pid=414 dur_ms=…`.
pub fn fpm_access(line: &str) -> Option<FpmAccess> {
    let id = field(line, "id=").and_then(|v| v.parse().ok());
    let pid = field(line, "pid=")?.parse().ok()?;
    let status = line
        .split_once("\" ")?
        .1
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let utc_offset_s = line
        .split(' ')
        .next()
        .and_then(|t| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%z").ok())
        .map(|t| t.offset().local_minus_utc());
    Some(FpmAccess {
        id,
        status,
        pid,
        utc_offset_s,
    })
}

/// What a php-fpm log line says about a worker.
#[derive(Debug, Clone, PartialEq)]
pub enum FpmEventKind {
    /// `request_terminate_timeout` fired: `… (request: "GET /io.php?ms=4000") execution timed
    /// out (2.096107 sec), terminating`. Holds the request line (`GET /io.php?ms=4000`).
    Terminated { request: String },
    /// `child N exited on signal S (…)`: killed (9: SIGKILL, the OOM killer's signal).
    Signalled { signal: u32 },
    /// `child N said into stderr: "…"` (decorated worker output: PHP fatals).
    Stderr { message: String },
}

/// One php-fpm log line about a child.
#[derive(Debug, Clone, PartialEq)]
pub struct FpmEvent {
    /// Local time as written: whole seconds, or microseconds under `log_level = debug`.
    pub local: NaiveDateTime,
    /// True when the stamp had sub-second digits.
    pub subsecond: bool,
    /// The child's pid.
    pub pid: u32,
    /// What happened.
    pub kind: FpmEventKind,
    /// The whole line.
    pub line: String,
}

/// Parses `[22-Nov-2026 11:41:14] WARNING: [pool www] child 30055, script … execution timed
/// out …`, `… child 30055 exited on signal 15 (SIGTERM) after …` and `… child 414 said into
/// stderr: "…"`. Also accepts the microsecond timestamps of `log_level = debug`.
pub fn fpm_event(line: &str) -> Option<FpmEvent> {
    let stamp = line.strip_prefix('[')?.split_once(']')?.0;
    let local = NaiveDateTime::parse_from_str(stamp, "%d-%b-%Y %H:%M:%S%.f").ok()?;
    let (_, after) = line.split_once("] child ")?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    let pid = digits.parse().ok()?;
    let rest = &after[digits.len()..];
    let kind = if rest.contains("execution timed out") {
        let request = rest
            .split_once("(request: \"")
            .and_then(|(_, r)| r.split_once("\")"))
            .map(|(r, _)| r.to_string())
            .unwrap_or_default();
        FpmEventKind::Terminated { request }
    } else if let Some(sig) = rest.strip_prefix(" exited on signal ") {
        let signal = sig.split(' ').next()?.parse().ok()?;
        FpmEventKind::Signalled { signal }
    } else if let Some(msg) = rest.strip_prefix(" said into stderr: ") {
        FpmEventKind::Stderr {
            message: msg.trim_matches('"').to_string(),
        }
    } else {
        return None;
    };
    Some(FpmEvent {
        local,
        subsecond: stamp.contains('.'),
        pid,
        kind,
        line: line.to_string(),
    })
}

/// Epoch milliseconds of a local time written by a process whose zone is `offset_s` east
/// of UTC. Which offset applies is the stack's rule (`stack::log_utc_offset_s`), unless the
/// log's own lines declare it (access logs carry `%z`).
pub fn local_to_epoch_ms(local: NaiveDateTime, offset_s: i32) -> i64 {
    local.and_utc().timestamp_millis() - i64::from(offset_s) * 1000
}

/// [`local_to_epoch_ms`] in whole seconds (the resolution of nginx's error log).
pub fn local_to_epoch_s(local: NaiveDateTime, offset_s: i32) -> i64 {
    local_to_epoch_ms(local, offset_s).div_euclid(1000)
}

/// The value after `key` up to the next space (`msec=1795.1 rt=…` → `1795.1`).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}"))? + 1 + key.len();
    line[at..].split(' ').next()
}

/// `1795347670.266` (seconds, up to ms) → ms, without float rounding.
fn seconds_to_ms(text: &str) -> Option<i64> {
    let (s, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut f: String = frac.chars().take(3).collect();
    while f.len() < 3 {
        f.push('0');
    }
    Some(s.parse::<i64>().ok()? * 1000 + f.parse::<i64>().ok()?)
}

#[cfg(test)]
#[path = "logs_tests.rs"]
mod tests;
