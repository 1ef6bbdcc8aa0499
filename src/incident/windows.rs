//! Error windows on the timeline (seed 004): the seconds in which requests failed, and
//! whether requests succeeded again afterwards.

use serde::{Deserialize, Serialize};

use crate::record::timeline::Bucket;

/// At most this many windows are listed; the rest are counted.
const MAX_WINDOWS: usize = 50;

/// In run.json as `error_windows`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorWindows {
    /// Runs of consecutive seconds with at least one failed request (status >= 400 or no
    /// response), in time order.
    pub windows: Vec<ErrorWindow>,
    /// Windows past the first 50, not listed.
    pub more_windows: u64,
    /// Seconds with a failed request, in all.
    pub error_seconds: u64,
    /// Some 2xx response ended after the last window: the requests recovered. `None` when
    /// nothing failed.
    pub recovered: Option<bool>,
    /// Start of the first second after the last window with a 2xx response.
    pub recovered_at_s: Option<u64>,
}

/// One window, `[from_s, to_s)` in seconds since the load's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorWindow {
    pub from_s: u64,
    pub to_s: u64,
    /// 4xx responses in the window.
    pub status_4xx: u64,
    /// 5xx responses in the window.
    pub status_5xx: u64,
    /// Client-side failures (timeouts, resets, …) in the window.
    pub client_failures: u64,
    /// 2xx responses in the window (a partial outage).
    pub status_2xx: u64,
}

/// Finds the windows in a timeline.
pub fn find(timeline: &[Bucket]) -> ErrorWindows {
    let mut out = ErrorWindows::default();
    let mut open: Option<ErrorWindow> = None;
    let mut all: Vec<ErrorWindow> = Vec::new();
    for b in timeline {
        let bad = b.status_4xx + b.status_5xx + b.client_failures;
        if bad == 0 {
            all.extend(open.take());
            continue;
        }
        out.error_seconds += 1;
        let w = open.get_or_insert(ErrorWindow {
            from_s: b.t_s,
            to_s: b.t_s,
            status_4xx: 0,
            status_5xx: 0,
            client_failures: 0,
            status_2xx: 0,
        });
        w.to_s = b.t_s + 1;
        w.status_4xx += b.status_4xx;
        w.status_5xx += b.status_5xx;
        w.client_failures += b.client_failures;
        w.status_2xx += b.status_2xx;
    }
    all.extend(open.take());
    if let Some(last) = all.last() {
        out.recovered_at_s = timeline
            .iter()
            .find(|b| b.t_s >= last.to_s && b.status_2xx > 0)
            .map(|b| b.t_s);
        out.recovered = Some(out.recovered_at_s.is_some());
    }
    out.more_windows = all.len().saturating_sub(MAX_WINDOWS) as u64;
    all.truncate(MAX_WINDOWS);
    out.windows = all;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(t_s: u64, ok: u64, c4: u64) -> Bucket {
        Bucket {
            t_s,
            status_2xx: ok,
            status_4xx: c4,
            ..Bucket::default()
        }
    }

    #[test]
    fn unready_window_then_recovery() {
        let w = find(&[b(0, 0, 5), b(1, 0, 5), b(2, 3, 2), b(3, 5, 0), b(4, 5, 0)]);
        assert_eq!(w.windows.len(), 1);
        assert_eq!((w.windows[0].from_s, w.windows[0].to_s), (0, 3));
        assert_eq!(w.windows[0].status_4xx, 12);
        assert_eq!(w.error_seconds, 3);
        assert_eq!((w.recovered, w.recovered_at_s), (Some(true), Some(3)));
    }

    #[test]
    fn no_recovery_and_no_errors() {
        let w = find(&[b(0, 5, 0), b(1, 0, 5)]);
        assert_eq!(w.recovered, Some(false));
        assert_eq!(find(&[b(0, 5, 0)]).recovered, None);
    }
}
