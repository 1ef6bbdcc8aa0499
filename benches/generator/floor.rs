//! The floor: the least CPU an open-loop generator that sends on time can spend here.
//!
//! A bare sender with nothing but the send path: it sleeps to each intended time
//! (`clock_nanosleep`, absolute, no event loop), writes a pre-rendered GET on an idle
//! keep-alive connection, and records nothing but the lag, the kernel's receive time of each
//! response and, in its `wake` mode, the time it read it. No runtime, no allocation per
//! request, no histogram, no run.json. Two modes:
//!
//! - `deferred`: responses are read without waiting for them, when the thread wakes for the
//!   next send (an `epoll_wait` that does not wait says which connections have one), and timed by the kernel's receive timestamp (`SO_TIMESTAMPNS`): one wake-up
//!   per request, the fewest a sender that is never late can have.
//! - `wake`: the thread also waits on the connections between sends (`ppoll`) and reads each
//!   response when it arrives, as an event-loop client does: a second wake-up per request
//!   whenever the response comes while it sleeps.
//!
//! Its CPU per request, beside oha's in the same round, says whether "on time and as cheap as
//! oha" is possible on this machine at all, and what reading responses on their own wake-ups
//! costs. It is run as a child of the bench binary (`--floor`), pinned like the others, so the
//! kernel's rusage of it is comparable.

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

/// What a floor run reports on its one line of output.
pub struct FloorRun {
    pub responses: u64,
    /// Client lag (woke − intended) p50, p99, p99.9, max, µs.
    pub lag_us: [u64; 4],
    /// Latency from the write to the kernel's receive time of the response's last bytes,
    /// p50 and p99, µs.
    pub kernel_latency_us: [u64; 2],
    /// Latency from the write to the read (`wake` mode; in `deferred` mode the read waits for
    /// the next send, so this is not a latency), p50 and p99, µs.
    pub read_latency_us: [u64; 2],
}

impl FloorRun {
    pub fn parse(line: &str) -> Option<FloorRun> {
        let nums: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.split_once('=')?.1.parse().ok())
            .collect();
        (nums.len() == 9).then(|| FloorRun {
            responses: nums[0],
            lag_us: [nums[1], nums[2], nums[3], nums[4]],
            kernel_latency_us: [nums[5], nums[6]],
            read_latency_us: [nums[7], nums[8]],
        })
    }
}

/// Entry point of the child: `--floor URL RATE SECS CONNECTIONS deferred|wake`.
pub fn main(args: &[String]) {
    let [url, rate, secs, conns, mode] = args else {
        panic!("--floor URL RATE SECS CONNECTIONS deferred|wake");
    };
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let rate: u64 = rate.parse().expect("rate");
    let secs: u64 = secs.parse().expect("secs");
    let conns: usize = conns.parse().expect("connections");
    let wake = mode == "wake";
    // SAFETY: prctl with an integer argument; the sleeps' lateness is the lag measured.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes();
    let mut pool: Vec<Conn> = (0..conns).map(|_| Conn::open(&addr)).collect();
    let mut idle: Vec<usize> = (0..conns).collect();
    let ep = Epoll::of(&pool);
    let n = rate * secs;
    let period_ns = 1_000_000_000 / rate as i128;
    let mut lag = Vec::with_capacity(n as usize);
    let mut kernel = Vec::with_capacity(n as usize);
    let mut read = Vec::with_capacity(n as usize);
    let mut responses = 0u64;
    let start = mono_ns() + 10_000_000;
    let mut record = |c: &mut Conn, kernel_rx: i128, idle: &mut Vec<usize>, i: usize| {
        kernel.push(((kernel_rx - c.sent_rt) / 1000).max(0) as u64);
        read.push(((real_ns() - c.sent_rt) / 1000) as u64);
        responses += c.ok as u64;
        idle.push(i);
    };
    for k in 0..n as i128 {
        let at = start + k * period_ns;
        if wake {
            // Wait on the connections until the send is due, reading what arrives.
            loop {
                let left = at - mono_ns();
                if left <= 0 {
                    break;
                }
                if poll_outstanding(&pool, Some(left)) {
                    drain(&ep, &mut pool, &mut idle, &mut record);
                }
            }
        } else {
            sleep_until(at);
        }
        let now = mono_ns();
        lag.push(((now - at) / 1000) as u64);
        drain(&ep, &mut pool, &mut idle, &mut record);
        while idle.is_empty() {
            poll_outstanding(&pool, None);
            drain(&ep, &mut pool, &mut idle, &mut record);
        }
        let i = idle.pop().expect("an idle connection");
        pool[i].send(&request);
    }
    while pool.iter().any(|c| c.busy) {
        poll_outstanding(&pool, None);
        drain(&ep, &mut pool, &mut idle, &mut record);
    }
    let p = |v: &mut Vec<u64>, q: f64| {
        v.sort_unstable();
        v[((v.len() as f64 * q) as usize).min(v.len() - 1)]
    };
    println!(
        "responses={responses} lag_p50={} lag_p99={} lag_p999={} lag_max={} kernel_p50={} kernel_p99={} read_p50={} read_p99={}",
        p(&mut lag, 0.5),
        p(&mut lag, 0.99),
        p(&mut lag, 0.999),
        p(&mut lag, 1.0),
        p(&mut kernel, 0.5),
        p(&mut kernel, 0.99),
        p(&mut read, 0.5),
        p(&mut read, 0.99),
    );
}

/// One keep-alive connection with at most one request outstanding.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
    busy: bool,
    /// CLOCK_REALTIME of the write: the kernel's receive timestamps are on that clock.
    sent_rt: i128,
    /// The last response's status was 200.
    ok: bool,
}

