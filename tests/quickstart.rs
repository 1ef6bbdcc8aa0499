//! The quickstart's phenomenon on the real native stack: pm = dynamic with one child
//! collapses under bursts, a static pool holds.

mod common;

#[test]
fn dynamic_one_child_collapses_static_pool_holds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
    let o = common::run_native(&scenario, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    let run = common::load(&out);
    assert!(!run.partial);
    let [dynamic, stat] = [&run.configs[0], &run.configs[1]];
    assert_eq!(dynamic.name, "dynamic-1");
    let (d, s) = (&dynamic.recorded.summary, &stat.recorded.summary);
    assert!(
        d.latency.p99_us >= 5 * s.latency.p99_us,
        "latency p99: dynamic {} static {}\n{table}",
        d.latency.p99_us,
        s.latency.p99_us
    );
    assert!(
        d.queue_wait.p99_us >= 5 * s.queue_wait.p99_us,
        "queue wait p99: dynamic {} static {}\n{table}",
        d.queue_wait.p99_us,
        s.queue_wait.p99_us
    );
    let burst = |c: &fpmlab::results::ConfigResult| {
        c.recorded
            .phases
            .iter()
            .find(|p| p.name == "bursts")
            .unwrap()
            .summary
            .achieved_rps
    };
    assert!(
        burst(stat) >= 1.5 * burst(dynamic),
        "burst-phase rps: static {} dynamic {}\n{table}",
        burst(stat),
        burst(dynamic)
    );
    // The APM view stays calm while users wait: service time is the same order for both.
    assert!(
        d.service.p99_us < 200_000,
        "dynamic service p99 {}",
        d.service.p99_us
    );
    // Everything was answered; nothing dropped or lost.
    for c in [dynamic, stat] {
        let s = &c.recorded.summary;
        assert_eq!(s.responses, s.scheduled, "{}: {:?}", c.name, s);
        assert_eq!(s.error_rate, 0.0, "{}: {:?}", c.name, s.status_counts);
    }
    // Server-side view agrees: the one-child pool's listen queue built up.
    assert!(
        dynamic.server.max_listen_queue.unwrap_or(0) >= 5,
        "{:?}",
        dynamic.server
    );
    assert!(!dynamic.samples.is_empty());
    assert!(
        table.contains("dynamic-1") && table.contains("static-4"),
        "{table}"
    );
    common::assert_torn_down(&out, &run);
}
