//! Each instance over time: per second what the balancer sent it and got back, beside what
//! its php-fpm was doing (scripts running, requests waiting for a worker, from the
//! `X-Fpm-*` times HAProxy captured), and its health state as spans. This is the fleet-level
//! lying health check made visible: an instance in rotation whose workers are all busy and
//! whose queue grows.

use serde::{Deserialize, Serialize};

use super::log::BalancerLine;
use crate::stack::fleet::HealthChange;

/// One second of one instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstanceSecond {
    /// Seconds after the load's start (this second is `[t_s, t_s + 1)`).
    pub t_s: u64,
    /// Requests of this instance that ended in this second.
    pub requests: u64,
    /// Of which failed (the ALB's code ≥ 400, the balancer's own 460/408 included).
    pub failed: u64,
    /// Those requests by the class of the ALB's code: 2xx.
    #[serde(default)]
    pub status_2xx: u64,
    /// 3xx.
    #[serde(default)]
    pub status_3xx: u64,
    /// 4xx (460 and 408 included).
    #[serde(default)]
    pub status_4xx: u64,
    /// 5xx.
    #[serde(default)]
    pub status_5xx: u64,
    /// Median of the balancer's time for those requests, ms.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile of the balancer's time for those requests, ms.
    pub latency_p99_ms: Option<f64>,
    /// Most requests the balancer had outstanding on it at once in this second.
    pub in_flight_max: u64,
    /// Most php-fpm scripts running at once (a worker picked the request up, the script
    /// had not ended), from the answered requests' `X-Fpm-*` times. A request the balancer
    /// cut before an answer is not seen here: its worker may still have been busy.
    pub busy_workers_max: u64,
    /// Most requests at once that it had been sent and no worker had picked up (queued in
    /// nginx or php-fpm's listen queue). A request cut before an answer counts as waiting
    /// until it was cut.
    pub waiting_max: u64,
    /// Its HAProxy status at the end of this second (`UP`, `DOWN 1/2`, `MAINT`, ...;
    /// empty: never reported).
    pub state: String,
}

/// A stretch of time in one health state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HealthSpan {
    /// Start, ms after the load's start (negative: before it).
    pub from_ms: i64,
    /// End, ms after the load's start.
    pub to_ms: i64,
    /// `in_rotation` (UP, including `UP 1/2` on its way down), `out` (DOWN, including
    /// `DOWN 1/2` on its way up), `draining` (DRAIN, NOLB) or `deregistered` (MAINT: not
    /// added yet, or removed).
    pub state: String,
    /// HAProxy's status at the span's start.
    pub status: String,
}

/// The class of a HAProxy status (see [`HealthSpan::state`]).
pub fn state_class(status: &str) -> &'static str {
    if status.starts_with("UP") {
        "in_rotation"
    } else if status.starts_with("DOWN") {
        "out"
    } else if status.starts_with("DRAIN") || status.starts_with("NOLB") {
        "draining"
    } else {
        "deregistered"
    }
}

/// Health changes of one server as spans of state class up to `end_ms`; changes that keep
/// the class (`UP` → `UP 1/3`) extend the span.
pub fn spans(health: &[HealthChange], end_ms: i64) -> Vec<HealthSpan> {
    let mut out: Vec<HealthSpan> = Vec::new();
    for (k, h) in health.iter().enumerate() {
        let to = health.get(k + 1).map_or(end_ms, |n| n.t_ms).max(h.t_ms);
        let state = state_class(&h.status);
        match out.last_mut() {
            Some(last) if last.state == state => last.to_ms = to,
            _ => out.push(HealthSpan {
                from_ms: h.t_ms,
                to_ms: to,
                state: state.into(),
                status: h.status.clone(),
            }),
        }
    }
    out
}

/// One request of an instance, in ms after the load's start.
pub struct Timed {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Worker pick-up and script end, when the response carried php-fpm's times.
    pub worker: Option<(i64, i64)>,
    /// The ALB's code.
    pub code: u16,
    pub latency_ms: f64,
}

impl Timed {
    pub fn of(l: &BalancerLine, code: u16, load_start_epoch_ms: i64) -> Timed {
        let rel = |epoch_s: f64| (epoch_s * 1000.0).round() as i64 - load_start_epoch_ms;
        let start_ms = l.start_epoch_ms - load_start_epoch_ms;
        let end_ms = start_ms + l.total_ms.max(0);
        Timed {
            start_ms,
            end_ms,
            // Clamped into the request's own span: the clocks are the same machine's, but
            // HAProxy logs whole milliseconds.
            worker: l.fpm.map(|(picked, _, end)| {
                let p = rel(picked).clamp(start_ms, end_ms);
                (p, rel(end).clamp(p, end_ms))
            }),
            code,
            latency_ms: l.total_ms.max(0) as f64,
        }
    }
}

