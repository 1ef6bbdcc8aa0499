//! Helpers shared by the integration tests: run the real binary, read run.json, and look for
//! processes a run may have left behind.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fpmlab::results::RunResult;

pub mod docker;
#[path = "../../benches/generator/run.rs"]
pub mod measured;
#[path = "../../benches/generator/target.rs"]
pub mod plain_nginx;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fpmlab")
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

pub fn load(out: &Path) -> RunResult {
    RunResult::load(out).unwrap_or_else(|e| panic!("run.json in {}: {e:#}", out.display()))
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
