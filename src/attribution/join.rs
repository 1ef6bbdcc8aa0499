//! Reading the logs (only what the failed requests need) and joining them per request.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::logs::{self, FpmEvent, FpmEventKind, NginxAccess, NginxError};
use super::{Attributed, Cause};
use crate::record::{FailedEnding, FailedRequest, FailureKind};

/// How far (s) an fpm line may be from nginx's line for the same failure: both logs stamp
/// whole seconds, and fpm's heartbeat acts up to a second after the limit.
const FPM_JOIN_SLACK_S: i64 = 2;

/// The log lines the failed requests need.
#[derive(Debug, Default)]
pub struct Logs {
    /// nginx access lines of failed ids, with the raw line.
    pub access: HashMap<u64, (NginxAccess, String)>,
    /// nginx error lines of the connections those requests used.
    pub errors: HashMap<u64, Vec<NginxError>>,
    /// php-fpm access lines of failed ids: (pid, raw line).
    pub fpm_access: HashMap<u64, (u32, String)>,
    /// php-fpm log lines about children (terminations, signals, worker stderr).
    pub events: Vec<FpmEvent>,
    /// Indexes into `events` of terminations and signals (few, unlike stderr lines).
    pub deaths: Vec<usize>,
    /// Indexes into `events` of each child's stderr lines.
    pub stderr_by_pid: HashMap<u32, Vec<usize>>,
    /// UTC offsets the daemons write local times in (from their access logs).
    pub nginx_offset_s: Option<i32>,
    pub fpm_offset_s: Option<i32>,
    /// The stack's zone, for logs whose lines do not declare one.
    pub zone_offset_s: i32,
}

fn lines(dir: &Path, name: &str, notes: &mut Vec<String>) -> Vec<String> {
    let path = dir.join(name);
    match std::fs::File::open(&path) {
        Ok(f) => BufReader::new(f).lines().map_while(Result::ok).collect(),
        Err(e) => {
            notes.push(format!(
                "{} not readable ({e}): causes that need it show as unexplained",
                path.display()
            ));
            Vec::new()
        }
    }
}

impl Logs {
    /// Reads `nginx-access.log`, `nginx-error.log`, `php-fpm-access.log` and `php-fpm.log`
    /// from `dir`, keeping only lines about `ids`. `zone_offset_s` is the stack's zone, for
    /// lines that do not declare theirs.
    pub fn read(dir: &Path, ids: &HashSet<u64>, zone_offset_s: i32) -> (Logs, Vec<String>) {
        let mut notes = Vec::new();
        let mut l = Logs {
            zone_offset_s,
            ..Logs::default()
        };
        if ids.is_empty() {
            return (l, notes);
        }
        for line in lines(dir, "nginx-access.log", &mut notes) {
            let Some(a) = logs::nginx_access(&line) else {
                continue;
            };
            l.nginx_offset_s = l.nginx_offset_s.or(a.utc_offset_s);
            if let Some(id) = a.id.filter(|id| ids.contains(id)) {
                l.access.insert(id, (a, line));
            }
        }
        let conns: HashSet<u64> = l.access.values().map(|(a, _)| a.conn).collect();
        for line in lines(dir, "nginx-error.log", &mut notes) {
            if let Some(e) = logs::nginx_error(&line).filter(|e| conns.contains(&e.conn)) {
                l.errors.entry(e.conn).or_default().push(e);
            }
        }
        for line in lines(dir, "php-fpm-access.log", &mut notes) {
            let Some(a) = logs::fpm_access(&line) else {
                continue;
            };
            l.fpm_offset_s = l.fpm_offset_s.or(a.utc_offset_s);
            if let Some(id) = a.id.filter(|id| ids.contains(id)) {
                l.fpm_access.insert(id, (a.pid, line));
            }
        }
        l.events = lines(dir, "php-fpm.log", &mut notes)
            .iter()
            .filter_map(|line| logs::fpm_event(line))
            .collect();
        for (i, e) in l.events.iter().enumerate() {
            if matches!(e.kind, FpmEventKind::Stderr { .. }) {
                l.stderr_by_pid.entry(e.pid).or_default().push(i);
            } else {
                l.deaths.push(i);
            }
        }
        (l, notes)
    }

    fn nginx_epoch_s(&self, e: &NginxError) -> i64 {
        logs::local_to_epoch_s(e.local, self.nginx_offset_s.unwrap_or(self.zone_offset_s))
    }

    fn fpm_epoch_s(&self, e: &FpmEvent) -> i64 {
        let offset = (self.fpm_offset_s.or(self.nginx_offset_s)).unwrap_or(self.zone_offset_s);
        logs::local_to_epoch_s(e.local, offset)
    }
}

