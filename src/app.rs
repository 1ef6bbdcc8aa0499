//! The commands: glue between the CLI and the core, and the exit codes.

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::cli::{
    Cli, Command, CompareArgs, CompareFormat, ExportArgs, ReportArgs, RunArgs, StackArg,
    ValidateArgs,
};
use crate::report::{export, table};
use crate::results::{RunResult, Status};
use crate::runner::{self, RunOptions};
use crate::scenario::{self, Driver};

mod tune_cmd;

/// Exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    /// A run or a config failed.
    pub const ERROR: u8 = 1;
    /// Bad usage or an invalid scenario: nothing was started.
    pub const INVALID: u8 = 2;
    /// A threshold was breached (`run`) or a `--fail-if` rule fired (`compare`).
    pub const THRESHOLD: u8 = 3;
    /// Interrupted by Ctrl-C / SIGTERM (results are partial).
    pub const INTERRUPTED: u8 = 130;
}

/// Entry point behind `main`.
pub fn main(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Run(args) => run(&args),
        Command::Report(args) => report(&args),
        Command::Compare(args) => compare(&args),
        Command::Tune(args) => tune_cmd::tune(&args),
    };
    ExitCode::from(code)
}

fn validate(args: &ValidateArgs) -> u8 {
    let mut code = exit::OK;
    for path in &args.scenarios {
        match scenario::load(path, Driver::Native) {
            Ok((plan, warnings)) => {
                println!(
                    "{}: ok ({} configs, {} phases, {} request kinds)",
                    path.display(),
                    plan.configs.len(),
                    plan.phases.len(),
                    plan.requests.len()
                );
                for w in warnings {
                    println!("  warning: {w}");
                }
                if args.print {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&plan).expect("plan serializes")
                    );
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                code = exit::INVALID;
            }
        }
    }
    code
}

fn resolve_driver(args: &RunArgs) -> Result<Driver, String> {
    match (args.stack, &args.target) {
        (StackArg::External, Some(url)) => {
            check_remote(url, args.allow_remote.as_deref())?;
            Ok(Driver::External { url: url.clone() })
        }
        (StackArg::External, None) => {
            Err("--stack external needs --target URL (e.g. --target http://127.0.0.1:8080)".into())
        }
        (_, Some(_)) => Err("--target goes with --stack external".into()),
        (StackArg::Native, None) => Ok(Driver::Native),
        (StackArg::Docker, None) => Ok(Driver::Docker),
        (StackArg::Auto, None) => {
            let (driver, why) = crate::stack::auto_driver();
            let name = if driver == Driver::Docker {
                "docker"
            } else {
                "native"
            };
            if !args.quiet {
                eprintln!("stack: {name} ({why})");
            }
            Ok(driver)
        }
    }
}

/// The host of a target URL, from its text alone: no DNS, no connection.
fn target_host(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            format!("--target {url}: give an http:// URL, e.g. http://127.0.0.1:8080")
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']').map(|(h, _)| h).unwrap_or(v6)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    if host.is_empty() {
        return Err(format!("--target {url}: the URL names no host"));
    }
    Ok(host.to_ascii_lowercase())
}

/// Whether a host is this machine's loopback: `localhost`, 127.0.0.0/8 or ::1 (also as an
/// IPv4-mapped address).
fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => a.is_loopback(),
        Ok(std::net::IpAddr::V6(a)) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// Refuses a target outside the loopback range unless `--allow-remote` names its host:
/// decided from the URL's text, before any DNS look-up or connection, so a typo never sends
/// a load test to someone else's server.
fn check_remote(url: &str, allowed: Option<&str>) -> Result<(), String> {
    let host = target_host(url)?;
    if is_loopback(&host) {
        return Ok(());
    }
    let allowed = allowed.map(|a| {
        a.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase()
    });
    match allowed {
        Some(a) if a == host => Ok(()),
        Some(a) => Err(format!("--target {url} is {host}, but --allow-remote names {a}: name the target's host, --allow-remote {host}")),
        None => Err(format!("--target {url} is {host}, outside this machine (127.0.0.0/8, ::1, localhost): a load test against another machine must be deliberate; add --allow-remote {host} if you mean it (nothing was sent)")),
    }
}

