//! Supervised daemon processes: each started in its own process group, tied to fpmlab's
//! life, optionally pinned to CPUs, and stopped group-wide so no worker is left behind.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// How long a teardown waits for a killed group's last members to die.
const GROUP_EXIT_WAIT: Duration = Duration::from_secs(2);

/// Whether a process of group `pgid` is still alive (zombies, already dead, do not count).
fn group_has_live_members(pgid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .any(|stat| {
            // After the command's closing parenthesis: state, ppid, pgrp, …
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                return false;
            };
            let mut fields = rest.split_whitespace();
            let state = fields.next().unwrap_or("Z");
            let pgrp = fields.nth(1).and_then(|g| g.parse::<u32>().ok());
            pgrp == Some(pgid) && !matches!(state, "Z" | "X")
        })
}

/// A daemon started by [`Daemon::spawn`]. Its pid is also its process group id.
#[derive(Debug)]
pub struct Daemon {
    /// Short name for messages (`php-fpm`, `nginx`).
    pub name: &'static str,
    child: Child,
    /// Where its own log goes; read back when it dies early.
    pub log: PathBuf,
    /// Where its stdout and stderr go (early errors before its log is open).
    stdio_log: PathBuf,
    /// Sizes of `log` and `stdio_log` when this process started: only what follows is
    /// about this process (an earlier attempt may have written to the same files).
    offsets: (u64, u64),
    /// Set once the child has been reaped.
    reaped: bool,
}

