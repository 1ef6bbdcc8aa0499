//! `[app]`: the application the stack serves, as its operators configure it: document root,
//! front-controller routing, php.ini values, pool directives, environment, extra nginx
//! directives, the Debian packages it needs, the deep health check's path, the docker
//! network of its services. The shape is checked here; what depends on the machine (are the
//! packages installed, does php know the ini keys) is the stack's preflight.
//!
//! ```toml
//! [app]
//! root = "/usr/share/mediawiki"
//! front_controller = "index.php"        # try_files $uri $uri/ /index.php?$query_string
//! php_ini = { "opcache.jit" = "off" }
//! pool = { "request_slowlog_timeout" = "2s" }
//! env = { MW_CONFIG_FILE = "/srv/wiki/LocalSettings.php" }
//! nginx = ["client_max_body_size 20m;"]
//! packages = ["php8.2-sqlite3"]
//! health_path = "/fpmlab-health"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::problems::Problems;

/// The deep health check's default path: fpmlab's agent answers it through the main pool,
/// so it exists whatever the application.
pub const DEFAULT_HEALTH_PATH: &str = "/fpmlab-health";

/// `[app]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApp {
    pub root: Option<String>,
    pub front_controller: Option<String>,
    #[serde(default)]
    pub php_ini: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub pool: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub env: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub nginx: Vec<String>,
    #[serde(default)]
    pub packages: Vec<String>,
    pub health_path: Option<String>,
    pub agent: Option<bool>,
    pub docker_network: Option<String>,
    pub worker_memory: Option<String>,
}

/// The application's settings, resolved. `root` lives in `StackSettings::app_root`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AppSettings {
    /// The script every path that is not a file goes to (`index.php`), relative to the
    /// document root; `None`: only existing `.php` files are run.
    #[serde(default)]
    pub front_controller: Option<String>,
    /// php.ini values, written after fpmlab's own.
    #[serde(default)]
    pub php_ini: BTreeMap<String, String>,
    /// Directives of the main pool (`php_admin_value[…]`, `request_slowlog_timeout`, …).
    #[serde(default)]
    pub pool: BTreeMap<String, String>,
    /// Environment variables of the pool's workers.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Directives added to nginx's server block, each ending in `;` or `}`.
    #[serde(default)]
    pub nginx: Vec<String>,
    /// Debian packages the application needs (PHP extensions): the native driver checks they
    /// are installed, the docker driver builds an image that has them.
    #[serde(default)]
    pub packages: Vec<String>,
    /// The path of the load balancer's deep health check, through the main pool.
    #[serde(default = "default_health_path")]
    pub health_path: String,
    /// Whether fpmlab's agent measures every request (`auto_prepend_file`).
    #[serde(default = "default_true")]
    pub agent: bool,
    /// A docker network the php-fpm container joins besides the stack's own, where the
    /// application's database or cache runs (docker driver).
    #[serde(default)]
    pub docker_network: Option<String>,
    /// What one busy worker of the application is expected to use, MiB (`app.worker_memory`,
    /// e.g. the report's peak worker MiB): validation warns when `max_children` of them
    /// cannot fit `stack.memory`. `None`: php's `memory_limit` is taken as the bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_memory_mib: Option<u64>,
}

fn default_health_path() -> String {
    DEFAULT_HEALTH_PATH.into()
}

fn default_true() -> bool {
    true
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            front_controller: None,
            php_ini: BTreeMap::new(),
            pool: BTreeMap::new(),
            env: BTreeMap::new(),
            nginx: Vec::new(),
            packages: Vec::new(),
            health_path: default_health_path(),
            agent: true,
            docker_network: None,
            worker_memory_mib: None,
        }
    }
}

/// Pool directives fpmlab writes itself, and where the scenario sets each instead.
const MANAGED_POOL_KEYS: &[(&str, &str)] = &[
    (
        "listen",
        "fpmlab picks the socket: set stack.listen (\"tcp\" or \"unix\")",
    ),
    ("listen.backlog", "set stack.listen_backlog"),
    (
        "request_terminate_timeout",
        "set stack.request_terminate_timeout",
    ),
    ("pm.status_path", "fpmlab's status pool serves /fpm-status"),
    (
        "pm.status_listen",
        "fpmlab's status pool serves /fpm-status",
    ),
    ("ping.path", "fpmlab's status pool serves /fpm-ping"),
    (
        "access.log",
        "fpmlab reads its own access log format for attribution",
    ),
    (
        "access.format",
        "fpmlab reads its own access log format for attribution",
    ),
    (
        "catch_workers_output",
        "fpmlab needs workers' output in its log for attribution",
    ),
    (
        "decorate_workers_output",
        "fpmlab needs workers' output in its log for attribution",
    ),
    ("user", "the drivers choose the pool's user"),
    ("group", "the drivers choose the pool's user"),
];

