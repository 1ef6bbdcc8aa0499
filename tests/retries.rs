//! Client retries on the real stack: a short slowdown of one instance behind HAProxy turns
//! into an outage that outlasts it when clients retry without a budget, and recovers soon
//! after the slowdown with a retry budget (the shipped retry-storm scenarios).

mod common;

use fpmlab::record::clients::ClientsPhase;

fn ready() -> bool {
    let haproxy = fpmlab::stack::fleet::haproxy_binary()
        .err()
        .map(|e| format!("{e:#}"));
    common::native_stack() && common::available("retries (HAProxy)", haproxy)
}

/// The scenarios' rate, requests per second.
const RATE: f64 = 80.0;
/// The slowdown ends this many seconds after the load's start (throttle at 2 s for 2 s).
const SLOWDOWN_END_S: usize = 4;

fn clients(ran: &common::Ran) -> &ClientsPhase {
    &ran.config(0).recorded.clients[0]
}

/// Mean goodput (requests that ended with a 2xx) per second over seconds `from..to`.
fn goodput(c: &ClientsPhase, from: usize, to: usize) -> f64 {
    let sum: u64 = (from..to)
        .map(|s| c.goodput_by_second.get(s).copied().unwrap_or(0))
        .sum();
    sum as f64 / (to - from) as f64
}

#[test]
fn a_short_slowdown_becomes_a_long_outage_without_a_retry_budget_and_not_with_one() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let storm = common::run_end_to_end(&common::shipped("retry-storm"), &dir.path().join("storm"));
    let budget = common::run_end_to_end(
        &common::shipped("retry-storm-budget"),
        &dir.path().join("budget"),
    );
    let (s, b) = (clients(&storm), clients(&budget));
    let by_s = |c: &ClientsPhase| format!("{:?}", c.goodput_by_second);
    // Before the slowdown both serve the whole rate.
    for c in [s, b] {
        assert!(goodput(c, 0, 2) >= RATE * 0.8, "before: {}", by_s(c));
    }
    // Without a budget: retries keep the queue full long after the slowdown ended.
    let late = goodput(s, SLOWDOWN_END_S + 4, 14);
    assert!(
        late <= RATE * 0.3,
        "no budget, 4 s after: {late}/s {}",
        by_s(s)
    );
    assert!(s.amplification >= 2.0, "{s:?}");
    assert_eq!(s.retries_suppressed, 0, "{s:?}");
    // With one: back to the whole rate within 3 s of the slowdown's end, and it stays.
    for second in SLOWDOWN_END_S + 3..14 {
        let g = goodput(b, second, second + 1);
        assert!(
            g >= RATE * 0.7,
            "budget, second {second}: {g}/s {}",
            by_s(b)
        );
    }
    assert!(b.amplification <= 1.3, "{b:?}");
    assert!(b.retries_suppressed > 0, "{b:?}");
    assert!(
        b.succeeded as f64 >= s.succeeded as f64 * 1.5,
        "{b:?} vs {s:?}"
    );
    // What the clients did is told under the table.
    assert!(
        storm.table.contains("clients of phase steady: meant"),
        "{}",
        storm.table
    );
    assert!(
        budget.table.contains("refused by the retry budget"),
        "{}",
        budget.table
    );
}
