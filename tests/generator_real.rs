//! The generator against real servers, through the real binary: every scheduled request is
//! accounted for at a modest fixed rate through nginx and php-fpm, and closed-loop
//! throughput and CPU per request stay on par with wrk's on the same nginx in the same test
//! (generous ratios: the benchmark measures them precisely).

mod common;

use common::plain_nginx::Nginx;

#[test]
fn every_scheduled_request_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = common::scenario(
        dir.path(),
        "accounting",
        r#"# Modest fixed rates through nginx and php-fpm: nothing may go missing.
[[config]]
name = "static-2"
pm = "static"
max_children = 2

[[phase]]
name = "constant"
duration = "2s"
pattern = "constant"
rate = 400

[[phase]]
name = "poisson"
duration = "1s"
pattern = "poisson"
rate = 300

[[phase]]
name = "closed"
duration = "1s"
pattern = "closed"
users = 4

[[request]]
path = "/hello.php"
"#,
    );
    let o = common::run_native(&scenario, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = common::load(&out);
    let c = &run.configs[0];
    let s = &c.recorded.summary;
    let constant = &c.recorded.phases[0].summary;
    assert_eq!(constant.scheduled, 800);
    for (i, p) in c.recorded.phases.iter().enumerate() {
        let p = &p.summary;
        assert!(p.scheduled > 0, "phase {i}: {p:?}");
        assert_eq!(p.sent, p.scheduled, "phase {i}: {p:?}");
        assert_eq!(p.responses, p.sent, "phase {i}: {p:?}");
        assert_eq!(p.status_counts.get("200"), Some(&p.responses), "phase {i}");
    }
    assert_eq!(s.dropped_max_in_flight, 0);
    assert_eq!(s.client_failures.total(), 0, "{s:?}");
    // hello.php reports its php-fpm timing on every response.
    assert_eq!(s.unreported_by_app, 0);
    let timeline_sent: u64 = c.recorded.timeline.iter().map(|b| b.sent).sum();
    let timeline_done: u64 = c.recorded.timeline.iter().map(|b| b.completed).sum();
    assert_eq!((timeline_sent, timeline_done), (s.sent, s.responses));
    // The load thread's own CPU is measured and part of the whole process's.
    let g = &c.generator;
    assert!(g.load_thread_cpu_ms > 0, "{g:?}");
    assert!(g.load_thread_cpu_ms <= g.cpu_ms + 10, "{g:?}");
    assert!(g.warnings.is_empty(), "{:?}", g.warnings);
    // Generous: a shared CI machine preempts; the benchmark measures lag precisely.
    assert!(
        constant.client_lag.p50_us < 5_000,
        "{:?}",
        constant.client_lag
    );
}

/// (responses per second, CPU µs per response) of a generator pinned to CPU 0, as the
/// benchmark runs it.
fn measure(program: &str, args: &[String], count: impl Fn(&str) -> f64) -> (f64, f64) {
    let usage = common::measured::pinned(0, program, args);
    let n = count(&usage.stdout);
    assert!(n > 0.0, "{program} counted no responses: {}", usage.stdout);
    (n / usage.wall_s, usage.cpu_s * 1e6 / n)
}

#[test]
fn closed_loop_is_on_par_with_wrk() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path());
    let url = nginx.url();
    let secs = 2;
    let wrk = || {
        let args = ["-t1", "-c16", &format!("-d{secs}s"), &url].map(String::from);
        measure("wrk", &args, |out| {
            out.lines()
                .find_map(|l| l.trim().split_once(" requests in "))
                .and_then(|(n, _)| n.trim().parse().ok())
                .unwrap_or(0.0)
        })
    };
    let scenario = common::scenario(
        dir.path(),
        "closed",
        &format!("# closed loop\n[[config]]\nname = \"c\"\npm = \"static\"\nmax_children = 1\n[[phase]]\nduration = \"{secs}s\"\npattern = \"closed\"\nusers = 16\n[[request]]\npath = \"/\"\n"),
    );
    let run_dir = dir.path().join("run");
    let fpmlab = || {
        let _ = std::fs::remove_dir_all(&run_dir);
        let args = [
            "run",
            scenario.to_str().unwrap(),
            "--stack",
            "external",
            "--target",
            &url,
            "--quiet",
            "--no-report",
            "--out",
            run_dir.to_str().unwrap(),
        ]
        .map(String::from);
        measure(common::bin(), &args, |_| {
            let run = common::load(&run_dir);
            let c = &run.configs[0];
            // At full speed the load thread is the likely bottleneck: the run must say so
            // exactly when its own figures show it.
            let g = &c.generator;
            let warned = g
                .warnings
                .iter()
                .any(|w| w.contains("load thread was busy"));
            assert_eq!(warned, g.load_thread_cpu_pct > 85.0, "{g:?}");
            assert!(g.load_thread_cpu_ms > 0 && g.load_thread_cpu_ms <= g.cpu_ms + 10);
            c.recorded.summary.responses as f64
        })
    };
    // A B A B: drift hits both alike; the better of two rounds each.
    let (w1, f1, w2, f2) = (wrk(), fpmlab(), wrk(), fpmlab());
    let best = |a: (f64, f64), b: (f64, f64)| (a.0.max(b.0), a.1.min(b.1));
    let (w, f) = (best(w1, w2), best(f1, f2));
    eprintln!(
        "wrk {:.0}/s {:.2} µs/req; fpmlab {:.0}/s {:.2} µs/req",
        w.0, w.1, f.0, f.1
    );
    assert!(
        f.0 > 0.5 * w.0,
        "fpmlab {:.0}/s against wrk {:.0}/s",
        f.0,
        w.0
    );
    assert!(
        f.1 < 2.0 * w.1,
        "fpmlab {:.2} µs/req against wrk {:.2}",
        f.1,
        w.1
    );
    drop(nginx);
}
