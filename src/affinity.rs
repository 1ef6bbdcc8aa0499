//! CPU affinity, so the generator and the stack can be kept on separate cores.

/// Restricts every thread of this process created from now on (and the calling thread) to
/// `cpus`. Called before the async runtime starts so its threads inherit it.
pub fn pin_current_process(cpus: &[usize]) -> Result<(), String> {
    set(0, cpus)
}

/// Sets the affinity of `pid` (0 = the calling thread).
pub fn set(pid: libc::pid_t, cpus: &[usize]) -> Result<(), String> {
    // SAFETY: cpu_set_t is plain data; CPU_SET stays within it for cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            if c >= libc::CPU_SETSIZE as usize {
                return Err(format!("CPU {c} is out of range"));
            }
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!(
                "sched_setaffinity({cpus:?}): {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// All CPUs of the machine, for children that must not inherit a narrowed affinity.
pub fn all_cpus() -> Vec<usize> {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) }.max(1) as usize;
    (0..n).collect()
}

/// Moves the calling thread to SCHED_BATCH: it still gets its fair share of the CPU, but its
/// wake-ups never preempt a running thread. fpmlab's own side work (sampling, health probes,
/// checkpoints) runs so, and the load thread, which must send on time, does not (see
/// [`normal_policy`]). Threads and processes inherit the policy: the load thread and the
/// stack's daemons set the normal one back. Best effort: false if the kernel refused.
pub fn yield_to_the_load() -> bool {
    set_policy(libc::SCHED_BATCH)
}

/// Puts the calling thread back under the normal policy (SCHED_OTHER); unprivileged.
pub fn normal_policy() -> bool {
    set_policy(libc::SCHED_OTHER)
}

fn set_policy(policy: libc::c_int) -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: plain syscall on the calling thread (pid 0) with a valid sched_param;
    // async-signal-safe, so callable between fork and exec.
    unsafe { libc::sched_setscheduler(0, policy, &param) == 0 }
}

#[cfg(test)]
mod tests {
    fn policy() -> libc::c_int {
        // SAFETY: querying the calling thread's policy.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn side_threads_yield_and_the_load_thread_takes_it_back() {
        let (own, child) = std::thread::spawn(|| {
            assert!(super::yield_to_the_load());
            let child = std::thread::spawn(|| {
                let inherited = policy();
                assert!(super::normal_policy());
                (inherited, policy())
            });
            (policy(), child.join().unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(own, libc::SCHED_BATCH);
        assert_eq!(child, (libc::SCHED_BATCH, libc::SCHED_OTHER));
    }
}
