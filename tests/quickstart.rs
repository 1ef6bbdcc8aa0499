//! The quickstart's phenomenon on the real native stack: pm = dynamic with one child
//! collapses under bursts, a static pool holds. The load is exact in CPU time (cpu.php?ms=),
//! so the same scenario is the same share of the machine on any day: 1.4 cores of work
//! against a pool of one core and a pool of the machine's two.

mod common;

use fpmlab::results::ConfigResult;

/// CPU busy time of the whole machine so far, s (`/proc/stat`: all but idle and iowait).
fn machine_busy_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    let busy: u64 = ticks.iter().take(8).sum::<u64>() - ticks[3] - ticks[4];
    // SAFETY: sysconf has no preconditions.
    busy as f64 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// CPU time of this test's reaped children, s: fpmlab with its stack (it reaps nginx and
/// php-fpm, which reap their workers).
fn children_cpu_s() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut r) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(r.ru_utime) + s(r.ru_stime)
}

#[test]
fn dynamic_one_child_collapses_static_pool_holds() {
    let dir = tempfile::tempdir().unwrap();
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml");
    // The static pool needs about 1.5 of the 2 cores: while other work on the machine takes
    // more than a few tenths of a core it cannot get them (and the one-child pool is then no
    // worse off). A missed comparison is measured again once, never loosened.
    let mut failures = Vec::new();
    for attempt in 1..=2 {
        let out = dir.path().join(format!("out-{attempt}"));
        let (busy, ours, started) = (
            machine_busy_s(),
            children_cpu_s(),
            std::time::Instant::now(),
        );
        let o = common::run_native(&scenario, &out);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let others = ((machine_busy_s() - busy) - (children_cpu_s() - ours)).max(0.0);
        let table = format!(
            "{}\nother processes used {:.2} of the machine's cores during the run",
            String::from_utf8_lossy(&o.stdout),
            others / started.elapsed().as_secs_f64()
        );
        let run = common::load(&out);
        assert!(!run.partial);
        let [dynamic, stat] = [&run.configs[0], &run.configs[1]];
        assert_eq!(dynamic.name, "dynamic-1");
        // Everything was answered; nothing dropped or lost.
        for c in [dynamic, stat] {
            let s = &c.recorded.summary;
            assert_eq!(s.responses, s.scheduled, "{}: {:?}", c.name, s);
            assert_eq!(s.error_rate, 0.0, "{}: {:?}", c.name, s.status_counts);
            // The demand was the one the scenario states, by /proc, busy machine or not.
            let cpu = c.cpu_per_request.as_ref().expect("cpu_per_request");
            assert_eq!(cpu.asked_ms, Some(50.0), "{}: {cpu:?}", c.name);
            assert_eq!(cpu.warning, None, "{}: {cpu:?}", c.name);
        }
        assert!(!dynamic.samples.is_empty());
        assert!(
            table.contains("dynamic-1") && table.contains("static-4"),
            "{table}"
        );
        common::assert_torn_down(&out, &run);
        eprintln!(
            "attempt {attempt}: {}",
            table.lines().last().unwrap_or_default()
        );
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

/// The phenomenon: `Err` says which comparison failed. Prints the ratios either way.
fn collapse(dynamic: &ConfigResult, stat: &ConfigResult) -> Result<(), String> {
    let (d, s) = (&dynamic.recorded.summary, &stat.recorded.summary);
    let burst = |c: &ConfigResult| {
        let phase = c.recorded.phases.iter().find(|p| p.name == "bursts");
        phase.unwrap().summary.achieved_rps
    };
    let measured = |c: &ConfigResult| c.cpu_per_request.as_ref().and_then(|v| v.measured_ms);
    eprintln!(
        "dynamic-1 / static-4: latency p99 {:.1}x, queue wait p99 {:.1}x, burst rps {:.2}x \
         ({:.1} / {:.1}); static-4 p99 {:.2} s; CPU per request {:.2?} / {:.2?} ms",
        d.latency.p99_us as f64 / s.latency.p99_us as f64,
        d.queue_wait.p99_us as f64 / s.queue_wait.p99_us as f64,
        burst(stat) / burst(dynamic),
        burst(stat),
        burst(dynamic),
        s.latency.p99_us as f64 / 1e6,
        measured(dynamic),
        measured(stat),
    );
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
            s.latency.p99_us < 1_500_000,
            format!("static-4 latency p99 {} µs", s.latency.p99_us),
        ),
        (
            burst(stat) >= 1.3 * burst(dynamic),
            format!(
                "burst-phase rps: static {} dynamic {}",
                burst(stat),
                burst(dynamic)
            ),
        ),
        // The APM view stays calm while users wait: 50 ms of CPU stays well under 250 ms of
        // wall time for the one worker, queueing or not.
        (
            d.service.p99_us < 250_000,
            format!("dynamic service p99 {} µs", d.service.p99_us),
        ),
        // Server-side view agrees: the one-child pool's listen queue built up.
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
