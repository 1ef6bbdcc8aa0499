//! Turns a [`RawScenario`] into a [`Plan`], applying defaults and refusing everything php-fpm,
//! nginx or the generator would refuse or misbehave on. Every problem is collected (not just
//! the first), each naming the field and the fix.

use super::phase::expected_requests;
use super::plan::*;
use super::problems::{check_name, cpuset, dur, secs, Problems};
use super::raw::{defaults, RawRequest, RawScenario};
use super::traffic;
use crate::units::{check_php_size, parse_mib};

/// Upper bound on requests one config may schedule: a typo (`rate = 1e9`) must not start a
/// run that never ends.
pub const MAX_SCHEDULED_REQUESTS: f64 = 100_000_000.0;

/// Validates a raw scenario. `stem` is the file name without extension (the default name);
/// `cores` is this machine's CPU count (for cpusets).
pub fn validate(
    raw: RawScenario,
    stem: &str,
    base_dir: &std::path::Path,
    driver: Driver,
    cores: usize,
) -> Result<(Plan, Vec<String>), Problems> {
    let mut p = Problems::default();
    let mut warnings = Vec::new();

    let name = raw.name.unwrap_or_else(|| stem.to_string());
    check_name(&mut p, "name", &name);
    let mut stack = stack_settings(&mut p, &raw.stack, cores);
    let app_root = super::app::root(
        &mut p,
        raw.app.root.as_deref(),
        raw.stack.app_root.as_deref(),
    );
    let app = super::app::validate(&mut p, &raw.app, app_root.as_deref());
    if let Some(s) = &mut stack {
        s.app_root = app_root;
        s.app = app;
    }
    let mut load = load_settings(&mut p, &raw.load, cores);
    // A stack confined to some CPUs leaves the rest to the generator, unless told otherwise.
    if let (Some(s), Some(l)) = (&stack, &mut load) {
        if let (Some(stack_cpus), None) = (&s.cpuset, &l.cpuset) {
            let rest: Vec<usize> = (0..cores).filter(|c| !stack_cpus.contains(c)).collect();
            if rest.is_empty() {
                warnings.push(
                    "stack.cpuset takes every CPU: the generator shares them with the stack".into(),
                );
            } else {
                l.cpuset = Some(rest);
            }
        }
    }

    // `fpmlab tune` searches the pools itself: a scenario with [tune] may name none.
    if raw.config.is_empty() && raw.sweep.is_empty() && raw.tune.is_none() {
        p.push("config", "no [[config]] given: add at least one pool, e.g. [[config]] name = \"static-4\" pm = \"static\" max_children = 4 (or a [tune] section, for fpmlab tune)");
    }
    let mut configs: Vec<PoolConfig> = raw
        .config
        .iter()
        .enumerate()
        .filter_map(|(i, c)| super::pool::pool_config(&mut p, i, c))
        .collect();
    // Sweeps expand into more configs, already checked against php-fpm's rules.
    let swept = super::sweep::expand(&mut p, &raw.sweep, &raw.config);
    configs.extend(
        swept
            .iter()
            .filter_map(|c| super::pool::pool_config(&mut Problems::default(), 0, c)),
    );
    unique(&mut p, "config", configs.iter().map(|c| c.name.as_str()));

    if raw.phase.is_empty() {
        p.push("phase", "no [[phase]] given: add at least one, e.g. [[phase]] duration = \"10s\" pattern = \"constant\" rate = 10");
    }
    let phases: Vec<Phase> = raw
        .phase
        .iter()
        .enumerate()
        .filter_map(|(i, ph)| {
            let load_timeout_ms = load.as_ref().map(|l| l.client_timeout_ms);
            super::phase::phase(&mut p, i, ph, base_dir, load_timeout_ms)
        })
        .collect();
    unique(&mut p, "phase", phases.iter().map(|ph| ph.name.as_str()));
    let expected: f64 = phases.iter().map(expected_requests).sum();
    if expected > MAX_SCHEDULED_REQUESTS {
        p.push("phase", format!("the phases schedule about {expected:.0} requests per config, over the limit of {MAX_SCHEDULED_REQUESTS:.0}: lower a rate or a duration"));
    }

    // A scenario of replay phases alone needs no [[request]]: the log gives the requests.
    let all_replay = !raw.phase.is_empty() && raw.phase.iter().all(|ph| ph.replay.is_some());
    if raw.request.is_empty() && !all_replay {
        p.push("request", "no [[request]] given: add at least one, e.g. [[request]] path = \"/cpu.php?units=100\"");
    }
    let mut requests: Vec<RequestKind> = raw
        .request
        .iter()
        .enumerate()
        .filter_map(|(i, r)| request(&mut p, &mut warnings, base_dir, i, r))
        .collect();
    unique(&mut p, "request", requests.iter().map(|r| r.name.as_str()));
    let mut phases = phases;
    for ph in &phases {
        if let Arrival::Replay(r) = &ph.arrival {
            if let Some(b) = r.bad_examples.first() {
                warnings.push(format!("phase \"{}\": {} of the {} lines of {} did not parse and are not replayed (first: line {}: {})", ph.name, r.bad_lines, r.log_lines, r.log.display(), b.line, b.reason));
            }
        }
    }
    super::replay_phase::assign_kinds(&mut p, &mut phases, &mut requests);
    // nginx answers 413 to a body over its client_max_body_size (1m by default): say so now
    // rather than let every request of the kind fail.
    let body_limit_set = raw
        .app
        .nginx
        .iter()
        .any(|d| d.trim_start().starts_with("client_max_body_size"));
    if !matches!(driver, Driver::External { .. }) && !body_limit_set {
        for r in &requests {
            if let Some(b) = r.body.as_ref().filter(|b| b.size_bytes > 1024 * 1024) {
                warnings.push(format!("request \"{}\": a body of {} bytes is over nginx's default client_max_body_size (1m), so nginx answers 413: add app.nginx = [\"client_max_body_size 20m;\"]", r.name, b.size_bytes));
            }
        }
    }
    let thresholds = super::threshold::validate(&mut p, &raw.threshold, &configs, &phases);
    let load_ms: u64 = phases.iter().map(|ph| ph.duration_ms).sum();
    let mut fleet = super::fleet::validate(
        &mut p,
        &mut warnings,
        raw.fleet.as_ref(),
        &raw.event,
        &configs,
        load_ms,
        &driver,
        cores,
    );
    if let (Some(f), Some(rf)) = (&mut fleet, &raw.fleet) {
        own_pools(&mut p, f, rf);
    }

    if let Some(s) = &stack {
        if driver == Driver::Docker && s.listen == ListenKind::Unix {
            p.push("stack.listen", "\"unix\" needs a socket shared by the nginx and php-fpm containers, which the docker driver does not set up: use \"tcp\" or --stack native");
        }
        if driver == Driver::Native && s.fpm_image.is_some() {
            warnings.push("stack.fpm_image only applies to --stack docker: the native driver runs this machine's php-fpm".into());
        }
    }
    if let Some(s) = &stack {
        warnings.extend(super::sanity::warnings(s, &configs, &driver));
    }
    if let (Some(s), Some(l)) = (&stack, &load) {
        if u64::from(s.keepalive_timeout_s) * 1000 <= l.client_timeout_ms {
            warnings.push(format!("stack.keepalive_timeout ({} s) is not above load.client_timeout ({} ms): behind a real load balancer, nginx closing idle connections first races with new requests and gives 502s", s.keepalive_timeout_s, l.client_timeout_ms));
        }
        if let (Some(sc), Some(lc)) = (&s.cpuset, &l.cpuset) {
            if sc.iter().any(|c| lc.contains(c)) {
                warnings.push("stack.cpuset and load.cpuset overlap: the generator and the stack share those cores".into());
            }
        }
    }
    if !p.0.is_empty() {
        return Err(p);
    }
    let plan = Plan {
        name,
        description: raw.description.unwrap_or_default(),
        seed: raw.seed.unwrap_or(defaults::SEED),
        driver,
        stack: stack.expect("no problems means stack settings resolved"),
        load: load.expect("no problems means load settings resolved"),
        configs,
        phases,
        requests,
        thresholds,
        fleet,
    };
    Ok((plan, warnings))
}

