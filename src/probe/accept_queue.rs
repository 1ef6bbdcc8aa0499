//! The kernel's accept queue of php-fpm's pool socket: connections nginx has opened that no
//! worker has accepted yet. Finer than fpm's status page, which samples it once a second and
//! reads 0 on unix sockets.
//!
//! Source: netlink `sock_diag` in the fpm master's network namespace (queued and backlog, TCP
//! and unix). If that socket cannot be opened (entering another namespace needs
//! CAP_SYS_ADMIN), TCP falls back to `/proc/<master>/net/tcp{,6}`, which any user can read for
//! any namespace but which has no backlog: on Linux 6.x its LISTEN rows show `tx_queue` 0 and
//! `rx_queue` = queued (verified by the tests below).

use std::io;

use serde::{Deserialize, Serialize};

use super::sock_diag::{ListenerQueue, SockDiag};
use crate::stack::FpmListen;

/// Accept-queue reading for the pool's listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AcceptQueue {
    /// Connections waiting for a php-fpm worker to `accept()` them. Can reach `backlog + 1`.
    pub queued: u32,
    /// The listen backlog in force (after the kernel's clamp to `net.core.somaxconn`);
    /// `None` when only `/proc/net/tcp` was readable.
    pub backlog: Option<u32>,
}

/// Reads the accept queue of one fpm socket, keeping the netlink socket between samples.
#[derive(Debug)]
pub struct AcceptQueueReader {
    listen: FpmListen,
    master_pid: u32,
    diag: Result<SockDiag, String>,
    open_error_reported: bool,
}

impl AcceptQueueReader {
    /// Prepares a reader for `listen` as seen from the namespaces of `master_pid`.
    pub fn new(listen: FpmListen, master_pid: u32) -> Self {
        let diag = SockDiag::open_in_netns_of(master_pid).map_err(|e| {
            format!(
                "accept queue: netlink sock_diag in the network namespace of pid {master_pid}: {e}"
            )
        });
        AcceptQueueReader {
            listen,
            master_pid,
            diag,
            open_error_reported: false,
        }
    }

    /// One reading. Failures are pushed to `errors` and give `None`.
    pub fn read(&mut self, errors: &mut Vec<String>) -> Option<AcceptQueue> {
        let result = match (&self.listen, &mut self.diag) {
            (FpmListen::Tcp { port }, Ok(diag)) => diag
                .tcp_listeners(*port)
                .map_err(|e| format!("accept queue: netlink dump of TCP listeners: {e}"))
                .and_then(|found| sum_listeners(&found, || format!("TCP port {port}"))),
            (FpmListen::Unix { path }, Ok(diag)) => diag
                .unix_listener(path)
                .map_err(|e| format!("accept queue: netlink dump of unix listeners: {e}"))
                .and_then(|found| match found {
                    Some(q) => Ok(to_accept_queue(q)),
                    None => Err(not_listening(&path.display().to_string())),
                }),
            (FpmListen::Tcp { port }, Err(open_error)) => {
                // Degraded but still useful: say why the backlog is missing, once per run.
                if !self.open_error_reported {
                    self.open_error_reported = true;
                    errors.push(format!("{open_error} (falling back to /proc, no backlog)"));
                }
                match read_proc_tcp(self.master_pid, *port) {
                    Ok(Some(queued)) => Ok(AcceptQueue {
                        queued,
                        backlog: None,
                    }),
                    Ok(None) => Err(not_listening(&format!("TCP port {port}"))),
                    Err(e) => Err(format!(
                        "accept queue: /proc/{}/net/tcp: {e}",
                        self.master_pid
                    )),
                }
            }
            (FpmListen::Unix { .. }, Err(open_error)) => Err(open_error.clone()),
        };
        result.map_err(|e| errors.push(e)).ok()
    }
}

fn sum_listeners(
    found: &[ListenerQueue],
    what: impl Fn() -> String,
) -> Result<AcceptQueue, String> {
    // Several rows only with SO_REUSEPORT or separate v4/v6 binds; connections then spread
    // over all of them, so the pool's queue and capacity are the sums.
    if found.is_empty() {
        return Err(not_listening(&what()));
    }
    Ok(AcceptQueue {
        queued: found.iter().map(|q| q.queued).sum(),
        backlog: Some(found.iter().map(|q| q.backlog).sum()),
    })
}

fn to_accept_queue(q: ListenerQueue) -> AcceptQueue {
    AcceptQueue {
        queued: q.queued,
        backlog: Some(q.backlog),
    }
}

fn not_listening(what: &str) -> String {
    format!("accept queue: no listening socket on {what} in php-fpm's network namespace")
}

/// Sum of `rx_queue` over the LISTEN rows for local `port` in `/proc/<pid>/net/tcp` and
/// `tcp6`; `None` if there is no such row. Reading through the pid's /proc directory shows
/// that process's network namespace.
pub fn read_proc_tcp(pid: u32, port: u16) -> io::Result<Option<u32>> {
    let mut total = None;
    for file in ["tcp", "tcp6"] {
        let path = format!("/proc/{pid}/net/{file}");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            // tcp6 is absent when IPv6 is disabled.
            Err(e) if e.kind() == io::ErrorKind::NotFound && file == "tcp6" => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{path}: {e}"))),
        };
        for queued in parse_proc_tcp_listeners(&text, port) {
            *total.get_or_insert(0) += queued;
        }
    }
    Ok(total)
}

/// `rx_queue` of each LISTEN (`st` 0A) row whose local port is `port`. Columns:
/// `sl local_address rem_address st tx_queue:rx_queue ...`, addresses `HEXIP:HEXPORT`.
fn parse_proc_tcp_listeners(text: &str, port: u16) -> Vec<u32> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split_whitespace().skip(1);
            let local = cols.next()?;
            let _remote = cols.next()?;
            let state = cols.next()?;
            let queues = cols.next()?;
            let local_port = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            if state != "0A" || local_port != port {
                return None;
            }
            u32::from_str_radix(queues.split(':').nth(1)?, 16).ok()
        })
        .collect()
}

#[cfg(test)]
#[path = "accept_queue_tests.rs"]
mod tests;