/// Per second from 0 to the last request's end (seconds before the load's start are
/// left out): what the instance got and did. `health` is its own changes, in time order.
pub fn seconds(requests: &[Timed], health: &[HealthChange]) -> Vec<InstanceSecond> {
    let last_ms = requests.iter().map(|r| r.end_ms).max().unwrap_or(-1);
    if last_ms < 0 {
        return Vec::new();
    }
    let n = (last_ms / 1000 + 1) as usize;
    let mut out: Vec<InstanceSecond> = (0..n)
        .map(|s| InstanceSecond {
            t_s: s as u64,
            ..InstanceSecond::default()
        })
        .collect();
    let mut latencies: Vec<Vec<f64>> = vec![Vec::new(); n];
    // Sweep of +1/-1 steps: (time, Δ outstanding, Δ busy). Ends sort before starts at the
    // same millisecond, so back-to-back requests do not count as overlapping.
    let mut steps: Vec<(i64, i64, i64)> = Vec::with_capacity(requests.len() * 4);
    for r in requests {
        if r.end_ms >= 0 {
            let s = &mut out[(r.end_ms / 1000) as usize];
            s.requests += 1;
            s.failed += u64::from(r.code >= 400);
            match r.code / 100 {
                2 => s.status_2xx += 1,
                3 => s.status_3xx += 1,
                4 => s.status_4xx += 1,
                5 => s.status_5xx += 1,
                _ => {}
            }
            latencies[(r.end_ms / 1000) as usize].push(r.latency_ms);
        }
        steps.push((r.start_ms, 1, 0));
        steps.push((r.end_ms, -1, 0));
        if let Some((p, e)) = r.worker {
            steps.push((p, 0, 1));
            steps.push((e, 0, -1));
        }
    }
    steps.sort_by_key(|&(t, a, b)| (t, a + b));
    let (mut flight, mut busy) = (0i64, 0i64);
    let mut k = 0;
    for (sec, s) in out.iter_mut().enumerate() {
        let (from, to) = (sec as i64 * 1000, sec as i64 * 1000 + 1000);
        // What was outstanding when the second began counts for it too.
        while k < steps.len() && steps[k].0 < from {
            flight += steps[k].1;
            busy += steps[k].2;
            k += 1;
        }
        let mut peak = |flight: i64, busy: i64| {
            s.in_flight_max = s.in_flight_max.max(flight.max(0) as u64);
            s.busy_workers_max = s.busy_workers_max.max(busy.max(0) as u64);
            s.waiting_max = s.waiting_max.max((flight - busy).max(0) as u64);
        };
        peak(flight, busy);
        while k < steps.len() && steps[k].0 < to {
            flight += steps[k].1;
            busy += steps[k].2;
            k += 1;
            peak(flight, busy);
        }
        let lat = &mut latencies[sec];
        lat.sort_by(f64::total_cmp);
        let at = |q: f64| lat.get(((lat.len().max(1) - 1) as f64 * q).round() as usize);
        s.latency_p50_ms = at(0.5).copied();
        s.latency_p99_ms = at(0.99).copied();
        s.state = (health.iter().rev())
            .find(|h| h.t_ms < to)
            .map_or_else(String::new, |h| h.status.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(t_ms: i64, status: &str) -> HealthChange {
        HealthChange {
            t_ms,
            server: "i1".into(),
            status: status.into(),
            check_failures: 0,
            check_status: String::new(),
            weight: 1,
        }
    }

    #[test]
    fn spans_merge_changes_of_one_class() {
        let h = [
            change(-200, "MAINT"),
            change(500, "UP"),
            change(900, "UP 1/2"),
            change(1100, "DOWN"),
            change(3000, "DRAIN"),
        ];
        let s = spans(&h, 4000);
        let got: Vec<(i64, i64, &str)> = (s.iter())
            .map(|s| (s.from_ms, s.to_ms, s.state.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (-200, 500, "deregistered"),
                (500, 1100, "in_rotation"),
                (1100, 3000, "out"),
                (3000, 4000, "draining")
            ]
        );
    }

    #[test]
    fn seconds_count_outstanding_busy_and_waiting() {
        let t = |start_ms, end_ms, worker, failed: bool| Timed {
            start_ms,
            end_ms,
            worker,
            code: if failed { 504 } else { 200 },
            latency_ms: (end_ms - start_ms) as f64,
        };
        // One worker: the second request waits for the first; a third is cut unanswered.
        let r = [
            t(100, 400, Some((100, 400)), false),
            t(200, 700, Some((400, 700)), false),
            t(300, 1500, None, true),
            t(700, 800, Some((700, 800)), false),
        ];
        let s = seconds(&r, &[change(0, "UP"), change(1200, "DOWN")]);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].requests, s[0].failed), (3, 0));
        assert_eq!((s[1].requests, s[1].failed, s[1].status_5xx), (1, 1, 1));
        assert_eq!(s[0].status_2xx, 3);
        assert_eq!(s[0].in_flight_max, 3);
        assert_eq!(s[0].busy_workers_max, 1, "back to back, never two at once");
        assert_eq!(s[0].waiting_max, 2);
        assert_eq!((s[1].in_flight_max, s[1].waiting_max), (1, 1));
        assert_eq!(s[0].latency_p99_ms, Some(500.0));
        assert_eq!((s[0].state.as_str(), s[1].state.as_str()), ("UP", "DOWN"));
    }
}
