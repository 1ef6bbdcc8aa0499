//! /proc readers against real processes spawned by the test.

use super::*;
use std::process::{Child, Command};
use std::time::Duration;

/// Kills and reaps the child even when an assertion fails.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

#[test]
fn stat_with_awkward_comm() {
    let line = "4242 (php-fpm: pool (www) x) S 4200 4200 4200 0 -1 4194624 100 0 0 0 7 3 0 0 20 0 1 0 98765 1000 10 0\n";
    assert_eq!(
        parse_stat(line),
        Some(ProcStat {
            ppid: 4200,
            cpu_ticks: 10,
            start_ticks: 98765
        })
    );
    assert_eq!(parse_stat("garbage"), None);
}

#[test]
fn children_seen_from_any_thread() {
    // Spawned from a test thread, not the main one: only task/<tid>/children lists it.
    let child = Reaped(Command::new("sleep").arg("5").spawn().unwrap());
    let me = std::process::id();
    assert!(children(me).unwrap().contains(&child.0.id()));
    assert!(children_by_scan(me).unwrap().contains(&child.0.id()));
    assert_eq!(read_stat(child.0.id()).unwrap().ppid, me);
}

#[test]
fn missing_process() {
    let err = children(u32::MAX - 1).unwrap_err();
    assert!(is_gone(&err), "{err}");
    assert!(is_gone(&read_stat(u32::MAX - 1).unwrap_err()));
}

/// Nanoseconds `pid` has run on a CPU (/proc/PID/schedstat, the scheduler's own count).
fn run_ns(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn busy_child_cpu_and_pss() {
    let child = Reaped(
        Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let mut cpu = CpuTracker::new();
    let before = run_ns(pid);
    let t0 = Instant::now();
    assert_eq!(cpu.observe(pid, &read_stat(pid).unwrap(), t0), None);
    cpu.finish_tick();
    std::thread::sleep(Duration::from_millis(500));
    let t1 = Instant::now();
    let pct = cpu.observe(pid, &read_stat(pid).unwrap(), t1).unwrap();
    let after = run_ns(pid);
    // A spinning shell takes a whole core on a quiet machine and less on a busy one: the
    // tracker must agree with the kernel's own nanosecond count of the time it ran, within
    // the clock ticks /proc/PID/stat counts in (10 ms each end), and never exceed one core.
    let wall_ns = (t1 - t0).as_nanos() as f64;
    let truth = (after - before) as f64 / wall_ns * 100.0;
    let tick_pct = 2.0 * 10e6 / wall_ns * 100.0;
    assert!(
        (pct - truth).abs() <= tick_pct + 5.0,
        "tracker {pct:.1}%, schedstat {truth:.1}%"
    );
    assert!(pct > 0.0 && pct < 110.0, "cpu {pct}");
    let pss = read_pss_kib(pid).unwrap();
    assert!(pss > 0 && pss < 64 * 1024, "pss {pss} KiB");
}

#[test]
fn pid_reuse_and_forgetting() {
    let mut cpu = CpuTracker::new();
    let t0 = Instant::now();
    let a = ProcStat {
        ppid: 1,
        cpu_ticks: 100,
        start_ticks: 5,
    };
    cpu.observe(7, &a, t0);
    cpu.finish_tick();
    let reused = ProcStat {
        start_ticks: 6,
        ..a
    };
    assert_eq!(
        cpu.observe(7, &reused, t0 + Duration::from_millis(250)),
        None
    );
    cpu.finish_tick();
    let busy = ProcStat {
        cpu_ticks: 125,
        ..reused
    };
    let pct = cpu
        .observe(7, &busy, t0 + Duration::from_millis(500))
        .unwrap();
    assert!((pct - 100.0).abs() < 1.0, "{pct}");
    cpu.finish_tick();
    cpu.finish_tick(); // pid 7 not seen: forgotten
    assert_eq!(cpu.observe(7, &busy, t0 + Duration::from_secs(1)), None);
}

#[test]
fn own_pss_and_ns_pid() {
    let me = std::process::id();
    assert!(read_pss_kib(me).unwrap() > 0);
    assert_eq!(read_ns_pid(me).unwrap(), me);
}

/// As root: a process in a child pid namespace (as in a container) has a different pid
/// there, which is what its status page would report.
#[test]
fn ns_pid_in_child_namespace() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: needs root for unshare");
        return;
    }
    let Ok(unshare) = Command::new("unshare")
        .args(["--pid", "--fork", "sleep", "5"])
        .spawn()
    else {
        eprintln!("skipping: unshare not available");
        return;
    };
    let unshare = Reaped(unshare);
    let deadline = Instant::now() + Duration::from_secs(2);
    let sleeper = loop {
        if let Some(&pid) = children(unshare.0.id()).unwrap().first() {
            break pid;
        }
        assert!(Instant::now() < deadline, "unshare did not fork");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(read_ns_pid(sleeper).unwrap(), 1);
}
