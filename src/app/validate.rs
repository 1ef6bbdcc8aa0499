//! `fpmlab validate`: the scenario's own rules, and with `--stack` what `run --stack` would
//! refuse for that driver on this machine. `--print` makes stdout the plan alone (JSON), so
//! it pipes; every message then goes to stderr.

use super::{driver_for, exit};
use crate::cli::{StackArg, ValidateArgs};
use crate::scenario::{self, Driver};

pub fn validate(args: &ValidateArgs) -> u8 {
    // Refusals of the command line itself come first: nothing else is worth checking.
    let driver = match args.stack {
        None if args.target.is_some() => {
            eprintln!("error: --target goes with --stack external");
            return exit::INVALID;
        }
        None => None,
        Some(stack) => match driver_for(
            stack,
            args.target.as_deref(),
            args.allow_remote.as_deref(),
            None,
            false,
            false,
        ) {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::INVALID;
            }
        },
    };
    // What --stack docker needs of this machine, as `run` checks it.
    if driver == Some(Driver::Docker) && args.stack == Some(StackArg::Docker) {
        if let Err(e) = crate::stack::docker::preflight() {
            eprintln!("error: --stack docker: {e:#}");
            return exit::INVALID;
        }
    }
    // --print owns stdout: the plans only, one JSON document per file.
    let say = |text: &str| {
        if args.print {
            eprintln!("{text}")
        } else {
            println!("{text}")
        }
    };
    let mut code = exit::OK;
    for path in &args.scenarios {
        let checked = driver.clone().unwrap_or(Driver::Native);
        let (plan, mut warnings) = match scenario::load(path, checked) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                code = exit::INVALID;
                continue;
            }
        };
        if let Some(d) = &driver {
            match crate::stack::preflight::check(d, &plan.stack) {
                Ok(w) => warnings.extend(w),
                Err(e) => {
                    eprintln!("error: {}: {e:#}", path.display());
                    code = exit::INVALID;
                    continue;
                }
            }
        }
        // [tune]: refused here as `fpmlab tune` would refuse it, before anything starts.
        if let Some(section) = crate::tune::objective::section(path) {
            let host_mib = crate::results::Environment::detect().memory_mib;
            let (problems, w) = crate::tune::objective::check_section(&section, &plan, host_mib);
            if !problems.is_empty() {
                for (field, message) in problems {
                    eprintln!("error: {}: {field}: {message}", path.display());
                }
                code = exit::INVALID;
                continue;
            }
            warnings.extend(w);
        }
        let stack = driver.as_ref().map_or(String::new(), |d| {
            let name = match d {
                Driver::Native => "native",
                Driver::Docker => "docker",
                Driver::External { .. } => "external",
            };
            format!(", --stack {name}")
        });
        say(&format!(
            "{}: ok ({} configs, {} phases, {} request kinds{stack})",
            path.display(),
            plan.configs.len(),
            plan.phases.len(),
            plan.requests.len()
        ));
        for w in warnings {
            say(&format!("  warning: {w}"));
        }
        if args.print {
            println!(
                "{}",
                serde_json::to_string_pretty(&plan).expect("plan serializes")
            );
        }
    }
    code
}
