//! The CPU time a php-fpm pool's workers spent over a window (the load), with the lines its
//! access log gained meanwhile: what the analysis module `cpu_per_request` divides.
//!
//! The workers' CPU is that of the master's live children plus the master's `cutime +
//! cstime`, which the kernel credits with every child the master has reaped (workers retired
//! by `pm.max_requests`, scaled down, killed), so a worker that ends inside the window keeps
//! its share. The master's own CPU (its maintenance ticks) is not a worker's and is left out;
//! so is the worker of the hidden `pm.status_listen` pool, which serves fpmlab's sampler.
//!
//! Docker: the master's pid is a host pid and the host's /proc sees into the container, so
//! the same reading works there.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::procfs;

/// Live children are read from `/proc/PID/schedstat` (nanoseconds); reaped ones only exist
/// as the master's `cutime + cstime` in clock ticks. Re-reading after a reap inside a read
/// bounds this; past it the reading is taken as it is.
const MAX_READ_ATTEMPTS: usize = 3;

/// Where a window started.
#[derive(Debug, Clone)]
pub struct WindowStart {
    master_pid: u32,
    access_log: PathBuf,
    cpu_ns: u64,
    log_len: u64,
}

/// The pool's CPU over a window and what php-fpm logged meanwhile.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolCpuWindow {
    /// CPU time (user + system) the pool's workers used between start and end, ns.
    pub cpu_ns: u64,
    /// php-fpm access log lines written between start and end: the requests that ended
    /// inside the window, one line each, in the pool's `access.format`.
    pub access_log: String,
}

/// Starts a window on the pool under `master_pid`. Err says why the pool's CPU cannot be read.
pub fn start(master_pid: u32, access_log: &Path) -> Result<WindowStart, String> {
    let cpu_ns = read_pool_cpu_ns(master_pid)?;
    Ok(WindowStart {
        master_pid,
        access_log: access_log.to_path_buf(),
        cpu_ns,
        log_len: log_len(access_log)?,
    })
}

/// Ends the window.
pub fn finish(start: &WindowStart) -> Result<PoolCpuWindow, String> {
    // CPU first, log length second: a request ending in between is counted with nearly all
    // its CPU, rather than its CPU without the request.
    let cpu_ns = read_pool_cpu_ns(start.master_pid)?;
    let end_len = log_len(&start.access_log)?;
    let access_log = read_range(&start.access_log, start.log_len, end_len)
        .map_err(|e| format!("reading {}: {e}", start.access_log.display()))?;
    Ok(PoolCpuWindow {
        cpu_ns: cpu_ns.saturating_sub(start.cpu_ns),
        access_log,
    })
}

fn log_len(path: &Path) -> Result<u64, String> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        // php-fpm creates it on its first request or at start; not yet there means empty.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(format!("php-fpm's access log {}: {e}", path.display())),
    }
}

