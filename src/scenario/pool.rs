//! Validation of `[[config]]` pools: php-fpm's own rules (fpm_conf.c), in its order and with
//! its wording, plus the settings that do not apply to a pool's `pm` kind.

use super::plan::{Pm, PoolConfig};
use super::problems::{check_name, secs, Problems};
use super::raw::{defaults, RawConfig};

/// Reads a whole-number pool setting: php-fpm itself refuses non-numbers at parse time.
fn count(p: &mut Problems, field: &str, v: Option<i64>) -> Option<u32> {
    let v = v?;
    u32::try_from(v)
        .map_err(|_| {
            p.push(
                field,
                format!("{v} is out of range: php-fpm takes a whole number from 0 up"),
            )
        })
        .ok()
}

pub(super) fn pool_config(p: &mut Problems, i: usize, c: &RawConfig) -> Option<PoolConfig> {
    let before = p.0.len();
    let name = c
        .name
        .clone()
        .unwrap_or_else(|| format!("config-{}", i + 1));
    let at = format!("config[{i}] \"{name}\"");
    check_name(p, &format!("{at}.name"), &name);
    let f = |key: &str| format!("{at}.{key}");
    let pm = match c.pm.as_deref() {
        None => {
            p.push(f("pm"), "the process manager is missing (static, dynamic or ondemand): php-fpm refuses a pool without one; add pm = \"static\"");
            return None;
        }
        Some("static") => Pm::Static,
        Some("dynamic") => Pm::Dynamic,
        Some("ondemand") => Pm::Ondemand,
        Some(other) => {
            p.push(
                f("pm"),
                format!("invalid process manager \"{other}\": use static, dynamic or ondemand"),
            );
            return None;
        }
    };
    let max_children = count(p, &f("max_children"), c.max_children);
    match max_children {
        None if c.max_children.is_none() => p.push(
            f("max_children"),
            "pm.max_children is missing: php-fpm requires it; add e.g. max_children = 4",
        ),
        Some(0) => p.push(
            f("max_children"),
            "pm.max_children must be a positive value (php-fpm refuses 0): give at least 1",
        ),
        _ => {}
    }
    let max_children = max_children.unwrap_or(0);
    let max_requests =
        count(p, &f("max_requests"), c.max_requests).unwrap_or(defaults::MAX_REQUESTS);
    let only = |p: &mut Problems, key: &str, set: bool, kind: &str| {
        if set {
            p.push(
                f(key),
                format!(
                    "{key} applies only to pm = {kind} (this pool is {}): remove it, or change pm",
                    pm.as_str()
                ),
            );
        }
    };
    let mut cfg = PoolConfig {
        name,
        pm,
        max_children,
        start_servers: None,
        min_spare_servers: None,
        max_spare_servers: None,
        max_spawn_rate: None,
        process_idle_timeout_s: None,
        max_requests,
    };
    if pm != Pm::Dynamic {
        for (key, set) in [
            ("start_servers", c.start_servers.is_some()),
            ("min_spare_servers", c.min_spare_servers.is_some()),
            ("max_spare_servers", c.max_spare_servers.is_some()),
            ("max_spawn_rate", c.max_spawn_rate.is_some()),
        ] {
            only(p, key, set, "dynamic");
        }
    }
    if pm != Pm::Ondemand {
        only(
            p,
            "process_idle_timeout",
            c.process_idle_timeout.is_some(),
            "ondemand",
        );
    }
    match pm {
        Pm::Static => {}
        Pm::Dynamic => dynamic_rules(p, &f, c, &mut cfg),
        Pm::Ondemand => {
            let t = secs(
                p,
                &f("process_idle_timeout"),
                c.process_idle_timeout.as_deref(),
                defaults::PROCESS_IDLE_TIMEOUT,
            );
            if t == Some(0) {
                p.push(f("process_idle_timeout"), "pm.process_idle_timeout(0s) must be greater than 0s (php-fpm refuses it): give e.g. \"10s\"");
            }
            cfg.process_idle_timeout_s = t;
        }
    }
    (p.0.len() == before).then_some(cfg)
}

/// php-fpm's own checks for `pm = dynamic` (fpm_conf.c), in its order, with its wording.
fn dynamic_rules(
    p: &mut Problems,
    f: &dyn Fn(&str) -> String,
    c: &RawConfig,
    cfg: &mut PoolConfig,
) {
    let max = cfg.max_children;
    let min_spare = count(p, &f("min_spare_servers"), c.min_spare_servers);
    let max_spare = count(p, &f("max_spare_servers"), c.max_spare_servers);
    let (Some(min_spare), Some(max_spare)) = (min_spare, max_spare) else {
        if c.min_spare_servers.is_none() {
            p.push(f("min_spare_servers"), "pm.min_spare_servers(0) must be a positive value (php-fpm requires it for dynamic): add e.g. min_spare_servers = 1");
        }
        if c.max_spare_servers.is_none() {
            p.push(f("max_spare_servers"), "pm.max_spare_servers(0) must be a positive value (php-fpm requires it for dynamic): add e.g. max_spare_servers = 2");
        }
        return;
    };
    if min_spare == 0 {
        p.push(
            f("min_spare_servers"),
            "pm.min_spare_servers(0) must be a positive value: give at least 1",
        );
    }
    if max_spare == 0 {
        p.push(
            f("max_spare_servers"),
            "pm.max_spare_servers(0) must be a positive value: give at least 1",
        );
    }
    if max > 0 && (min_spare > max || max_spare > max) {
        p.push(f("max_spare_servers"), format!("pm.min_spare_servers({min_spare}) and pm.max_spare_servers({max_spare}) cannot be greater than pm.max_children({max}): lower them or raise max_children"));
    }
    if max_spare < min_spare {
        p.push(f("max_spare_servers"), format!("pm.max_spare_servers({max_spare}) must not be less than pm.min_spare_servers({min_spare}): raise max_spare_servers to at least {min_spare}"));
    }
    // php-fpm's own default when start_servers is unset or 0.
    let start = match count(p, &f("start_servers"), c.start_servers) {
        Some(0) | None => min_spare + max_spare.saturating_sub(min_spare) / 2,
        Some(s) => s,
    };
    if start < min_spare || start > max_spare {
        p.push(f("start_servers"), format!("pm.start_servers({start}) must not be less than pm.min_spare_servers({min_spare}) and not greater than pm.max_spare_servers({max_spare}): pick a value in that range"));
    }
    let rate = count(p, &f("max_spawn_rate"), c.max_spawn_rate).unwrap_or(defaults::MAX_SPAWN_RATE);
    if rate == 0 {
        p.push(
            f("max_spawn_rate"),
            "pm.max_spawn_rate must be a positive value: give at least 1 (php-fpm's default is 32)",
        );
    }
    cfg.start_servers = Some(start);
    cfg.min_spare_servers = Some(min_spare);
    cfg.max_spare_servers = Some(max_spare);
    cfg.max_spawn_rate = Some(rate);
}
