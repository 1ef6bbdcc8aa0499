//! `--request-log`: a short native run writes one line per request, as JSON lines, with the
//! app's timings (queue wait, service, pid) for requests that reached php-fpm.

mod common;

use std::process::Command;

#[test]
fn one_line_per_request_with_timings() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = common::scenario(
        dir.path(),
        "log",
        r#"
        [[config]]
        name = "static-2"
        pm = "static"
        max_children = 2
        [[phase]]
        name = "steady"
        duration = "2s"
        pattern = "constant"
        rate = 25
        [[request]]
        name = "cpu"
        path = "/cpu.php?units=5"
        "#,
    );
    let out = dir.path().join("out");
    let log = dir.path().join("requests.jsonl");
    let o = Command::new(common::bin())
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--stack",
            "native",
            "--quiet",
        ])
        .args(["--out", out.to_str().unwrap()])
        .arg("--request-log")
        .arg(&log)
        .output()
        .unwrap();
    let ran = common::finish(o, &out, Some(0));
    let sent = ran.config(0).recorded.summary.sent;
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, sent, "one line per request sent");
    assert!(sent >= 25, "{sent}");
    let mut ids: Vec<u64> = lines.iter().map(|l| l["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), lines.len(), "ids are unique");
    for l in &lines {
        assert_eq!(l["config"], "static-2");
        assert_eq!(
            (l["kind"].as_str(), l["phase"].as_str()),
            (Some("cpu"), Some("steady"))
        );
        assert_eq!(l["status"], 200, "{l}");
        let (intended, sent, done) = (
            l["intended_us"].as_u64().unwrap(),
            l["sent_us"].as_u64().unwrap(),
            l["done_us"].as_u64().unwrap(),
        );
        assert!(intended <= sent + 1000 && sent <= done, "{l}");
        assert!(l["service_us"].as_u64().unwrap() > 0, "{l}");
        assert!(l["queue_wait_us"].is_i64(), "{l}");
        assert!(l["pid"].as_u64().unwrap() > 1, "{l}");
    }
    // A bad extension is refused before anything starts.
    let o = Command::new(common::bin())
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--stack",
            "native",
            "--quiet",
        ])
        .args(["--request-log", "requests.txt"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("FILE.csv or FILE.jsonl"));
}
