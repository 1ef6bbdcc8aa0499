//! Seed 000 on the real native stack: scenarios/apm-gap.toml shows a load balancer p99 far
//! above the app's own p99, and requests the app never reported.

mod common;

use std::path::Path;

#[test]
fn lb_p99_dwarfs_the_apm_p99() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/apm-gap.toml");
    let o = common::run_native(&scenario, &out);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = common::load(&out);
    let c = &run.configs[0];
    let v = c.lb_vs_apm.as_ref().expect("lb_vs_apm in run.json");
    // Poison requests run for seconds (2 s of CPU each); the app only times the quick ones.
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
    assert!(
        a.count(fpmlab::attribution::Cause::MaxExecutionTime) > 0,
        "{a:?}"
    );
    common::assert_torn_down(&out, &run);
}
