//! The docker driver against the real engine (no mocks): the quickstart's phenomenon, parity
//! with the native driver, and OOM kills under a memory limit. Every test checks that nothing
//! of its run remains (`tests/common/docker.rs`).
//!
//! Needs a docker engine and compose; the image is built on first use (offline with
//! debootstrap where no registry answers: `scripts/test.sh` prepares it). Without an engine
//! every test here says so loudly and passes.

mod common;

use common::docker::{assert_clean, engine, fpmlab, repo, status, stderr, tempdir};
use fpmlab::results::ConfigResult;

/// The quickstart's phenomenon, as `tests/quickstart.rs` asserts it on native: `Err` says
/// which comparison failed.
fn collapse(dynamic: &ConfigResult, stat: &ConfigResult) -> Result<(), String> {
    let (d, s) = (&dynamic.recorded.summary, &stat.recorded.summary);
    let burst = |c: &ConfigResult| {
        let phase = c.recorded.phases.iter().find(|p| p.name == "bursts");
        phase.unwrap().summary.achieved_rps
    };
    let checks = [
        (
            d.latency.p99_us >= 5 * s.latency.p99_us,
            format!(
                "latency p99: dynamic {} static {}",
                d.latency.p99_us, s.latency.p99_us
            ),
        ),
        (
            d.queue_wait.p99_us >= 5 * s.queue_wait.p99_us,
            format!(
                "queue wait p99: dynamic {} static {}",
                d.queue_wait.p99_us, s.queue_wait.p99_us
            ),
        ),
        (
            burst(stat) >= 1.3 * burst(dynamic),
            format!(
                "burst-phase rps: static {} dynamic {}",
                burst(stat),
                burst(dynamic)
            ),
        ),
        (
            dynamic.server.max_listen_queue.unwrap_or(0) >= 5,
            format!(
                "dynamic-1 listen queue {:?}",
                dynamic.server.max_listen_queue
            ),
        ),
    ];
    match checks.into_iter().find(|(ok, _)| !ok) {
        Some((_, failed)) => Err(failed),
        None => Ok(()),
    }
}

#[test]
fn quickstart_on_docker_shows_the_same_collapse() {
    if !engine() {
        return;
    }
    let dir = tempdir();
    // The static pool needs 1.5 cores: on a machine busy with other work the containers (one
    // scheduling group under cgroup v1) may not get them. A missed comparison is measured
    // again once, never loosened.
    let mut failures = Vec::new();
    for attempt in 1..=2 {
        let out = dir.path().join(format!("out-{attempt}"));
        let quickstart = repo().join("scenarios/quickstart.toml");
        let (o, pid) = fpmlab(&quickstart, &out, "docker", &[]);
        assert_clean(pid);
        assert!(o.status.success(), "{}", stderr(&o));
        let table = String::from_utf8_lossy(&o.stdout).into_owned();
        let run = common::load(&out);
        assert!(!run.partial);
        assert_eq!(run.environment.stack.driver, "docker");
        assert!(
            run.environment.stack.php_version.is_some(),
            "{:?}",
            run.environment
        );
        let [dynamic, stat] = [&run.configs[0], &run.configs[1]];
        assert_eq!(dynamic.name, "dynamic-1");
        for c in [dynamic, stat] {
            let s = &c.recorded.summary;
            assert_eq!(s.responses, s.scheduled, "{}: {:?}", c.name, s);
            assert_eq!(s.error_rate, 0.0, "{}: {:?}", c.name, s.status_counts);
            // The same server-side view as native, plus the containers' own figures.
            let endpoints = c.endpoints.as_ref().unwrap();
            assert_eq!(endpoints.containers.len(), 2, "{endpoints:?}");
            let fpm = c.server.container.as_ref().and_then(|x| x.php_fpm.as_ref());
            let fpm = fpm.unwrap_or_else(|| panic!("{}: no container summary", c.name));
            assert!(fpm.peak_memory_bytes > 0, "{fpm:?}");
            assert!(fpm.peak_cpu_pct.unwrap_or(0.0) > 10.0, "{fpm:?}");
            assert!(c.samples.iter().filter(|s| s.container.is_some()).count() > 20);
            assert!(c.samples.iter().any(|s| !s.workers.is_empty()));
            let logs = out.join(&c.dir).join("logs");
            for f in [
                "docker-php-fpm.log",
                "docker-nginx.log",
                "php-fpm.log",
                "nginx-access.log",
            ] {
                assert!(logs.join(f).is_file(), "{} missing", logs.join(f).display());
            }
        }
        match collapse(dynamic, stat) {
            Ok(()) => return,
            Err(e) => {
                eprintln!("attempt {attempt}: {e}\n{table}");
                failures.push(format!("{e}\n{table}"));
            }
        }
    }
    panic!(
        "the quickstart's phenomenon did not show in 2 attempts:\n{}",
        failures.join("\n")
    );
}