fn unique<'a>(p: &mut Problems, what: &str, names: impl Iterator<Item = &'a str>) {
    let mut seen = std::collections::BTreeSet::new();
    for n in names {
        if !seen.insert(n) {
            p.push(
                what,
                format!("two {what}s are named \"{n}\": give each a unique name"),
            );
        }
    }
}

fn stack_settings(
    p: &mut Problems,
    s: &super::raw::RawStack,
    cores: usize,
) -> Option<StackSettings> {
    let before = p.0.len();
    cpuset(p, "stack.cpuset", &s.cpuset, cores);
    if let Some(c) = s.cpus {
        if !(c > 0.0 && c.is_finite()) {
            p.push(
                "stack.cpus",
                format!("{c} is not a CPU quota: give a positive number of cores, e.g. 1 or 0.5"),
            );
        }
    }
    let memory_mib = s
        .memory
        .as_deref()
        .and_then(|m| parse_mib(m).map_err(|e| p.push("stack.memory", e)).ok());
    if memory_mib == Some(0) {
        p.push(
            "stack.memory",
            "0 MiB leaves php-fpm nothing: give e.g. \"512MiB\"",
        );
    }
    let php_memory_limit = s
        .memory_limit
        .clone()
        .unwrap_or_else(|| defaults::PHP_MEMORY_LIMIT.into());
    if let Err(e) = check_php_size(&php_memory_limit) {
        p.push("stack.memory_limit", e);
    }
    let met = secs(
        p,
        "stack.max_execution_time",
        s.max_execution_time.as_deref(),
        defaults::MAX_EXECUTION_TIME,
    );
    let rtt = secs(
        p,
        "stack.request_terminate_timeout",
        s.request_terminate_timeout.as_deref(),
        defaults::REQUEST_TERMINATE_TIMEOUT,
    );
    let listen = match s.listen.as_deref().unwrap_or(defaults::LISTEN) {
        "tcp" => ListenKind::Tcp,
        "unix" => ListenKind::Unix,
        other => {
            p.push(
                "stack.listen",
                format!("\"{other}\" is not a socket kind: use \"tcp\" or \"unix\""),
            );
            ListenKind::Tcp
        }
    };
    let listen_backlog = s.listen_backlog.unwrap_or(defaults::LISTEN_BACKLOG);
    if listen_backlog == 0 || listen_backlog < -1 {
        p.push("stack.listen_backlog", format!("{listen_backlog} is not a backlog: use -1 (the kernel's somaxconn) or a positive number"));
    }
    let connect = dur(
        p,
        "stack.fastcgi_connect_timeout",
        s.fastcgi_connect_timeout.as_deref(),
        defaults::FASTCGI_CONNECT_TIMEOUT,
    );
    let read = dur(
        p,
        "stack.fastcgi_read_timeout",
        s.fastcgi_read_timeout.as_deref(),
        defaults::FASTCGI_READ_TIMEOUT,
    );
    for (field, v) in [
        ("stack.fastcgi_connect_timeout", connect),
        ("stack.fastcgi_read_timeout", read),
    ] {
        if v == Some(0) {
            p.push(
                field,
                "0 would fail every request: give a positive duration, e.g. \"60s\"",
            );
        }
    }
    let keepalive = secs(
        p,
        "stack.keepalive_timeout",
        s.keepalive_timeout.as_deref(),
        defaults::KEEPALIVE_TIMEOUT,
    );
    if let Some(image) = &s.fpm_image {
        if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
            p.push(
                "stack.fpm_image",
                format!("\"{image}\" is not an image name: give a local image's tag, e.g. \"myapp-fpm:latest\", or remove the key"),
            );
        }
    }
    if p.0.len() != before {
        return None;
    }
    Some(StackSettings {
        cpuset: s.cpuset.clone(),
        cpus: s.cpus,
        memory_mib,
        php_memory_limit,
        max_execution_time_s: met?,
        request_terminate_timeout_s: rtt?,
        listen,
        listen_backlog,
        fastcgi_connect_timeout_ms: connect?,
        fastcgi_read_timeout_ms: read?,
        keepalive_timeout_s: keepalive?,
        // Resolved from [app] by the caller.
        app_root: None,
        app: AppSettings::default(),
        fpm_image: s.fpm_image.clone(),
    })
}