impl Conn {
    fn open(addr: &str) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect to the bench's nginx");
        stream.set_nodelay(true).unwrap();
        stream.set_nonblocking(true).unwrap();
        let on: libc::c_int = 1;
        // SAFETY: setting an int socket option on our own socket.
        let rc = unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                &on as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_TIMESTAMPNS");
        Conn {
            stream,
            buf: vec![0; 4096],
            filled: 0,
            busy: false,
            sent_rt: 0,
            ok: false,
        }
    }

    fn send(&mut self, request: &[u8]) {
        self.sent_rt = real_ns();
        self.busy = true;
        self.stream.write_all(request).expect("write to nginx");
    }

    /// Reads what has arrived; returns the kernel's receive time once a whole response has.
    fn read_ready(&mut self) -> Option<i128> {
        let mut rx_ns = None;
        loop {
            let mut iov = libc::iovec {
                iov_base: self.buf[self.filled..].as_mut_ptr().cast(),
                iov_len: self.buf.len() - self.filled,
            };
            let mut control = [0u64; 8];
            // SAFETY: msghdr is plain data; its pointers point at our live buffers.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&control);
            // SAFETY: recvmsg into the buffers described above.
            let n = unsafe { libc::recvmsg(self.stream.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
            if n <= 0 {
                break;
            }
            self.filled += n as usize;
            // SAFETY: walking the control messages the kernel wrote into `control`.
            unsafe {
                let mut cm = libc::CMSG_FIRSTHDR(&msg);
                while !cm.is_null() {
                    if (*cm).cmsg_level == libc::SOL_SOCKET
                        && (*cm).cmsg_type == libc::SCM_TIMESTAMPNS
                    {
                        let ts =
                            std::ptr::read_unaligned(libc::CMSG_DATA(cm).cast::<libc::timespec>());
                        rx_ns = Some(ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128);
                    }
                    cm = libc::CMSG_NXTHDR(&msg, cm);
                }
            }
        }
        let whole = complete(&self.buf[..self.filled])?;
        self.ok = self.buf.starts_with(b"HTTP/1.1 200");
        self.buf.copy_within(whole..self.filled, 0);
        self.filled -= whole;
        self.busy = false;
        Some(rx_ns.unwrap_or_else(real_ns))
    }
}

/// The length of the response at the start of `b`, once it is whole (Content-Length framing:
/// the bench's nginx sends no other).
fn complete(b: &[u8]) -> Option<usize> {
    let head = b.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = std::str::from_utf8(&b[..head]).ok()?;
    let len: usize = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    (b.len() >= head + len).then_some(head + len)
}

/// Reads every connection the kernel says is readable, without waiting (`epoll_wait` with
/// a zero timeout on `ep`, where every connection is registered under its index).
fn drain(
    ep: &Epoll,
    pool: &mut [Conn],
    idle: &mut Vec<usize>,
    record: &mut impl FnMut(&mut Conn, i128, &mut Vec<usize>, usize),
) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
    // SAFETY: epoll_wait into our own array, its length given.
    let n = unsafe { libc::epoll_wait(ep.0, events.as_mut_ptr(), events.len() as i32, 0) };
    for e in events.iter().take(n.max(0) as usize) {
        let i = e.u64 as usize;
        if pool[i].busy {
            if let Some(rx) = pool[i].read_ready() {
                record(&mut pool[i], rx, idle, i);
            }
        }
    }
}

/// An epoll set holding every connection (level-triggered, readable).
struct Epoll(libc::c_int);

impl Epoll {
    fn of(pool: &[Conn]) -> Epoll {
        // SAFETY: plain syscalls on fds we own; the set is closed on drop.
        unsafe {
            let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            assert!(ep >= 0, "epoll_create1");
            for (i, c) in pool.iter().enumerate() {
                let mut ev = libc::epoll_event {
                    events: libc::EPOLLIN as u32,
                    u64: i as u64,
                };
                let rc = libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, c.stream.as_raw_fd(), &mut ev);
                assert_eq!(rc, 0, "epoll_ctl");
            }
            Epoll(ep)
        }
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: closing the epoll fd we created.
        unsafe { libc::close(self.0) };
    }
}

/// Waits until a busy connection is readable, or `timeout_ns` passes; true if one is.
fn poll_outstanding(pool: &[Conn], timeout_ns: Option<i128>) -> bool {
    let mut fds: Vec<libc::pollfd> = (pool.iter().filter(|c| c.busy))
        .map(|c| libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ts = timeout_ns.map(|t| libc::timespec {
        tv_sec: (t / 1_000_000_000) as libc::time_t,
        tv_nsec: (t % 1_000_000_000) as libc::c_long,
    });
    let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
    // SAFETY: ppoll over our own pollfd array.
    let n = unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as _, tsp, std::ptr::null()) };
    n > 0
}

fn sleep_until(at_ns: i128) {
    // A sleep to a moment already past is not free: the kernel still arms a timer, which
    // fires at once (an interrupt; on a VM, exits), and switches away and back.
    if at_ns <= mono_ns() {
        return;
    }
    let ts = libc::timespec {
        tv_sec: (at_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (at_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: absolute sleep on CLOCK_MONOTONIC; EINTR only makes it return early, and the
    // lag then shows it.
    unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &ts,
            std::ptr::null_mut(),
        )
    };
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

fn mono_ns() -> i128 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn real_ns() -> i128 {
    clock_ns(libc::CLOCK_REALTIME)
}
