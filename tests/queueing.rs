//! Queueing truth on a real stack: a burst of n requests of service time S at one static
//! worker waits 0, S, 2S, …, (n−1)S.

mod common;

use fpmlab::record::histograms::decode;

#[test]
fn burst_at_one_worker_waits_0_s_2s() {
    let dir = tempfile::tempdir().unwrap();
    let n = 6u64;
    let scenario = common::scenario(
        dir.path(),
        "truth",
        &format!(
            r#"
            [[config]]
            name = "static-1"
            pm = "static"
            max_children = 1
            [[phase]]
            name = "one-burst"
            duration = "1s"
            pattern = "burst"
            size = {n}
            every = "10s"
            [[request]]
            path = "/cpu.php?units=80"
            "#
        ),
    );
    let out = dir.path().join("out");
    let o = common::run_native(&scenario, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = common::load(&out);
    let c = &run.configs[0];
    let s = &c.recorded.summary;
    assert_eq!(
        s.status_counts.get("200"),
        Some(&n),
        "{:?}",
        s.status_counts
    );
    assert_eq!(s.unreported_by_app, 0);

    let service_s = s.service.p50_us as f64;
    assert!(
        (60_000.0..=120_000.0).contains(&service_s),
        "service p50 {service_s} µs is not ~80 ms of CPU"
    );

    let h = decode(&c.recorded.histograms.queue_wait).unwrap();
    let mut waits: Vec<f64> = h
        .iter_recorded()
        .flat_map(|v| {
            std::iter::repeat_n(v.value_iterated_to() as f64, v.count_at_value() as usize)
        })
        .collect();
    waits.sort_by(f64::total_cmp);
    assert_eq!(waits.len() as u64, n);
    for (k, w) in waits.iter().enumerate() {
        let expected = k as f64 * service_s;
        let tolerance = (0.15 * expected).max(5_000.0);
        assert!(
            (w - expected).abs() <= tolerance,
            "wait #{k} = {w} µs, expected {expected} ± {tolerance} (all: {waits:?})"
        );
    }
    // What a user saw is what they queued plus what they were served.
    let p99 = s.latency.p99_us as f64;
    let last = (n - 1) as f64 * service_s + service_s;
    assert!(
        (p99 - last).abs() <= 0.15 * last,
        "latency p99 {p99} vs {last}"
    );
    common::assert_torn_down(&out, &run);
}
