//! `[[sweep]]`: a matrix of pools in a few lines. One sweep expands, at validation, into one
//! `[[config]]` per `max_children` value, so plain `run` compares them all:
//!
//! ```toml
//! [[sweep]]
//! base = "static"                     # a pm kind, or the name of a [[config]] to copy
//! max_children = [1, 2, 4, 8]         # or { from = 1, to = 16, step = 4 }
//! ```
//!
//! The configs are named `<name or base>-<max_children>` and validated like any `[[config]]`
//! (php-fpm's own rules), with problems reported against the sweep's fields.

use super::problems::Problems;
use super::raw::{RawConfig, RawSweep, RawValues};

/// Most configs one sweep may produce: each runs the whole scenario.
pub const MAX_SWEEP_VALUES: usize = 64;

/// The values a sweep asks for, or a problem naming the field.
fn values(p: &mut Problems, field: &str, v: &RawValues) -> Vec<i64> {
    let out: Vec<i64> = match *v {
        RawValues::List(ref l) => {
            if l.is_empty() {
                p.push(field, "an empty list: give values, e.g. [1, 2, 4, 8]");
            }
            l.clone()
        }
        RawValues::Range { from, to, step } => {
            let step = step.unwrap_or(1);
            if step < 1 {
                p.push(field, format!("step = {step}: give a step of at least 1"));
                return Vec::new();
            }
            if to < from {
                p.push(
                    field,
                    format!("from = {from} is above to = {to}: swap them"),
                );
                return Vec::new();
            }
            if (to - from) / step + 1 > MAX_SWEEP_VALUES as i64 {
                p.push(field, format!("{from} to {to} in steps of {step} makes more than {MAX_SWEEP_VALUES} configs: raise step or narrow the range"));
                return Vec::new();
            }
            (from..=to).step_by(step as usize).collect()
        }
    };
    if out.len() > MAX_SWEEP_VALUES {
        p.push(
            field,
            format!(
                "{} values make more than {MAX_SWEEP_VALUES} configs: give fewer",
                out.len()
            ),
        );
        return Vec::new();
    }
    let mut seen = std::collections::BTreeSet::new();
    for v in &out {
        if !seen.insert(v) {
            p.push(field, format!("{v} is listed twice: give each value once"));
        }
    }
    out
}