/// Where the scenario sets a pool directive fpmlab writes itself.
fn managed_pool_key(k: &str) -> Option<&'static str> {
    if k == "pm" || k.starts_with("pm.") && !k.starts_with("pm.status") {
        return Some("set the pm settings in each [[config]]");
    }
    if k.starts_with("env[") {
        return Some("set app.env = { NAME = \"value\" }");
    }
    MANAGED_POOL_KEYS
        .iter()
        .find(|(m, _)| *m == k)
        .map(|(_, fix)| *fix)
}

/// Pool directives a scenario may set (php-fpm's pool directives that do not decide what
/// fpmlab measures), besides the `php_*value[…]` families.
const POOL_KEYS: &[&str] = &[
    "slowlog",
    "request_slowlog_timeout",
    "request_slowlog_trace_depth",
    "rlimit_files",
    "rlimit_core",
    "chdir",
    "clear_env",
    "security.limit_extensions",
    "process.priority",
    "process.dumpable",
    "listen.owner",
    "listen.group",
    "listen.mode",
    "listen.acl_users",
    "listen.acl_groups",
];

/// php.ini keys the `[stack]` section owns.
const MANAGED_INI_KEYS: &[(&str, &str)] = &[
    ("memory_limit", "set stack.memory_limit"),
    ("max_execution_time", "set stack.max_execution_time"),
];

/// Reads a TOML scalar as the text php or nginx would be given.
fn scalar(p: &mut Problems, field: &str, v: &toml::Value) -> Option<String> {
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => if *b { "1" } else { "0" }.to_string(),
        _ => {
            p.push(field, "give a string, a number or a boolean");
            return None;
        }
    };
    if text.contains(['\n', '\r', '"']) {
        p.push(
            field,
            "a value cannot hold a line break or a double quote: php-fpm's ini syntax cannot carry them",
        );
        return None;
    }
    Some(text)
}

fn is_ini_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `php_admin_value[opcache.jit]` → `Some("opcache.jit")` for the four php_* families.
fn php_family_key(k: &str) -> Option<&str> {
    [
        "php_value[",
        "php_flag[",
        "php_admin_value[",
        "php_admin_flag[",
    ]
    .iter()
    .find_map(|f| k.strip_prefix(f))
    .and_then(|rest| rest.strip_suffix(']'))
}