impl Daemon {
    /// Starts `cmd` with stdout/stderr appended to `stdio_log` (never the terminal). `log`
    /// is the daemon's own log file, quoted when it dies early.
    pub fn spawn(
        name: &'static str,
        mut cmd: Command,
        stdio_log: &Path,
        log: &Path,
        cpuset: Option<&[usize]>,
    ) -> Result<Daemon> {
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(stdio_log)
                .with_context(|| format!("cannot open {}", stdio_log.display()))
        };
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let offsets = (size(log), size(stdio_log));
        let cpus: Option<Vec<usize>> = cpuset.map(<[usize]>::to_vec);
        // CPU_SET would panic past the set's size, and a panic after fork is undefined.
        if let Some(cpu) = cpuset
            .into_iter()
            .flatten()
            .find(|&&c| c >= libc::CPU_SETSIZE as usize)
        {
            anyhow::bail!("stack.cpuset lists CPU {cpu}, beyond what Linux can address");
        }
        let parent = std::process::id() as libc::pid_t;
        cmd.stdin(Stdio::null())
            .stdout(open()?)
            .stderr(open()?)
            // Own group: signals reach the master and its workers together, and a Ctrl-C
            // on the terminal's group does not hit the daemons before fpmlab tears down.
            .process_group(0);
        // SAFETY: only async-signal-safe calls (prctl, getppid, sched_set*) between
        // fork and exec; the CPU list was copied before the fork.
        unsafe {
            cmd.pre_exec(move || {
                // If fpmlab dies (even by SIGKILL), the kernel kills the master. Note: the
                // signal follows the *thread* that forked, so spawn from a long-lived one.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    // fpmlab already died between fork and prctl.
                    libc::_exit(1);
                }
                // fpmlab's side threads run as SCHED_BATCH; the stack must not inherit that.
                let normal = libc::sched_param { sched_priority: 0 };
                libc::sched_setscheduler(0, libc::SCHED_OTHER, &normal);
                if let Some(cpus) = &cpus {
                    let mut set: libc::cpu_set_t = std::mem::zeroed();
                    for &cpu in cpus {
                        libc::CPU_SET(cpu, &mut set);
                    }
                    let size = std::mem::size_of::<libc::cpu_set_t>();
                    if libc::sched_setaffinity(0, size, &set) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = cmd.spawn().with_context(|| match cpuset {
            Some(cpus) => format!(
                "cannot start {name} pinned to CPUs {cpus:?}: check that stack.cpuset lists \
                 CPUs this machine has ({} online)",
                std::thread::available_parallelism().map_or(0, |n| n.get())
            ),
            None => format!("cannot start {name}"),
        })?;
        Ok(Daemon {
            name,
            child,
            log: log.to_path_buf(),
            stdio_log: stdio_log.to_path_buf(),
            offsets,
            reaped: false,
        })
    }

    /// The master's pid (= its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the master has exited, without reaping it: while it is an unreaped zombie
    /// its pid, and so its group id, cannot be reused, which keeps `killpg` safe.
    pub fn has_exited(&self) -> bool {
        if self.reaped {
            return true;
        }
        // SAFETY: waitid only writes into the zeroed siginfo we pass.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
            let rc = libc::waitid(libc::P_PID, self.pid(), &mut info, flags);
            // ECHILD (not our child any more) also counts as gone.
            rc != 0 || info.si_pid() != 0
        }
    }

    /// Sends `signal` to the whole group, unless it was already reaped.
    pub fn signal_group(&self, signal: libc::c_int) {
        if !self.reaped {
            // SAFETY: plain syscall; the group id is ours (see `has_exited`).
            unsafe {
                libc::killpg(self.pid() as libc::pid_t, signal);
            }
        }
    }

    /// Kills whatever is left of the group and reaps the master. Blocks briefly.
    pub fn kill_and_reap(&mut self) {
        if self.reaped {
            return;
        }
        // Also kills workers still alive after their master exited (the group outlives it
        // while the unreaped master holds the id).
        self.signal_group(libc::SIGKILL);
        let pgid = self.pid();
        let _ = self.child.wait();
        self.reaped = true;
        // SIGKILL is delivered asynchronously: a worker on the other CPU may still run for
        // a moment. Return only once the whole group is dead, so nothing outlives teardown.
        let deadline = Instant::now() + GROUP_EXIT_WAIT;
        while group_has_live_members(pgid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The exit status if it has exited (reaping it), for error messages.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        if !self.has_exited() {
            return None;
        }
        // Kill leftover workers while the unreaped master still holds the group id.
        self.signal_group(libc::SIGKILL);
        let status = self.child.try_wait().ok().flatten();
        self.reaped = true;
        status
    }

    /// What this daemon wrote to its log since it started (last `max_lines` lines).
    pub fn log_tail(&self, max_lines: usize) -> String {
        read_tail(&self.log, self.offsets.0, max_lines)
    }

    /// What it wrote to stdout/stderr since it started (last `max_lines` lines).
    pub fn stdio_tail(&self, max_lines: usize) -> String {
        read_tail(&self.stdio_log, self.offsets.1, max_lines)
    }
}

/// Stops daemons gracefully: SIGQUIT to every group, up to `grace` for the masters to exit,
/// then SIGTERM, one more second, then SIGKILL; every master is reaped on return.
pub async fn stop_all(daemons: &mut [Daemon], grace: Duration) {
    for (signal, wait) in [
        (libc::SIGQUIT, grace),
        (libc::SIGTERM, Duration::from_secs(1)),
    ] {
        for d in daemons.iter().filter(|d| !d.has_exited()) {
            d.signal_group(signal);
        }
        let deadline = Instant::now() + wait;
        while daemons.iter().any(|d| !d.has_exited()) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for d in daemons.iter_mut() {
        d.kill_and_reap();
    }
}

/// The last `max_lines` lines of `path` after byte `offset`, for error messages.
fn read_tail(path: &Path, offset: u64, max_lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        if f.seek(SeekFrom::Start(offset)).is_ok() {
            let mut bytes = Vec::new();
            let _ = f.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(max_lines)..].join("\n")
}

/// Kills the daemons' whole process groups if fpmlab dies without tearing down (SIGKILL,
/// OOM, a panic with `panic = "abort"`). PDEATHSIG only reaches the masters: their workers
/// would live on, orphaned, nginx's still accepting on the port.
///
/// A small `sh` waits on a pipe whose only write end fpmlab holds (close-on-exec, so the
/// daemons never inherit it). However fpmlab ends, the kernel closes that end, `read` sees
/// EOF and the groups are killed. A clean teardown kills the watchdog first.
#[derive(Debug)]
pub struct Watchdog {
    child: Child,
    _write_end: std::io::PipeWriter,
}

impl Watchdog {
    /// Starts a watchdog for the process groups of `daemons`.
    pub fn spawn(daemons: &[Daemon]) -> Result<Watchdog> {
        let mut cmd = Command::new("/bin/sh");
        // `kill -9 -PGID`: dash's kill takes neither `--` nor `-s KILL` before a group.
        cmd.arg("-c")
            .arg(r#"read _; for g in "$@"; do kill -9 "-$g"; done 2>/dev/null"#)
            .arg("fpmlab-watchdog")
            .args(daemons.iter().map(|d| d.pid().to_string()));
        Self::arm(cmd, "the stack's watchdog")
    }

    /// Starts `cmd` (a shell that begins with `read`) on a pipe whose only write end fpmlab
    /// holds: when fpmlab ends, however it ends, `read` returns and the rest runs.
    pub fn arm(mut cmd: Command, what: &str) -> Result<Watchdog> {
        let (read_end, write_end) = std::io::pipe().context("cannot create a pipe")?;
        cmd.stdin(read_end)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Out of the terminal's group: a Ctrl-C must leave it to fpmlab's own teardown.
            .process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start /bin/sh as {what}"))?;
        Ok(Watchdog {
            child,
            _write_end: write_end,
        })
    }

    /// Stops the watchdog without letting it fire (before a deliberate teardown).
    pub fn disarm(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
