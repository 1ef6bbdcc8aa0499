//! Seed 003 on the real native stack: scenarios/burst-502.toml gives 502s (a full unix
//! socket backlog) with production-sized data, and (next to) none with test-sized data.

mod common;

use fpmlab::attribution::Cause;
use fpmlab::results::RunResult;

fn count_502(run: &RunResult) -> u64 {
    let s = &run.configs[0].recorded.summary;
    s.status_counts.get("502").copied().unwrap_or(0)
}

#[test]
fn five_oh_twos_only_with_production_sized_data() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = common::shipped("burst-502");
    let text = std::fs::read_to_string(&path).unwrap();
    let small = text.replace("rows=100000", "rows=2000");
    assert_ne!(
        small, text,
        "the scenario's data size changed: update this test"
    );

    let prod = common::run_end_to_end(&path, &dir.path().join("prod"));
    let small = common::run_text_end_to_end(dir.path(), "burst-502-test-data", &small);
    let table = &prod.table;

    // 120 rps of 40-60 ms CPU each is 2.4-3.6x what two cores do: the backlog must overflow
    // (a busier machine only serves fewer, and refuses more).
    let (p, s) = (count_502(&prod.run), count_502(&small.run));
    let sent = prod.config(0).recorded.summary.sent;
    assert!(p >= 10, "{table}");
    // Every 502 is the full backlog, and nothing else failed.
    let a = prod.config(0).attribution.as_ref().unwrap();
    assert_eq!(a.count(Cause::UnixBacklogFull), p, "{a:#?}");
    assert_eq!(a.count(Cause::UnixBacklogFull), a.failed, "{a:#?}");
    // The same peak with test-sized data (a few ms each, a fraction of one core) leaves the
    // backlog alone: zero on a quiet machine. Neighbours stealing the cores may push a
    // moment of it over; the rate stays an order of magnitude below production's.
    assert!(
        s * 10 <= p,
        "502s with test-sized data {s}, with production data {p} of {sent}\n{}\n{table}",
        small.table
    );
    let small_s = &small.config(0).recorded.summary;
    if s > 0 {
        eprintln!("note: {s} 502s with test-sized data (a busy machine): {small_s:?}");
    }
    // Whatever failed with test-sized data failed the same way: the backlog, nothing else.
    let small_a = small.config(0).attribution.as_ref().unwrap();
    assert_eq!(
        small_a.count(Cause::UnixBacklogFull),
        small_a.failed,
        "{small_a:#?}"
    );
    assert_eq!(small_s.responses, small_s.sent, "{small_s:?}");
}
