//! Seed 000 on the real native stack: scenarios/apm-gap.toml shows a load balancer p99 far
//! above the app's own p99, and requests the app never reported.

mod common;

use fpmlab::attribution::Cause;

#[test]
fn lb_p99_dwarfs_the_apm_p99() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ran = common::run_end_to_end(&common::shipped("apm-gap"), &dir.path().join("out"));
    let (c, table) = (ran.config(0), &ran.table);
    let v = c.lb_vs_apm.as_ref().expect("lb_vs_apm in run.json");
    // One request in 25 is a poison loop that max_execution_time ends after 2 s of CPU, so
    // more than 1% of the latencies are about 2 s of wall time or more, on any machine.
    assert!(v.client.p99_us >= 1_900_000, "{v:?}\n{table}");
    // The app only times the quick ones (10 ms of CPU, slower where the loops and the rest
    // of a busy machine share the cores): a ratio of 10 leaves them 200 ms.
    assert!(
        v.client.p99_us >= 10 * v.app.p99_us,
        "client p99 {} app p99 {}\n{table}",
        v.client.p99_us,
        v.app.p99_us
    );
    assert!(v.unreported_by_app > 0, "{v:?}");
    assert!(v.unreported.fatal_error > 0, "{v:?}");
    assert_eq!(v.reported_by_app + v.unreported_by_app, v.requests, "{v:?}");
    assert!(
        v.sentence.contains("never reported by the app"),
        "{}",
        v.sentence
    );
    assert!(table.contains(&v.sentence), "{table}");
    let a = c.attribution.as_ref().unwrap();
    assert!(a.count(Cause::MaxExecutionTime) > 0, "{a:?}");
}
