//! What the run was: every config's pool settings, the stack's and the generator's
//! settings, and the versions and machine, so a report read months later says what it
//! measured. And the per-request-kind table.

use std::fmt::Write;

use super::html_table;
use crate::report::table;
use crate::results::RunResult;
use crate::scenario::PoolConfig;
use crate::units::fmt_us;

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

fn pool_row(p: &PoolConfig) -> Vec<String> {
    vec![
        p.name.clone(),
        p.pm.as_str().into(),
        p.max_children.to_string(),
        opt(p.start_servers),
        opt(p.min_spare_servers),
        opt(p.max_spare_servers),
        opt(p.max_spawn_rate),
        opt(p.process_idle_timeout_s.map(|s| format!("{s} s"))),
        p.max_requests.to_string(),
    ]
}

/// `(setting, value)` pairs of the stack and the generator, as the scenario resolved them.
pub fn stack_pairs(run: &RunResult) -> Vec<(&'static str, String)> {
    let s = &run.plan.stack;
    let l = &run.plan.load;
    let ms = |v: u64| fmt_us(v * 1000);
    let secs = |v: u32| {
        if v == 0 {
            "0 (off)".to_string()
        } else {
            format!("{v} s")
        }
    };
    let cpus = |c: &Option<Vec<usize>>| {
        c.as_ref().map_or("all".to_string(), |c| {
            c.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
    };
    let mut out = vec![
        ("listen", format!("{:?}", s.listen).to_lowercase()),
        (
            "listen_backlog",
            if s.listen_backlog < 0 {
                "-1 (somaxconn)".into()
            } else {
                s.listen_backlog.to_string()
            },
        ),
        ("php memory_limit", s.php_memory_limit.clone()),
        ("php max_execution_time", secs(s.max_execution_time_s)),
        (
            "fpm request_terminate_timeout",
            secs(s.request_terminate_timeout_s),
        ),
        (
            "nginx fastcgi_connect_timeout",
            ms(s.fastcgi_connect_timeout_ms),
        ),
        ("nginx fastcgi_read_timeout", ms(s.fastcgi_read_timeout_ms)),
        (
            "nginx keepalive_timeout",
            format!("{} s", s.keepalive_timeout_s),
        ),
        ("client (LB) timeout", ms(l.client_timeout_ms)),
        ("health probe timeout", ms(l.health_timeout_ms)),
        ("max in flight", l.max_in_flight.to_string()),
        ("stack cpuset", cpus(&s.cpuset)),
        ("generator cpuset", cpus(&l.cpuset)),
        ("stack cpus", opt(s.cpus)),
        (
            "stack memory",
            opt(s.memory_mib.map(|m| format!("{m} MiB"))),
        ),
    ];
    if let Some(root) = &s.app_root {
        out.push(("app root", root.display().to_string()));
    }
    if let Some(img) = &s.fpm_image {
        out.push(("fpm image", img.clone()));
    }
    out
}

/// `(what, value)` pairs of the versions and the machine.
pub fn version_pairs(run: &RunResult) -> Vec<(&'static str, String)> {
    let env = &run.environment;
    let known = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    vec![
        ("fpmlab", run.fpmlab_version.clone()),
        ("driver", env.stack.driver.clone()),
        ("nginx", known(&env.stack.nginx_version)),
        ("php-fpm", known(&env.stack.php_version)),
        ("kernel", env.kernel.clone()),
        ("CPU", env.cpu_model.clone()),
        ("cores", env.cores.to_string()),
        ("memory", format!("{} MiB", env.memory_mib)),
        (
            "cpu.php unit",
            opt(env
                .cpu_unit_iterations
                .map(|n| format!("{n} iterations = 1 ms"))),
        ),
        ("seed", run.plan.seed.to_string()),
    ]
}

fn pairs_table(pairs: &[(&str, String)]) -> String {
    let rows: Vec<Vec<String>> = (pairs.iter())
        .map(|(k, v)| vec![k.to_string(), v.clone()])
        .collect();
    html_table(&["setting", "value"], 2, &rows)
}

/// The "Settings" section.
pub fn section(run: &RunResult) -> String {
    let rows: Vec<Vec<String>> = run.configs.iter().map(|c| pool_row(&c.pool)).collect();
    let mut out = String::from(
        "<section id=\"settings\"><h2>Settings and versions</h2><p class=\"about\">The pool \
         settings of each config, the stack and generator settings they share, and what ran \
         them.</p><h3>Pools</h3>",
    );
    out.push_str(&html_table(
        &[
            "config",
            "pm",
            "max_children",
            "start_servers",
            "min_spare",
            "max_spare",
            "max_spawn_rate",
            "idle timeout",
            "max_requests",
        ],
        2,
        &rows,
    ));
    out.push_str("<div class=\"pair\"><div><h3>Stack and generator</h3>");
    out.push_str(&pairs_table(&stack_pairs(run)));
    out.push_str("</div><div><h3>Versions and machine</h3>");
    out.push_str(&pairs_table(&version_pairs(run)));
    out.push_str("</div></div></section>");
    out
}

/// The "Per request kind" section: the table, then `charts` (one per config).
pub fn kinds_section(run: &RunResult, charts_grid: &str) -> String {
    let rows = table::kind_rows(run);
    let mut out = String::from(
        "<section id=\"kinds\"><h2>Per request kind</h2><p class=\"about\">Each kind of request \
         of the scenario's mix (<code>[[request]]</code>), per config and phase; the charts set \
         the kinds' latency percentiles side by side over the whole run.</p>",
    );
    if rows.is_empty() {
        out.push_str("<p class=\"note\">run.json has no per-kind figures.</p>");
    } else {
        let table = html_table(&table::KIND_HEADERS, 3, &rows);
        out.push_str(&table.replacen("<table>", "<table class=\"kinds\">", 1));
    }
    let _ = write!(out, "{charts_grid}</section>");
    out
}
