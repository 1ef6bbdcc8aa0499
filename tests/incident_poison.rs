//! Seed 001 on the real native stack: with scenarios/runaway-loop.toml's loop requests, the
//! normal requests' p99 is higher than with the same traffic without them.

mod common;

use std::path::Path;

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
    let dir = tempfile::tempdir().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/runaway-loop.toml");
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
    let clean_path = common::scenario(dir.path(), "runaway-loop-clean", &clean);

    let out = dir.path().join("poison");
    let o = common::run_native(&path, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    let poisoned = common::load(&out);
    let out_clean = dir.path().join("clean");
    let o = common::run_native(&clean_path, &out_clean);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let clean = common::load(&out_clean);

    let (with, without) = (
        checkout_p99_us(&poisoned.configs[0]),
        checkout_p99_us(&clean.configs[0]),
    );
    // Loops hold workers for seconds; without them checkout waits for nobody.
    assert!(
        with >= 3 * without && with >= 500_000,
        "checkout p99 with loops {with} µs, without {without} µs\n{table}"
    );
    let a = poisoned.configs[0].attribution.as_ref().unwrap();
    let cut = a.count(Cause::MaxExecutionTime) + a.count(Cause::FpmTerminateTimeout);
    assert!(cut > 0, "{a:?}");
    assert_eq!(cut, a.failed, "only the two limits cut requests: {a:?}");
    common::assert_torn_down(&out, &poisoned);
}
