//! Seed 002's timeout chain on the real native stack: scenarios/timeout-chain.toml's failed
//! requests are each attributed, from the logs, to the limit the scenario configured that
//! cut them, and to nothing else.

mod common;

use std::path::Path;

use fpmlab::attribution::Cause;

#[test]
fn every_configured_limit_cuts_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/timeout-chain.toml");
    let o = common::run_native(&scenario, &out);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = common::load(&out);
    let c = &run.configs[0];
    let a = c.attribution.as_ref().expect("attribution in run.json");
    let configured = [
        (Cause::MaxExecutionTime, "500"),
        (Cause::MemoryLimit, "500"),
        (Cause::FpmTerminateTimeout, "502"),
        (Cause::NginxReadTimeout, "504"),
        (Cause::NginxConnectTimeout, "504"),
    ];
    for (cause, status) in configured {
        let k = a.causes.iter().find(|k| k.cause == cause);
        let k = k.unwrap_or_else(|| panic!("nothing attributed to {cause:?}\n{table}\n{a:#?}"));
        // What the client saw agrees with the cause's documented status.
        assert_eq!(k.outcomes.keys().collect::<Vec<_>>(), vec![status], "{k:?}");
        assert!(!k.examples[0].lines.is_empty(), "{k:?}");
    }
    for k in &a.causes {
        assert!(
            configured.iter().any(|(c, _)| *c == k.cause),
            "attributed to an unconfigured cause: {k:#?}\n{table}"
        );
    }
    assert_eq!(a.over_cap, 0);
    let total: u64 = a.causes.iter().map(|k| k.count).sum();
    let s = &c.recorded.summary;
    let failed: u64 = s
        .status_counts
        .iter()
        .filter(|(code, _)| code.as_str() >= "400")
        .map(|(_, n)| n)
        .sum::<u64>()
        + s.client_failures.total();
    assert_eq!(total, failed, "{:?}", s.status_counts);
    assert!(table.contains("cut by:"), "{table}");
    let tsv = std::fs::read_to_string(out.join(&c.dir).join("failed-requests.tsv")).unwrap();
    assert_eq!(tsv.lines().count() as u64, failed + 1, "{tsv}");
    common::assert_torn_down(&out, &run);
}