/// What one nginx error line says, by the fixed texts nginx and php write (reference §3).
fn classify_line(line: &str) -> Option<Cause> {
    if line.contains("upstream timed out") {
        return Some(if line.contains("while connecting to upstream") {
            Cause::NginxConnectTimeout
        } else {
            Cause::NginxReadTimeout
        });
    }
    if line.contains("connect() to unix:")
        && line.contains("(11: Resource temporarily unavailable)")
    {
        return Some(Cause::UnixBacklogFull);
    }
    if line.contains("connect()")
        && (line.contains("(111: Connection refused)") || line.contains("(2: No such file"))
    {
        return Some(Cause::UpstreamDown);
    }
    if let Some(c) = classify_php(line) {
        return Some(c);
    }
    if line.contains("FastCGI sent in stderr") {
        // Warnings and notices on stderr do not fail a request.
        return None;
    }
    if line.contains("(104: Connection reset by peer)")
        || line.contains("upstream prematurely closed connection")
    {
        return Some(Cause::UpstreamDied);
    }
    if line.contains("[error]") || line.contains("[crit]") || line.contains("[alert]") {
        return Some(Cause::NginxOther);
    }
    None
}

/// PHP's fatal error texts, wherever they were logged.
fn classify_php(text: &str) -> Option<Cause> {
    if !text.contains("Fatal error") {
        return None;
    }
    Some(if text.contains("Maximum execution time") {
        Cause::MaxExecutionTime
    } else if text.contains("Allowed memory size") {
        Cause::MemoryLimit
    } else {
        Cause::PhpFatal
    })
}

/// Which cause wins when several lines name one: the line that decided nginx's status.
fn rank(c: Cause) -> u8 {
    match c {
        Cause::NginxConnectTimeout
        | Cause::NginxReadTimeout
        | Cause::UnixBacklogFull
        | Cause::UpstreamDown => 0,
        Cause::MaxExecutionTime | Cause::MemoryLimit => 1,
        Cause::PhpFatal => 2,
        Cause::UpstreamDied => 3,
        _ => 4,
    }
}

/// `request: "GET /io.php?ms=4000 HTTP/1.1"` → `GET /io.php?ms=4000`.
fn request_of(line: &str) -> Option<&str> {
    let r = line.split_once("request: \"")?.1.split_once('"')?.0;
    Some(r.rsplit_once(' ').map_or(r, |(req, _)| req))
}

/// Gives each nginx error line to a failed request on its connection. Requests on one
/// keep-alive connection run one after the other and nginx writes their lines in that
/// order, so lines and requests are matched in order: a line goes to the first request of
/// the same method and URI whose time span (whole seconds, ±1) holds it and that has no
/// status-deciding line yet. Lines that decide nothing (stderr warnings) join the first such
/// request without using it up.
fn assign_errors(logs: &Logs) -> HashMap<u64, Vec<&NginxError>> {
    struct Req<'a> {
        id: u64,
        start_s: i64,
        end_s: i64,
        request: &'a str,
        decided: bool,
    }
    let mut by_conn: HashMap<u64, Vec<Req>> = HashMap::new();
    for (id, (a, _)) in &logs.access {
        by_conn.entry(a.conn).or_default().push(Req {
            id: *id,
            start_s: (a.end_ms - a.request_ms).div_euclid(1000),
            end_s: a.end_ms.div_euclid(1000),
            request: &a.request,
            decided: false,
        });
    }
    let mut out: HashMap<u64, Vec<&NginxError>> = HashMap::new();
    for (conn, errors) in &logs.errors {
        let Some(reqs) = by_conn.get_mut(conn) else {
            continue;
        };
        reqs.sort_by_key(|r| (r.end_s, r.id));
        // Lines come in time order: requests that ended before a line, or already have
        // their deciding line at the front, are never candidates again (linear overall).
        let mut first = 0;
        for e in errors {
            let t = logs.nginx_epoch_s(e);
            while first < reqs.len() && (reqs[first].end_s + 1 < t || reqs[first].decided) {
                first += 1;
            }
            let decides = classify_line(&e.line).is_some();
            let fits = |r: &Req| {
                r.start_s - 1 <= t
                    && t <= r.end_s + 1
                    && request_of(&e.line).is_none_or(|q| q == r.request)
            };
            let pick = reqs[first..]
                .iter_mut()
                .take_while(|r| r.start_s - 1 <= t)
                .find(|r| fits(r) && !(decides && r.decided));
            if let Some(r) = pick {
                r.decided |= decides;
                out.entry(r.id).or_default().push(e);
            }
        }
    }
    out
}