fn run(args: &RunArgs) -> u8 {
    let driver = match resolve_driver(args) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    // An engine that is missing or stopped must fail here, at once, not config by config.
    if driver == Driver::Docker && args.stack == StackArg::Docker {
        if let Err(e) = crate::stack::docker::preflight() {
            eprintln!("error: --stack docker: {e:#}");
            return exit::ERROR;
        }
    }
    let (mut plan, mut warnings) = match scenario::load(&args.scenario, driver) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    if !args.configs.is_empty() {
        if let Some(unknown) = args
            .configs
            .iter()
            .find(|n| !plan.configs.iter().any(|c| &&c.name == n))
        {
            let names: Vec<&str> = plan.configs.iter().map(|c| c.name.as_str()).collect();
            eprintln!(
                "error: --config {unknown}: no such config in {} (it has: {})",
                args.scenario.display(),
                names.join(", ")
            );
            return exit::INVALID;
        }
        plan.configs.retain(|c| args.configs.contains(&c.name));
    }
    // What the application needs of this machine, before anything starts.
    match crate::stack::preflight::check(&plan.driver, &plan.stack) {
        Ok(w) => warnings.extend(w),
        Err(e) => {
            eprintln!("error: {e:#}");
            return exit::INVALID;
        }
    }
    // A bad export path fails now, in a second, not after the run.
    let exports = export_requests(None, &args.exports);
    if let Err(e) = export::preflight(&exports) {
        eprintln!("error: {e:#}");
        return exit::INVALID;
    }
    if !args.quiet {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
    }
    if let Some(set) = &plan.load.cpuset {
        if let Err(e) = crate::affinity::pin_current_process(set) {
            eprintln!("error: load.cpuset: {e}");
            return exit::ERROR;
        }
    }
    // Everything but the load thread yields to it (see affinity::yield_to_the_load).
    crate::affinity::yield_to_the_load();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(|| {
            crate::affinity::yield_to_the_load();
        })
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::ERROR;
        }
    };
    let opts = RunOptions {
        scenario_file: args.scenario.clone(),
        out: args.out.clone(),
        quiet: args.quiet,
    };
    let cancel = CancellationToken::new();
    let finished = rt.block_on(async {
        tokio::spawn(watch_signals(cancel.clone(), args.quiet));
        runner::run(plan, warnings, &opts, cancel.clone()).await
    });
    // Request tasks cut by a cancel may still be parked; never wait on them.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    let finished = match finished {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e:#}");
            return exit::ERROR;
        }
    };
    let result = &finished.result;
    // An export to stdout owns stdout: the table and the verdicts go to stderr then.
    let to_stdout = !args.exports.uses_stdout();
    let say = printer(to_stdout);
    say(table::render(result).trim_end());
    if args.per_kind {
        say(&format!(
            "\nper request kind:\n{}",
            table::render_per_kind(result)
        ));
    }
    say(&format!(
        "\nresults: {}",
        finished.dir.join("run.json").display()
    ));
    let mut exports = exports;
    if !args.no_report {
        let html = finished.dir.join("report.html");
        exports.insert(0, (Box::new(crate::report::html::HtmlReport), html));
    }
    let exported = write_exports(result, &exports, &say);
    if !result.thresholds.is_empty() {
        say("\nthresholds:");
        for v in &result.thresholds {
            say(&format!("  {}", v.line()));
        }
    }
    for c in &result.configs {
        if let Some(e) = &c.error {
            eprintln!("error: config {}: {e}", c.name);
        }
    }
    match result.status {
        Status::Interrupted => exit::INTERRUPTED,
        Status::Complete if !exported => exit::ERROR,
        Status::Complete if crate::results::breached(&result.thresholds) => exit::THRESHOLD,
        Status::Complete => exit::OK,
        _ => exit::ERROR,
    }
}

/// The HTML report (if `html` is given) and the exports the options ask for.
fn export_requests(html: Option<std::path::PathBuf>, e: &ExportArgs) -> export::Requests {
    crate::report::requests(
        html,
        e.export_markdown.clone(),
        e.export_csv.clone(),
        e.export_json.clone(),
    )
}

/// Writes the requested exports; says where. False if any failed.
fn write_exports(run: &RunResult, requests: &export::Requests, say: &dyn Fn(&str)) -> bool {
    let (written, errors) = export::write_all(run, requests);
    for path in written {
        say(&format!("wrote {}", path.display()));
    }
    for err in &errors {
        eprintln!("error: {err:#}");
    }
    errors.is_empty()
}

