//! One clock for the whole run. The generator measures with the monotonic clock; php reports
//! wall-clock epoch times (`REQUEST_TIME_FLOAT`, `microtime`). Both sides run on the same
//! kernel, so one (monotonic, wall) pair taken at the run's start converts between them.
//! Also the CPU clocks of this process and of the calling thread (getrusage).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Maps monotonic instants to epoch microseconds and to offsets from the run's start.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    start: Instant,
    start_epoch_us: i64,
}

impl RunClock {
    /// Takes the pair now. The two reads are taken back to back; the error is well under a
    /// microsecond, far below what queue waits are measured in.
    pub fn new() -> Self {
        let start = Instant::now();
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("system clock is before 1970");
        RunClock {
            start,
            start_epoch_us: since_epoch.as_micros() as i64,
        }
    }

    /// A clock whose zero is `start` (which may lie in the near future): the run's timeline
    /// then begins where the load begins.
    pub fn starting_at(start: Instant) -> Self {
        let now = Self::new();
        RunClock {
            start,
            start_epoch_us: now.epoch_us(start),
        }
    }

    /// The instant the clock was started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Wall-clock epoch time of the run's start, in microseconds.
    pub fn start_epoch_us(&self) -> i64 {
        self.start_epoch_us
    }

    /// Epoch microseconds of a monotonic instant.
    pub fn epoch_us(&self, at: Instant) -> i64 {
        self.start_epoch_us + self.offset_us(at)
    }

    /// Epoch microseconds of a recent instant `at`, through a (monotonic, wall) pair taken
    /// now rather than the run's. The wall clock can be stepped during a run (NTP, or a VM
    /// the host paused and resumed: seen here, 146 s in one step half an hour into a soak);
    /// converting a php time taken moments ago through the start's pair would then turn the
    /// step into queue wait. A step between `at` and now still shows, for that one request.
    pub fn recent_epoch_us(at: Instant) -> i64 {
        let pair = Self::new();
        pair.epoch_us(at)
    }

    /// Signed microseconds from the run's start to `at`.
    pub fn offset_us(&self, at: Instant) -> i64 {
        if at >= self.start {
            (at - self.start).as_micros() as i64
        } else {
            -((self.start - at).as_micros() as i64)
        }
    }

    /// Milliseconds since the run's start (0 before it).
    pub fn offset_ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_millis() as u64
    }

    /// Milliseconds since the run's start, now.
    pub fn now_ms(&self) -> u64 {
        self.offset_ms(Instant::now())
    }
}

impl Default for RunClock {
    fn default() -> Self {
        Self::new()
    }
}

/// CPU time (user + sys) of the calling thread, µs.
pub fn thread_cpu_us() -> u64 {
    rusage_us(libc::RUSAGE_THREAD)
}

/// CPU time (user + sys) of this whole process, µs.
pub fn process_cpu_us() -> u64 {
    rusage_us(libc::RUSAGE_SELF)
}

fn rusage_us(who: libc::c_int) -> u64 {
    // SAFETY: getrusage fills the struct we own; zeroed is a valid rusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn epoch_and_offsets_agree() {
        let c = RunClock::new();
        let later = c.start() + Duration::from_millis(1500);
        assert_eq!(c.offset_ms(later), 1500);
        assert_eq!(c.epoch_us(later) - c.start_epoch_us(), 1_500_000);
        let earlier = c.start() - Duration::from_millis(2);
        assert_eq!(c.offset_us(earlier), -2000);
        assert_eq!(c.offset_ms(earlier), 0);
    }

    #[test]
    fn thread_cpu_moves_with_work() {
        let before = thread_cpu_us();
        let mut x = 1u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(thread_cpu_us() > before, "{x}");
        assert!(process_cpu_us() >= thread_cpu_us());
    }
}
