//! One line of nginx's `combined` log format: `$remote_addr - $remote_user [$time_local]
//! "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`. The `common`
//! format (the same without referer and user agent) parses too; extra trailing fields are
//! ignored.

use super::fields::{clip, request_line, split};
use super::LogEntry;

/// Fields of the `common` format, the least a line must have.
const MIN_FIELDS: usize = 7;

/// Parses one line. `$time_local` has one-second resolution and is when nginx logged the
/// response: the arrival here is that second's start; [`super::parse_log`] spreads the
/// requests of one second evenly over it.
pub fn parse(line_no: u64, line: &str) -> Result<LogEntry, String> {
    let f = split(line)?;
    if f.len() < MIN_FIELDS {
        return Err(format!(
            "{} fields where nginx's combined format has 9 (common: 7): a cut-off line?",
            f.len()
        ));
    }
    let arrival_us = epoch_us(f[3])?;
    if f[5]
        .parse::<u16>()
        .map_or(true, |s| !(100..1000).contains(&s))
    {
        return Err(format!("status \"{}\" is not a status code", clip(f[5])));
    }
    let (method, path) = request_line(f[4])?;
    Ok(LogEntry {
        line: line_no,
        arrival_us,
        method,
        path,
        alb: None,
    })
}

/// `$time_local` (`01/May/2024:10:00:00 +0000`), epoch µs.
pub fn epoch_us(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_str(text, "%d/%b/%Y:%H:%M:%S %z")
        .map(|t| t.timestamp_micros())
        .map_err(|_| {
            format!(
                "time \"{}\" is not nginx's $time_local like [01/May/2024:10:00:00 +0000]",
                clip(text)
            )
        })
}
