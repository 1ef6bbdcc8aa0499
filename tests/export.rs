//! Markdown, CSV and JSON exports of a fixed run.json, checked against the expected files in
//! tests/snapshots/. After an intended change, regenerate them with
//! `UPDATE_SNAPSHOTS=1 cargo test --test export` and review the diff.

mod common;

use std::path::Path;
use std::process::Command;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/bursts/run.json"
);

fn check(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 creates it)", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b);
        panic!(
            "{name} differs from its snapshot (first differing line {first:?}); \
             UPDATE_SNAPSHOTS=1 cargo test --test export updates it\n--- actual ---\n{actual}"
        );
    }
}

#[test]
fn exports_match_their_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let out = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let o = Command::new(common::bin())
        .args(["report", FIXTURE, "--no-html"])
        .args(["--export-markdown", &out("summary.md")])
        .args(["--export-csv", &out("summary.csv")])
        .args(["--export-json", &out("summary.json")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for f in [
        "summary.md",
        "summary.csv",
        "summary-timeline.csv",
        "summary.json",
    ] {
        assert!(
            stdout.contains(&out(f)),
            "{f} not reported as written: {stdout}"
        );
        check(f, &std::fs::read_to_string(out(f)).unwrap());
    }
    assert!(
        !dir.path().join("report.html").exists()
            && !Path::new(FIXTURE).with_file_name("report.html").exists()
    );
}

#[test]
fn markdown_to_stdout_keeps_stdout_clean() {
    let o = Command::new(common::bin())
        .args(["report", FIXTURE, "--no-html", "--export-markdown", "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.starts_with("## fpmlab: bursts\n"), "{md}");
    let o = Command::new(common::bin())
        .args(["report", FIXTURE, "--no-html", "--export-csv", "-"])
        .output()
        .unwrap();
    // A usage error, found before anything is written.
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("give a file name"));
}

#[test]
fn a_bad_export_path_fails_before_the_run_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bursts.toml");
    // A regular file where a directory should be: nothing can be created below it.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let bad = blocker.join("summary.md");
    let good = dir.path().join("ok.json");
    let o = Command::new(common::bin())
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--stack",
            "native",
            "--quiet",
        ])
        .args(["--out", out.to_str().unwrap()])
        .args(["--export-json", good.to_str().unwrap()])
        .args(["--export-markdown", bad.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("markdown") && err.contains("summary.md"),
        "{err}"
    );
    // Nothing started, nothing left: no run directory, and the good target's check left no
    // empty file behind.
    assert!(!out.exists());
    assert!(!good.exists());
}

#[test]
fn csv_columns_line_up() {
    let run = fpmlab::results::RunResult::load(Path::new(FIXTURE)).unwrap();
    for text in [
        fpmlab::report::export::csv::summary(&run),
        fpmlab::report::export::csv::timeline(&run),
    ] {
        let widths: Vec<usize> = text.lines().map(|l| l.split(',').count()).collect();
        assert!(
            widths.len() > 2 && widths.iter().all(|w| *w == widths[0]),
            "{widths:?}"
        );
    }
}