/// Expands the sweeps into raw configs appended after the scenario's own, each validated by
/// `check` (the `[[config]]` validator); problems come back against `sweep[i]`'s fields.
pub(super) fn expand(
    p: &mut Problems,
    sweeps: &[RawSweep],
    configs: &[RawConfig],
) -> Vec<RawConfig> {
    let mut out = Vec::new();
    for (i, s) in sweeps.iter().enumerate() {
        let at = format!("sweep[{i}]");
        let Some(base) = s.base.as_deref() else {
            p.push(format!("{at}.base"), "base is missing: give a pm kind (\"static\", \"dynamic\", \"ondemand\") or the name of a [[config]] to copy");
            continue;
        };
        let copied = configs.iter().find(|c| c.name.as_deref() == Some(base));
        if copied.is_none() && !matches!(base, "static" | "dynamic" | "ondemand") {
            p.push(format!("{at}.base"), format!("\"{base}\" is neither a pm kind nor a [[config]] name: use static, dynamic, ondemand or one of the configs' names"));
            continue;
        }
        let Some(raw_values) = &s.max_children else {
            p.push(format!("{at}.max_children"), "max_children is missing: give a list, e.g. [1, 2, 4, 8], or a range, e.g. { from = 1, to = 16, step = 4 }");
            continue;
        };
        let prefix = s.name.clone().unwrap_or_else(|| base.to_string());
        for n in values(p, &format!("{at}.max_children"), raw_values) {
            let mut c = RawConfig {
                name: Some(format!("{prefix}-{n}")),
                pm: Some(base.to_string()),
                ..RawConfig::default()
            };
            if let Some(b) = copied {
                c.pm = b.pm.clone();
                c.start_servers = b.start_servers;
                c.min_spare_servers = b.min_spare_servers;
                c.max_spare_servers = b.max_spare_servers;
                c.max_spawn_rate = b.max_spawn_rate;
                c.process_idle_timeout = b.process_idle_timeout.clone();
                c.max_requests = b.max_requests;
            }
            c.max_children = Some(n);
            c.start_servers = s.start_servers.or(c.start_servers);
            c.min_spare_servers = s.min_spare_servers.or(c.min_spare_servers);
            c.max_spare_servers = s.max_spare_servers.or(c.max_spare_servers);
            c.max_spawn_rate = s.max_spawn_rate.or(c.max_spawn_rate);
            c.process_idle_timeout = s.process_idle_timeout.clone().or(c.process_idle_timeout);
            c.max_requests = s.max_requests.or(c.max_requests);
            let mut own = Problems::default();
            if super::pool::pool_config(&mut own, 0, &c).is_some() {
                out.push(c);
            }
            for (field, message) in own.0 {
                // "config[0] \"name\".key" -> "sweep[i].key (max_children = n)"
                let key = field.rsplit('.').next().unwrap_or(&field);
                p.push(format!("{at}.{key} (max_children = {n})"), message);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn sweep(text: &str) -> (Vec<RawConfig>, Problems) {
        #[derive(Deserialize)]
        struct F {
            #[serde(default)]
            config: Vec<RawConfig>,
            sweep: Vec<RawSweep>,
        }
        let f: F = toml::from_str(text).expect("toml");
        let mut p = Problems::default();
        (expand(&mut p, &f.sweep, &f.config), p)
    }

    #[test]
    fn a_list_and_a_range() {
        let (c, p) = sweep("[[sweep]]\nbase = \"static\"\nmax_children = [1, 2, 4, 8]");
        assert!(p.0.is_empty(), "{:?}", p.0);
        let names: Vec<_> = c.iter().filter_map(|c| c.name.clone()).collect();
        assert_eq!(names, ["static-1", "static-2", "static-4", "static-8"]);
        let (c, p) = sweep("[[sweep]]\nname = \"s\"\nbase = \"static\"\nmax_children = { from = 1, to = 16, step = 5 }");
        assert!(p.0.is_empty());
        let n: Vec<_> = c.iter().filter_map(|c| c.max_children).collect();
        assert_eq!(n, [1, 6, 11, 16]);
        assert_eq!(c[0].name.as_deref(), Some("s-1"));
    }

    #[test]
    fn copies_a_config() {
        let text = "[[config]]\nname = \"dyn\"\npm = \"dynamic\"\nmax_children = 8\nmin_spare_servers = 1\nmax_spare_servers = 2\n[[sweep]]\nbase = \"dyn\"\nmax_children = [4, 6]";
        let (c, p) = sweep(text);
        assert!(p.0.is_empty(), "{:?}", p.0);
        assert_eq!(c[1].pm.as_deref(), Some("dynamic"));
        assert_eq!(c[1].max_spare_servers, Some(2));
        assert_eq!(c[1].name.as_deref(), Some("dyn-6"));
    }

    #[test]
    fn refusals_name_the_field() {
        let (_, p) = sweep("[[sweep]]\nbase = \"statc\"\nmax_children = [1]");
        assert!(p.0[0].0 == "sweep[0].base" && p.0[0].1.contains("static"));
        let (_, p) = sweep("[[sweep]]\nbase = \"static\"\nmax_children = { from = 4, to = 1 }");
        assert!(p.0[0].0 == "sweep[0].max_children" && p.0[0].1.contains("swap"));
        let (_, p) = sweep("[[sweep]]\nbase = \"static\"\nmax_children = [0, 2, 2]");
        let fields: Vec<_> = p.0.iter().map(|(f, _)| f.as_str()).collect();
        assert!(fields.contains(&"sweep[0].max_children"), "{fields:?}");
        assert!(
            fields.contains(&"sweep[0].max_children (max_children = 0)"),
            "{fields:?}"
        );
        // dynamic spares above a small max_children: php-fpm's rule, against the sweep.
        let (c, p) = sweep("[[sweep]]\nbase = \"dynamic\"\nmin_spare_servers = 2\nmax_spare_servers = 4\nmax_children = [2, 8]");
        assert_eq!(c.len(), 1);
        assert!(
            p.0[0]
                .0
                .starts_with("sweep[0].max_spare_servers (max_children = 2)"),
            "{:?}",
            p.0
        );
        let (_, p) = sweep("[[sweep]]\nbase = \"static\"\nmax_children = { from = 1, to = 1000 }");
        assert!(p.0[0].1.contains("more than 64"));
    }
}
