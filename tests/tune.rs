//! `fpmlab tune` on the real native stack: a known CPU demand per request (cpu.php) on this
//! machine, a memory budget that holds only 3 workers, and objectives refused before anything
//! starts; the report's tune section and chart; the model at a pool the tune did not measure
//! against a plain run of it. Short phases: each tune is a handful of runs of 8 s.

mod common;

use std::path::Path;
use std::process::Command;

use fpmlab::tune::TuneResult;

/// The traffic of the CPU tune: 16 requests of 40 ms CPU every 2 s after a warm-up.
const CPU_TRAFFIC: &str = r#"
[load]
client_timeout = "20s"
[[phase]]
name = "warmup"
duration = "2s"
pattern = "constant"
rate = 4
[[phase]]
name = "bursts"
duration = "6s"
pattern = "burst"
size = 16
every = "2s"
[[request]]
path = "/cpu.php?ms=40"
"#;

/// No [[config]]: tune searches the pools itself; the objective is in [tune].
fn cpu_tune() -> String {
    format!("name = \"tune-cpu\"\n[tune]\np99 = \"3s\"\nmax_errors = \"1%\"\n{CPU_TRAFFIC}")
}

/// The same traffic as a plain run of one pool.
fn cpu_run(max_children: u32) -> String {
    format!("name = \"tune-cpu-check\"\n[[config]]\npm = \"static\"\nmax_children = {max_children}\n{CPU_TRAFFIC}")
}

const IO: &str = r#"
name = "tune-io"
[[config]]
pm = "static"
max_children = 1
[load]
client_timeout = "20s"
[[phase]]
name = "bursts"
duration = "6s"
pattern = "burst"
size = 16
every = "2s"
[[request]]
path = "/io.php?ms=100"
"#;

