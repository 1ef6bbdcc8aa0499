//! Seed 001 on the real native stack: with scenarios/runaway-loop.toml's loop requests, the
//! normal requests' p99 is higher than with the same traffic without them.

mod common;

use fpmlab::attribution::Cause;
use fpmlab::results::ConfigResult;

fn checkout_p99_us(c: &ConfigResult) -> u64 {
    let mut h = fpmlab::record::Histograms::default().latency;
    for p in &c.recorded.phases {
        let k = p.kinds.iter().find(|k| k.name == "checkout").unwrap();
        let parts = k.histograms.decode().unwrap();
        h.add(&parts.latency).unwrap();
    }
    h.value_at_quantile(0.99)
}

#[test]
fn normal_requests_starve_behind_runaway_loops() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = common::shipped("runaway-loop");
    let text = std::fs::read_to_string(&path).unwrap();
    // The same traffic with a trivial request in the loop's place.
    let clean = text.replace(
        "path = \"/loop.php\"\nweight = 1",
        "path = \"/hello.php\"\nweight = 1",
    );
    assert_ne!(
        clean, text,
        "the scenario's loop request changed: update this test"
    );

    let poisoned = common::run_end_to_end(&path, &dir.path().join("poison"));
    let clean = common::run_text_end_to_end(dir.path(), "runaway-loop-clean", &clean);

    let (with, without) = (
        checkout_p99_us(poisoned.config(0)),
        checkout_p99_us(clean.config(0)),
    );
    // Loops hold workers for seconds (2 s of CPU, or 4 s of wall time); without them
    // checkout (20 ms of CPU at 10 rps on 4 workers) waits for nobody, even on a busy
    // machine.
    assert!(
        with >= 3 * without && with >= 500_000,
        "checkout p99 with loops {with} µs, without {without} µs\n{}",
        poisoned.table
    );
    let a = poisoned.config(0).attribution.as_ref().unwrap();
    let cut = a.count(Cause::MaxExecutionTime) + a.count(Cause::FpmTerminateTimeout);
    assert!(cut > 0, "{a:?}");
    assert_eq!(cut, a.failed, "only the two limits cut requests: {a:?}");
    // Without the loops nothing fails.
    let s = &clean.config(0).recorded.summary;
    assert_eq!(s.responses, s.sent, "{s:?}");
}
