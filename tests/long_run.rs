//! Runs of any length: the time series go to files beside run.json, appended as the run
//! goes, and run.json stays small; `fpmlab report` reads both kinds of run.json (series in
//! files, or inline as the fixture has them).

mod common;

use std::process::Command;

#[test]
fn series_stream_beside_a_small_run_json() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ran = common::run_text_end_to_end(
        dir.path(),
        "long",
        r#"
        [[config]]
        name = "static-2"
        pm = "static"
        max_children = 2
        [[phase]]
        name = "steady"
        duration = "7s"
        pattern = "constant"
        rate = 20
        [[request]]
        path = "/cpu.php?units=5"
        "#,
    );
    let c = ran.config(0);
    let files = c.series.as_ref().expect("series in files");
    assert_eq!(files.samples, "static-2/samples.jsonl");
    // run.json itself holds neither series...
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ran.out.join("run.json")).unwrap()).unwrap();
    assert_eq!(raw["configs"][0]["samples"], serde_json::json!([]));
    assert_eq!(raw["configs"][0]["timeline"], serde_json::json!([]));
    // ...the files do, one line per sample and per second, and the loader reads them back.
    let lines = |f: &str| {
        std::fs::read_to_string(ran.out.join(f))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(lines(&files.samples), c.samples.len());
    assert!(c.samples.len() >= 20, "4 a second: {}", c.samples.len());
    assert_eq!(lines(&files.timeline), c.recorded.timeline.len());
    assert!(
        (7..=12).contains(&c.recorded.timeline.len()),
        "{}",
        c.recorded.timeline.len()
    );
    for (t, b) in c.recorded.timeline.iter().enumerate() {
        assert_eq!(b.t_s, t as u64, "every second once, in order");
    }
    let sent: u64 = c.recorded.timeline.iter().map(|b| b.sent).sum();
    assert_eq!(sent, c.recorded.summary.sent);
    // The report renders from the files too.
    let o = Command::new(common::bin())
        .arg("report")
        .arg(&ran.out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(ran.out.join("report.html").exists());
}
