//! `fpmlab tune`: flags and scenario checked before anything starts, then the tune.

use tokio_util::sync::CancellationToken;

use super::{exit, watch_signals};
use crate::cli::{StackArg, TuneArgs};
use crate::scenario::{self, Driver};

pub(super) fn tune(args: &TuneArgs) -> u8 {
    let driver = match args.stack {
        StackArg::External => {
            eprintln!("error: --stack external: tune starts and stops its own stacks; use --stack native or docker");
            return exit::INVALID;
        }
        StackArg::Native => Driver::Native,
        StackArg::Docker => Driver::Docker,
        StackArg::Auto => crate::stack::auto_driver().0,
    };
    let (plan, mut warnings) = match scenario::load(&args.scenario, driver) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    let flags = crate::tune::objective::Flags {
        p99: args.p99.clone(),
        max_errors: args.max_errors.clone(),
        memory: args.memory.clone(),
        memory_reserve: args.memory_reserve.clone(),
        max_time: args.max_time.clone(),
    };
    let section = crate::tune::objective::section(&args.scenario);
    let host_mib = crate::results::Environment::detect().memory_mib;
    let settings = match crate::tune::objective::settings(&flags, section.as_ref(), &plan, host_mib)
    {
        Ok(s) => s,
        Err(problems) => {
            eprintln!(
                "error: cannot tune {} ({} problem{}):",
                args.scenario.display(),
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            );
            for (field, message) in problems {
                eprintln!("  - {field}: {message}");
            }
            return exit::INVALID;
        }
    };
    match crate::stack::preflight::check(&plan.driver, &plan.stack) {
        Ok(w) => warnings.extend(w),
        Err(e) => {
            eprintln!("error: {e:#}");
            return exit::INVALID;
        }
    }
    let rt = match super::load_runtime(plan.load.cpuset.as_deref()) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let opts = crate::tune::TuneOptions {
        scenario_file: args.scenario.clone(),
        out: args.out.clone(),
        quiet: args.quiet,
        settings,
    };
    let cancel = CancellationToken::new();
    let done = rt.block_on(async {
        tokio::spawn(watch_signals(cancel.clone(), args.quiet));
        crate::tune::tune(plan, warnings, &opts, cancel.clone()).await
    });
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match done {
        Ok((dir, result)) => {
            print!("{}", crate::tune::output::render(&result));
            println!("results: {}", dir.join("tune.json").display());
            if result.recommendation.is_some() {
                println!("pool snippet: {}", dir.join("pool.conf").display());
            }
            if cancel.is_cancelled() {
                exit::INTERRUPTED
            } else if result.recommendation.is_some() {
                exit::OK
            } else {
                exit::ERROR
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::ERROR
        }
    }
}