fn load_settings(p: &mut Problems, l: &super::raw::RawLoad, cores: usize) -> Option<LoadSettings> {
    let before = p.0.len();
    cpuset(p, "load.cpuset", &l.cpuset, cores);
    let client_timeout_ms = dur(
        p,
        "load.client_timeout",
        l.client_timeout.as_deref(),
        defaults::CLIENT_TIMEOUT,
    );
    if client_timeout_ms == Some(0) {
        p.push(
            "load.client_timeout",
            "0 would time out every request: give e.g. \"60s\"",
        );
    }
    let max_in_flight = l.max_in_flight.unwrap_or(defaults::MAX_IN_FLIGHT);
    if max_in_flight == 0 {
        p.push(
            "load.max_in_flight",
            "0 would send nothing: give a positive limit, e.g. 10000",
        );
    }
    if l.max_connections == Some(0) {
        p.push(
            "load.max_connections",
            "0 connections would send nothing: give the pool's size, e.g. 64, or leave it out for a connection per request in flight",
        );
    }
    let health_timeout_ms = match &l.health_timeout {
        Some(t) => dur(p, "load.health_timeout", Some(t), defaults::HEALTH_TIMEOUT),
        // The ALB default, but a probe never waits longer than the LB's own timeout.
        None => dur(p, "load.health_timeout", None, defaults::HEALTH_TIMEOUT)
            .zip(client_timeout_ms)
            .map(|(h, c)| h.min(c)),
    };
    if let (Some(h), Some(c), Some(_)) = (health_timeout_ms, client_timeout_ms, &l.health_timeout) {
        if h > c {
            p.push("load.health_timeout", format!("{h} ms is above load.client_timeout ({c} ms): a load balancer's health check never waits longer than its requests do; lower health_timeout or raise client_timeout"));
        }
    }
    let send_window_us = match l
        .send_window
        .as_deref()
        .map(crate::units::parse_duration_us)
    {
        None => Some(0),
        Some(Ok(us)) if us > MAX_SEND_WINDOW_US => {
            let max = MAX_SEND_WINDOW_US / 1000;
            p.push(
                "load.send_window",
                format!("{us} µs would send requests up to that late, in bursts: keep it at most {max}ms (100us halves the wake-ups at 10 000/s), or leave it out for sends on time"),
            );
            None
        }
        Some(Ok(us)) => Some(us),
        Some(Err(e)) => {
            p.push("load.send_window", e);
            None
        }
    };
    if health_timeout_ms == Some(0) {
        p.push(
            "load.health_timeout",
            "0 would fail every health probe: give e.g. \"5s\"",
        );
    }
    if p.0.len() != before {
        return None;
    }
    Some(LoadSettings {
        client_timeout_ms: client_timeout_ms?,
        max_in_flight,
        max_connections: l.max_connections,
        cpuset: l.cpuset.clone(),
        health_timeout_ms: health_timeout_ms?,
        send_window_us: send_window_us?,
    })
}

