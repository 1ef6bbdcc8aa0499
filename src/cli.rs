//! Command-line interface (clap derive). No logic here: see `app.rs`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "fpmlab",
    version,
    about = "Reproduce php-fpm saturation incidents on a real nginx + php-fpm stack and compare pm configs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario against each of its pool configs and print the comparison table.
    Run(RunArgs),
    /// Check scenario files without running anything.
    Validate(ValidateArgs),
}

/// Which stack to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StackArg {
    /// Docker when an engine answers, the native binaries otherwise.
    Auto,
    /// nginx and php-fpm from the distribution's packages, as child processes.
    Native,
    /// The compose stack under docker/.
    Docker,
    /// A stack you run yourself (needs --target).
    External,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Stack driver.
    #[arg(long, value_enum, default_value_t = StackArg::Auto)]
    pub stack: StackArg,
    /// Base URL of an external stack, e.g. http://127.0.0.1:8080 (with --stack external).
    #[arg(long)]
    pub target: Option<String>,
    /// Run directory (default: results/<scenario>/<timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only these configs (by name; repeatable).
    #[arg(long = "config", value_name = "NAME")]
    pub configs: Vec<String>,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the summary as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario files.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Print the resolved plan (every default filled in) as JSON.
    #[arg(long)]
    pub print: bool,
}