/// Attributes each request (same order as `failed`).
pub fn classify(
    logs: &Logs,
    failed: &[FailedRequest],
    load_start_epoch_ms: i64,
) -> Vec<Attributed> {
    let errors = assign_errors(logs);
    let mut used_events: HashSet<usize> = HashSet::new();
    // Workers terminated by fpm also "exit on signal 15": that exit is not a second cause.
    let terminated: HashSet<u32> = logs
        .events
        .iter()
        .filter(|e| matches!(e.kind, FpmEventKind::Terminated { .. }))
        .map(|e| e.pid)
        .collect();
    // Requests whose worker died are matched to fpm's lines in time order, each line once.
    let mut order: Vec<usize> = (0..failed.len()).collect();
    order.sort_by_key(|&i| (failed[i].t_ms, failed[i].id));
    let mut verdicts: Vec<Option<Attributed>> = vec![None; failed.len()];
    for i in order {
        let r = &failed[i];
        let mut lines: Vec<String> = Vec::new();
        let access = logs.access.get(&r.id);
        if let Some((_, raw)) = access {
            lines.push(raw.clone());
        }
        let errs = errors.get(&r.id).cloned().unwrap_or_default();
        lines.extend(errs.iter().map(|e| e.line.clone()));
        let cause = match r.ending {
            FailedEnding::Client(FailureKind::Cancelled) => Cause::Cancelled,
            FailedEnding::Client(FailureKind::Timeout) => Cause::ClientTimeout,
            FailedEnding::Client(FailureKind::Refused) if access.is_none() => Cause::NginxDown,
            _ => {
                let from_nginx = errs
                    .iter()
                    .filter_map(|e| classify_line(&e.line).map(|c| (c, *e)))
                    .min_by_key(|(c, _)| rank(*c));
                match from_nginx {
                    Some((Cause::UpstreamDied, e)) => {
                        let t = logs.nginx_epoch_s(e);
                        match fpm_death(logs, t, request_of(&e.line), &terminated, &mut used_events)
                        {
                            Some((cause, line)) => {
                                lines.push(line);
                                cause
                            }
                            None => Cause::UpstreamDied,
                        }
                    }
                    Some((cause, _)) => cause,
                    None => {
                        let end_s = access.map_or(
                            (load_start_epoch_ms + r.t_ms as i64).div_euclid(1000),
                            |(a, _)| a.end_ms.div_euclid(1000),
                        );
                        match fpm_fatal(logs, r.id, end_s) {
                            Some((cause, fpm_lines)) => {
                                lines.extend(fpm_lines);
                                cause
                            }
                            None if r.reported_by_app => Cause::AppStatus,
                            None => {
                                if let Some((_, raw)) = logs.fpm_access.get(&r.id) {
                                    lines.push(raw.clone());
                                }
                                Cause::Unexplained
                            }
                        }
                    }
                }
            }
        };
        verdicts[i] = Some(Attributed {
            id: r.id,
            cause,
            lines,
        });
    }
    verdicts
        .into_iter()
        .map(|v| v.expect("every index visited"))
        .collect()
}

/// The php-fpm line that explains a worker dying under a request at `t` (epoch s): a
/// `request_terminate_timeout` termination of the same request line, else a SIGKILL.
fn fpm_death(
    logs: &Logs,
    t: i64,
    request: Option<&str>,
    terminated: &HashSet<u32>,
    used: &mut HashSet<usize>,
) -> Option<(Cause, String)> {
    let near = |e: &FpmEvent| (logs.fpm_epoch_s(e) - t).abs() <= FPM_JOIN_SLACK_S;
    let pick = |want: &dyn Fn(&FpmEvent) -> bool, used: &HashSet<usize>| {
        logs.deaths
            .iter()
            .map(|&i| (i, &logs.events[i]))
            .filter(|(i, e)| !used.contains(i) && near(e) && want(e))
            .min_by_key(|(_, e)| (logs.fpm_epoch_s(e) - t).abs())
            .map(|(i, _)| i)
    };
    let same_request = |e: &FpmEvent| match (&e.kind, request) {
        (FpmEventKind::Terminated { request: r }, Some(want)) => r == want,
        (FpmEventKind::Terminated { .. }, None) => true,
        _ => false,
    };
    if let Some(i) = pick(&same_request, used) {
        used.insert(i);
        return Some((Cause::FpmTerminateTimeout, logs.events[i].line.clone()));
    }
    let killed = |e: &FpmEvent| {
        matches!(e.kind, FpmEventKind::Signalled { signal: 9 }) && !terminated.contains(&e.pid)
    };
    if let Some(i) = pick(&killed, used) {
        used.insert(i);
        return Some((Cause::WorkerKilled, logs.events[i].line.clone()));
    }
    None
}

/// A PHP fatal in php-fpm's log from the worker that served `id` (when nginx did not log
/// the worker's stderr, e.g. `fastcgi.logging = Off`).
fn fpm_fatal(logs: &Logs, id: u64, end_s: i64) -> Option<(Cause, Vec<String>)> {
    let (pid, raw) = logs.fpm_access.get(&id)?;
    let stderr = logs.stderr_by_pid.get(pid)?;
    stderr
        .iter()
        .map(|&i| &logs.events[i])
        .find_map(|e| match &e.kind {
            FpmEventKind::Stderr { message }
                if e.pid == *pid && (logs.fpm_epoch_s(e) - end_s).abs() <= FPM_JOIN_SLACK_S =>
            {
                classify_php(message).map(|c| (c, vec![raw.clone(), e.line.clone()]))
            }
            _ => None,
        })
}

#[cfg(test)]
#[path = "join_tests.rs"]
mod tests;