/// The widest `load.send_window`: tokio's own timer granularity; wider batches would be
/// bursts of their own, not the arrival pattern the scenario asked for.
const MAX_SEND_WINDOW_US: u64 = 1_000;

fn request(
    p: &mut Problems,
    warnings: &mut Vec<String>,
    base_dir: &std::path::Path,
    i: usize,
    r: &RawRequest,
) -> Option<RequestKind> {
    let before = p.0.len();
    let name = r
        .name
        .clone()
        .unwrap_or_else(|| format!("request-{}", i + 1));
    let at = format!("request[{i}] \"{name}\"");
    let f = |key: &str| format!("{at}.{key}");
    check_name(p, &f("name"), &name);
    let path = r.path.clone().unwrap_or_default();
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        p.push(f("path"), format!("\"{path}\" is not a request path: give a path and query starting with '/', e.g. \"/cpu.php?units=100\", with no spaces"));
    }
    let method = r.method.clone().unwrap_or_else(|| defaults::METHOD.into());
    if !["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"].contains(&method.as_str()) {
        p.push(f("method"), format!("\"{method}\" is not a method: use GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS (upper case)"));
    }
    let weight = match r.weight {
        None => defaults::WEIGHT,
        Some(w) if (1..=1_000_000).contains(&w) => w as u32,
        Some(w) => {
            p.push(
                f("weight"),
                format!("{w} is not a weight: give a whole number from 1 to 1000000"),
            );
            0
        }
    };
    let data = data_source(p, &f, base_dir, r);
    let columns = data.as_ref().map(|d| d.columns.clone()).unwrap_or_default();
    let rows = data.as_ref().map(|d| d.table.clone()).unwrap_or_default();
    // Every placeholder must name a column, and every value it can take must keep the
    // request well-formed: checked here over all rows, so the load never sends a broken
    // request.
    check_template(
        p,
        f("path"),
        path.as_bytes(),
        &columns,
        &rows,
        traffic::check_path_value,
    );
    let headers = r.headers.clone().unwrap_or_default();
    for (name, value) in &headers {
        let field = f(&format!("headers.{name}"));
        if let Err(e) = traffic::check_header_name(name) {
            p.push(field.clone(), e);
        }
        if let Err(e) = traffic::check_header_value(value.as_bytes()) {
            p.push(field.clone(), e);
        }
        check_template(
            p,
            field,
            value.as_bytes(),
            &columns,
            &rows,
            traffic::check_header_value,
        );
    }
    let body = request_body(p, &f, base_dir, r, &headers);
    if let Some(b) = &body {
        let field = f(if b.file.is_some() {
            "body_file"
        } else {
            "body"
        });
        check_template(p, field, &b.content, &columns, &rows, |_| Ok(()));
        if ["GET", "HEAD", "DELETE", "OPTIONS"].contains(&method.as_str()) {
            warnings.push(format!("{}: a {method} request with a body: many servers and proxies ignore or refuse it; use POST, PUT or PATCH if the app reads the body", f("body")));
        }
    }
    if let Some(m) = &r.replay_match {
        if !m.starts_with('/') || m.chars().any(|c| c.is_whitespace() || c.is_control()) {
            p.push(f("replay_match"), format!("\"{m}\" is not a path pattern: start it with '/', no spaces; '*' matches any characters, e.g. \"/V1/carts/*\""));
        }
    }
    (p.0.len() == before).then_some(RequestKind {
        name,
        method,
        path,
        weight,
        headers,
        body,
        data,
        replay_match: r.replay_match.clone(),
    })
}

