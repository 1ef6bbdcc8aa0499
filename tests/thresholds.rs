//! `[[threshold]]` end to end: `fpmlab run` against a tiny HTTP server on 127.0.0.1
//! (external stack) prints pass/fail lines, stores the verdicts in run.json and exits 0
//! when every threshold held, 3 when one was breached; invalid thresholds are refused (2).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use fpmlab::results::CheckOutcome;

/// Answers every request with a small 200 and closes; stops with the test process.
fn tiny_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = stream;
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n");
            });
        }
    });
    format!("http://{addr}")
}

const SCENARIO: &str = r#"
name = "thresholds"
[[config]]
name = "static-2"
pm = "static"
max_children = 2
[[phase]]
name = "steady"
duration = "1s"
pattern = "constant"
rate = 10
[[request]]
path = "/hello.php"
"#;

fn run(dir: &Path, thresholds: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let scenario = common::scenario(dir, "t", &format!("{SCENARIO}\n{thresholds}"));
    let out = dir.join("out");
    let o = Command::new(common::bin())
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--stack",
            "external",
            "--target",
            &tiny_server(),
        ])
        .args(["--quiet", "--out", out.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn thresholds_that_hold_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        dir.path(),
        "[[threshold]]\nmetric = \"p99_latency\"\nmax = \"10s\"\n[[threshold]]\nmetric = \"error_rate\"\nmax = \"1%\"\nphase = \"steady\"\n[[threshold]]\nmetric = \"achieved_rps\"\nmin = 1",
        &[],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("thresholds:") && out.contains("PASS  static-2: latency_p99 ≤ 10.00 s"),
        "{out}"
    );
    assert!(
        out.contains("PASS  static-2 (phase steady): error_rate ≤ 1.00%"),
        "{out}"
    );
    let run = common::load(&dir.path().join("out"));
    assert_eq!(run.thresholds.len(), 3);
    assert!(
        run.thresholds
            .iter()
            .all(|v| v.outcome == CheckOutcome::Pass),
        "{:?}",
        run.thresholds
    );
    assert!(
        dir.path().join("out/report.html").exists(),
        "run writes the report"
    );
}

#[test]
fn a_breached_threshold_exits_three() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        dir.path(),
        "[[threshold]]\nmetric = \"latency_p99\"\nmax = \"1us\"\n[[threshold]]\nmetric = \"queue_wait_p99\"\nmax = \"1s\"",
        &["--no-report"],
    );
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(
        out.contains("FAIL  static-2: latency_p99 ≤ 1 µs: measured"),
        "{out}"
    );
    // The server reports no php timings: no data is a breach, never a pass.
    assert!(
        out.contains("FAIL  static-2: queue_wait_p99 ≤ 1.00 s: measured no data"),
        "{out}"
    );
    let run = common::load(&dir.path().join("out"));
    assert_eq!(run.thresholds[0].outcome, CheckOutcome::Fail);
    assert_eq!(run.thresholds[1].outcome, CheckOutcome::NoData);
    assert!(!dir.path().join("out/report.html").exists(), "--no-report");
}

#[test]
fn invalid_thresholds_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(
        dir.path(),
        "[[threshold]]\nmetric = \"p99_latency\"\nmax = 800\nconfig = \"static-9\"",
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("threshold[0].max") && err.contains("\"800ms\""),
        "{err}"
    );
    assert!(
        err.contains("threshold[0].config") && err.contains("static-2"),
        "{err}"
    );
    assert!(!dir.path().join("out").exists());
}
