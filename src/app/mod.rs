//! The commands: glue between the CLI and the core, and the exit codes.

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

mod docs;
mod remote;
mod validate;

use remote::check_remote;

use crate::cli::{
    Cli, Command, CompareArgs, CompareFormat, ExportArgs, ReportArgs, RunArgs, StackArg,
};
use crate::report::{export, table};
use crate::results::{RunResult, Status};
use crate::runner::{self, RunOptions};
use crate::scenario::{self, Driver};

mod tls;
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
        Command::Validate(args) => validate::validate(&args),
        Command::Run(args) => run(&args),
        Command::Report(args) => report(&args),
        Command::Compare(args) => compare(&args),
        Command::Completions(args) => docs::completions(args.shell),
        Command::Man => docs::man(),
        Command::Tune(args) => tune_cmd::tune(&args),
    };
    ExitCode::from(code)
}

fn resolve_driver(args: &RunArgs) -> Result<Driver, String> {
    driver_for(
        args.stack,
        args.target.as_deref(),
        args.allow_remote.as_deref(),
        args.ca_file.as_deref(),
        args.insecure_tls,
        args.quiet,
    )
}

/// The driver `--stack` (with `--target`, `--allow-remote` and the TLS flags) names; what
/// `run` refuses before starting anything, and `validate --stack` with it.
pub(crate) fn driver_for(
    stack: StackArg,
    target: Option<&str>,
    allow_remote: Option<&str>,
    ca_file: Option<&std::path::Path>,
    insecure_tls: bool,
    quiet: bool,
) -> Result<Driver, String> {
    match (stack, target) {
        (StackArg::External, Some(url)) => {
            check_remote(url, allow_remote)?;
            let tls = tls::verify_setting(url, ca_file, insecure_tls)?;
            Ok(Driver::External {
                url: url.into(),
                tls,
            })
        }
        (_, None) if ca_file.is_some() || insecure_tls => Err(
            "--ca-file and --insecure-tls go with an https:// target: --stack external --target \
             https://host:port"
                .into(),
        ),
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
            if !quiet {
                eprintln!("stack: {name} ({why})");
            }
            Ok(driver)
        }
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
    // A scenario with [tune] may leave the pools to the tune.
    if plan.configs.is_empty() {
        eprintln!("error: {}: config: no [[config]] to run (the scenario leaves the pools to [tune]): run fpmlab tune {0}, or add a [[config]]", args.scenario.display());
        return exit::INVALID;
    }
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
    if let Some(w) = tls::insecure_warning(&plan.driver) {
        warnings.push(w);
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
    let metrics_listen = match args
        .metrics_listen
        .as_deref()
        .map(runner::live::parse_listen)
    {
        None => None,
        Some(Ok(addr)) => Some(addr),
        Some(Err(e)) => {
            eprintln!("error: {e:#}");
            return exit::INVALID;
        }
    };
    if let Some(Err(e)) = args
        .request_log
        .as_deref()
        .map(crate::record::request_log::Format::of)
    {
        eprintln!("error: {e:#}");
        return exit::INVALID;
    }
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
    let rt = match load_runtime(plan.load.cpuset.as_deref()) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    // A certificate problem refuses the run now, explained, rather than failing every request.
    if let Err(e) = rt.block_on(tls::check_target(&plan.driver)) {
        eprintln!("error: {e}");
        return exit::INVALID;
    }
    let opts = RunOptions {
        scenario_file: args.scenario.clone(),
        out: args.out.clone(),
        quiet: args.quiet,
        request_log: args.request_log.clone(),
        metrics_listen,
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
    print_summary(result, args.per_kind, &say);
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
    print_thresholds(result, &say);
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

/// The terminal summary of a run: the table, the reading lines, cut by, health and errors
/// (and the per-kind table if asked). `run` prints it at the end, `report` again.
fn print_summary(result: &RunResult, per_kind: bool, say: &dyn Fn(&str)) {
    say(table::render(result).trim_end());
    if per_kind {
        say(&format!(
            "\nper request kind:\n{}",
            table::render_per_kind(result)
        ));
    }
}

/// The thresholds' verdicts, one line each (nothing without thresholds).
fn print_thresholds(result: &RunResult, say: &dyn Fn(&str)) {
    if !result.thresholds.is_empty() {
        say("\nthresholds:");
        for v in &result.thresholds {
            say(&format!("  {}", v.line()));
        }
    }
}

/// The HTML report (if `html` is given) and the exports the options ask for.
fn export_requests(html: Option<std::path::PathBuf>, e: &ExportArgs) -> export::Requests {
    let mut requests = crate::report::requests(
        html,
        e.export_markdown.clone(),
        e.export_csv.clone(),
        e.export_json.clone(),
    );
    if let Some(p) = &e.export_prom {
        requests.push((Box::new(export::prometheus::PromExporter), p.clone()));
    }
    requests
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
    print_summary(&run, args.per_kind, &say);
    if run.partial {
        say(&format!(
            "\n(run.json says the run is {}: the figures cover what ran)",
            format!("{:?}", run.status).to_lowercase()
        ));
    }
    let written = write_exports(&run, &requests, &say);
    print_thresholds(&run, &say);
    if written {
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

/// The process pinned to `load.cpuset` (if set) and the async runtime for a run, every thread
/// but the load thread yielding to it (see affinity::yield_to_the_load). Err: the exit code,
/// the error printed.
pub(crate) fn load_runtime(cpuset: Option<&[usize]>) -> Result<tokio::runtime::Runtime, u8> {
    if let Some(set) = cpuset {
        if let Err(e) = crate::affinity::pin_current_process(set) {
            eprintln!("error: load.cpuset: {e}");
            return Err(exit::ERROR);
        }
    }
    crate::affinity::yield_to_the_load();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(|| {
            crate::affinity::yield_to_the_load();
        })
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            exit::ERROR
        })
}