/// Every placeholder in `text` must name a column, and every value it can take must keep the
/// request well-formed (`value_ok`): checked here over all rows, so the load never sends a
/// broken request.
fn check_template(
    p: &mut Problems,
    field: String,
    text: &[u8],
    columns: &[String],
    rows: &[Vec<String>],
    value_ok: fn(&[u8]) -> Result<(), String>,
) {
    match traffic::parse_template(text, columns) {
        Err(e) => p.push(field, e),
        Ok(parts) => {
            for col in traffic::columns_used(&parts) {
                let bad = rows
                    .iter()
                    .enumerate()
                    .find_map(|(n, row)| value_ok(row[col].as_bytes()).err().map(|e| (n, e)));
                if let Some((n, e)) = bad {
                    p.push(
                        field.clone(),
                        format!(
                            "row {} of the data file, column \"{}\", {e}",
                            n + 1,
                            columns[col]
                        ),
                    );
                }
            }
        }
    }
}

/// `body` or `body_file`, with `content_type`; the file is read here, once.
fn request_body(
    p: &mut Problems,
    f: &dyn Fn(&str) -> String,
    base_dir: &std::path::Path,
    r: &RawRequest,
    headers: &std::collections::BTreeMap<String, String>,
) -> Option<Body> {
    let header_type = headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("content-type"));
    if header_type {
        p.push(
            f("headers.Content-Type"),
            "the body's type is set with content_type: move it there (content_type = \"application/json\")",
        );
    }
    let (inline, file, content) = match (&r.body, &r.body_file) {
        (Some(_), Some(_)) => {
            p.push(
                f("body_file"),
                "body and body_file both give the body: keep one",
            );
            return None;
        }
        (None, None) => {
            if r.content_type.is_some() {
                p.push(f("content_type"), "content_type without a body: add body = \"...\" or body_file = \"FILE\", or remove content_type");
            }
            return None;
        }
        (Some(text), None) => (Some(text.clone()), None, text.clone().into_bytes()),
        (None, Some(file)) => {
            let path = base_dir.join(file);
            match traffic::read_capped(&path, traffic::MAX_BODY_FILE_BYTES) {
                // Absolute in run.json, so the result says which file whatever the cwd.
                Ok((bytes, _)) => (None, Some(absolute(path)), bytes),
                Err(e) => {
                    p.push(f("body_file"), e);
                    return None;
                }
            }
        }
    };
    let Some(content_type) = r.content_type.clone() else {
        p.push(f("content_type"), "a body needs its type: add content_type, e.g. \"application/json\" or \"application/x-www-form-urlencoded\"");
        return None;
    };
    if let Err(e) = traffic::check_header_value(content_type.as_bytes()) {
        p.push(f("content_type"), e);
    }
    let sha256 = traffic::hex(&<sha2::Sha256 as sha2::Digest>::digest(&content));
    Some(Body {
        content_type,
        inline,
        file,
        size_bytes: content.len() as u64,
        sha256,
        content: std::sync::Arc::new(content),
    })
}

