//! Attribution of the failures no timeout setting produces, on the real native stack: a
//! worker killed with SIGKILL (what the OOM killer does) and php-fpm gone altogether.
//! The test plays the kernel: it kills the run's own php-fpm processes (found by the run
//! directory in the master's command line), never any other.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use fpmlab::attribution::Cause;

const SCENARIO: &str = r#"
seed = 1
[stack]
request_terminate_timeout = "0s"
[[config]]
name = "static-2"
pm = "static"
max_children = 2
[[phase]]
duration = "9s"
pattern = "closed"
users = 2
[[request]]
path = "/io.php?ms=1500"
"#;

/// (pid, ppid, cmdline) of every process.
fn processes() -> Vec<(u32, u32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let (Ok(stat), Ok(cmd)) = (
            std::fs::read_to_string(e.path().join("stat")),
            std::fs::read(e.path().join("cmdline")),
        ) else {
            continue;
        };
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
        else {
            continue;
        };
        out.push((pid, ppid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
    }
    out
}

/// The run's php-fpm master and its main-pool workers.
fn fpm_of(out: &Path) -> Option<(u32, Vec<u32>)> {
    let all = processes();
    let needle = out.to_str().unwrap();
    let master = all
        .iter()
        .find(|(_, _, c)| c.contains("php-fpm: master process") && c.contains(needle))?
        .0;
    let workers = all
        .iter()
        .filter(|(_, ppid, c)| *ppid == master && c.trim() == "php-fpm: pool www")
        .map(|(pid, _, _)| *pid)
        .collect();
    Some((master, workers))
}

fn kill9(pid: u32) {
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
}

/// io.php requests the run's nginx logged with `status`.
fn logged(out: &Path, status: u16) -> usize {
    let log = out.join("static-2/logs/nginx-access.log");
    let needle = format!(" HTTP/1.1\" {status} ");
    std::fs::read_to_string(log).map_or(0, |t| {
        t.lines()
            .filter(|l| l.contains("/io.php") && l.contains(&needle))
            .count()
    })
}

#[test]
fn killed_worker_and_dead_pool_are_named() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = common::scenario(dir.path(), "kills", SCENARIO);
    let child = common::spawn_native(&scenario, &out);
    // Both workers are busy with a 1.5 s request once the first two have come back: the two
    // users send their next ones at once. (Waiting on the log, not on the clock: a busy
    // machine may take seconds to bring the stack up.)
    let deadline = Instant::now() + Duration::from_secs(60);
    while logged(&out, 200) < 2 {
        assert!(Instant::now() < deadline, "the load never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let (master, workers) = fpm_of(&out).expect("the run's php-fpm");
    assert_eq!(workers.len(), 2, "{workers:?}");
    for w in &workers {
        kill9(*w);
    }
    // fpm respawns them; once they have served again the whole pool goes (master first, so
    // none is respawned).
    let served = logged(&out, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while logged(&out, 200) < served + 2 {
        assert!(
            Instant::now() < deadline,
            "the respawned workers never served"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, respawned) = fpm_of(&out).expect("master still up");
    kill9(master);
    for w in respawned {
        kill9(w);
    }
    let ran = common::finish(child.wait_with_output().unwrap(), &out, Some(0));
    let (run, table) = (&ran.run, &ran.table);
    let a = run.configs[0]
        .attribution
        .as_ref()
        .unwrap_or_else(|| panic!("{}\n{table}", ran.stderr));
    assert!(a.count(Cause::WorkerKilled) >= 1, "{table}\n{a:#?}");
    assert!(a.count(Cause::UpstreamDown) >= 1, "{table}\n{a:#?}");
    for k in &a.causes {
        assert!(
            matches!(
                k.cause,
                Cause::WorkerKilled | Cause::UpstreamDown | Cause::UpstreamDied
            ),
            "{k:#?}"
        );
    }
    let killed = a
        .causes
        .iter()
        .find(|k| k.cause == Cause::WorkerKilled)
        .unwrap();
    assert_eq!(killed.outcomes.keys().collect::<Vec<_>>(), vec!["502"]);
    assert!(killed.examples[0]
        .lines
        .iter()
        .any(|l| l.contains("signal 9")));
    // The master's death is an event of its own, said under the table.
    let c = &run.configs[0];
    assert!(
        c.events.iter().any(|e| e.kind == "fpm_master_died"),
        "{:?}",
        c.events
    );
    assert!(table.contains("php-fpm's master died at"), "{table}");
}
