//! The docker driver against the real engine (no mocks): the quickstart's phenomenon, parity
//! with the native driver, and OOM kills under a memory limit. What depends on the machine
//! having cores to spare (the static pool holding beside the collapsing one) is an ignored
//! test: `cargo test --release --test stack_docker -- --ignored` on a quiet machine. Every test checks that nothing
//! of its run remains (`tests/common/docker.rs`).
//!
//! Needs a docker engine and compose; the image is built on first use (offline with
//! debootstrap where no registry answers: `scripts/test.sh` prepares it). Without an engine
//! every test here says so loudly and passes.

mod common;

use common::docker::{assert_clean, engine, fpmlab, repo, status, stderr, tempdir};
use fpmlab::results::ConfigResult;

/// The one-child pool's collapse, on its own terms: the bursts ask for 2 cores' worth every
/// second of a pool that can use at most one, so the queue grows whatever the machine
/// (neighbours only slow the worker further): users wait many times the app's own service
/// time, nearly all of it queued for the worker, and requests pile up in the listen queue.
/// Holds on any machine; `Err` says which check failed.
fn one_child_collapses(dynamic: &ConfigResult) -> Result<(), String> {
    let d = &dynamic.recorded.summary;
    let checks = [
        (
            d.latency.p99_us >= 10 * d.service.p99_us,
            format!(
                "dynamic-1 latency p99 {} against its own service p99 {}",
                d.latency.p99_us, d.service.p99_us
            ),
        ),
        (
            d.queue_wait.p99_us >= d.latency.p99_us * 8 / 10,
            format!(
                "dynamic-1 queue wait p99 {} of latency p99 {}",
                d.queue_wait.p99_us, d.latency.p99_us
            ),
        ),
        (
            dynamic.server.max_listen_queue.unwrap_or(0) >= 5,
            format!(
                "dynamic-1 listen queue {:?}",
                dynamic.server.max_listen_queue
            ),
        ),
        (
            dynamic.server.peak_total_workers == Some(1),
            format!("dynamic-1 workers {:?}", dynamic.server.peak_total_workers),
        ),
    ];
    match checks.into_iter().find(|(ok, _)| !ok) {
        Some((_, failed)) => Err(failed),
        None => Ok(()),
    }
}

/// The static pool holds beside it, as `tests/quickstart.rs` asserts on native: needs the
/// 1.7 cores the static pool uses, which a machine busy with other work does not give (the
/// two configs run one after the other, so a neighbour's load that comes and goes between
/// them turns the comparison). `Err` says which comparison failed.
fn static_pool_holds(dynamic: &ConfigResult, stat: &ConfigResult) -> Result<(), String> {
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
    ];
    match checks.into_iter().find(|(ok, _)| !ok) {
        Some((_, failed)) => Err(failed),
        None => Ok(()),
    }
}

