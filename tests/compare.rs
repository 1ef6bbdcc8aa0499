//! `fpmlab compare` on crafted pairs of run.json files (made from the fixture): a
//! regression, an improvement, a missing config, different scenarios, and the exit codes
//! CI relies on (0 held, 3 a rule fired, 2 refused or bad usage, 1 unreadable input).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fpmlab::results::RunResult;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/bursts/run.json"
);

fn fixture() -> RunResult {
    RunResult::load(Path::new(FIXTURE)).unwrap()
}

/// Saves `run` as `dir/name/run.json` and returns the directory.
fn save(dir: &Path, name: &str, run: &RunResult) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    run.save(&d).unwrap();
    d
}

fn compare(base: &Path, cand: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let o: Output = Command::new(common::bin())
        .arg("compare")
        .args([base, cand])
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The fixture with static-4's latency scaled by `factor`.
fn scaled(factor: f64) -> RunResult {
    let mut run = fixture();
    let lat = &mut run.configs[1].recorded.summary.latency;
    for v in [
        &mut lat.p50_us,
        &mut lat.p90_us,
        &mut lat.p99_us,
        &mut lat.p999_us,
        &mut lat.max_us,
    ] {
        *v = (*v as f64 * factor) as u64;
    }
    run
}

#[test]
fn same_run_is_no_regression() {
    let (code, out, err) = compare(
        Path::new(FIXTURE),
        Path::new(FIXTURE),
        &["--fail-if", "p99_latency>+10%"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("no regression"), "{out}");
    assert!(out.contains("latency_p99") && out.contains(" = "), "{out}");
}

#[test]
fn regression_fires_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let cand = save(dir.path(), "cand", &scaled(1.5));
    let (code, out, err) = compare(
        Path::new(FIXTURE),
        &cand,
        &[
            "--fail-if",
            "p99_latency>+10%",
            "--fail-if",
            "error_rate>+0.01",
        ],
    );
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(out.contains("REGRESSION"), "{out}");
    assert!(
        out.contains("FAIL p99_latency>+10% [static-4]") && out.contains("(+50.0%)"),
        "{out}"
    );
    assert!(out.contains("ok   p99_latency>+10% [dynamic-1]"), "{out}");
    // Without a rule, the same change is reported but does not fail.
    let (code, out, _) = compare(Path::new(FIXTURE), &cand, &[]);
    assert_eq!(code, Some(0));
    assert!(out.contains("worse"), "{out}");
}

#[test]
fn improvement_passes_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cand = save(dir.path(), "cand", &scaled(0.5));
    let (code, out, err) = compare(
        Path::new(FIXTURE),
        &cand,
        &["--fail-if", "latency_p99>+10%", "--format", "markdown"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("### fpmlab compare: bursts"), "{out}");
    assert!(
        out.contains("| static-4 | latency_p99 |") && out.contains("better"),
        "{out}"
    );
    assert!(out.contains("**no regression"), "{out}");
}

#[test]
fn absolute_rule_on_error_rate() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = fixture();
    run.configs[0].recorded.summary.error_rate = 0.05;
    let cand = save(dir.path(), "cand", &run);
    let (code, out, _) = compare(
        Path::new(FIXTURE),
        &cand,
        &["--fail-if", "error_rate>+0.01", "--format", "json"],
    );
    assert_eq!(code, Some(3), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["regressed"], true);
    let fired: Vec<&str> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["fired"] == true)
        .map(|r| r["config"].as_str().unwrap())
        .collect();
    assert_eq!(fired, ["dynamic-1"]);
    let row = &v["configs"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "error_rate")
        .unwrap()
        .clone();
    assert_eq!(row["candidate"], 0.05);
    assert_eq!(row["delta"], 0.05);
}

#[test]
fn missing_config_is_reported_and_fails_rules() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = fixture();
    run.configs.retain(|c| c.name != "static-4");
    let cand = save(dir.path(), "cand", &run);
    let (code, out, _) = compare(Path::new(FIXTURE), &cand, &[]);
    assert_eq!(code, Some(0), "reported, not failed, without rules: {out}");
    assert!(
        out.contains("static-4")
            && out.contains("MISSING")
            && out.contains("missing in the candidate"),
        "{out}"
    );
    let (code, out, _) = compare(
        Path::new(FIXTURE),
        &cand,
        &["--fail-if", "latency_p99>+10%"],
    );
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("FAIL latency_p99>+10% [static-4]: the config is missing in the candidate"),
        "{out}"
    );
    // The other way round, a new config is listed as new and fails nothing.
    let (code, out, _) = compare(
        &cand,
        Path::new(FIXTURE),
        &["--fail-if", "latency_p99>+10%"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("new in the candidate"), "{out}");
}

#[test]
fn missing_metric_data_is_shown_not_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = fixture();
    run.configs[1].recorded.summary.queue_wait = Default::default();
    let cand = save(dir.path(), "cand", &run);
    let (code, out, _) = compare(
        Path::new(FIXTURE),
        &cand,
        &["--fail-if", "queue_wait_p99>+10%"],
    );
    assert_eq!(
        code,
        Some(3),
        "data gone from the candidate fails the rule: {out}"
    );
    assert!(out.contains("no data"), "{out}");
}

#[test]
fn different_scenarios_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = fixture();
    run.plan.name = "other".into();
    let cand = save(dir.path(), "cand", &run);
    let (code, out, err) = compare(Path::new(FIXTURE), &cand, &[]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("scenario \"bursts\"")
            && err.contains("\"other\"")
            && err.contains("same scenario"),
        "{err}"
    );
    assert!(out.is_empty());
}

#[test]
fn phase_scope_and_usage_errors() {
    let (code, out, _) = compare(
        Path::new(FIXTURE),
        Path::new(FIXTURE),
        &["--phase", "bursts", "--metric", "latency_p99"],
    );
    assert_eq!(code, Some(0));
    assert!(
        out.contains("phase bursts") && out.contains("latency_p99"),
        "{out}"
    );
    let (code, _, err) = compare(Path::new(FIXTURE), Path::new(FIXTURE), &["--phase", "nope"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = compare(
        Path::new(FIXTURE),
        Path::new(FIXTURE),
        &["--fail-if", "p99_latency>+10"],
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("no unit"), "{err}");
    let (code, _, err) = compare(Path::new(FIXTURE), Path::new("/nonexistent/run"), &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn environment_differences_come_before_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let mut other = fixture();
    other.environment.cores *= 4;
    other.environment.stack.php_version = Some("9.9.9".into());
    let cand = save(dir.path(), "cand", &other);
    let (code, out, err) = compare(
        Path::new(FIXTURE),
        &cand,
        &["--fail-if", "p99_latency>+10%"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let cores = out.find("environment differs: cores").expect(&out);
    assert!(out.contains("(+300.0%)"), "{out}");
    assert!(out.contains("environment differs: php_version"), "{out}");
    assert!(cores < out.find("no regression").unwrap(), "{out}");
    let (_, same, _) = compare(Path::new(FIXTURE), Path::new(FIXTURE), &[]);
    assert!(!same.contains("environment differs"), "{same}");
}
