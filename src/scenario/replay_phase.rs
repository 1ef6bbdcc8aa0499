//! `replay = { log, format, speed, from, to }` of a `[[phase]]`, checked and loaded before
//! anything starts: the file exists and parses, the window lies inside the log and holds
//! requests, the speed is usable. Then each logged request gets the `[[request]]` whose
//! template it is sent with.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};

use super::plan::{Arrival, Phase, RequestKind};
use super::problems::Problems;
use super::raw::RawReplay;
use super::replay::{parse_log, path_matches, AlbFigures, LogFormat, Replay, ReplayRequest};
use super::replay::{LogEntry, MAX_LOG_BYTES, UNMATCHED_KIND};

/// Highest speed factor accepted: beyond it a second of log is under a millisecond.
const MAX_SPEED: f64 = 1000.0;

/// Checks and loads a phase's `replay`; `f` names a key of the phase. Returns the replay
/// (every request of kind 0 until [`assign_kinds`]) and the phase's length in ms: the
/// window's, divided by the speed.
pub fn replay(
    p: &mut Problems,
    f: &dyn Fn(&str) -> String,
    base_dir: &Path,
    raw: &RawReplay,
) -> Option<(Replay, u64)> {
    let before = p.0.len();
    let format = match raw.format.as_deref() {
        Some("alb") => Some(LogFormat::Alb),
        Some("nginx") | Some("combined") => Some(LogFormat::Nginx),
        Some(other) => {
            p.push(f("replay.format"), format!("\"{other}\" is not a log format fpmlab replays: use \"alb\" (AWS ALB access log) or \"nginx\" (nginx's combined format)"));
            None
        }
        None => {
            p.push(f("replay.format"), "format is missing: add format = \"alb\" (AWS ALB access log) or format = \"nginx\" (combined)");
            None
        }
    };
    let speed = raw.speed.unwrap_or(1.0);
    if !(speed.is_finite() && speed > 0.0 && speed <= MAX_SPEED) {
        p.push(f("replay.speed"), format!("{speed} is not a speed factor: give a number above 0 and at most {MAX_SPEED} (1 = the log's pace, 2 = twice as fast)"));
    }
    let from = time(p, &f("replay.from"), raw.from.as_deref());
    let to = time(p, &f("replay.to"), raw.to.as_deref());
    let Some(log) = &raw.log else {
        p.push(
            f("replay.log"),
            "log is missing: add log = \"FILE\" (relative to the scenario file)",
        );
        return None;
    };
    let path = base_dir.join(log);
    let (bytes, sha256) = match read_log(&path) {
        Ok(x) => x,
        Err(e) => {
            p.push(f("replay.log"), e);
            return None;
        }
    };
    let format = format?;
    let parsed = parse_log(&bytes, format);
    let Some(first_line) = parsed.first_line.clone() else {
        p.push(
            f("replay.log"),
            format!(
                "{} has no lines: give a log with requests in it",
                path.display()
            ),
        );
        return None;
    };
    if parsed.entries.is_empty() {
        let why = parsed
            .bad_examples
            .first()
            .map_or(String::new(), |b| format!("\n    why: {}", b.reason));
        p.push(f("replay.log"), format!("none of the {} lines of {} parses as {}; the first line is:\n      {first_line}{why}\n    fix: check format (\"alb\" or \"nginx\") or convert the log", parsed.lines, path.display(), format.describe()));
        return None;
    }
    // The log covers whole seconds from its first arrival to its last.
    let first = parsed.entries[0].arrival_us;
    let last = parsed.entries[parsed.entries.len() - 1].arrival_us;
    let (log_from, log_to) = (floor_s(first), floor_s(last) + 1_000_000);
    let from = from.unwrap_or(Some(log_from));
    let to = to.unwrap_or(Some(log_to));
    let (Some(from), Some(to)) = (from, to) else {
        return None;
    };
    if from >= to {
        p.push(
            f("replay.to"),
            format!(
                "the window ends ({}) before it starts ({}): give to after from",
                rfc3339(to),
                rfc3339(from)
            ),
        );
        return None;
    }
    if from < log_from || to > log_to {
        let key = if from < log_from {
            "replay.from"
        } else {
            "replay.to"
        };
        p.push(f(key), format!("the window {} to {} reaches outside the log, which covers {} to {}: pick from and to inside it, or leave them out to replay the whole log", rfc3339(from), rfc3339(to), rfc3339(log_from), rfc3339(log_to)));
        return None;
    }
    if p.0.len() != before {
        return None;
    }
    let in_window: Vec<&LogEntry> = parsed
        .entries
        .iter()
        .filter(|e| (from..to).contains(&e.arrival_us))
        .collect();
    if in_window.is_empty() {
        p.push(
            f("replay.from"),
            format!(
                "no request of the log arrived between {} and {}: widen the window",
                rfc3339(from),
                rfc3339(to)
            ),
        );
        return None;
    }
    let duration_ms = ((to - from) as f64 / speed / 1000.0).ceil().max(1.0) as u64;
    let entries: Vec<ReplayRequest> = in_window
        .iter()
        .map(|e| {
            let offset = (e.arrival_us - from) as f64;
            ReplayRequest {
                at_us: (offset / speed).floor() as u64,
                second: ((e.arrival_us - from) / 1_000_000) as u32,
                kind: 0,
                line: format!("{} {}", e.method, e.path).into_boxed_str(),
                method_len: e.method.len() as u8,
                log_line: e.line,
            }
        })
        .collect();
    let production = if format == LogFormat::Alb {
        let seconds = ((to - from + 999_999) / 1_000_000) as usize;
        let mut by_second = vec![Vec::new(); seconds];
        for e in &in_window {
            by_second[((e.arrival_us - from) / 1_000_000) as usize].extend(e.alb);
        }
        (by_second.iter().enumerate())
            .map(|(s, times)| AlbFigures::of(s as u64, times.iter()))
            .collect()
    } else {
        Vec::new()
    };
    let production_total = (format == LogFormat::Alb)
        .then(|| AlbFigures::of(0, in_window.iter().filter_map(|e| e.alb.as_ref())));
    let requests = entries.len() as u64;
    Some((
        Replay {
            log: std::fs::canonicalize(&path).unwrap_or(path),
            format,
            sha256,
            speed,
            from: rfc3339(from),
            to: rfc3339(to),
            from_epoch_us: from,
            to_epoch_us: to,
            log_lines: parsed.lines,
            bad_lines: parsed.bad,
            bad_examples: parsed.bad_examples,
            requests,
            outside_window: parsed.entries.len() as u64 - requests,
            unmatched: 0,
            entries: Arc::new(entries),
            production: Arc::new(production),
            production_total,
        },
        duration_ms,
    ))
}