/// Validates `[app]`. `root` is the resolved document root (`None`: the built-in app).
pub fn validate(p: &mut Problems, raw: &RawApp, root: Option<&Path>) -> AppSettings {
    let mut app = AppSettings::default();
    if let Some(m) = &raw.worker_memory {
        match crate::units::parse_mib(m) {
            Ok(0) => p.push(
                "app.worker_memory",
                "0 MiB is no worker: give what one busy worker uses, e.g. \"48MiB\"",
            ),
            Ok(mib) => app.worker_memory_mib = Some(mib),
            Err(e) => p.push("app.worker_memory", e),
        }
    }
    if let Some(fc) = &raw.front_controller {
        let rel = Path::new(fc);
        if fc.is_empty() || rel.is_absolute() || fc.contains("..") || !fc.ends_with(".php") {
            p.push(
                "app.front_controller",
                format!("\"{fc}\" is not a script of the document root: give its path relative to app.root, e.g. \"index.php\""),
            );
        } else {
            match root {
                None => p.push(
                    "app.front_controller",
                    "the built-in app has no front controller: set app.root to your application's document root",
                ),
                Some(root) if !root.join(rel).is_file() => p.push(
                    "app.front_controller",
                    format!(
                        "{} has no {fc}: give the script that routes every request (e.g. \"index.php\"), relative to app.root",
                        root.display()
                    ),
                ),
                Some(_) => app.front_controller = Some(fc.clone()),
            }
        }
    }
    for (k, v) in &raw.php_ini {
        let field = format!("app.php_ini.{k}");
        if !is_ini_key(k) {
            p.push(
                &field,
                "not a php.ini key: use letters, digits, '_', '.' and '-'",
            );
            continue;
        }
        if let Some((_, fix)) = MANAGED_INI_KEYS.iter().find(|(m, _)| m == k) {
            p.push(&field, format!("fpmlab writes this one: {fix}"));
            continue;
        }
        if let Some(v) = scalar(p, &field, v) {
            app.php_ini.insert(k.clone(), v);
        }
    }
    for (k, v) in &raw.pool {
        let field = format!("app.pool.{k}");
        if let Some(fix) = managed_pool_key(k) {
            p.push(&field, format!("fpmlab writes this one: {fix}"));
            continue;
        }
        let known = POOL_KEYS.contains(&k.as_str()) || php_family_key(k).is_some_and(is_ini_key);
        if !known {
            p.push(
                &field,
                format!(
                    "not a php-fpm pool directive fpmlab passes on: use one of {}, or php_value[KEY], php_flag[KEY], php_admin_value[KEY], php_admin_flag[KEY]",
                    POOL_KEYS.join(", ")
                ),
            );
            continue;
        }
        if php_family_key(k).is_some_and(|ini| MANAGED_INI_KEYS.iter().any(|(m, _)| *m == ini)) {
            p.push(
                &field,
                "fpmlab writes this one: set stack.memory_limit or stack.max_execution_time",
            );
            continue;
        }
        if let Some(v) = scalar(p, &field, v) {
            app.pool.insert(k.clone(), v);
        }
    }
    for (k, v) in &raw.env {
        let field = format!("app.env.{k}");
        let ok = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            p.push(&field, "not an environment variable name: use letters, digits and '_', not starting with a digit");
            continue;
        }
        if k.starts_with("FPMLAB_") {
            p.push(
                &field,
                "FPMLAB_* variables are fpmlab's own: choose another name",
            );
            continue;
        }
        if let Some(v) = scalar(p, &field, v) {
            app.env.insert(k.clone(), v);
        }
    }
    for (i, d) in raw.nginx.iter().enumerate() {
        let field = format!("app.nginx[{i}]");
        let t = d.trim();
        if t.is_empty() || !(t.ends_with(';') || t.ends_with('}')) {
            p.push(&field, format!("\"{d}\" is not an nginx directive: end it with ';' (e.g. \"client_max_body_size 20m;\")"));
        } else if t.contains("{{") {
            p.push(
                &field,
                "'{{' is fpmlab's template syntax: write the directive without it",
            );
        } else {
            app.nginx.push(t.to_string());
        }
    }
    for (i, pkg) in raw.packages.iter().enumerate() {
        let ok = pkg.len() >= 2
            && pkg.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && pkg.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.')
            });
        if ok {
            app.packages.push(pkg.clone());
        } else {
            p.push(
                format!("app.packages[{i}]"),
                format!("\"{pkg}\" is not a Debian package name: e.g. \"php8.2-sqlite3\""),
            );
        }
    }
    if let Some(h) = &raw.health_path {
        if !h.starts_with('/') || h.contains(char::is_whitespace) {
            p.push(
                "app.health_path",
                format!("\"{h}\" is not a path: start it with '/', e.g. \"{DEFAULT_HEALTH_PATH}\""),
            );
        } else {
            app.health_path = h.clone();
        }
    }
    app.agent = raw.agent.unwrap_or(true);
    if let Some(n) = &raw.docker_network {
        if n.is_empty()
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            p.push(
                "app.docker_network",
                format!("\"{n}\" is not a docker network name: give one `docker network ls` lists"),
            );
        } else {
            app.docker_network = Some(n.clone());
        }
    }
    app
}

