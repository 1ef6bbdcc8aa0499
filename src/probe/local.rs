//! The blocking half of a sample: accept queue (netlink or /proc) and workers from /proc.
//! Runs on tokio's blocking pool.

use std::io;
use std::time::Instant;

use super::accept_queue::{AcceptQueue, AcceptQueueReader};
use super::container::{ContainerReader, ContainerSample};
use crate::procfs::{self, CpuTracker};
use crate::stack::{ContainerRef, FpmListen};

/// Readers for one php-fpm master, kept across ticks.
pub(super) struct LocalProbe {
    master_pid: u32,
    accept: Option<AcceptQueueReader>,
    cpu: CpuTracker,
    /// fpm runs in a child pid namespace (a container): its status page names workers by
    /// their pid in there, so each worker's namespace pid is read for the join.
    in_child_pidns: bool,
    /// The stack's containers' cgroup files (docker driver).
    containers: Option<ContainerReader>,
}

/// One worker as /proc sees it.
pub(super) struct ProcWorker {
    pub pid: u32,
    /// The pid php-fpm itself uses for this worker (equals `pid` outside containers).
    pub ns_pid: u32,
    pub pss_kib: Option<u64>,
    pub cpu_pct: Option<f64>,
}

/// What one blocking read found.
pub(super) struct LocalReading {
    /// The php-fpm master is still alive.
    pub master_alive: bool,
    pub accept_queue: Option<AcceptQueue>,
    pub workers: Vec<ProcWorker>,
    pub container: Option<ContainerSample>,
    pub errors: Vec<String>,
}

impl LocalProbe {
    pub fn new(master_pid: u32, listen: Option<FpmListen>, containers: Vec<ContainerRef>) -> Self {
        LocalProbe {
            master_pid,
            accept: listen.map(|l| AcceptQueueReader::new(l, master_pid)),
            cpu: CpuTracker::new(),
            in_child_pidns: procfs::read_ns_pid(master_pid).is_ok_and(|ns| ns != master_pid),
            containers: ContainerReader::new(containers),
        }
    }

    pub fn read(&mut self) -> LocalReading {
        let mut errors = Vec::new();
        let master_alive = procfs::is_alive(self.master_pid);
        let accept_queue = self.accept.as_mut().and_then(|r| r.read(&mut errors));
        let workers = self.read_workers(&mut errors);
        let container = self.containers.as_mut().map(|c| c.read(&mut errors));
        LocalReading {
            master_alive,
            accept_queue,
            workers,
            container,
            errors,
        }
    }

    fn read_workers(&mut self, errors: &mut Vec<String>) -> Vec<ProcWorker> {
        let master = self.master_pid;
        let pids = match procfs::children(master) {
            Ok(pids) => pids,
            Err(e) => {
                errors.push(format!("workers: children of php-fpm master {master}: {e}"));
                return Vec::new();
            }
        };
        let mut pss_failures = Failures::new("pss (/proc/PID/smaps_rollup)");
        let mut other_failures = Failures::new("worker /proc");
        let mut workers = Vec::with_capacity(pids.len());
        for pid in pids {
            let at = Instant::now();
            let stat = match procfs::read_stat(pid) {
                // The listing can be a moment old: skip a pid that exited or was reused.
                Ok(stat) if stat.ppid == master => stat,
                Ok(_) => continue,
                Err(e) if procfs::is_gone(&e) => continue,
                Err(e) => {
                    other_failures.add(pid, &e);
                    continue;
                }
            };
            // A worker exiting between the reads (ondemand idle timeout, pm.max_requests) is
            // not a failure: it is simply no longer there.
            let pss_kib = match procfs::read_pss_kib(pid) {
                Ok(kib) => Some(kib),
                Err(e) if procfs::is_gone(&e) => continue,
                Err(e) => {
                    pss_failures.add(pid, &e);
                    None
                }
            };
            let ns_pid = if self.in_child_pidns {
                match procfs::read_ns_pid(pid) {
                    Ok(ns) => ns,
                    Err(e) if procfs::is_gone(&e) => continue,
                    Err(e) => {
                        other_failures.add(pid, &e);
                        pid
                    }
                }
            } else {
                pid
            };
            workers.push(ProcWorker {
                pid,
                ns_pid,
                pss_kib,
                cpu_pct: self.cpu.observe(pid, &stat, at),
            });
        }
        self.cpu.finish_tick();
        errors.extend(pss_failures.report());
        errors.extend(other_failures.report());
        workers
    }
}

/// Folds one kind of per-worker failure into one error line per sample, so a permission
/// problem on 50 workers does not write 50 lines every tick.
struct Failures {
    what: &'static str,
    count: usize,
    first: Option<String>,
}

impl Failures {
    fn new(what: &'static str) -> Self {
        Failures {
            what,
            count: 0,
            first: None,
        }
    }

    fn add(&mut self, pid: u32, e: &io::Error) {
        self.count += 1;
        self.first.get_or_insert_with(|| format!("pid {pid}: {e}"));
    }

    fn report(self) -> Option<String> {
        let first = self.first?;
        Some(format!(
            "{}: {} workers unreadable (first: {first})",
            self.what, self.count
        ))
    }
}