/// The canonical path of a file that was just read (the path as given if that fails).
fn absolute(path: std::path::PathBuf) -> std::path::PathBuf {
    std::fs::canonicalize(&path).unwrap_or(path)
}

/// `data` and `data_pick`: the file is read and parsed here, once, before any load.
fn data_source(
    p: &mut Problems,
    f: &dyn Fn(&str) -> String,
    base_dir: &std::path::Path,
    r: &RawRequest,
) -> Option<DataSource> {
    let pick = match r.data_pick.as_deref().unwrap_or(defaults::DATA_PICK) {
        "sequential" => Some(DataPick::Sequential),
        "random" => Some(DataPick::Random),
        other => {
            p.push(f("data_pick"), format!("\"{other}\" is not a pick order: use \"sequential\" (file order) or \"random\" (from the scenario's seed)"));
            None
        }
    };
    let Some(file) = &r.data else {
        if r.data_pick.is_some() {
            p.push(
                f("data_pick"),
                "data_pick without a data file: add data = \"FILE.csv\" or remove data_pick",
            );
        }
        return None;
    };
    let path = base_dir.join(file);
    let format = traffic::data_format(&path)
        .map_err(|e| p.push(f("data"), e))
        .ok()?;
    let (bytes, sha256) = traffic::read_capped(&path, traffic::MAX_DATA_FILE_BYTES)
        .map_err(|e| p.push(f("data"), e))
        .ok()?;
    let table = traffic::parse_table(&bytes, format)
        .map_err(|e| p.push(f("data"), format!("{} {e}", path.display())))
        .ok()?;
    Some(DataSource {
        file: absolute(path),
        format: format.into(),
        pick: pick?,
        columns: table.columns,
        rows: table.rows.len(),
        sha256,
        table: std::sync::Arc::new(table.rows),
    })
}

/// The settings a scenario gets when it leaves `[stack]` empty: resolved by the validator
/// itself, so the defaults live only in [`defaults`].
impl Default for StackSettings {
    fn default() -> Self {
        let mut p = Problems::default();
        stack_settings(&mut p, &super::raw::RawStack::default(), 1).expect("the defaults are valid")
    }
}

/// The settings a scenario gets when it leaves `[load]` empty.
impl Default for LoadSettings {
    fn default() -> Self {
        let mut p = Problems::default();
        load_settings(&mut p, &super::raw::RawLoad::default(), 1).expect("the defaults are valid")
    }
}

/// `[[fleet.instance]]`s with their own pool (`pm`, `max_children`, ...): checked as any
/// `[[config]]` is, their problems under the instance's fields.
fn own_pools(p: &mut Problems, fleet: &mut super::Fleet, raw: &super::fleet::RawFleet) {
    for (k, ri) in raw.instance.iter().enumerate() {
        let (Some(pm), Some(spec)) = (&ri.pm, fleet.instances.get_mut(k)) else {
            continue;
        };
        let rc = super::raw::RawConfig {
            name: Some(format!("{}-pool", spec.name)),
            pm: Some(pm.clone()),
            max_children: ri.max_children,
            start_servers: ri.start_servers,
            min_spare_servers: ri.min_spare_servers,
            max_spare_servers: ri.max_spare_servers,
            ..Default::default()
        };
        let mut own = Problems::default();
        spec.own_pool = super::pool::pool_config(&mut own, 0, &rc);
        for (field, message) in own.0 {
            let key = field.rsplit('.').next().unwrap_or("").to_string();
            p.push(format!("fleet.instance[{k}].{key}"), message);
        }
    }
}
