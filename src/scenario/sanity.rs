//! Valid but suspect: settings a driver ignores, and pools whose workers cannot all fit
//! the stack's memory. Warnings, not refusals: the run is still what was asked.

use super::plan::{Driver, PoolConfig, StackSettings};

/// php's `memory_limit` in MiB (`128M`, `1G`, `524288K`); `None` for `-1` (no limit).
fn php_size_mib(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits.parse().ok()?;
    Some(match unit.to_ascii_uppercase().as_str() {
        "" => n / (1024 * 1024),
        "K" => n / 1024,
        "M" => n,
        "G" => n * 1024,
        _ => return None,
    })
}

/// Warnings about `stack` for `driver` and the configs' pools.
pub fn warnings(stack: &StackSettings, configs: &[PoolConfig], driver: &Driver) -> Vec<String> {
    let mut out = Vec::new();
    if *driver == Driver::Native {
        for (set, key) in [
            (stack.cpus.is_some(), "stack.cpus"),
            (stack.memory_mib.is_some(), "stack.memory"),
            (stack.app.docker_network.is_some(), "app.docker_network"),
        ] {
            if set {
                out.push(format!("{key} only applies to --stack docker: the native driver runs this machine's php-fpm without a container limit (use stack.cpuset to confine it)"));
            }
        }
    }
    if let Some(limit) = stack.memory_mib {
        let (each, source) = match stack.app.worker_memory_mib {
            Some(m) => (Some(m), "app.worker_memory".to_string()),
            None => (
                php_size_mib(&stack.php_memory_limit),
                format!(
                    "php's memory_limit {} (the most one request may take; set app.worker_memory to what a worker really uses)",
                    stack.php_memory_limit
                ),
            ),
        };
        if let Some(each) = each.filter(|&m| m > 0) {
            for c in configs {
                let need = u64::from(c.max_children) * each;
                if need > limit {
                    out.push(format!(
                        "config \"{}\": max_children {} × {each} MiB ({source}) = {need} MiB cannot fit stack.memory {limit} MiB: when the workers are busy the kernel OOM-kills them (502s); lower max_children to {} or raise stack.memory",
                        c.name,
                        c.max_children,
                        (limit / each).max(1)
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_fit() {
        assert_eq!(php_size_mib("128M"), Some(128));
        assert_eq!(php_size_mib("1G"), Some(1024));
        assert_eq!(php_size_mib("-1"), None);
        let mut s = StackSettings {
            memory_mib: Some(256),
            ..StackSettings::default()
        };
        let pools = [PoolConfig::static_pool("static-8", 8)];
        let w = warnings(&s, &pools, &Driver::Docker);
        assert!(
            w.len() == 1
                && w[0].contains("8 × 128 MiB")
                && w[0].contains("lower max_children to 2"),
            "{w:?}"
        );
        s.app.worker_memory_mib = Some(30);
        assert!(warnings(&s, &pools, &Driver::Docker).is_empty());
        let native = warnings(&s, &pools, &Driver::Native);
        assert!(native
            .iter()
            .any(|w| w.contains("stack.memory only applies to --stack docker")));
    }
}
