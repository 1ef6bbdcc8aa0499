//! The Prometheus exports: the `--export-prom` file of a fixed run.json passes `promtool check
//! metrics`, and a real Prometheus (Debian's package, started here on a loopback port with a
//! temp config and storage) scrapes `--metrics-listen` during a short native run and then
//! answers a query for the pool figures.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/bursts/run.json"
);

/// promtool's lint problems other than the one php-fpm_exporter's own names cause: its
/// counters (`phpfpm_max_children_reached`, …) have no `_total` suffix, and dashboards
/// query them by those names, so fpmlab keeps them.
fn unexpected_problems(promtool: &Path, text: &str) -> Vec<String> {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let problems: Vec<String> = said
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !(l.starts_with("phpfpm_") && l.ends_with("should have \"_total\" suffix")))
        .map(str::to_string)
        .collect();
    // 0: clean; 3: lint problems only (listed); anything else: the text did not parse.
    assert!(
        matches!(o.status.code(), Some(0 | 3)),
        "promtool could not parse the export: {said}"
    );
    problems
}

#[test]
fn export_passes_promtool() {
    let Some(promtool) = common::tool(&["promtool"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.prom");
    let o = Command::new(common::bin())
        .args(["report", FIXTURE, "--no-html", "--export-prom"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    for needle in [
        "# TYPE phpfpm_active_processes gauge",
        "# TYPE phpfpm_max_children_reached counter",
        "phpfpm_listen_queue{config=\"",
        ",pool=\"www\",scrape_uri=\"http://127.0.0.1:",
        "# TYPE fpmlab_latency_seconds histogram",
        "fpmlab_queue_wait_seconds_bucket{config=\"",
        "le=\"+Inf\"}",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let problems = unexpected_problems(&promtool, &text);
    assert!(problems.is_empty(), "promtool: {problems:?}\n{text}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `path` from 127.0.0.1:`port`; the body, or `None` if nothing answered.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

/// The series of an instant query that have a value, as (labels, value) text.
fn query(port: u16, q: &str) -> Vec<(String, String)> {
    let Some(body) = get(port, &format!("/api/v1/query?query={q}")) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
        return Vec::new();
    };
    v["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["metric"].to_string(), r["value"][1].as_str()?.to_string())))
        .collect()
}

/// Kills the Prometheus it holds when the test ends, however it ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prometheus_scrapes_the_live_endpoint() {
    if !common::native_stack() {
        return;
    }
    let Some(prometheus) = common::tool(&["prometheus"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (endpoint, web) = (free_port(), free_port());
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: fpmlab\n    scrape_interval: 1s\n    scrape_timeout: 900ms\n\
             \x20   static_configs:\n      - targets: ['127.0.0.1:{endpoint}']\n"
        ),
    )
    .unwrap();
    let _prometheus = Killed(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let scenario = common::scenario(
        dir.path(),
        "live",
        r#"
        [[config]]
        name = "static-2"
        pm = "static"
        max_children = 2
        [[phase]]
        name = "steady"
        duration = "8s"
        pattern = "constant"
        rate = 20
        [[request]]
        path = "/cpu.php?units=20"
        "#,
    );
    let out = dir.path().join("out");
    let fpmlab = Command::new(common::bin())
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--stack",
            "native",
            "--quiet",
        ])
        .args(["--out", out.to_str().unwrap()])
        .args(["--metrics-listen", &format!("127.0.0.1:{endpoint}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Prometheus answers for a series once it has scraped the run's endpoint.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut active = Vec::new();
    while active.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        active = query(web, "phpfpm_active_processes");
    }
    let latency = query(web, "fpmlab_latency_seconds_count");
    let ran = common::finish(fpmlab.wait_with_output().unwrap(), &out, Some(0));
    assert!(
        !active.is_empty(),
        "Prometheus has no phpfpm_active_processes series (stderr: {})",
        ran.stderr
    );
    let (labels, value) = &active[0];
    assert!(labels.contains("\"config\":\"static-2\""), "{labels}");
    assert!(labels.contains("\"pool\":"), "{labels}");
    let v: f64 = value.parse().unwrap();
    assert!((0.0..=2.0).contains(&v), "{value} active of max_children 2");
    assert!(
        !latency.is_empty(),
        "no fpmlab_latency_seconds_count series"
    );
    // Scraped over the run, not once: several values in the last minutes.
    let counted = query(web, "count_over_time(phpfpm_total_processes[5m])");
    let n: f64 = counted.first().map_or(0.0, |(_, v)| v.parse().unwrap());
    assert!(n >= 2.0, "{counted:?}");
}
