//! One line of an AWS Application Load Balancer access log. Fields, space-separated, quoted
//! where they may hold spaces: `type time elb client:port target:port
//! request_processing_time target_processing_time response_processing_time elb_status_code
//! target_status_code received_bytes sent_bytes "request" "user_agent" ssl_cipher
//! ssl_protocol target_group_arn "trace_id" "domain_name" "chosen_cert_arn"
//! matched_rule_priority request_creation_time ...`; newer logs append fields, which are
//! ignored.

use super::fields::{clip, request_line, split};
use super::{AlbTimes, LogEntry};

/// The connection types an ALB writes as the first field.
const TYPES: [&str; 6] = ["http", "https", "h2", "grpcs", "ws", "wss"];
/// Fields up to and including `"request"`: fewer is a cut-off line.
const MIN_FIELDS: usize = 13;
/// Index of `request_creation_time`.
const CREATION: usize = 21;

/// Parses one line. The arrival is `request_creation_time` (when the ALB received the
/// request); a log without it (older, or cut short after the request) falls back to `time`
/// (when the ALB sent the response) minus the three processing times, those of them that
/// were measured (`-1` means not measured, e.g. no target answered).
pub fn parse(line_no: u64, line: &str) -> Result<LogEntry, String> {
    let f = split(line)?;
    if !f.first().is_some_and(|t| TYPES.contains(t)) {
        return Err(format!(
            "\"{}\" is not an ALB entry type (one of {})",
            clip(f.first().unwrap_or(&"")),
            TYPES.join(", ")
        ));
    }
    if f.len() < MIN_FIELDS {
        return Err(format!(
            "{} fields where an ALB entry has at least {MIN_FIELDS} (type to \"request\"): a cut-off line?",
            f.len()
        ));
    }
    let time = epoch_us(f[1]).map_err(|e| format!("time {e}"))?;
    let request_us = seconds(f[5], "request_processing_time")?;
    let target_us = seconds(f[6], "target_processing_time")?;
    let response_us = seconds(f[7], "response_processing_time")?;
    let elb_status = status(f[8], "elb_status_code")?;
    let target_status = status(f[9], "target_status_code")?;
    let (method, path) = request_line(f[12])?;
    let created = f.get(CREATION).and_then(|t| epoch_us(t).ok());
    let arrival_us = created.unwrap_or_else(|| {
        let spent: u64 = [request_us, target_us, response_us].iter().flatten().sum();
        time - spent as i64
    });
    Ok(LogEntry {
        line: line_no,
        arrival_us,
        method,
        path,
        alb: Some(AlbTimes {
            request_us,
            target_us,
            response_us,
            elb_status,
            target_status,
        }),
    })
}

/// An ISO 8601 time as the ALB writes it (`2024-05-01T10:00:00.123456Z`), epoch µs.
pub fn epoch_us(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .map_err(|e| {
            format!(
                "\"{}\" is not an ISO 8601 time like 2024-05-01T10:00:00.123456Z ({e})",
                clip(text)
            )
        })
}

/// A processing time in seconds, µs; `-1` (not measured) is `None`.
fn seconds(text: &str, field: &str) -> Result<Option<u64>, String> {
    if text == "-1" {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(Some((s * 1e6).round() as u64)),
        _ => Err(format!("{field} \"{}\" is not seconds (or -1)", clip(text))),
    }
}

/// A status code; `-` (none: e.g. no target answered) is `None`.
fn status(text: &str, field: &str) -> Result<Option<u16>, String> {
    if text == "-" {
        return Ok(None);
    }
    match text.parse::<u16>() {
        Ok(s) if (100..1000).contains(&s) => Ok(Some(s)),
        _ => Err(format!(
            "{field} \"{}\" is not a status code (or -)",
            clip(text)
        )),
    }
}
