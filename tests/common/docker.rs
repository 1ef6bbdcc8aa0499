//! Helpers of the docker stack tests: is there an engine, run fpmlab and know its pid, find
//! what a run left in docker.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use fpmlab::results::ConfigResult;

/// Whether a docker engine answers `docker info`: the docker tests' side of the skip switch
/// ([`super::available`]): outside CI they say so loudly and are skipped; under `CI=true`
/// (this machine kind starts the engine) a silent engine fails the test.
pub fn engine() -> bool {
    let answered = Command::new("timeout")
        .args(["10", "docker", "info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let missing = (!answered).then(|| "no docker engine answered `docker info`".to_string());
    super::available("docker stack", missing)
}

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `fpmlab run SCENARIO --stack STACK --quiet --out OUT` (plus `extra` args); returns the
/// output and fpmlab's pid (its compose projects are named `fpmlab-<pid>-…`).
pub fn fpmlab(scenario: &Path, out: &Path, stack: &str, env: &[(&str, &str)]) -> (Output, u32) {
    let mut cmd = Command::new(super::bin());
    cmd.args([
        "run",
        scenario.to_str().unwrap(),
        "--stack",
        stack,
        "--quiet",
    ])
    .arg("--out")
    .arg(out)
    .envs(env.iter().copied())
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().expect("start fpmlab");
    let pid = child.id();
    (child.wait_with_output().expect("run fpmlab"), pid)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Containers, networks and volumes labelled `org.fpmlab=1` that belong to fpmlab process
/// `pid`'s compose projects. (Objects of other fpmlab processes sharing the engine are not
/// this test's.)
pub fn leftovers(pid: u32) -> Vec<String> {
    let prefix = format!("fpmlab-{pid}-");
    let project = r#"{{.Label "com.docker.compose.project"}}"#;
    let mut found = Vec::new();
    for (what, list) in [
        ("container", ["ps", "-a"].as_slice()),
        ("network", ["network", "ls"].as_slice()),
        ("volume", ["volume", "ls"].as_slice()),
    ] {
        let name = if what == "container" {
            "{{.Names}}"
        } else {
            "{{.Name}}"
        };
        let out = Command::new("docker")
            .args(list)
            .args(["--filter", "label=org.fpmlab=1", "--format"])
            .arg(format!("{project} {name}"))
            .output()
            .expect("docker ls");
        assert!(out.status.success(), "docker {list:?}: {}", stderr(&out));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if line.starts_with(&prefix) {
                found.push(format!("{what} {line}"));
            }
        }
    }
    found
}

pub fn assert_clean(pid: u32) {
    let left = leftovers(pid);
    assert!(left.is_empty(), "docker objects left behind: {left:?}");
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn status(c: &ConfigResult, code: &str) -> u64 {
    c.recorded
        .summary
        .status_counts
        .get(code)
        .copied()
        .unwrap_or(0)
}
