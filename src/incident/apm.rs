//! LB view vs APM view (seed 000): what users behind the load balancer waited against what
//! the app reported about itself, and the requests the app never reported at all.

use serde::{Deserialize, Serialize};

use crate::attribution::{Attribution, Cause};
use crate::record::{Percentiles, Summary};
use crate::units::fmt_us;

/// Side by side, in run.json as `lb_vs_apm`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LbVsApm {
    /// What the client (the load balancer) saw: done − intended, µs, over responses and
    /// client timeouts.
    pub client: Percentiles,
    /// What the app reported: its scripts' own duration, µs, over requests it reported.
    pub app: Percentiles,
    /// client p50 − app p50, µs (0 if negative).
    pub gap_p50_us: u64,
    /// client p99 − app p99, µs (0 if negative).
    pub gap_p99_us: u64,
    /// client p99 / app p99 (0 when the app reported nothing).
    pub p99_ratio: f64,
    /// Queue wait p99, µs: time between sending and a worker picking the request up.
    pub queue_wait_p99_us: u64,
    /// Requests that ended (responses and client failures, not those cut by a stop).
    pub requests: u64,
    /// Requests the app reported (its timing headers came back).
    pub reported_by_app: u64,
    /// Requests the app never reported: an APM would not know they existed.
    pub unreported_by_app: u64,
    /// Why, from the timeout-chain attribution.
    pub unreported: Unreported,
    /// The one-sentence reading.
    pub sentence: String,
}

/// Why requests never reached the APM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Unreported {
    /// The client (load balancer) gave up before the app answered.
    pub client_gave_up: u64,
    /// The worker was killed under them (request_terminate_timeout, SIGKILL, died).
    pub worker_killed: u64,
    /// A PHP fatal error ended the script (max_execution_time, memory_limit, other).
    pub fatal_error: u64,
    /// nginx answered for php-fpm (timeouts, full backlog, fpm down).
    pub cut_by_nginx: u64,
    /// Anything else (successful responses without timing headers, unexplained).
    pub other: u64,
}

/// Builds the view from a config's summary and its attribution.
pub fn build(name: &str, s: &Summary, attribution: Option<&Attribution>) -> LbVsApm {
    let mut u = Unreported::default();
    if let Some(a) = attribution {
        for c in &a.causes {
            let slot = match c.cause {
                Cause::ClientTimeout => &mut u.client_gave_up,
                Cause::FpmTerminateTimeout | Cause::WorkerKilled | Cause::UpstreamDied => {
                    &mut u.worker_killed
                }
                Cause::MaxExecutionTime | Cause::MemoryLimit | Cause::PhpFatal => {
                    &mut u.fatal_error
                }
                Cause::NginxConnectTimeout
                | Cause::NginxReadTimeout
                | Cause::UnixBacklogFull
                | Cause::UpstreamDown
                | Cause::NginxOther => &mut u.cut_by_nginx,
                // Reported by the app, or never sent to it.
                Cause::AppStatus | Cause::NginxDown | Cause::Cancelled => continue,
                Cause::Unexplained => &mut u.other,
            };
            *slot += c.count;
        }
    }
    let explained = u.client_gave_up + u.worker_killed + u.fatal_error + u.cut_by_nginx + u.other;
    let cancelled = s.client_failures.cancelled;
    let unreported = s.unreported_by_app.saturating_sub(cancelled);
    u.other += unreported.saturating_sub(explained);
    let requests = (s.responses + s.client_failures.total()).saturating_sub(cancelled);
    let mut v = LbVsApm {
        client: s.latency,
        app: s.service,
        gap_p50_us: s.latency.p50_us.saturating_sub(s.service.p50_us),
        gap_p99_us: s.latency.p99_us.saturating_sub(s.service.p99_us),
        p99_ratio: if s.service.count == 0 || s.service.p99_us == 0 {
            0.0
        } else {
            (s.latency.p99_us as f64 / s.service.p99_us as f64 * 10.0).round() / 10.0
        },
        queue_wait_p99_us: s.queue_wait.p99_us,
        requests,
        reported_by_app: s.service.count,
        unreported_by_app: unreported,
        unreported: u,
        sentence: String::new(),
    };
    v.sentence = sentence(name, &v, s.queue_wait.count > 0);
    v
}

/// "static-4: p99 1.90 s, of which 1.85 s queued for a worker (queue wait p99); the app's
/// own p99 was 52 ms (36× less); 12 of 300 requests never reported by the app (5 client
/// gave up first, 4 worker killed, 3 fatal error)."
fn sentence(name: &str, v: &LbVsApm, has_queue: bool) -> String {
    if v.client.count == 0 {
        return format!("{name}: no request completed");
    }
    let mut t = format!("{name}: p99 {}", fmt_us(v.client.p99_us));
    if has_queue {
        t.push_str(&format!(
            ", of which {} queued for a worker (queue wait p99)",
            fmt_us(v.queue_wait_p99_us.min(v.client.p99_us))
        ));
    }
    if v.app.count > 0 {
        t.push_str(&format!("; the app's own p99 was {}", fmt_us(v.app.p99_us)));
        // A gap worth a sentence: users wait visibly longer than the app says.
        if v.p99_ratio >= 2.0 && v.gap_p99_us >= 50_000 {
            t.push_str(&format!(
                " ({:.0}× less: the APM misses the gap)",
                v.p99_ratio
            ));
        }
    } else {
        t.push_str("; the app reported no request at all");
    }
    if v.unreported_by_app > 0 {
        let u = &v.unreported;
        let parts: Vec<String> = [
            (u.client_gave_up, "client gave up first"),
            (u.worker_killed, "worker killed"),
            (u.fatal_error, "fatal error"),
            (u.cut_by_nginx, "cut by nginx"),
            (u.other, "other"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        t.push_str(&format!(
            "; {} of {} requests never reported by the app ({})",
            v.unreported_by_app,
            v.requests,
            parts.join(", ")
        ));
    }
    t.push('.');
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::CauseCount;
    use crate::record::FailureCounts;

    fn pct(count: u64, p50: u64, p99: u64) -> Percentiles {
        Percentiles {
            count,
            p50_us: p50,
            p99_us: p99,
            ..Percentiles::default()
        }
    }

    #[test]
    fn states_where_the_time_went() {
        let s = Summary {
            responses: 290,
            latency: pct(300, 900_000, 1_900_000),
            service: pct(280, 50_000, 52_000),
            queue_wait: pct(280, 800_000, 1_850_000),
            client_failures: FailureCounts {
                timeout: 10,
                ..FailureCounts::default()
            },
            unreported_by_app: 20,
            ..Summary::default()
        };
        let cause = |cause, count| CauseCount {
            cause,
            label: String::new(),
            count,
            outcomes: Default::default(),
            examples: vec![],
        };
        let a = Attribution {
            causes: vec![
                cause(Cause::ClientTimeout, 10),
                cause(Cause::WorkerKilled, 4),
                cause(Cause::MemoryLimit, 3),
                cause(Cause::AppStatus, 7),
            ],
            ..Attribution::default()
        };
        let v = build("dyn", &s, Some(&a));
        assert_eq!(v.gap_p99_us, 1_848_000);
        assert_eq!(v.p99_ratio, 36.5);
        assert_eq!(v.unreported.other, 3);
        assert_eq!(
            v.sentence,
            "dyn: p99 1.90 s, of which 1.85 s queued for a worker (queue wait p99); the app's \
             own p99 was 52.0 ms (36× less: the APM misses the gap); 20 of 300 requests never \
             reported by the app (10 client gave up first, 4 worker killed, 3 fatal error, 3 other)."
        );
    }
}
