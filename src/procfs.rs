//! php-fpm workers from /proc: who they are (children of the master), their memory (PSS) and
//! CPU use between two samples.
//!
//! PSS, not RSS: RSS counts pages shared copy-on-write with the master and opcache's shared
//! memory once per worker, so summing it over workers overstates memory several times.

use std::collections::HashMap;
use std::io;
use std::time::Instant;

/// Pids of the direct children of `pid`. Reads `/proc/<pid>/task/*/children` (each thread's
/// own children; fpm's master has one thread), else scans every `/proc/*/stat` for the ppid.
pub fn children(pid: u32) -> io::Result<Vec<u32>> {
    match children_from_tasks(pid) {
        Ok(kids) => Ok(kids),
        // No CONFIG_PROC_CHILDREN: the slow way.
        Err(e) if e.kind() == io::ErrorKind::NotFound && exists(pid) => children_by_scan(pid),
        Err(e) => Err(e),
    }
}

fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn children_from_tasks(pid: u32) -> io::Result<Vec<u32>> {
    let mut kids = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let task = task?.path();
        let text = match std::fs::read_to_string(task.join("children")) {
            Ok(t) => t,
            // A thread that exited between readdir and read.
            Err(e) if e.kind() == io::ErrorKind::NotFound && task.exists() => return Err(e),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        kids.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    kids.sort_unstable();
    Ok(kids)
}

fn children_by_scan(pid: u32) -> io::Result<Vec<u32>> {
    let mut kids = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Some(candidate) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // Processes come and go during the scan; a vanished one is simply not a child.
        if let Ok(stat) = read_stat(candidate) {
            if stat.ppid == pid {
                kids.push(candidate);
            }
        }
    }
    kids.sort_unstable();
    Ok(kids)
}

/// The fields of `/proc/<pid>/stat` the sampler needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Parent pid.
    pub ppid: u32,
    /// utime + stime of the process (all threads), in clock ticks.
    pub cpu_ticks: u64,
    /// Start time in ticks since boot: tells a reused pid from the process we saw before.
    pub start_ticks: u64,
}

/// Reads `/proc/<pid>/stat`.
pub fn read_stat(pid: u32) -> io::Result<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected /proc/{pid}/stat: {text:?}"),
        )
    })
}

/// Whether `pid` is a live process: it exists and is neither a zombie nor dead (a child
/// that died stays a zombie until its parent reaps it).
pub fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|text| {
        let state = text
            .rfind(')')
            .and_then(|at| text[at + 1..].split_whitespace().next());
        !matches!(state, None | Some("Z" | "X" | "x"))
    })
}

fn parse_stat(text: &str) -> Option<ProcStat> {
    // comm (field 2) is in parentheses and may itself contain spaces and ')': split after
    // the last ')'. Fields from there on: state(3) ppid(4) ... utime(14) stime(15) ...
    // starttime(22), i.e. indexes 0, 1, 11, 12, 19.
    let rest: Vec<&str> = text
        .get(text.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let field = |i: usize| rest.get(i)?.parse::<u64>().ok();
    Some(ProcStat {
        ppid: u32::try_from(field(1)?).ok()?,
        cpu_ticks: field(11)? + field(12)?,
        start_ticks: field(19)?,
    })
}

/// Proportional set size of `pid` in KiB, from `/proc/<pid>/smaps_rollup` (Linux 4.14+).
/// Reading another user's process needs ptrace-read permission (root has it).
pub fn read_pss_kib(pid: u32) -> io::Result<u64> {
    let path = format!("/proc/{pid}/smaps_rollup");
    let text = std::fs::read_to_string(&path)?;
    text.lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("no Pss line in {path}")))
}

/// Pid of `pid` inside its innermost pid namespace (last `NSpid` value of
/// `/proc/<pid>/status`): how a containerised php-fpm names it on its status page.
pub fn read_ns_pid(pid: u32) -> io::Result<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("NSpid:"))
        .and_then(|v| v.split_whitespace().last()?.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no NSpid in /proc/{pid}/status"),
            )
        })
}

/// Turns successive cumulative CPU readings into a percentage of one core.
#[derive(Debug)]
pub struct CpuTracker {
    ticks_per_s: f64,
    previous: HashMap<u32, CpuMark>,
    current: HashMap<u32, CpuMark>,
}

#[derive(Debug, Clone, Copy)]
struct CpuMark {
    start_ticks: u64,
    cpu_ticks: u64,
    at: Instant,
}

impl CpuTracker {
    /// A tracker with no history.
    pub fn new() -> Self {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        CpuTracker {
            ticks_per_s: if hz > 0 { hz as f64 } else { 100.0 },
            previous: HashMap::new(),
            current: HashMap::new(),
        }
    }

    /// Records `stat` read at `at`; returns the CPU % (100 = one core busy) since the previous
    /// tick's reading of the same process, `None` for a process new since then. Resolution is
    /// one tick (10 ms): ±4 % over 250 ms.
    pub fn observe(&mut self, pid: u32, stat: &ProcStat, at: Instant) -> Option<f64> {
        let mark = CpuMark {
            start_ticks: stat.start_ticks,
            cpu_ticks: stat.cpu_ticks,
            at,
        };
        self.current.insert(pid, mark);
        let prev = self.previous.get(&pid)?;
        let wall_s = at.checked_duration_since(prev.at)?.as_secs_f64();
        if prev.start_ticks != stat.start_ticks || wall_s <= 0.0 {
            return None; // pid reused by a new process
        }
        let cpu_s = stat.cpu_ticks.saturating_sub(prev.cpu_ticks) as f64 / self.ticks_per_s;
        Some(cpu_s / wall_s * 100.0)
    }

    /// Ends a tick: this tick's readings become the reference for the next, and processes
    /// not seen this tick are forgotten (memory stays proportional to live workers).
    pub fn finish_tick(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }
}

impl Default for CpuTracker {
    fn default() -> Self {
        Self::new()
    }
}

/// True for errors that mean the process exited between listing and reading it.
pub fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH)
}

#[cfg(test)]
#[path = "procfs_tests.rs"]
mod tests;