/// Runs the quickstart on docker and checks everything that holds on any machine; returns
/// the two configs' results and the table.
fn quickstart_on_docker(out: &std::path::Path) -> (ConfigResult, ConfigResult, String) {
    let quickstart = repo().join("scenarios/quickstart.toml");
    let (o, pid) = fpmlab(&quickstart, out, "docker", &[]);
    assert_clean(pid);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    let run = common::load(out);
    assert!(!run.partial);
    assert_eq!(run.environment.stack.driver, "docker");
    assert!(
        run.environment.stack.php_version.is_some(),
        "{:?}",
        run.environment
    );
    let mut configs = run.configs.into_iter();
    let (dynamic, stat) = (configs.next().unwrap(), configs.next().unwrap());
    assert_eq!(dynamic.name, "dynamic-1");
    for c in [&dynamic, &stat] {
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
    assert_eq!(stat.server.peak_total_workers, Some(4), "{:?}", stat.server);
    (dynamic, stat, table)
}

#[test]
fn quickstart_on_docker_shows_the_one_child_collapse() {
    if !engine() {
        return;
    }
    let dir = tempdir();
    let (dynamic, _, table) = quickstart_on_docker(&dir.path().join("out"));
    if let Err(e) = one_child_collapses(&dynamic) {
        panic!("{e}\n{table}");
    }
}

#[test]
#[ignore = "reason: timing (the static pool needs 1.7 free cores), run with --ignored on a quiet machine"]
fn quickstart_on_docker_static_pool_holds_on_a_quiet_machine() {
    if !engine() {
        return;
    }
    let dir = tempdir();
    // A missed comparison is measured again once, never loosened.
    let mut failures = Vec::new();
    for attempt in 1..=2 {
        let out = dir.path().join(format!("out-{attempt}"));
        let (dynamic, stat, table) = quickstart_on_docker(&out);
        match one_child_collapses(&dynamic).and_then(|()| static_pool_holds(&dynamic, &stat)) {
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

/// Mean CPU time of the `cpu.php` requests php-fpm served, ms, from its own access log
/// (`dur_ms=… cpu=…%`: the request's duration and the share of it spent on a CPU).
fn cpu_ms_per_request(config_dir: &std::path::Path) -> f64 {
    let log = std::fs::read_to_string(config_dir.join("logs/php-fpm-access.log")).unwrap();
    let field = |line: &str, key: &str| -> f64 {
        let v = line.split_whitespace().find_map(|w| w.strip_prefix(key));
        let v = v.unwrap_or_else(|| panic!("no {key} in {line}"));
        v.trim_end_matches('%').parse().unwrap()
    };
    let cpu: Vec<f64> = log
        .lines()
        .filter(|l| l.contains("/cpu.php"))
        .map(|l| field(l, "dur_ms=") * field(l, "cpu=") / 100.0)
        .collect();
    assert!(cpu.len() >= 10, "{} cpu.php lines in\n{log}", cpu.len());
    cpu.iter().sum::<f64>() / cpu.len() as f64
}

/// The CPU script's cost (the app's own view) must not depend on the driver: same image
/// packages, same configs, same CPU unit, no limits. Judged in CPU time, as php-fpm logs it:
/// the two runs go one after the other, and a neighbour's load that comes and goes between
/// them would stretch one run's wall-clock service time and not the other's.
#[test]
fn native_and_docker_agree_on_cpu_per_request() {
    if !engine() || !common::native_stack() {
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
    // CPU time still drifts with what shares the core's caches: a failed comparison is
    // re-measured (up to 3 times), never loosened.
    let mut seen = Vec::new();
    for attempt in 1..=3 {
        let mut cpu = Vec::new();
        for stack in ["native", "docker"] {
            let out = dir.path().join(format!("{stack}-{attempt}"));
            let (o, pid) = fpmlab(&scenario, &out, stack, &[]);
            assert_clean(pid);
            assert!(o.status.success(), "{stack}: {}", stderr(&o));
            let run = common::load(&out);
            assert_eq!(run.environment.stack.driver, stack);
            let c = &run.configs[0];
            let s = &c.recorded.summary;
            assert_eq!(status(c, "200"), s.scheduled, "{stack}");
            // Every one of them reported its service time to the client.
            assert_eq!(s.service.count, s.scheduled, "{stack}");
            cpu.push(cpu_ms_per_request(&out.join(&c.dir)));
        }
        let ratio = cpu[1] / cpu[0];
        seen.push(format!("native {:.1} ms, docker {:.1} ms", cpu[0], cpu[1]));
        eprintln!(
            "attempt {attempt}: CPU per request {}",
            seen.last().unwrap()
        );
        if (0.75..=1.25).contains(&ratio) {
            return;
        }
        eprintln!(
            "attempt {attempt}: CPU per request {}",
            seen.last().unwrap()
        );
    }
    panic!("CPU per request differs by more than 25% in every attempt: {seen:?}");
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
