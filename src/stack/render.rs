//! Config rendering: `docker/templates/*.tmpl` with `{{placeholder}}` substitution.
//!
//! The templates are compiled in, so a built binary renders the same configs wherever it
//! runs. What differs between drivers (paths, listen addresses, users) is a [`Layout`];
//! what differs between pool configs comes from the [`StackSettings`] and the [`PoolConfig`].

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::scenario::{AppSettings, Pm, PoolConfig, StackSettings};

const NGINX_TEMPLATE: &str = include_str!("../../docker/templates/nginx.conf.tmpl");
const FPM_TEMPLATE: &str = include_str!("../../docker/templates/php-fpm.conf.tmpl");
const PHP_INI_TEMPLATE: &str = include_str!("../../docker/templates/php.ini.tmpl");

/// Where things are and how the daemons reach each other, as the daemons see it (host
/// paths for the native driver, container paths and service names for docker).
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// nginx's document root; php-fpm must see the scripts at the same path, since nginx
    /// builds `SCRIPT_FILENAME` from it. Native: `docker/app`; docker: `/var/www/app`.
    pub app_root: PathBuf,
    /// Directory of the four log files (nginx access/error, php-fpm log and access log).
    pub logs_dir: PathBuf,
    /// Directory of nginx's temp paths and pid file (and a unix socket, if it fits).
    pub tmp_dir: PathBuf,
    /// nginx `listen`: `127.0.0.1:38211` (native) or `0.0.0.0:80` (docker).
    pub nginx_listen: String,
    /// php-fpm main pool `listen`: `127.0.0.1:38212`, `0.0.0.0:9000` or a socket path.
    pub fpm_listen: String,
    /// nginx `fastcgi_pass` for the main pool: `127.0.0.1:38212`, `php:9000`, `unix:/…`.
    pub fpm_pass: String,
    /// php-fpm `pm.status_listen`: `127.0.0.1:38213` or `0.0.0.0:9001`.
    pub status_listen: String,
    /// nginx `fastcgi_pass` for status and ping: `127.0.0.1:38213` or `php:9001`.
    pub status_pass: String,
    /// nginx `user` directive (`None`: no directive, e.g. when not running as root).
    pub nginx_user: Option<String>,
    /// php-fpm pool `user`/`group` (`None`: omitted, e.g. when not running as root).
    pub fpm_user: Option<String>,
    /// Iterations of the app's CPU loop per `cpu.php` unit (see `calibrate`).
    pub cpu_unit_iterations: u64,
    /// fpmlab's request agent (`docker/agent/fpmlab-agent.php`) as php-fpm sees it.
    pub agent_path: PathBuf,
}

impl Layout {
    /// Whether the main pool listens on a unix socket (a path rather than `host:port`).
    pub fn fpm_listens_on_unix(&self) -> bool {
        self.fpm_listen.starts_with('/')
    }
}

/// The three rendered files, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedConfigs {
    /// `nginx.conf`.
    pub nginx_conf: String,
    /// `php-fpm.conf` (global section and the `www` pool).
    pub php_fpm_conf: String,
    /// `php.ini`.
    pub php_ini: String,
}

/// Replaces every `{{key}}` in `template` by its value. Errors if a placeholder has no
/// value or a value has no placeholder: either means the template and the code disagree,
/// and a silently wrong config would make a run measure the wrong thing.
pub fn render(template: &str, values: &[(&str, String)]) -> Result<String> {
    let mut out = String::with_capacity(template.len() + 256);
    let mut used = BTreeSet::new();
    let mut missing = BTreeSet::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            bail!(
                "template has an unclosed '{{{{' near: {:.40}",
                &rest[open..]
            );
        };
        let key = &after[..close];
        match values.iter().find(|(k, _)| *k == key) {
            Some((k, v)) => {
                out.push_str(v);
                used.insert(*k);
            }
            None => {
                missing.insert(key.to_string());
            }
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    if !missing.is_empty() {
        bail!("template placeholders without a value: {missing:?}");
    }
    let unused: Vec<&str> = values
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| !used.contains(k))
        .collect();
    if !unused.is_empty() {
        bail!("values without a placeholder in the template: {unused:?}");
    }
    Ok(out)
}