fn tune(scenario: &Path, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let o = Command::new(common::bin())
        .args(["tune", "--stack", "native", "--quiet"])
        .args(if extra.contains(&"--max-time") {
            &[][..]
        } else {
            &["--max-time", "3m"][..]
        })
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run fpmlab tune");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

fn result(out: &Path) -> TuneResult {
    let text = std::fs::read_to_string(out.join("tune.json")).expect("tune.json");
    serde_json::from_str(&text).expect("tune.json parses")
}

#[test]
fn recommends_a_pool_that_holds_and_respects_a_memory_budget() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // CPU-bound bursts: 16 requests of 40 ms CPU every 2 s on this 2-core machine. The
    // objective is wide (the machine is shared): one worker queues the burst for ~0.7 s of
    // CPU alone, several finish it in about half. The scenario has [tune] and no [[config]].
    let cpu = common::scenario(dir.path(), "cpu", &cpu_tune());
    let out = dir.path().join("cpu-out");
    let (code, stdout, stderr) = tune(&cpu, &out, &[]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let t = result(&out);
    let inputs = t.inputs.clone().expect("inputs measured");
    // cpu.php?ms=40 asks for 40 ms of CPU: the workers' accounting agrees within wide margins.
    assert!(
        (20.0..80.0).contains(&inputs.cpu_per_request_ms),
        "{inputs:?}"
    );
    let rec = t.recommendation.clone().expect("a recommendation");
    let recheck = rec.recheck.clone().expect("the recommendation was re-run");
    assert!(
        recheck.latency_p99_ms <= 3000.0 && recheck.error_share <= 0.01,
        "{stdout}"
    );
    assert!(rec.meets_objective, "{stdout}");
    assert!(
        ["cpu", "memory", "queueing"].contains(&rec.decided_by.as_str()),
        "{stdout}"
    );
    // Every point run in full carries the model's prediction and its error; one stopped
    // early says why and never counts as meeting the objective.
    assert!(t.points.len() >= 2, "{stdout}");
    for p in &t.points {
        assert!(p.predicted.is_some(), "{stdout}");
        match &p.stopped_early {
            None => assert!(p.p99_error_pct.is_some(), "{stdout}"),
            Some(why) => assert!(!p.meets && why.contains("stopped early"), "{stdout}"),
        }
    }
    // The headroom, checked by one run at that load: there is room on a 3 s objective.
    assert!(rec.headroom_factor > 1.05, "{stdout}");
    let h = rec
        .headroom_check
        .clone()
        .expect("the headroom was checked by a run");
    assert!(h.factor > 1.0 && h.predicted.is_some(), "{stdout}");
    assert!(t.points.iter().any(|p| p.role == "headroom"), "{stdout}");
    assert!(stdout.contains("headroom checked"), "{stdout}");
    let conf = std::fs::read_to_string(out.join("pool.conf")).expect("pool.conf");
    assert!(
        conf.contains(&format!("pm.max_children = {}", rec.max_children)),
        "{conf}"
    );
    assert!(conf.contains("max_execution_time") && conf.contains("fastcgi_read_timeout"));
    assert!(rec.max_execution_time_s < rec.request_terminate_timeout_s);
    assert!(rec.request_terminate_timeout_s < rec.fastcgi_read_timeout_s);
    assert!(rec.fastcgi_read_timeout_s < rec.lb_idle_timeout_s);
    report_has_the_tune_section(&out, &t, dir.path());

    // The model at a pool the tune did not measure, against a plain run of it: within 25 %.
    let measured: Vec<u32> = t.points.iter().map(|p| p.max_children).collect();
    let unmeasured = [4, 3, 6, 5, 8]
        .into_iter()
        .find(|c| !measured.contains(c))
        .unwrap();
    let predicted = t
        .curve
        .iter()
        .find(|c| c.max_children == unmeasured)
        .expect("the curve covers the pool")
        .latency_p99_ms;
    let check = common::scenario(dir.path(), "check", &cpu_run(unmeasured));
    let ran = common::run_end_to_end(&check, &dir.path().join("check-out"));
    let p99 = ran.run.configs[0].recorded.summary.latency.p99_us as f64 / 1000.0;
    let error = (predicted - p99) / p99;
    assert!(
        error.abs() <= 0.25,
        "max_children = {unmeasured}: model p99 {predicted:.0} ms, measured {p99:.0} ms ({:+.0} %)\n{stdout}",
        error * 100.0
    );

    // I/O-bound bursts want many workers; a budget of 3.5 workers (at the p95 PSS just
    // measured) must cap the pool at 3 whatever the queueing says.
    let io = common::scenario(dir.path(), "io", IO);
    let out = dir.path().join("io-out");
    let budget = format!("{}MiB", (inputs.worker_pss_p95_mib * 3.5).ceil() as u64);
    let (code, stdout, stderr) = tune(&io, &out, &["--p99", "300ms", "--memory", &budget]);
    assert!(code == 0 || code == 1, "{stdout}\n{stderr}");
    let t = result(&out);
    let rec = t.recommendation.expect("a recommendation");
    assert!(rec.max_children <= 3, "{stdout}");
    assert!(t.memory_ceiling.is_some_and(|c| c <= 4), "{stdout}");
    // Only the first point (run before the worker size is known) may be larger, and the
    // memory-only formula's own pool, measured to show what it does: it divides the budget
    // by the average worker, so it sits above a ceiling drawn at the p95 worker.
    let ceiling = t.memory_ceiling.unwrap();
    assert!(
        (t.points.iter().skip(1))
            .filter(|p| p.role != "memory_only")
            .all(|p| p.max_children <= ceiling),
        "{stdout}"
    );
}

/// The tune directory's report.html (written by tune, again by `fpmlab report DIR`) and the
/// Markdown export carry the tune section; in Chromium its chart is laid out and drawn,
/// with a mark for every point.
fn report_has_the_tune_section(out: &Path, t: &TuneResult, tmp: &Path) {
    let rec = t.recommendation.as_ref().unwrap();
    let headline = format!(
        "Recommended: pm = static, pm.max_children = {}",
        rec.max_children
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("tune wrote report.html");
    let section = &html[html.find("<section id=\"tune\">").expect("a tune section")..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(section.contains(&headline), "{section}");
    assert!(
        section.contains("<svg") && section.contains("objective: p99"),
        "{section}"
    );
    assert!(section.contains("decided by"), "{section}");
    let md = out.join("tune.md");
    let o = Command::new(common::bin())
        .args(["report", "--no-html", "--export-markdown"])
        .arg(&md)
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("### Tune") && md.contains(&headline), "{md}");
    assert!(md.contains("| max_children | role |"), "{md}");
    let Some(probe) = common::probe_page(&html, PROBE, tmp) else {
        return;
    };
    let charted = t.points.iter().filter(|p| p.role != "headroom").count() as u64;
    assert!(probe["width"].as_f64().unwrap() > 300.0, "{probe}");
    assert!(probe["height"].as_f64().unwrap() > 150.0, "{probe}");
    assert!(probe["marks"].as_u64().unwrap() >= 2 * charted, "{probe}");
    assert!(probe["lines"].as_u64().unwrap() >= 3, "{probe}");
    assert_eq!(probe["errors"].as_u64(), Some(0), "{probe}");
}

/// Reads the tune chart once the page has loaded: its size, its point marks and lines.
const PROBE: &str = r#"<script>
window.__errors = 0;
window.addEventListener('error', () => window.__errors++);
window.addEventListener('load', () => {
  const svg = document.querySelector('#tune figure svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  document.body.setAttribute('data-probe', JSON.stringify({width: box.width, height: box.height,
    marks: svg ? svg.querySelectorAll('circle, polygon').length : 0,
    lines: svg ? svg.querySelectorAll('polyline, path, line').length : 0, errors: window.__errors}));
});
</script>"#;

