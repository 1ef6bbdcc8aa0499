//! The commands: glue between the CLI and the core, and the exit codes.

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, RunArgs, StackArg, ValidateArgs};
use crate::report::table;
use crate::results::Status;
use crate::runner::{self, RunOptions};
use crate::scenario::{self, Driver};

/// Exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    /// A run or a config failed.
    pub const ERROR: u8 = 1;
    /// Bad usage or an invalid scenario: nothing was started.
    pub const INVALID: u8 = 2;
    /// Interrupted by Ctrl-C / SIGTERM (results are partial).
    pub const INTERRUPTED: u8 = 130;
}

/// Entry point behind `main`.
pub fn main(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Run(args) => run(&args),
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
        (StackArg::External, Some(url)) => Ok(Driver::External { url: url.clone() }),
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
    let (mut plan, warnings) = match scenario::load(&args.scenario, driver) {
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
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
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
    if args.json {
        let summary: Vec<_> = result.configs.iter().map(|c| serde_json::json!({"name": c.name, "status": c.status, "error": c.error, "summary": c.recorded.summary, "server": c.server, "generator": c.generator})).collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"run_dir": finished.dir, "status": result.status, "configs": summary})).expect("summary serializes"));
    } else {
        print!("{}", table::render(result));
        println!("\nresults: {}", finished.dir.join("run.json").display());
    }
    for c in &result.configs {
        if let Some(e) = &c.error {
            eprintln!("error: config {}: {e}", c.name);
        }
    }
    match result.status {
        Status::Complete => exit::OK,
        Status::Interrupted => exit::INTERRUPTED,
        _ => exit::ERROR,
    }
}

/// First Ctrl-C or SIGTERM: stop the load, record what ran, tear down. A second one exits at
/// once (the stack's processes die with fpmlab through PDEATHSIG).
async fn watch_signals(cancel: CancellationToken, quiet: bool) {
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
