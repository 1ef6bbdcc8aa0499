//! Stopping a point once it is hopeless: the per-second timeline the runner appends to
//! `timeline.jsonl` already holds more requests over the p99 objective, or more failures,
//! than the whole run may have. No later second can take them back, so the rest of the
//! point would only spend the time cap.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::objective::Settings;
use crate::record::timeline::Bucket;

/// How often the timeline file is read (the runner appends to it every few seconds).
const POLL: Duration = Duration::from_secs(1);

/// Per-second percentiles are HDR values (2 significant digits): a second's p99 counts as
/// over the objective only when it is over by more than this rounding.
const ROUNDING: f64 = 1.02;

/// Why the point can no longer meet the objective, from the seconds recorded so far and the
/// requests the whole run plans; `None` while it still can.
pub fn hopeless(buckets: &[Bucket], planned: f64, s: &Settings) -> Option<String> {
    let limit_us = s.p99_ms * 1000.0 * ROUNDING;
    let (mut over, mut failed, mut done) = (0u64, 0u64, 0u64);
    for b in buckets {
        let n = b.completed as f64;
        done += b.completed;
        failed += b.completed.saturating_sub(b.status_2xx);
        // A lower bound on the second's requests over the objective, from its percentiles.
        let at_least = if b.latency_p50_us as f64 > limit_us {
            (n * 0.5).floor()
        } else if b.latency_p90_us as f64 > limit_us {
            (n * 0.1).floor()
        } else if b.latency_p99_us as f64 > limit_us {
            (n * 0.01).floor().max(1.0)
        } else {
            0.0
        };
        over += at_least as u64;
    }
    let total = planned.max(done as f64);
    // The p99 of `total` requests is over the objective once more than 1 % of them are.
    let may_be_over = (total * 0.01).floor() as u64;
    if over > may_be_over {
        return Some(format!(
            "stopped early: at least {over} requests already took longer than {:.0} ms, and at most {may_be_over} of the {total:.0} planned may for the p99 to meet the objective",
            s.p99_ms
        ));
    }
    let may_fail = (total * s.max_error_share).floor() as u64;
    if failed > may_fail {
        return Some(format!(
            "stopped early: {failed} requests already failed, and at most {may_fail} of the {total:.0} planned may ({:.2} %)",
            s.max_error_share * 100.0
        ));
    }
    None
}

/// Reads `timeline` every second until `done` fires; cancels `stop` and returns the reason
/// once the point is hopeless.
pub async fn watch(
    timeline: PathBuf,
    planned: f64,
    s: Settings,
    stop: CancellationToken,
    done: CancellationToken,
) -> Option<String> {
    loop {
        tokio::select! {
            _ = done.cancelled() => return None,
            _ = tokio::time::sleep(POLL) => {}
        }
        // A line being appended may not parse yet: the next read has it.
        let Ok(buckets) = crate::results::series::read_timeline(&timeline) else {
            continue;
        };
        if let Some(why) = hopeless(&buckets, planned, &s) {
            stop.cancel();
            return Some(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(completed: u64, ok: u64, p50_ms: u64, p90_ms: u64, p99_ms: u64) -> Bucket {
        Bucket {
            completed,
            status_2xx: ok,
            latency_p50_us: p50_ms * 1000,
            latency_p90_us: p90_ms * 1000,
            latency_p99_us: p99_ms * 1000,
            ..Bucket::default()
        }
    }

    #[test]
    fn stops_only_when_the_objective_is_out_of_reach() {
        let s = Settings {
            p99_ms: 500.0,
            max_error_share: 0.01,
            memory_budget_mib: 1000.0,
            memory_source: "test".into(),
            max_time_s: 60,
        };
        // 300 planned: 3 may be over 500 ms. A second of 20 whose p90 is over: ≥ 2.
        let one = [second(20, 20, 100, 600, 700)];
        assert_eq!(hopeless(&one, 300.0, &s), None);
        let two = [one[0].clone(), one[0].clone()];
        assert!(hopeless(&two, 300.0, &s)
            .is_some_and(|w| w.contains("at least 4 requests") && w.contains("at most 3")));
        // A p99 just over by HDR rounding is not counted.
        assert_eq!(hopeless(&[second(100, 100, 10, 20, 505)], 150.0, &s), None);
        // Half the second over: ≥ 10 of 20.
        assert!(hopeless(&[second(20, 20, 900, 900, 900)], 500.0, &s).is_some());
        // Failures: 3 may fail of 300; 4 failed.
        let failing = [second(20, 16, 10, 20, 30)];
        assert!(
            hopeless(&failing, 300.0, &s).is_some_and(|w| w.contains("4 requests already failed"))
        );
        // More done than planned (a ramp's estimate): judged on what was done.
        assert_eq!(hopeless(&[second(400, 400, 10, 20, 600)], 100.0, &s), None);
    }
}
