//! A precise async timer on Linux's timerfd. tokio's own timer has millisecond resolution:
//! open-loop sends would then go out up to 1 ms late, which is the very client lag we must
//! keep near zero. A timerfd armed at an absolute monotonic time wakes the runtime thread
//! within microseconds, and keeps dispatch on the runtime (no cross-thread wake per request).
//!
//! Waking an idle thread is the dearest thing the load path does (an interrupt, a context
//! switch, on a VM an exit or two): dearer than sending and reading a request. So a sleeper
//! may allow some lateness (`slack`): its timer is armed that much after the moment, and a
//! task that runs anyway in between (a response being read) wakes it through a [`Nudge`]
//! once the moment has come. At high rates most sends then ride on wake-ups the responses
//! cause, or share one timer wake-up; the lateness is measured as client lag like any other.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;

/// Lets tasks on the sleeper's thread wake it once its moment has come, before its timer.
#[derive(Default)]
pub struct Nudge {
    /// The sleeper's moment, while it sleeps.
    due: Cell<Option<Instant>>,
    waker: RefCell<Option<Waker>>,
}

impl Nudge {
    /// Wakes the sleeper if its moment has passed: for a task that runs anyway, so the send
    /// rides on this wake-up of the thread instead of a timer's.
    pub fn poke(&self) {
        if self.due.get().is_some_and(|due| Instant::now() >= due) {
            let waker = self.waker.borrow_mut().take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// One re-armable timer.
pub struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
    /// A (monotonic instant, CLOCK_MONOTONIC ns) pair: Rust's `Instant` is CLOCK_MONOTONIC on
    /// Linux but opaque, so times are converted through this anchor.
    anchor: (Instant, i128),
    /// The expiry the timerfd is armed for (CLOCK_MONOTONIC ns), until a sleep sees it fire:
    /// a later sleep whose window holds it keeps it instead of re-arming.
    armed: Option<i128>,
}

fn monotonic_ns() -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

impl PreciseTimer {
    /// Must be called inside a tokio runtime.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the fd is owned from here on.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // Timer slack of this thread would otherwise add up to 50 µs to every wakeup: the
        // lateness allowed is chosen per sleep instead.
        // SAFETY: prctl with an integer argument.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
        // SAFETY: the timerfd is owned by the AsyncFd and never closed behind its back.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| io::Error::other(e.to_string()))?;
        Ok(PreciseTimer {
            fd,
            anchor: (Instant::now(), monotonic_ns()),
            armed: None,
        })
    }

    /// Sleeps until `at` (returns at once if it has passed).
    pub async fn sleep_until(&mut self, at: Instant) -> io::Result<()> {
        self.sleep_until_late(at, Duration::ZERO, &Nudge::default())
            .await
    }

    /// Sleeps until `at`, never returning before it: at the latest `slack` after it (the
    /// timer), earlier if `nudge` is poked once `at` has passed.
    pub async fn sleep_until_late(
        &mut self,
        at: Instant,
        slack: Duration,
        nudge: &Nudge,
    ) -> io::Result<()> {
        if at <= Instant::now() {
            return Ok(());
        }
        let ns = |t: Instant| self.anchor.1 + t.duration_since(self.anchor.0).as_nanos() as i128;
        let (earliest, latest) = (ns(at), ns(at + slack));
        // An arming still pending within the window (an earlier sleep's, left by a nudge)
        // wakes this sleep in time: re-arming it would be a wasted syscall.
        if !self.armed.is_some_and(|t| (earliest..=latest).contains(&t)) {
            self.arm(latest)?;
        }
        nudge.due.set(Some(at));
        let woke = poll_fn(|cx| loop {
            if Instant::now() >= at {
                return Poll::Ready(Ok(()));
            }
            let mut guard = match self.fd.poll_read_ready(cx) {
                Poll::Ready(Ok(g)) => g,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    *nudge.waker.borrow_mut() = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            };
            // The timerfd is not read: an expiry is a fresh edge (epoll reports it whether
            // or not earlier ones were read) and every arming resets the count, so the read
            // would be a syscall per wake-up that tells nothing the clock does not.
            guard.clear_ready();
            drop(guard);
            if self.armed.is_some_and(|t| monotonic_ns() >= t) {
                // The arming has fired: the next sleep arms again, even for the same moment.
                self.armed = None;
            }
            // Otherwise an earlier arming's expiry, before `at`: this one is still armed,
            // and the next poll registers for it.
            if self.armed.is_none() && Instant::now() < at {
                if let Err(e) = self.arm(latest) {
                    return Poll::Ready(Err(e));
                }
            }
        })
        .await;
        nudge.due.set(None);
        nudge.waker.borrow_mut().take();
        woke
    }

    /// Arms the timerfd for CLOCK_MONOTONIC `target` ns (pending expirations are reset).
    fn arm(&mut self, target: i128) -> io::Result<()> {
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (target / 1_000_000_000) as libc::time_t,
                tv_nsec: (target % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: arming our own timerfd with a valid itimerspec.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.get_ref().as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed = Some(target);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sleeps to `n` deadlines `after` from now; returns how late each wake was.
    async fn lateness(t: &mut PreciseTimer, n: usize, after: Duration) -> Vec<Duration> {
        let mut late = Vec::with_capacity(n);
        for _ in 0..n {
            let at = Instant::now() + after;
            t.sleep_until(at).await.unwrap();
            let now = Instant::now();
            assert!(now >= at, "woke {:?} early", at - now);
            late.push(now - at);
        }
        late.sort();
        late
    }

    #[tokio::test]
    async fn never_wakes_early_and_always_wakes() {
        let mut t = PreciseTimer::new().unwrap();
        // Far and near deadlines alike.
        // How late a wake comes is the machine's business (see the ignored test below and
        // the benchmark); that it comes, never early, is the timer's.
        lateness(&mut t, 20, Duration::from_micros(700)).await;
        lateness(&mut t, 20, Duration::from_micros(10)).await;
        // A past deadline returns at once.
        t.sleep_until(Instant::now() - Duration::from_millis(1))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn keeps_an_arming_within_the_window_and_survives_a_stale_expiry() {
        let mut t = PreciseTimer::new().unwrap();
        let nudge = Nudge::default();
        // A pending arming inside the next sleep's window is kept, and wakes it.
        let at = Instant::now() + Duration::from_millis(2);
        let pending = t.anchor.1
            + (at + Duration::from_millis(1))
                .duration_since(t.anchor.0)
                .as_nanos() as i128;
        t.arm(pending).unwrap();
        t.sleep_until_late(at, Duration::from_millis(5), &nudge)
            .await
            .unwrap();
        assert!(Instant::now() >= at);
        assert_eq!(t.armed, Some(pending), "kept, not re-armed");
        // An arming that fires while nobody sleeps leaves a stale expiry behind: the next
        // sleep neither returns early nor hangs.
        let now = t.anchor.1 + (Instant::now() - t.anchor.0).as_nanos() as i128;
        t.arm(now + 100_000).unwrap();
        std::thread::sleep(Duration::from_millis(1));
        let at = Instant::now() + Duration::from_millis(2);
        t.sleep_until_late(at, Duration::ZERO, &nudge)
            .await
            .unwrap();
        assert!(Instant::now() >= at);
    }

    #[tokio::test]
    #[ignore = "reason: timing, run with --ignored on a quiet machine"]
    async fn wakes_close_to_the_deadline_on_a_quiet_machine() {
        let mut t = PreciseTimer::new().unwrap();
        let late = lateness(&mut t, 20, Duration::from_micros(700)).await;
        // tokio's own timer would be ~1 ms late.
        assert!(late[late.len() / 2] < Duration::from_millis(1), "{late:?}");
        assert!(late[late.len() - 1] < Duration::from_millis(20), "{late:?}");
    }
}