/// The CPU script's service time (the app's own view) must not depend on the driver: same
/// image packages, same configs, no limits.
#[test]
fn native_and_docker_agree_on_service_time() {
    if !engine() {
        return;
    }
    let dir = tempdir();
    let scenario = common::scenario(
        dir.path(),
        "parity",
        r#"
        [[config]]
        name = "static-1"
        pm = "static"
        max_children = 1
        [[phase]]
        duration = "6s"
        pattern = "constant"
        rate = 5
        [[request]]
        path = "/cpu.php?units=60"
        "#,
    );
    // A shared machine is noisy: a failed comparison is re-measured (up to 3 times), never
    // loosened.
    let mut seen = Vec::new();
    for attempt in 1..=3 {
        let mut p50 = Vec::new();
        for stack in ["native", "docker"] {
            let out = dir.path().join(format!("{stack}-{attempt}"));
            let (o, pid) = fpmlab(&scenario, &out, stack, &[]);
            assert_clean(pid);
            assert!(o.status.success(), "{stack}: {}", stderr(&o));
            let run = common::load(&out);
            assert_eq!(run.environment.stack.driver, stack);
            let s = &run.configs[0].recorded.summary;
            assert_eq!(status(&run.configs[0], "200"), s.scheduled, "{stack}");
            p50.push(s.service.p50_us as f64);
        }
        let ratio = p50[1] / p50[0];
        seen.push(format!("native {} µs, docker {} µs", p50[0], p50[1]));
        if (0.75..=1.25).contains(&ratio) {
            return;
        }
        eprintln!("attempt {attempt}: service p50 {}", seen.last().unwrap());
    }
    panic!("service p50 differs by more than 25% in every attempt: {seen:?}");
}

/// A pool whose workers together need more than the container's memory: the kernel's OOM
/// killer kills workers, nginx answers 502, and run.json names it.
#[test]
fn memory_starved_pool_records_oom_kills_and_502s() {
    if !engine() {
        return;
    }
    let dir = tempdir();
    let out = dir.path().join("out");
    let scenario = common::scenario(
        dir.path(),
        "oom",
        r#"
        [stack]
        memory = "128MiB"
        memory_limit = "256M"
        [[config]]
        name = "static-4"
        pm = "static"
        max_children = 4
        [[phase]]
        duration = "6s"
        pattern = "burst"
        size = 4
        every = "1500ms"
        [[request]]
        path = "/mem.php?mb=64&hold_ms=500"
        "#,
    );
    let (o, pid) = fpmlab(&scenario, &out, "docker", &[]);
    assert_clean(pid);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = common::load(&out);
    let c = &run.configs[0];
    assert!(
        status(c, "502") >= 2,
        "{:?}",
        c.recorded.summary.status_counts
    );
    assert!(c.recorded.summary.unreported_by_app >= 2);
    let kinds = |k: &str| c.events.iter().filter(|e| e.kind == k).count();
    assert!(kinds("oom_kill") >= 1, "{:#?}", c.events);
    assert!(kinds("worker_killed") >= 1, "{:#?}", c.events);
    assert!(c
        .events
        .iter()
        .any(|e| e.detail.contains("OOM killer") && e.detail.contains("php-fpm container")));
    let fpm = c
        .server
        .container
        .as_ref()
        .unwrap()
        .php_fpm
        .as_ref()
        .unwrap();
    assert_eq!(fpm.memory_limit_bytes, Some(128 << 20));
    assert!(fpm.oom_kills.unwrap_or(0) >= 1, "{fpm:?}");
    assert!(fpm.peak_memory_bytes <= 128 << 20);
}
