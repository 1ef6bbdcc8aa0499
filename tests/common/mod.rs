//! Helpers shared by the integration tests: the switch that says whether what a test needs
//! is installed ([`native_stack`], [`tool`]), run a scenario end to end ([`run_end_to_end`]),
//! run the real binary, read run.json, and look for processes a run may have left behind.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fpmlab::results::{ConfigResult, RunResult};

pub mod docker;
#[path = "../../benches/generator/run.rs"]
pub mod measured;
#[path = "../../benches/generator/target.rs"]
pub mod plain_nginx;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fpmlab")
}

/// Whether this run is CI's (`CI=true`): there `scripts/setup.sh --tests` has installed
/// everything, so a missing part is a broken machine, never a reason to skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| matches!(v.trim(), "true" | "1"))
}

/// The one skip switch of the tests: `Some(why)` names what is missing. Outside CI the test
/// says so loudly and is skipped (returns `false`); under `CI=true` it fails instead.
pub fn available(test_kind: &str, missing: Option<String>) -> bool {
    let Some(why) = missing else {
        return true;
    };
    if in_ci() {
        panic!("{test_kind} test cannot run under CI=true: {why} (scripts/setup.sh --tests installs it)");
    }
    eprintln!("\n!!!!! SKIPPING {test_kind} test: {why} (bash scripts/setup.sh --tests installs it; under CI=true this fails) !!!!!\n");
    false
}

/// Whether nginx and php-fpm are there, found the way `--stack native` finds them
/// (`FPMLAB_NGINX` / `FPMLAB_PHP_FPM`, else `PATH` plus the sbin directories).
/// `FPMLAB_SKIP_NATIVE=1` skips on purpose (not under CI). Use at the top of every test that
/// starts the native stack: `if !common::native_stack() { return; }`.
pub fn native_stack() -> bool {
    let missing = if std::env::var_os("FPMLAB_SKIP_NATIVE").is_some_and(|v| !v.is_empty()) {
        Some("FPMLAB_SKIP_NATIVE is set".to_string())
    } else {
        fpmlab::stack::Binaries::discover()
            .err()
            .map(|e| format!("{e:#}"))
    };
    available("native stack", missing)
}

/// The path of a program a test needs besides the stack (`wrk`, `chromium`), the first of
/// `names` on `PATH`; `None` (skipped, or failed under CI) when none is.
pub fn tool(names: &[&str]) -> Option<PathBuf> {
    let found = names.iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    });
    let missing = found
        .is_none()
        .then(|| format!("{} not found on PATH", names.join(" or ")));
    if available(names[0], missing) {
        found
    } else {
        None
    }
}

/// A shipped scenario: `scenarios/NAME.toml`.
pub fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"))
}

/// A scenario run end to end: what it printed and the run.json it left.
pub struct Ran {
    /// The run directory (`--out`).
    pub out: PathBuf,
    /// stdout: the table and the readings under it.
    pub table: String,
    pub stderr: String,
    pub run: RunResult,
}

impl Ran {
    /// The `i`-th config's results.
    pub fn config(&self, i: usize) -> &ConfigResult {
        &self.run.configs[i]
    }

    /// The `i`-th config's directory (stack configs, logs, failed-requests.tsv).
    pub fn config_dir(&self, i: usize) -> PathBuf {
        self.out.join(&self.run.configs[i].dir)
    }
}

/// Runs a scenario file end to end on the real native stack: `fpmlab run SCENARIO --stack
/// native --quiet --out OUT`; asserts it exited 0 (with its stderr and table otherwise),
/// loads run.json and asserts the run left no process or temp directory behind. Call
/// [`native_stack`] first.
pub fn run_end_to_end(scenario: &Path, out: &Path) -> Ran {
    run_end_to_end_exit(scenario, out, 0)
}

/// [`run_end_to_end`] for a run that must exit with `code` (3: a threshold breached).
pub fn run_end_to_end_exit(scenario: &Path, out: &Path, code: i32) -> Ran {
    let o = run_native(scenario, out);
    finish(o, out, Some(code))
}

/// [`run_end_to_end`] of a scenario given as text, written into `dir` as `NAME.toml`; the
/// run goes to `dir/NAME`.
pub fn run_text_end_to_end(dir: &Path, name: &str, text: &str) -> Ran {
    let path = scenario(dir, name, text);
    run_end_to_end(&path, &dir.join(name))
}

/// Starts `fpmlab run SCENARIO --stack native --quiet --out OUT` in the background (for a
/// test that acts on the run while it goes: kills, signals); end it with [`finish`].
pub fn spawn_native(scenario: &Path, out: &Path) -> std::process::Child {
    spawn_native_with(scenario, out, &[])
}

