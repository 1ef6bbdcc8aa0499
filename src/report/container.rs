//! Lines under the table for what only some runs have: the php-fpm container's figures
//! (docker driver) and the events of each config.

use std::collections::BTreeMap;

use crate::events::kind;

use crate::results::ConfigResult;

/// `static-4: php-fpm container: memory peak 127.9 MiB of 128 MiB, CPU peak 96% and mean 61%
/// of one core, throttled 1.2 s, 3 processes OOM-killed.` (`None` without container data).
pub fn container_line(c: &ConfigResult) -> Option<String> {
    let p = c.server.container.as_ref()?.php_fpm.as_ref()?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let mut text = format!(
        "{}: php-fpm container: memory peak {:.1} MiB",
        c.name,
        mib(p.peak_memory_bytes)
    );
    if let Some(limit) = p.memory_limit_bytes {
        text.push_str(&format!(" of {:.0} MiB", mib(limit)));
    }
    if let (Some(peak), Some(mean)) = (p.peak_cpu_pct, p.mean_cpu_pct) {
        text.push_str(&format!(
            ", CPU peak {peak:.0}% and mean {mean:.0}% of one core"
        ));
    }
    if let Some(ms) = p.cpu_throttled_ms.filter(|&ms| ms > 0) {
        text.push_str(&format!(", throttled {:.1} s", ms as f64 / 1000.0));
    }
    if let Some(n) = p.oom_kills.filter(|&n| n > 0) {
        text.push_str(&format!(", {n} processes OOM-killed"));
    }
    text.push('.');
    Some(text)
}

/// `static-4: events: 3 oom_kill, 3 worker_killed (run.json: events).` (`None` without
/// events).
pub fn events_line(c: &ConfigResult) -> Option<String> {
    if c.events.is_empty() {
        return None;
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &c.events {
        *counts.entry(e.kind.as_str()).or_default() += 1;
    }
    let list: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let mut line = format!(
        "{}: events: {} (run.json: events).",
        c.name,
        list.join(", ")
    );
    // The pool's supervisor dying changes what every later figure means: say when.
    if let Some(e) = c.events.iter().find(|e| e.kind == kind::FPM_MASTER_DIED) {
        let of = e
            .instance
            .as_ref()
            .map_or(String::new(), |i| format!(" ({i})"));
        line.push_str(&format!(
            " php-fpm's master{of} died at {:.1} s: {}.",
            e.t_ms as f64 / 1000.0,
            e.detail
        ));
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Event;
    use crate::probe::{ContainerPeaks, ContainerSummary};
    use crate::scenario::PoolConfig;

    fn config() -> ConfigResult {
        ConfigResult::pending(&PoolConfig::static_pool("static-4", 4))
    }

    #[test]
    fn lines_only_when_there_is_something_to_say() {
        let mut c = config();
        assert_eq!(container_line(&c), None);
        assert_eq!(events_line(&c), None);
        c.server.container = Some(ContainerSummary {
            php_fpm: Some(ContainerPeaks {
                peak_memory_bytes: 134_107_136,
                memory_limit_bytes: Some(128 << 20),
                peak_cpu_pct: Some(96.4),
                mean_cpu_pct: Some(61.0),
                cpu_throttled_ms: Some(1200),
                memory_limit_hits: Some(0),
                oom_kills: Some(3),
            }),
            nginx: None,
        });
        assert_eq!(
            container_line(&c).unwrap(),
            "static-4: php-fpm container: memory peak 127.9 MiB of 128 MiB, CPU peak 96% and \
             mean 61% of one core, throttled 1.2 s, 3 processes OOM-killed."
        );
        let event = |kind: &str| Event {
            t_ms: 0,
            kind: kind.into(),
            detail: String::new(),
            instance: None,
        };
        c.events = vec![event("worker_killed"), event("oom_kill"), event("oom_kill")];
        assert_eq!(
            events_line(&c).unwrap(),
            "static-4: events: 2 oom_kill, 1 worker_killed (run.json: events)."
        );
    }
}
