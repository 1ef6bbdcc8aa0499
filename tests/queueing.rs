//! Queueing truth on a real stack: a burst of n requests at one static worker is served one
//! after the other, so the k-th waits for the k requests before it: 0, S, 2S, …, (n−1)S,
//! where S is each request's own service time as the script measured it.
//!
//! The figures are checked against each other (the waits against the measured service
//! times, the latency against the wait plus the service), never against a wall-clock
//! constant: a busy machine stretches S, and the truth holds for the S it measured. The
//! CPU unit's calibration is checked in CPU time by tests/stack_native.rs.

mod common;

use fpmlab::record::histograms::decode;

/// Every recorded value of a histogram, ascending (each to HdrHistogram's precision).
fn values(encoded: &str) -> Vec<f64> {
    let h = decode(encoded).unwrap();
    let mut v: Vec<f64> = h
        .iter_recorded()
        .flat_map(|v| {
            std::iter::repeat_n(v.value_iterated_to() as f64, v.count_at_value() as usize)
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn burst_at_one_worker_waits_0_s_2s() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let n = 6u64;
    let ran = common::run_text_end_to_end(
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
    let c = ran.config(0);
    let s = &c.recorded.summary;
    assert_eq!(
        s.status_counts.get("200"),
        Some(&n),
        "{:?}",
        s.status_counts
    );
    assert_eq!(s.unreported_by_app, 0);

    let service = values(&c.recorded.histograms.service);
    let waits = values(&c.recorded.histograms.queue_wait);
    assert_eq!((service.len() as u64, waits.len() as u64), (n, n));
    let (s_min, s_max) = (service[0], service[service.len() - 1]);
    assert!(s_min > 0.0, "{service:?}");
    // All n were due at the same instant; how far apart they were really sent is the
    // spread of the client lag (microseconds, unless the machine preempted the generator).
    let spread = (s.client_lag.max_us - s.client_lag.min_us) as f64;
    // The first request finds the worker free: its wait is nginx's hand-off, far below
    // one service time.
    assert!(
        waits[0] < 0.5 * s_min,
        "first wait {} µs against a service time of {s_min} µs (waits {waits:?})",
        waits[0]
    );
    // Each next one waited for exactly one more request: the step between two waits is one
    // service time, less the send spread, plus php-fpm's hand-off between two requests
    // (generous: a busy machine may preempt the worker in between).
    for (k, w) in waits.windows(2).enumerate() {
        let step = w[1] - w[0];
        assert!(
            step >= 0.99 * s_min - spread && step <= 1.25 * s_max + spread + 50_000.0,
            "wait #{} − wait #{k} = {step} µs, service {s_min}..{s_max} µs, send spread \
             {spread} µs (waits {waits:?})",
            k + 1
        );
    }
    // The whole queue: the last one waited for the n−1 served before it, each taking its
    // own service time, so at least the n−1 shortest of them.
    let shortest: f64 = service[..service.len() - 1].iter().sum();
    let last = waits[waits.len() - 1];
    assert!(
        last >= 0.99 * shortest - spread,
        "last wait {last} µs < {shortest} µs of service before it (services {service:?})"
    );
    // What a user saw is what they queued plus what they were served: the slowest latency
    // is at least the longest wait plus the shortest service, and at most the longest wait
    // plus the longest service plus the send's lag and the response's way back.
    let max = s.latency.max_us as f64;
    let lag = s.client_lag.max_us as f64;
    assert!(
        max >= 0.99 * (last + s_min) && max <= 1.1 * (lag + last + s_max) + 50_000.0,
        "latency max {max} µs, last wait {last}, service {s_min}..{s_max}, lag {lag}"
    );
}
