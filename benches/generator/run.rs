//! Running one load generator as a measured child process.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the child's resident size is read.
const RSS_EVERY: Duration = Duration::from_millis(250);

/// What the kernel says one child process used.
pub struct Usage {
    pub stdout: String,
    pub wall_s: f64,
    /// user + sys, s.
    pub cpu_s: f64,
    /// The kernel's peak resident size, KiB.
    pub max_rss_kib: i64,
    /// (seconds since start, resident KiB), every [`RSS_EVERY`].
    pub rss_kib: Vec<(f64, u64)>,
}

/// Runs `program` pinned to `cpu` (taskset execs it, so the pid, the rusage and the RSS are
/// the tool's own) and reaps it with wait4 for its rusage.
#[allow(clippy::zombie_processes)]
pub fn pinned(cpu: usize, program: &str, args: &[String]) -> Usage {
    let start = Instant::now();
    let mut child = Command::new("taskset")
        .arg("-c")
        .arg(cpu.to_string())
        .arg(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let pid = child.id() as libc::pid_t;
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = resident_kib(pid) {
                    out.push((start.elapsed().as_secs_f64(), kib));
                }
                std::thread::sleep(RSS_EVERY);
            }
            out
        })
    };
    let stdout = child.stdout.take().map(|mut s| {
        let mut buf = String::new();
        std::io::Read::read_to_string(&mut s, &mut buf).ok();
        buf
    });
    let stderr = child.stderr.take().map(|mut s| {
        let mut buf = String::new();
        std::io::Read::read_to_string(&mut s, &mut buf).ok();
        buf
    });
    let mut status = 0;
    // SAFETY: zeroed is a valid rusage; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall_s = start.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let rss_kib = sampler.join().unwrap_or_default();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        panic!(
            "{program} failed ({status}): {}",
            stderr.unwrap_or_default().trim()
        );
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    Usage {
        stdout: stdout.unwrap_or_default(),
        wall_s,
        cpu_s: t(ru.ru_utime) + t(ru.ru_stime),
        max_rss_kib: ru.ru_maxrss,
        rss_kib,
    }
}

fn resident_kib(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
