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