/// The document root from `app.root`, or the older `stack.app_root`; both at once is an error.
pub fn root(
    p: &mut Problems,
    app_root: Option<&str>,
    stack_app_root: Option<&str>,
) -> Option<PathBuf> {
    let (field, given) = match (app_root, stack_app_root) {
        (Some(_), Some(_)) => {
            p.push(
                "stack.app_root",
                "app.root and stack.app_root both name the document root: keep app.root",
            );
            return None;
        }
        (Some(r), None) => ("app.root", r),
        (None, Some(r)) => ("stack.app_root", r),
        (None, None) => return None,
    };
    let root = PathBuf::from(given);
    if !root.is_dir() {
        p.push(
            field,
            format!(
                "{} is not a directory: give the path of your document root",
                root.display()
            ),
        );
        return None;
    }
    Some(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml_text: &str, root: Option<&Path>) -> (AppSettings, Vec<(String, String)>) {
        let raw: RawApp = toml::from_str(toml_text).unwrap();
        let mut p = Problems::default();
        let app = validate(&mut p, &raw, root);
        (app, p.0)
    }

    #[test]
    fn a_full_section_resolves() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.php"), "<?php").unwrap();
        let (app, problems) = check(
            r#"
            front_controller = "index.php"
            php_ini = { "opcache.jit" = "off", "session.gc_probability" = 0 }
            pool = { "request_slowlog_timeout" = "2s", "php_admin_value[error_reporting]" = "E_ALL" }
            env = { DB_HOST = "127.0.0.1", DB_PORT = 3306 }
            nginx = ["client_max_body_size 20m;"]
            packages = ["php8.2-sqlite3"]
            health_path = "/healthz"
            "#,
            Some(dir.path()),
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(app.front_controller.as_deref(), Some("index.php"));
        assert_eq!(app.php_ini["session.gc_probability"], "0");
        assert_eq!(app.env["DB_PORT"], "3306");
        assert_eq!(app.pool.len(), 2);
        assert_eq!(app.health_path, "/healthz");
        assert!(app.agent);
    }

    #[test]
    fn defaults() {
        let (app, problems) = check("", None);
        assert!(problems.is_empty());
        assert_eq!(app, AppSettings::default());
        assert_eq!(app.health_path, DEFAULT_HEALTH_PATH);
    }

    #[test]
    fn bad_settings_name_their_field_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&str, &str, &str)] = &[
            (
                "front_controller = \"index.php\"",
                "app.front_controller",
                "has no index.php",
            ),
            (
                "front_controller = \"../x.php\"",
                "app.front_controller",
                "relative to app.root",
            ),
            (
                "php_ini = { memory_limit = \"1G\" }",
                "app.php_ini.memory_limit",
                "stack.memory_limit",
            ),
            (
                "php_ini = { \"a b\" = 1 }",
                "app.php_ini.a b",
                "not a php.ini key",
            ),
            (
                "pool = { \"pm.max_children\" = 5 }",
                "app.pool.pm.max_children",
                "[[config]]",
            ),
            (
                "pool = { listen = \"/x\" }",
                "app.pool.listen",
                "stack.listen",
            ),
            (
                "pool = { \"pm_max_children\" = 5 }",
                "app.pool.pm_max_children",
                "not a php-fpm pool directive",
            ),
            (
                "pool = { \"php_admin_value[memory_limit]\" = \"1G\" }",
                "app.pool.php_admin_value[memory_limit]",
                "stack.memory_limit",
            ),
            (
                "env = { \"1X\" = \"a\" }",
                "app.env.1X",
                "not an environment variable name",
            ),
            (
                "env = { FPMLAB_X = \"a\" }",
                "app.env.FPMLAB_X",
                "fpmlab's own",
            ),
            ("env = { X = \"a\\nb\" }", "app.env.X", "line break"),
            ("env = { X = [1] }", "app.env.X", "a string, a number"),
            (
                "nginx = [\"client_max_body_size 20m\"]",
                "app.nginx[0]",
                "end it with ';'",
            ),
            (
                "packages = [\"PHP-X\"]",
                "app.packages[0]",
                "Debian package name",
            ),
            (
                "health_path = \"healthz\"",
                "app.health_path",
                "start it with '/'",
            ),
            (
                "docker_network = \"a b\"",
                "app.docker_network",
                "docker network name",
            ),
        ];
        for (text, field, fix) in cases {
            let (_, problems) = check(text, Some(dir.path()));
            assert!(
                problems.iter().any(|(f, m)| f == field && m.contains(fix)),
                "{text}: {problems:?}"
            );
        }
        let (_, problems) = check("front_controller = \"index.php\"", None);
        assert!(problems[0].1.contains("set app.root"), "{problems:?}");
    }

    #[test]
    fn root_from_either_key() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let mut p = Problems::default();
        assert_eq!(root(&mut p, Some(d), None).as_deref(), Some(dir.path()));
        assert_eq!(root(&mut p, None, Some(d)).as_deref(), Some(dir.path()));
        assert!(p.0.is_empty());
        assert!(root(&mut p, Some(d), Some(d)).is_none());
        assert!(root(&mut p, Some("/no/such/dir"), None).is_none());
        assert_eq!(p.0.len(), 2, "{:?}", p.0);
        assert_eq!(p.0[1].0, "app.root");
    }
}