/// Gives every replayed request the first `[[request]]` (in scenario order) of its method
/// whose `replay_match` (default: its path without the query) matches the logged path.
/// Requests nothing matches get a plain kind of their own, appended to `requests` with
/// weight 0 (so other phases never pick it).
pub fn assign_kinds(p: &mut Problems, phases: &mut [Phase], requests: &mut Vec<RequestKind>) {
    let patterns: Vec<String> = requests
        .iter()
        .map(|r| {
            r.replay_match
                .clone()
                .unwrap_or_else(|| r.path.split('?').next().unwrap_or("").to_string())
        })
        .collect();
    let mut unmatched_kind = None;
    for ph in phases.iter_mut() {
        let Arrival::Replay(replay) = &mut ph.arrival else {
            continue;
        };
        let mut unmatched = 0;
        let mut entries = (*replay.entries).clone();
        for e in &mut entries {
            let found = (requests.iter().zip(&patterns))
                .position(|(r, pat)| r.method == e.method() && path_matches(pat, e.path()));
            e.kind = match found {
                Some(k) => k as u32,
                None => {
                    unmatched += 1;
                    *unmatched_kind.get_or_insert(requests.len()) as u32
                }
            };
        }
        replay.unmatched = unmatched;
        replay.entries = Arc::new(entries);
    }
    if let Some(k) = unmatched_kind {
        if requests.iter().any(|r| r.name == UNMATCHED_KIND) {
            p.push("request", format!("\"{UNMATCHED_KIND}\" names the kind of replayed requests no [[request]] matches: rename that [[request]]"));
        }
        debug_assert_eq!(k, requests.len());
        requests.push(RequestKind {
            name: UNMATCHED_KIND.into(),
            method: "GET".into(),
            path: "/".into(),
            weight: 0,
            headers: Default::default(),
            body: None,
            data: None,
            replay_match: None,
        });
    }
}

/// An optional RFC 3339 time: `None` if absent, `Some(None)` if it does not parse.
fn time(p: &mut Problems, field: &str, text: Option<&str>) -> Option<Option<i64>> {
    let text = text?;
    Some(match DateTime::parse_from_rfc3339(text) {
        Ok(t) => Some(t.timestamp_micros()),
        Err(e) => {
            p.push(
                field,
                format!(
                    "\"{text}\" is not an RFC 3339 time ({e}): write e.g. \"2024-05-01T10:00:00Z\""
                ),
            );
            None
        }
    })
}

fn read_log(path: &Path) -> Result<(Vec<u8>, String), String> {
    let (bytes, sha) = super::traffic::read_capped(path, MAX_LOG_BYTES)?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    if !gz {
        return Ok((bytes, sha));
    }
    // ALB logs arrive gzipped from S3: read them as they are.
    let mut text = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(flate2::read::GzDecoder::new(&bytes[..]), MAX_LOG_BYTES),
        &mut text,
    )
    .map_err(|e| {
        format!(
            "{} is not a readable gzip file ({e}): gunzip it or name the plain log",
            path.display()
        )
    })?;
    Ok((text, sha))
}

fn floor_s(us: i64) -> i64 {
    us.div_euclid(1_000_000) * 1_000_000
}

/// Epoch µs as RFC 3339 UTC, with as many fraction digits as it needs.
pub fn rfc3339(us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| us.to_string())
}
