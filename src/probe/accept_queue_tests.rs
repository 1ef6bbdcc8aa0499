//! Accept-queue readers against real listeners in this process (and, as root, in a fresh
//! network namespace). Connections are opened but never accepted, so they sit in the queue.

use super::*;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Re-`listen()`s with a small backlog: Linux updates the backlog of a listening socket.
fn set_backlog(fd: &impl AsRawFd, backlog: i32) {
    // SAFETY: valid listening socket fd.
    assert_eq!(unsafe { libc::listen(fd.as_raw_fd(), backlog) }, 0);
}

/// The handshake of a loopback connect() may finish on the server side a moment later.
fn read_until(reader: &mut AcceptQueueReader, want: u32) -> AcceptQueue {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut errors = Vec::new();
        let q = reader.read(&mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let q = q.expect("a reading");
        if q.queued == want || Instant::now() > deadline {
            return q;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn check_tcp(addr: &str) {
    let Ok(listener) = TcpListener::bind(addr) else {
        eprintln!("skipping {addr}: cannot bind");
        return;
    };
    set_backlog(&listener, 5);
    let port = listener.local_addr().unwrap().port();
    let me = std::process::id();
    let mut reader = AcceptQueueReader::new(FpmListen::Tcp { port }, me);
    assert_eq!(
        read_until(&mut reader, 0),
        AcceptQueue {
            queued: 0,
            backlog: Some(5)
        }
    );

    let clients: Vec<_> = (0..3)
        .map(|_| TcpStream::connect(listener.local_addr().unwrap()).unwrap())
        .collect();
    assert_eq!(
        read_until(&mut reader, 3),
        AcceptQueue {
            queued: 3,
            backlog: Some(5)
        }
    );
    // /proc agrees on the queue; its tx_queue column is 0, not the backlog, on this kernel.
    assert_eq!(read_proc_tcp(me, port).unwrap(), Some(3));

    let accepted: Vec<_> = (0..3).map(|_| listener.accept().unwrap()).collect();
    assert_eq!(read_until(&mut reader, 0).queued, 0);
    assert_eq!(read_proc_tcp(me, port).unwrap(), Some(0));
    drop((clients, accepted));
}

#[test]
fn tcp_v4_queue_and_backlog() {
    check_tcp("127.0.0.1:0");
}

#[test]
fn tcp_v6_queue_and_backlog() {
    check_tcp("[::1]:0");
}

#[test]
fn unix_queue_and_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sock");
    let listener = UnixListener::bind(&path).unwrap();
    set_backlog(&listener, 4);
    let mut reader =
        AcceptQueueReader::new(FpmListen::Unix { path: path.clone() }, std::process::id());
    let clients: Vec<_> = (0..2)
        .map(|_| UnixStream::connect(&path).unwrap())
        .collect();
    assert_eq!(
        read_until(&mut reader, 2),
        AcceptQueue {
            queued: 2,
            backlog: Some(4)
        }
    );
    let accepted: Vec<_> = (0..2).map(|_| listener.accept().unwrap()).collect();
    assert_eq!(read_until(&mut reader, 0).queued, 0);
    drop((clients, accepted));
}

#[test]
fn missing_listener_is_an_error() {
    let mut reader = AcceptQueueReader::new(
        FpmListen::Unix {
            path: "/nonexistent/fpmlab.sock".into(),
        },
        std::process::id(),
    );
    let mut errors = Vec::new();
    assert_eq!(reader.read(&mut errors), None);
    assert!(errors[0].contains("no listening socket"), "{errors:?}");
}

#[test]
fn proc_tcp_rows() {
    let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:A481 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 22184 4\n\
   1: 0100007F:A481 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 0 1\n\
   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n";
    assert_eq!(parse_proc_tcp_listeners(text, 0xA481), vec![3]);
    assert_eq!(parse_proc_tcp_listeners(text, 80), vec![0]);
    assert!(parse_proc_tcp_listeners(text, 81).is_empty());
}

/// As root: listeners in another network namespace (as with a docker stack) are found
/// through the pid, both via netlink (setns) and via /proc/<pid>/net/tcp.
#[test]
fn listeners_in_another_netns() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: needs root for unshare/setns");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ns.sock");
    let script = format!(
        "import socket,sys,time\n\
t=socket.socket(); t.bind(('0.0.0.0',0)); t.listen(7)\n\
u=socket.socket(socket.AF_UNIX); u.bind('{}'); u.listen(3)\n\
c=socket.socket(socket.AF_UNIX); c.connect('{}')\n\
print(t.getsockname()[1], flush=True); time.sleep(30)\n",
        path.display(),
        path.display()
    );
    let Ok(mut child) = Command::new("unshare")
        .args(["--net", "python3", "-c", &script])
        .stdout(Stdio::piped())
        .spawn()
    else {
        eprintln!("skipping: unshare not available");
        return;
    };
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid = child.id();
    let result = std::panic::catch_unwind(|| {
        let port: u16 = line.trim().parse().expect("python printed its port");
        let mut tcp = AcceptQueueReader::new(FpmListen::Tcp { port }, pid);
        assert_eq!(
            read_until(&mut tcp, 0),
            AcceptQueue {
                queued: 0,
                backlog: Some(7)
            }
        );
        assert_eq!(read_proc_tcp(pid, port).unwrap(), Some(0));
        // Not visible from our own namespace: the reader really looked in the other one.
        assert!(SockDiag::open()
            .unwrap()
            .tcp_listeners(port)
            .unwrap()
            .is_empty());
        let mut unix = AcceptQueueReader::new(FpmListen::Unix { path: path.clone() }, pid);
        assert_eq!(
            read_until(&mut unix, 1),
            AcceptQueue {
                queued: 1,
                backlog: Some(3)
            }
        );
    });
    child.kill().ok();
    child.wait().ok();
    result.unwrap();
}