/// [`spawn_native`] with more arguments (exports, the live endpoint).
pub fn spawn_native_with(scenario: &Path, out: &Path, more: &[&str]) -> std::process::Child {
    Command::new(bin())
        .args([
            "run",
            &scenario.to_string_lossy(),
            "--stack",
            "native",
            "--quiet",
        ])
        .arg("--out")
        .arg(out)
        .args(more)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start fpmlab")
}

/// The end of a run: asserts the exit code (`None`: killed by a signal), loads run.json and
/// asserts nothing of the stack was left behind.
pub fn finish(o: Output, out: &Path, code: Option<i32>) -> Ran {
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(
        o.status.code(),
        code,
        "fpmlab run exited {:?}, expected {code:?}\nstderr:\n{stderr}\nstdout:\n{table}",
        o.status.code()
    );
    let run = load(out);
    assert_torn_down(out, &run);
    Ran {
        out: out.to_path_buf(),
        table,
        stderr,
        run,
    }
}

/// Runs `fpmlab run SCENARIO --stack native --out OUT --quiet` and returns its output.
pub fn run_native(scenario: &Path, out: &Path) -> Output {
    Command::new(bin())
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--stack",
            "native",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .expect("run fpmlab")
}

/// Writes a scenario into `dir` and returns its path.
pub fn scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Reads a run's run.json, after validating it against the schema of the run.json types
/// (every run the tests produce is checked that way).
pub fn load(out: &Path) -> RunResult {
    let file = if out.is_dir() {
        out.join("run.json")
    } else {
        out.to_path_buf()
    };
    validate_run_json(&file);
    RunResult::load(out).unwrap_or_else(|e| panic!("run.json in {}: {e:#}", out.display()))
}

/// Panics, naming each violation, unless `path` is valid against run.json's JSON Schema.
pub fn validate_run_json(path: &Path) {
    let schema: serde_json::Value =
        serde_json::from_str(&fpmlab::results::json_schema()).expect("the schema is JSON");
    let schema = jsonschema::JSONSchema::compile(&schema).expect("the schema compiles");
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let run: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let errors: Vec<String> = match schema.validate(&run) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .take(10)
            .map(|e| format!("{}: {e}", e.instance_path))
            .collect(),
    };
    if !errors.is_empty() {
        panic!(
            "{} does not match docs/run.schema.json:\n{}",
            path.display(),
            errors.join("\n")
        );
    }
}

/// (pid, cmdline) of every process whose command line mentions `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmd.contains(needle) {
            found.push((pid, cmd));
        }
    }
    found
}

/// Pids of live processes in process group `pgid` (php-fpm's workers stay in the master's
/// group and their command lines do not name the run directory).
pub fn processes_in_group(pgid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state ppid pgrp …
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid) {
            found.push(pid);
        }
    }
    found
}

/// Asserts a run left no process of its stack and no temp directory behind.
pub fn assert_torn_down(out: &Path, run: &RunResult) {
    // Give killed processes a moment to be reaped by their parents.
    for _ in 0..50 {
        if processes_mentioning(out.to_str().unwrap()).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let left = processes_mentioning(out.to_str().unwrap());
    assert!(left.is_empty(), "processes left behind: {left:?}");
    for c in &run.configs {
        if let Some(pid) = c.endpoints.as_ref().and_then(|e| e.fpm_master_pid) {
            let group = processes_in_group(pid);
            assert!(
                group.is_empty(),
                "php-fpm workers of {} left behind: {group:?}",
                c.name
            );
        }
        let tmp = out.join(&c.dir).join("tmp");
        assert!(!tmp.exists(), "{} was not removed", tmp.display());
    }
}

/// Opens a report page in headless Chromium (Debian's `chromium`, from `scripts/setup.sh
/// --tests`) with `probe`, a `<script>` that sets a JSON `data-probe` attribute on the page
/// once it has drawn, and returns that JSON; `None` where Chromium is missing (skipped, or
/// failed under CI).
pub fn probe_page(html: &str, probe: &str, dir: &Path) -> Option<serde_json::Value> {
    let chromium = tool(&["chromium", "chromium-browser"])?;
    let page = dir.join("probed.html");
    std::fs::write(&page, html.replacen("<head>", &format!("<head>{probe}"), 1)).unwrap();
    let (dom, _) = headless(
        &chromium,
        &dir.join("profile"),
        &["--dump-dom", "--virtual-time-budget=5000"],
        &page,
    );
    let start = dom.find("data-probe=\"").expect("the probe ran") + "data-probe=\"".len();
    let raw = dom[start..][..dom[start..].find('"').unwrap()]
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    Some(serde_json::from_str(&raw).unwrap())
}

/// Runs headless Chromium on `page` (no network, its own `profile`, logging on stderr) with
/// `extra` flags; returns (stdout, stderr). Fails the test if Chromium fails.
pub fn headless(chromium: &Path, profile: &Path, extra: &[&str], page: &Path) -> (String, String) {
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("start chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
