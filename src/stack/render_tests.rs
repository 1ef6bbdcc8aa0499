use super::*;
use crate::scenario::{ListenKind, StackSettings};

/// Values the templates must carry through, all different from the defaults.
fn stack() -> StackSettings {
    StackSettings {
        php_memory_limit: "64M".into(),
        max_execution_time_s: 7,
        request_terminate_timeout_s: 11,
        listen: ListenKind::Tcp,
        listen_backlog: 123,
        fastcgi_connect_timeout_ms: 3000,
        fastcgi_read_timeout_ms: 45000,
        ..StackSettings::default()
    }
}

fn pool(pm: Pm) -> PoolConfig {
    let dynamic = pm == Pm::Dynamic;
    PoolConfig {
        name: pm.as_str().into(),
        pm,
        max_children: 8,
        start_servers: dynamic.then_some(3),
        min_spare_servers: dynamic.then_some(2),
        max_spare_servers: dynamic.then_some(4),
        max_spawn_rate: dynamic.then_some(16),
        process_idle_timeout_s: (pm == Pm::Ondemand).then_some(9),
        max_requests: 500,
    }
}

fn layout(fpm_listen: &str) -> Layout {
    Layout {
        app_root: "/srv/app".into(),
        agent_path: "/opt/fpmlab/agent/fpmlab-agent.php".into(),
        logs_dir: "/run/x/logs".into(),
        tmp_dir: "/run/x/tmp".into(),
        nginx_listen: "127.0.0.1:8080".into(),
        fpm_listen: fpm_listen.into(),
        fpm_pass: "127.0.0.1:9000".into(),
        status_listen: "127.0.0.1:9001".into(),
        status_pass: "127.0.0.1:9001".into(),
        nginx_user: None,
        fpm_user: None,
        cpu_unit_iterations: 123_456,
    }
}

fn fpm_conf(pm: Pm) -> String {
    render_configs(&stack(), &pool(pm), &layout("127.0.0.1:9000"))
        .unwrap()
        .php_fpm_conf
}

const DYNAMIC_KEYS: [&str; 4] = [
    "pm.start_servers",
    "pm.min_spare_servers",
    "pm.max_spare_servers",
    "pm.max_spawn_rate",
];

#[test]
fn render_substitutes_and_checks_both_ways() {
    let v = |k: &'static str, s: &str| (k, s.to_string());
    assert_eq!(
        render("a {{x}} b {{x}}", &[v("x", "1")]).unwrap(),
        "a 1 b 1"
    );
    let missing = render("a {{x}} {{y}}", &[v("x", "1")]).unwrap_err();
    assert!(missing.to_string().contains("\"y\""), "{missing}");
    let unused = render("a {{x}}", &[v("x", "1"), v("z", "2")]).unwrap_err();
    assert!(unused.to_string().contains("\"z\""), "{unused}");
    assert!(render("a {{x", &[v("x", "1")]).is_err());
    // Single braces (nginx blocks, fpm's %{…}t) are not placeholders.
    assert_eq!(render("http { %{x}t }", &[]).unwrap(), "http { %{x}t }");
}

#[test]
fn static_renders_only_max_children() {
    let c = fpm_conf(Pm::Static);
    assert!(c.contains("pm = static\npm.max_children = 8\n"), "{c}");
    for key in DYNAMIC_KEYS.iter().chain(&["pm.process_idle_timeout"]) {
        assert!(!c.contains(key), "static pool must not set {key}");
    }
    assert!(c.contains("pm.max_requests = 500"));
}

#[test]
fn dynamic_renders_spare_keys_only() {
    let c = fpm_conf(Pm::Dynamic);
    for line in [
        "pm = dynamic",
        "pm.start_servers = 3",
        "pm.min_spare_servers = 2",
        "pm.max_spare_servers = 4",
        "pm.max_spawn_rate = 16",
    ] {
        assert!(c.contains(line), "missing {line}:\n{c}");
    }
    assert!(!c.contains("pm.process_idle_timeout"));
}

#[test]
fn ondemand_renders_idle_timeout_only() {
    let c = fpm_conf(Pm::Ondemand);
    assert!(c.contains("pm = ondemand"));
    assert!(c.contains("pm.process_idle_timeout = 9s"));
    for key in DYNAMIC_KEYS {
        assert!(!c.contains(key), "ondemand pool must not set {key}");
    }
}

#[test]
fn dynamic_without_resolved_spares_is_an_error() {
    let mut p = pool(Pm::Dynamic);
    p.min_spare_servers = None;
    let err = render_configs(&stack(), &p, &layout("127.0.0.1:9000")).unwrap_err();
    assert!(err.to_string().contains("min_spare_servers"), "{err}");
}

#[test]
fn plan_settings_and_layout_reach_the_files() {
    let mut l = layout("/run/x/tmp/fpm.sock");
    l.nginx_user = Some("root".into());
    l.fpm_user = Some("root".into());
    l.fpm_pass = "unix:/run/x/tmp/fpm.sock".into();
    let r = render_configs(&stack(), &pool(Pm::Static), &l).unwrap();
    let fpm = &r.php_fpm_conf;
    for line in [
        "listen = /run/x/tmp/fpm.sock",
        "listen.mode = 0666",
        "listen.backlog = 123",
        "user = root\ngroup = root",
        "request_terminate_timeout = 11s",
        "php_admin_value[memory_limit] = 64M",
        "php_admin_value[max_execution_time] = 7",
        "pm.status_listen = 127.0.0.1:9001",
        "error_log = /run/x/logs/php-fpm.log",
        "%{HTTP_X_FPMLAB_ID}e",
    ] {
        assert!(fpm.contains(line), "php-fpm.conf lacks {line}:\n{fpm}");
    }
    let ngx = &r.nginx_conf;
    for line in [
        "user root;",
        "listen 127.0.0.1:8080;",
        "root /srv/app;",
        "fastcgi_pass unix:/run/x/tmp/fpm.sock;",
        "fastcgi_pass 127.0.0.1:9001;",
        "fastcgi_connect_timeout 3000ms;",
        "fastcgi_read_timeout 45000ms;",
        "keepalive_timeout 75s;",
        "pid /run/x/tmp/nginx.pid;",
        "id=$http_x_fpmlab_id",
    ] {
        assert!(ngx.contains(line), "nginx.conf lacks {line}:\n{ngx}");
    }
    assert!(r.php_ini.contains("memory_limit = 64M"));
    assert!(r.php_ini.contains("max_execution_time = 7"));

    // TCP, unprivileged: no listen.mode, no user lines.
    let tcp = render_configs(&stack(), &pool(Pm::Static), &layout("127.0.0.1:9000")).unwrap();
    assert!(!tcp.php_fpm_conf.contains("listen.mode"));
    assert!(!tcp.php_fpm_conf.contains("user ="));
    assert!(!tcp.nginx_conf.contains("user root"));
}

#[test]
fn the_pool_gets_this_machines_cpu_unit() {
    assert!(fpm_conf(Pm::Static).contains("env[FPMLAB_CPU_ITERATIONS_PER_UNIT] = 123456\n"));
}