fn read_range(path: &Path, from: u64, to: u64) -> io::Result<String> {
    if to <= from {
        return Ok(String::new());
    }
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::with_capacity((to - from) as usize);
    file.take(to - from).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// CPU time the pool's workers have used so far, live and reaped, in ns.
pub fn read_pool_cpu_ns(master_pid: u32) -> Result<u64, String> {
    let ns_per_tick = 1e9 / ticks_per_s();
    let mut reading = 0;
    for _ in 0..MAX_READ_ATTEMPTS {
        let reaped_before = reaped_ticks(master_pid)?;
        let live = live_workers_ns(master_pid, ns_per_tick)?;
        let reaped_after = reaped_ticks(master_pid)?;
        reading = live + (reaped_after as f64 * ns_per_tick) as u64;
        // Unchanged: no worker moved from the live set to cutime while the live set was
        // read, so none was counted twice or missed.
        if reaped_before == reaped_after {
            break;
        }
    }
    Ok(reading)
}

fn ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// The master's `cutime + cstime`: CPU of the children it has reaped, in clock ticks.
fn reaped_ticks(master_pid: u32) -> Result<u64, String> {
    let text = std::fs::read_to_string(format!("/proc/{master_pid}/stat"))
        .map_err(|e| format!("php-fpm master {master_pid}: /proc/{master_pid}/stat: {e}"))?;
    parse_reaped_ticks(&text).ok_or_else(|| format!("unexpected /proc/{master_pid}/stat: {text:?}"))
}

/// `cutime` (field 16) + `cstime` (field 17) of a `/proc/PID/stat` line.
fn parse_reaped_ticks(text: &str) -> Option<u64> {
    // comm (field 2) may contain spaces and ')': count fields from after the last ')', where
    // state is field 3, so cutime and cstime are at indexes 13 and 14.
    let rest: Vec<&str> = text
        .get(text.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let field = |i: usize| rest.get(i)?.parse::<u64>().ok();
    Some(field(13)? + field(14)?)
}

fn live_workers_ns(master_pid: u32, ns_per_tick: f64) -> Result<u64, String> {
    let pids = procfs::children(master_pid)
        .map_err(|e| format!("children of php-fpm master {master_pid}: {e}"))?;
    let mut total = 0;
    for pid in pids {
        if is_status_pool_worker(pid) {
            continue;
        }
        match worker_ns(pid, ns_per_tick) {
            Ok(ns) => total += ns,
            // Gone since the listing: reaped, so in the master's cutime now.
            Err(e) if procfs::is_gone(&e) => {}
            Err(e) => return Err(format!("php-fpm worker {pid}: {e}")),
        }
    }
    Ok(total)
}

/// The worker of the hidden pool `pm.status_listen` creates (php-fpm titles it `php-fpm:
/// pool <pool>_status`): it answers fpmlab's status polls, not the scenario's requests.
fn is_status_pool_worker(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|raw| {
        String::from_utf8_lossy(&raw)
            .trim_end_matches('\0')
            .trim_end()
            .ends_with("_status")
    })
}

/// A worker's CPU so far: `/proc/PID/schedstat`'s run time, exact to the nanosecond, where
/// the kernel has it; else `utime + stime` in clock ticks. Workers are single-threaded.
fn worker_ns(pid: u32, ns_per_tick: f64) -> io::Result<u64> {
    match std::fs::read_to_string(format!("/proc/{pid}/schedstat")) {
        Ok(text) => {
            if let Some(ns) = text.split_whitespace().next().and_then(|v| v.parse().ok()) {
                return Ok(ns);
            }
        }
        Err(e) if procfs::is_gone(&e) => return Err(e),
        Err(_) => {}
    }
    let stat = procfs::read_stat(pid)?;
    Ok((stat.cpu_ticks as f64 * ns_per_tick) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::Command;

    #[test]
    fn reaped_ticks_survive_an_awkward_comm() {
        let line = "4242 (php-fpm: pool (www) x) S 4200 4200 4200 0 -1 4194624 100 0 0 0 7 3 40 2 20 0 1 0 98765 1000 10 0\n";
        assert_eq!(parse_reaped_ticks(line), Some(42));
        assert_eq!(parse_reaped_ticks("garbage"), None);
    }

    #[test]
    fn reaped_children_stay_counted() {
        // This test process plays the master: a child that burns CPU and is reaped must show
        // up in the reading after it is gone, as a retired worker does.
        let me = std::process::id();
        let before = read_pool_cpu_ns(me).unwrap();
        let status = Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        let after = read_pool_cpu_ns(me).unwrap();
        // A shell loop of 200k steps takes tens of ms of CPU; ticks are 10 ms.
        assert!(after > before, "before {before} ns, after {after} ns");
    }

    #[test]
    fn a_window_holds_the_lines_written_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("php-fpm-access.log");
        let me = std::process::id();
        // A log that does not exist yet counts as empty.
        let start = super::start(me, &log).unwrap();
        std::fs::write(&log, "first\n").unwrap();
        assert_eq!(finish(&start).unwrap().access_log, "first\n");
        let start = super::start(me, &log).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(b"second\nthird\n").unwrap();
        let window = finish(&start).unwrap();
        assert_eq!(window.access_log, "second\nthird\n");
    }

    #[test]
    fn a_missing_master_is_named() {
        let e = read_pool_cpu_ns(u32::MAX - 1).unwrap_err();
        assert!(e.contains("php-fpm master"), "{e}");
    }
}
