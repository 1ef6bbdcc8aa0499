//! Seed 003 on the real native stack: scenarios/burst-502.toml gives 502s (a full unix
//! socket backlog) with production-sized data, and none with test-sized data.

mod common;

use std::path::Path;

use fpmlab::attribution::Cause;

fn count_502(run: &fpmlab::results::RunResult) -> u64 {
    run.configs[0]
        .recorded
        .summary
        .status_counts
        .get("502")
        .copied()
        .unwrap_or(0)
}

#[test]
fn five_oh_twos_only_with_production_sized_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/burst-502.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let small = text.replace("rows=100000", "rows=2000");
    assert_ne!(
        small, text,
        "the scenario's data size changed: update this test"
    );
    let small_path = common::scenario(dir.path(), "burst-502-test-data", &small);

    let out = dir.path().join("prod");
    let o = common::run_native(&path, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    let prod = common::load(&out);
    let out_small = dir.path().join("small");
    let o = common::run_native(&small_path, &out_small);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let small = common::load(&out_small);

    // 120 rps of 40-60 ms CPU each is 2.4-3.6x what two cores do: the backlog must overflow.
    assert!(count_502(&prod) >= 10, "{table}");
    let a = prod.configs[0].attribution.as_ref().unwrap();
    assert_eq!(a.count(Cause::UnixBacklogFull), count_502(&prod), "{a:#?}");
    assert_eq!(a.count(Cause::UnixBacklogFull), a.failed, "{a:#?}");
    let s = &small.configs[0].recorded.summary;
    assert_eq!(count_502(&small), 0, "{:?}", s.status_counts);
    assert_eq!(s.error_rate, 0.0, "{s:?}");
    common::assert_torn_down(&out, &prod);
}
