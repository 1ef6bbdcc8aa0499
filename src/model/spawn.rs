//! php-fpm's spawn ramp for `pm = dynamic`, as in php-src's fpm_process_ctl.c
//! (`fpm_pctl_perform_idle_server_maintenance`): once a second, when fewer than
//! `min_spare_servers` workers are idle, the master forks
//! min(idle_spawn_rate, min_spare − idle, max_children − running); `idle_spawn_rate` starts at
//! 1, doubles after each pass that forked, up to `pm.max_spawn_rate`, and falls back to 1 on a
//! pass with enough idle workers. Under a burst no worker is idle, so the pool grows by at most
//! `min_spare_servers` a second: a stock pool (min_spare = 1) by one worker a second.

/// Workers forked on each maintenance pass while every worker stays busy, from `start` up to
/// `max_children`: one entry per pass until the pool is full (or `limit` passes).
pub fn busy_ramp(
    start: u32,
    max_children: u32,
    min_spare: u32,
    max_spawn_rate: u32,
    limit: usize,
) -> Vec<u32> {
    let mut running = start;
    let mut rate = 1u32;
    let mut out = Vec::new();
    while running < max_children && out.len() < limit {
        // idle = 0 during the burst.
        let n = rate.min(min_spare).min(max_children - running);
        if n == 0 {
            break;
        }
        running += n;
        out.push(n);
        rate = (rate * 2).min(max_spawn_rate.max(1));
    }
    out
}

/// Seconds (maintenance passes) a busy dynamic pool needs to grow from `start` to `target`
/// workers; `None` when it never gets there (target above max_children, or min_spare 0).
pub fn seconds_to_reach(
    start: u32,
    target: u32,
    max_children: u32,
    min_spare: u32,
    max_spawn_rate: u32,
) -> Option<usize> {
    if target <= start {
        return Some(0);
    }
    if target > max_children {
        return None;
    }
    let ramp = busy_ramp(start, max_children, min_spare, max_spawn_rate, 10_000);
    let mut running = start;
    for (i, n) in ramp.iter().enumerate() {
        running += n;
        if running >= target {
            return Some(i + 1);
        }
    }
    None
}