/// Renders nginx.conf, php-fpm.conf and php.ini for one pool config.
pub fn render_configs(
    stack: &StackSettings,
    config: &PoolConfig,
    layout: &Layout,
) -> Result<RenderedConfigs> {
    let s = stack;
    let path = |p: &PathBuf| p.display().to_string();
    let logs_dir = path(&layout.logs_dir);
    let tmp_dir = path(&layout.tmp_dir);

    let nginx_user_line = match &layout.nginx_user {
        Some(user) => format!("user {user};"),
        None => String::new(),
    };
    let nginx_conf = render(
        NGINX_TEMPLATE,
        &[
            ("nginx_user_line", nginx_user_line),
            ("tmp_dir", tmp_dir),
            ("logs_dir", logs_dir.clone()),
            ("keepalive_timeout_s", s.keepalive_timeout_s.to_string()),
            ("nginx_listen", layout.nginx_listen.clone()),
            ("app_root", path(&layout.app_root)),
            ("agent_path", path(&layout.agent_path)),
            ("app_nginx_lines", app_nginx_lines(&s.app)),
            ("status_pass", layout.status_pass.clone()),
            ("fpm_pass", layout.fpm_pass.clone()),
            (
                "fastcgi_connect_timeout_ms",
                s.fastcgi_connect_timeout_ms.to_string(),
            ),
            (
                "fastcgi_read_timeout_ms",
                s.fastcgi_read_timeout_ms.to_string(),
            ),
        ],
    )?;

    let fpm_user_lines = match &layout.fpm_user {
        Some(user) => format!("user = {user}\ngroup = {user}"),
        None => String::new(),
    };
    // Any local user must be able to connect: nginx workers may run as another user.
    let listen_mode_line = if layout.fpm_listens_on_unix() {
        "listen.mode = 0666".to_string()
    } else {
        String::new()
    };
    let php_fpm_conf = render(
        FPM_TEMPLATE,
        &[
            ("logs_dir", logs_dir),
            ("fpm_user_lines", fpm_user_lines),
            ("fpm_listen", layout.fpm_listen.clone()),
            ("listen_mode_line", listen_mode_line),
            ("listen_backlog", s.listen_backlog.to_string()),
            ("pm_block", pm_block(config)?),
            ("max_requests", config.max_requests.to_string()),
            ("status_listen", layout.status_listen.clone()),
            (
                "request_terminate_timeout_s",
                s.request_terminate_timeout_s.to_string(),
            ),
            ("php_memory_limit", s.php_memory_limit.clone()),
            ("max_execution_time_s", s.max_execution_time_s.to_string()),
            (
                "cpu_unit_iterations",
                layout.cpu_unit_iterations.to_string(),
            ),
            ("agent_lines", agent_lines(&s.app, &layout.agent_path)),
            ("app_pool_lines", app_pool_lines(&s.app)),
        ],
    )?;

    let php_ini = render(
        PHP_INI_TEMPLATE,
        &[
            ("php_memory_limit", s.php_memory_limit.clone()),
            ("max_execution_time_s", s.max_execution_time_s.to_string()),
            ("app_php_ini_lines", app_php_ini_lines(&s.app)),
        ],
    )?;

    Ok(RenderedConfigs {
        nginx_conf,
        php_fpm_conf,
        php_ini,
    })
}

/// `app.nginx` and the front controller's `location /`, indented into the server block.
fn app_nginx_lines(app: &AppSettings) -> String {
    let mut lines: Vec<String> = app.nginx.iter().map(|d| format!("        {d}")).collect();
    if let Some(fc) = &app.front_controller {
        lines.push(format!(
            "        location / {{\n            try_files $uri $uri/ /{fc}?$query_string;\n        }}"
        ));
    }
    lines.join("\n")
}

/// The agent as the pool's `auto_prepend_file` (an application's own prepend runs after it,
/// from `FPMLAB_APP_PREPEND`); nothing when `app.agent = false`.
fn agent_lines(app: &AppSettings, agent: &std::path::Path) -> String {
    let mut lines = Vec::new();
    if app.agent {
        lines.push("; fpmlab's agent measures every request, whatever the application.".into());
        lines.push(format!(
            "php_admin_value[auto_prepend_file] = {}",
            agent.display()
        ));
        if let Some(own) = app.php_ini.get("auto_prepend_file") {
            lines.push(format!("env[FPMLAB_APP_PREPEND] = \"{own}\""));
        }
    }
    lines.join("\n")
}

/// `app.pool` then `app.env` as pool lines.
fn app_pool_lines(app: &AppSettings) -> String {
    let pool = app.pool.iter().map(|(k, v)| format!("{k} = {v}"));
    let env = app.env.iter().map(|(k, v)| format!("env[{k}] = \"{v}\""));
    pool.chain(env).collect::<Vec<_>>().join("\n")
}

/// `app.php_ini` as php.ini lines; with the agent on, the application's own
/// `auto_prepend_file` is chained by the agent instead.
fn app_php_ini_lines(app: &AppSettings) -> String {
    (app.php_ini.iter())
        .filter(|(k, _)| !(app.agent && k.as_str() == "auto_prepend_file"))
        .map(|(k, v)| format!("{k} = \"{v}\""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `pm` lines: only the keys that apply to the pm kind, so php-fpm's own defaults and
/// checks are never fed settings it would ignore.
fn pm_block(c: &PoolConfig) -> Result<String> {
    let mut b = format!(
        "pm = {}\npm.max_children = {}\n",
        c.pm.as_str(),
        c.max_children
    );
    let need = |v: Option<u32>, key: &str| -> Result<u32> {
        match v {
            Some(v) => Ok(v),
            None => bail!(
                "pool config '{}': pm = {} needs {key} (the plan should have resolved it)",
                c.name,
                c.pm.as_str()
            ),
        }
    };
    match c.pm {
        Pm::Static => {}
        Pm::Dynamic => {
            let start = need(c.start_servers, "start_servers")?;
            let min = need(c.min_spare_servers, "min_spare_servers")?;
            let max = need(c.max_spare_servers, "max_spare_servers")?;
            let rate = need(c.max_spawn_rate, "max_spawn_rate")?;
            writeln!(b, "pm.start_servers = {start}")?;
            writeln!(b, "pm.min_spare_servers = {min}")?;
            writeln!(b, "pm.max_spare_servers = {max}")?;
            writeln!(b, "pm.max_spawn_rate = {rate}")?;
        }
        Pm::Ondemand => {
            let idle = need(c.process_idle_timeout_s, "process_idle_timeout_s")?;
            writeln!(b, "pm.process_idle_timeout = {idle}s")?;
        }
    }
    Ok(b.trim_end().to_string())
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