fn report(args: &ReportArgs) -> u8 {
    let run = match RunResult::load(&args.run) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return exit::ERROR;
        }
    };
    let dir = if args.run.is_dir() {
        args.run.clone()
    } else {
        args.run
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default()
    };
    let html = (!args.no_html).then(|| args.out.clone().unwrap_or_else(|| dir.join("report.html")));
    let to_stdout = !args.exports.uses_stdout();
    let say = printer(to_stdout);
    let requests = export_requests(html, &args.exports);
    if let Err(e) = export::preflight(&requests) {
        eprintln!("error: {e:#}");
        return exit::INVALID;
    }
    if args.per_kind {
        say(&format!(
            "per request kind:\n{}",
            table::render_per_kind(&run)
        ));
    }
    if write_exports(&run, &requests, &say) {
        exit::OK
    } else {
        exit::ERROR
    }
}

fn compare(args: &CompareArgs) -> u8 {
    let load = |p: &std::path::Path| {
        RunResult::load(p)
            .map_err(|e| eprintln!("error: {e:#}"))
            .ok()
    };
    let (Some(base), Some(cand)) = (load(&args.baseline), load(&args.candidate)) else {
        return exit::ERROR;
    };
    let rules: Result<Vec<_>, String> = args
        .fail_if
        .iter()
        .map(|r| crate::compare::Rule::parse(r))
        .collect();
    let metrics = crate::compare::metrics(&args.metrics);
    let (rules, metrics) = match (rules, metrics) {
        (Ok(r), Ok(m)) => (r, m),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    let path = |p: &std::path::Path| p.display().to_string();
    let (bp, cp) = (path(&args.baseline), path(&args.candidate));
    let c = match crate::compare::compare(
        (&bp, &base),
        (&cp, &cand),
        &metrics,
        args.phase.as_deref(),
        &rules,
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    use crate::compare::render;
    print!(
        "{}",
        match args.format {
            CompareFormat::Table => render::table(&c),
            CompareFormat::Markdown => render::markdown(&c),
            CompareFormat::Json => render::json(&c),
        }
    );
    if c.regressed {
        exit::THRESHOLD
    } else {
        exit::OK
    }
}

/// First Ctrl-C or SIGTERM: stop the load, record what ran, tear down. A second one exits at
/// once (the stack's processes die with fpmlab through PDEATHSIG).
pub(crate) async fn watch_signals(cancel: CancellationToken, quiet: bool) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
    if !quiet {
        eprintln!("\ninterrupted: stopping the load, saving partial results, tearing the stack down (Ctrl-C again to quit at once)");
    }
    cancel.cancel();
    tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
    std::process::exit(i32::from(exit::INTERRUPTED));
}

/// Prints lines to stdout, or to stderr when an export to stdout owns it.
fn printer(to_stdout: bool) -> impl Fn(&str) {
    move |text: &str| {
        if to_stdout {
            println!("{text}")
        } else {
            eprintln!("{text}")
        }
    }
}

#[cfg(test)]
mod remote_tests {
    use super::*;

    #[test]
    fn loopback_targets_need_no_flag() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.3.4.5/",
            "http://localhost",
            "http://LOCALHOST:81/x",
            "http://[::1]:8080",
            "http://[::ffff:127.0.0.1]:80",
            "http://user:pw@127.0.0.1:8080",
        ] {
            assert_eq!(check_remote(url, None), Ok(()), "{url}");
        }
    }

    #[test]
    fn remote_targets_need_their_host_named() {
        for (url, host) in [
            ("http://192.0.2.1:8080", "192.0.2.1"),
            ("http://shop.example.com/", "shop.example.com"),
            ("http://[2001:db8::1]:80", "2001:db8::1"),
            ("http://127.0.0.1.example.com", "127.0.0.1.example.com"),
            ("http://10.0.0.1", "10.0.0.1"),
        ] {
            let e = check_remote(url, None).unwrap_err();
            assert!(e.contains(&format!("--allow-remote {host}")), "{e}");
            assert_eq!(check_remote(url, Some(host)), Ok(()), "{url}");
            let e = check_remote(url, Some("other.example.com")).unwrap_err();
            assert!(
                e.contains("but --allow-remote names other.example.com"),
                "{e}"
            );
        }
        assert_eq!(
            check_remote("http://[2001:db8::1]:80", Some("[2001:db8::1]")),
            Ok(())
        );
        assert!(check_remote("ftp://x", None)
            .unwrap_err()
            .contains("http://"));
    }
}