#[test]
fn bad_objectives_and_budgets_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let good = common::scenario(dir.path(), "good", &cpu_run(1));
    let closed = common::scenario(
        dir.path(),
        "closed",
        &cpu_run(1).replace(
            "pattern = \"constant\"\nrate = 4",
            "pattern = \"closed\"\nusers = 2",
        ),
    );
    let out = dir.path().join("never");
    let cases: &[(&Path, &[&str], &[&str])] = &[
        (&good, &[], &["--p99", "objective is missing"]),
        (&good, &["--p99", "fast"], &["--p99", "800ms"]),
        (
            &good,
            &["--p99", "30s"],
            &["--p99", "client_timeout", "lower p99"],
        ),
        (
            &good,
            &["--p99", "1s", "--max-errors", "lots"],
            &["--max-errors", "0.1%"],
        ),
        (
            &good,
            &["--p99", "1s", "--max-errors", "60%"],
            &["--max-errors", "below 50 %"],
        ),
        (
            &good,
            &["--p99", "1s", "--memory", "0"],
            &["--memory", "2GiB"],
        ),
        (
            &good,
            &["--p99", "1s", "--memory-reserve", "1000GiB"],
            &["--memory-reserve", "smaller reserve"],
        ),
        (
            &good,
            &["--p99", "1s", "--max-time", "2s"],
            &["--max-time", "at least 10s"],
        ),
        (
            &closed,
            &["--p99", "1s"],
            &["pattern", "open arrival pattern"],
        ),
        (
            &good,
            &[
                "--p99",
                "1s",
                "--memory",
                "1GiB",
                "--memory-reserve",
                "1GiB",
            ],
            &["--memory"],
        ),
    ];
    for (scenario, args, want) in cases {
        let (code, stdout, stderr) = tune(scenario, &out, args);
        assert_eq!(code, 2, "{args:?}: {stdout}\n{stderr}");
        for w in *want {
            assert!(stderr.contains(w), "{args:?}: missing {w:?} in {stderr}");
        }
        assert!(!out.exists(), "{args:?} started something");
    }

    // `fpmlab validate` checks [tune] as tune would; a scenario of [tune] and no [[config]]
    // validates, and `fpmlab run` refuses it (no pool to run) before anything starts.
    let validate = |path: &Path| {
        let o = Command::new(common::bin())
            .arg("validate")
            .arg(path)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let only_tune = common::scenario(dir.path(), "only-tune", &cpu_tune());
    let (code, text) = validate(&only_tune);
    assert_eq!(code, 0, "{text}");
    let bad = [
        ("p99 = \"3s\"", "p99 = \"fast\"", &["tune.p99", "800ms"][..]),
        (
            "max_errors = \"1%\"",
            "max_errors = \"60%\"",
            &["tune.max_errors", "below 50 %"][..],
        ),
        (
            "max_errors = \"1%\"",
            "max_errors = \"1%\"\nmemory = \"0\"",
            &["tune.memory", "2GiB"][..],
        ),
        (
            "max_errors = \"1%\"",
            "max_errors = \"1%\"\nmax_time = \"2s\"",
            &["tune.max_time", "at least 10s"][..],
        ),
    ];
    for (from, to, want) in bad {
        let path = common::scenario(dir.path(), "bad-tune", &cpu_tune().replace(from, to));
        let (code, text) = validate(&path);
        assert_eq!(code, 2, "{to}: {text}");
        assert!(text.contains("bad-tune.toml"), "{to}: {text}");
        for w in want {
            assert!(text.contains(w), "{to}: missing {w:?} in {text}");
        }
    }
    let refused = common::run_native(&only_tune, &out);
    let text = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(text.contains("fpmlab tune"), "{text}");
    assert!(!out.exists(), "run started something");
}
