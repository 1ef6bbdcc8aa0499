//! Minimal netlink `sock_diag` client: the kernel's view of listening sockets' accept queues,
//! the same numbers `ss -l` prints as Recv-Q/Send-Q, without spawning `ss` every tick.
//!
//! For a listener the kernel reports the pending connections (`sk_ack_backlog`, unix: receive
//! queue length) and the backlog limit (`sk_max_ack_backlog`). `/proc/net/tcp` only has the
//! former and unix sockets have neither in /proc, hence netlink.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

// uapi constants, spelled out here because libc's coverage of sock_diag is partial.
const NETLINK_SOCK_DIAG: libc::c_int = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
/// `TCP_LISTEN`; unix sockets reuse the TCP state numbers.
const TCP_LISTEN: u32 = 10;
const UDIAG_SHOW_NAME: u32 = 0x1;
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_RQLEN: u16 = 4;
/// `struct inet_diag_msg` / `struct unix_diag_msg` sizes.
const INET_DIAG_MSG_LEN: usize = 72;
const UNIX_DIAG_MSG_LEN: usize = 16;

/// Accept-queue figures of one listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerQueue {
    /// Connections completed by the kernel and waiting for `accept()`.
    pub queued: u32,
    /// The backlog limit after the kernel's clamp to `net.core.somaxconn`.
    pub backlog: u32,
}

/// A `NETLINK_SOCK_DIAG` socket, bound to the network namespace it was opened in.
#[derive(Debug)]
pub struct SockDiag {
    fd: OwnedFd,
    seq: u32,
}

impl SockDiag {
    /// Opens a socket in the caller's network namespace.
    pub fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the returned fd is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // A dump normally answers in microseconds; the timeout only keeps a wedged kernel
        // reply from blocking the sampler thread forever.
        let tv = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        // SAFETY: valid fd, pointer and length of a timeval.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(SockDiag { fd, seq: 0 })
    }

    /// Opens a socket in the network namespace of process `pid` (e.g. a container's php-fpm
    /// master), so its listeners are visible. Needs CAP_SYS_ADMIN only when the namespace
    /// differs from ours.
    pub fn open_in_netns_of(pid: u32) -> io::Result<Self> {
        let ns_path = format!("/proc/{pid}/ns/net");
        if fs::read_link(&ns_path)? == fs::read_link("/proc/self/ns/net")? {
            return Self::open();
        }
        let ns = File::open(&ns_path)?;
        // setns(CLONE_NEWNET) moves only the calling thread, and a socket stays in the
        // namespace it was created in: a throwaway thread keeps the runtime's threads in ours.
        std::thread::spawn(move || {
            // SAFETY: valid namespace fd; affects this short-lived thread only.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Self::open()
        })
        .join()
        .map_err(|_| io::Error::other("netns helper thread panicked"))?
    }

    /// Listening TCP sockets (IPv4 and IPv6) bound to local `port`. Usually one; several
    /// with SO_REUSEPORT or separate v4/v6 binds.
    pub fn tcp_listeners(&mut self, port: u16) -> io::Result<Vec<ListenerQueue>> {
        let mut found = Vec::new();
        for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
            // struct inet_diag_req_v2: family, protocol, ext, pad, states, 48-byte sockid
            // (all zero: a dump filtered by state only; the port is matched below).
            let mut req = vec![family, libc::IPPROTO_TCP as u8, 0, 0];
            req.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
            req.extend_from_slice(&[0u8; 48]);
            self.dump(&req, |msg| {
                if msg.len() < INET_DIAG_MSG_LEN {
                    return;
                }
                let sport = u16::from_be_bytes([msg[4], msg[5]]);
                if sport == port {
                    found.push(ListenerQueue {
                        queued: ne_u32(msg, 56),
                        backlog: ne_u32(msg, 60),
                    });
                }
            })?;
        }
        Ok(found)
    }

    /// The listening unix stream socket bound to `path` (path as the binding process saw it).
    pub fn unix_listener(&mut self, path: &Path) -> io::Result<Option<ListenerQueue>> {
        use std::os::unix::ffi::OsStrExt;
        let want = path.as_os_str().as_bytes();
        // struct unix_diag_req: family, protocol, pad, states, ino, show, cookie[2].
        let mut req = vec![libc::AF_UNIX as u8, 0, 0, 0];
        req.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
        req.extend_from_slice(&0u32.to_ne_bytes());
        req.extend_from_slice(&(UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN).to_ne_bytes());
        req.extend_from_slice(&[0u8; 8]);
        let mut found = None;
        self.dump(&req, |msg| {
            let mut name = None;
            let mut rqlen = None;
            for (kind, data) in attributes(msg.get(UNIX_DIAG_MSG_LEN..).unwrap_or(&[])) {
                match kind {
                    // Bound paths carry their trailing NUL.
                    UNIX_DIAG_NAME => name = Some(trim_nul(data)),
                    UNIX_DIAG_RQLEN if data.len() >= 8 => {
                        rqlen = Some(ListenerQueue {
                            queued: ne_u32(data, 0),
                            backlog: ne_u32(data, 4),
                        })
                    }
                    _ => {}
                }
            }
            if name == Some(want) {
                found = found.or(rqlen);
            }
        })?;
        Ok(found)
    }

    /// Sends one `SOCK_DIAG_BY_FAMILY` dump request and feeds each answer's payload to `each`.
    fn dump(&mut self, req: &[u8], mut each: impl FnMut(&[u8])) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut msg = Vec::with_capacity(NLMSG_HDRLEN + req.len());
        msg.extend_from_slice(&((NLMSG_HDRLEN + req.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        msg.extend_from_slice(&self.seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(req);
        // SAFETY: zeroed sockaddr_nl is valid; nl_pid 0 addresses the kernel.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: valid fd, buffer and address for the given lengths.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr() as *const libc::c_void,
                msg.len(),
                0,
                &kernel as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: valid fd and buffer. MSG_TRUNC makes recv return the real length, so
            // a datagram larger than the buffer is detected instead of silently cut.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = n as usize;
            if n > buf.len() {
                return Err(io::Error::other(format!(
                    "netlink reply truncated ({n} bytes)"
                )));
            }
            let mut rest = &buf[..n];
            while rest.len() >= NLMSG_HDRLEN {
                let len = ne_u32(rest, 0) as usize;
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                let seq = ne_u32(rest, 8);
                if len < NLMSG_HDRLEN || len > rest.len() {
                    return Err(io::Error::other("malformed netlink message"));
                }
                let payload = &rest[NLMSG_HDRLEN..len];
                rest = &rest[align4(len).min(rest.len())..];
                if seq != self.seq {
                    continue; // a late answer to an earlier, abandoned request
                }
                match kind {
                    NLMSG_DONE => return Ok(()),
                    NLMSG_ERROR => {
                        // errno 0 is an acknowledgement, not an error.
                        let errno = payload.get(..4).map(|b| ne_u32(b, 0) as i32).unwrap_or(0);
                        if errno == 0 {
                            return Ok(());
                        }
                        return Err(io::Error::from_raw_os_error(-errno));
                    }
                    _ => each(payload),
                }
            }
        }
    }
}

/// Iterates netlink attributes (`struct rtattr`: u16 len, u16 type, data, padded to 4).
fn attributes(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]);
        if len < 4 || len > buf.len() {
            return None;
        }
        let data = &buf[4..len];
        buf = &buf[align4(len).min(buf.len())..];
        Some((kind, data))
    })
}

fn trim_nul(mut b: &[u8]) -> &[u8] {
    while let [head @ .., 0] = b {
        b = head;
    }
    b
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn ne_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
