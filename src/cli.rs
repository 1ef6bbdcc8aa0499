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
    /// Measure the scenario's traffic on a few pools chosen by a queueing model and recommend
    /// the pool that meets the objective (writes tune.json and pool.conf).
    Tune(TuneArgs),
    /// Render a run's report.html (and any exports) from its run.json.
    Report(ReportArgs),
    /// Compare two runs of the same scenario, metric by metric; --fail-if rules give CI its
    /// exit code (3 when one fires).
    Compare(CompareArgs),
    /// Print a shell completion script, generated from this command line's definition
    /// (e.g. `fpmlab completions bash > /etc/bash_completion.d/fpmlab`).
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from this command line's definition
    /// (e.g. `fpmlab man > /usr/local/share/man/man1/fpmlab.1`).
    Man,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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
    /// Allow --target to name HOST, a host outside the loopback range (127.0.0.0/8, ::1,
    /// localhost): load tests against another machine are deliberate, never a typo.
    #[arg(long, value_name = "HOST")]
    pub allow_remote: Option<String>,
    /// Verify an https:// --target against the CA certificates in this PEM file instead of
    /// the system's store: a staging CA, or the staging server's self-signed certificate.
    #[arg(long, value_name = "PATH", conflicts_with = "insecure_tls")]
    pub ca_file: Option<PathBuf>,
    /// Do not verify an https:// --target's certificate (self-signed, expired, issued for
    /// another name): for a staging server only. The run warns and run.json records it.
    #[arg(long)]
    pub insecure_tls: bool,
    /// Run directory (default: results/<scenario>/<timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only these configs (by name; repeatable).
    #[arg(long = "config", value_name = "NAME")]
    pub configs: Vec<String>,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also print one row per config, phase and request kind under the table.
    #[arg(long)]
    pub per_kind: bool,
    /// Do not write report.html into the run directory.
    #[arg(long)]
    pub no_report: bool,
    /// Write one line per finished request to FILE (.csv or .jsonl), as the run goes: id,
    /// kind, phase, intended/sent/done µs, status or failure, queue wait, service, pid.
    #[arg(long, value_name = "FILE")]
    pub request_log: Option<PathBuf>,
    /// Serve the live pool figures and histograms for Prometheus at
    /// http://ADDR/metrics while the run goes on (loopback only, e.g. 127.0.0.1:9477).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    #[command(flatten)]
    pub exports: ExportArgs,
}

/// Exports, on `run` and `report`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ExportArgs {
    /// Write the results as Markdown, fit for a pull request, to FILE (- for stdout).
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,
    /// Write CSV: the summary (per config and phase, a column per metric) to FILE and the
    /// per-second timeline to FILE-timeline (out.csv -> out-timeline.csv).
    #[arg(long, value_name = "FILE")]
    pub export_csv: Option<PathBuf>,
    /// Write the JSON summary (every metric per config and phase, thresholds) to FILE;
    /// `-` prints it on stdout (the table and messages then go to stderr).
    #[arg(long, value_name = "FILE")]
    pub export_json: Option<PathBuf>,
    /// Write the Prometheus text format to FILE (- for stdout): php-fpm_exporter's pool
    /// figures (last sample) and fpmlab's latency, queue wait and service histograms.
    #[arg(long, value_name = "FILE")]
    pub export_prom: Option<PathBuf>,
}

impl ExportArgs {
    /// True if an export writes to stdout.
    pub fn uses_stdout(&self) -> bool {
        [
            &self.export_markdown,
            &self.export_csv,
            &self.export_json,
            &self.export_prom,
        ]
        .iter()
        .any(|p| p.as_deref() == Some(std::path::Path::new("-")))
    }
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run directory or its run.json.
    pub run: PathBuf,
    /// Where to write the HTML report (default: report.html beside run.json).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only the exports: no HTML report.
    #[arg(long, conflicts_with = "out")]
    pub no_html: bool,
    /// Print one row per config, phase and request kind.
    #[arg(long)]
    pub per_kind: bool,
    #[command(flatten)]
    pub exports: ExportArgs,
}

/// Output format of `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Table,
    Markdown,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The baseline: a run directory or a run.json.
    pub baseline: PathBuf,
    /// The candidate: a run directory or a run.json.
    pub candidate: PathBuf,
    /// A regression rule, e.g. 'latency_p99>+10%', 'error_rate>+0.01', 'queue_wait_p99>+50ms',
    /// 'achieved_rps<-5%' (repeatable). Exit code 3 when one fires.
    #[arg(long = "fail-if", value_name = "RULE")]
    pub fail_if: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
    /// Metrics to show (repeatable; default: latency p50/p90/p99/max, queue wait and service
    /// p99, error rate, throughput, client failures, listen queue).
    #[arg(long = "metric", value_name = "NAME")]
    pub metrics: Vec<String>,
    /// Compare one phase instead of the whole run.
    #[arg(long, value_name = "NAME")]
    pub phase: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct TuneArgs {
    /// The scenario file (TOML): its phases are the traffic to hold, its app, stack and
    /// limits the machine; its [[config]]s are ignored.
    pub scenario: PathBuf,
    /// Objective: p99 latency at most this, e.g. 800ms (or p99 under [tune]).
    #[arg(long)]
    pub p99: Option<String>,
    /// Objective: at most this share of failed requests, e.g. 0.1% (default 0.1%).
    #[arg(long)]
    pub max_errors: Option<String>,
    /// Memory budget for the pool's workers, e.g. 2GiB (default: stack.memory, else the
    /// host's memory less 1 GiB).
    #[arg(long, conflicts_with = "memory_reserve")]
    pub memory: Option<String>,
    /// Budget = the host's memory less this, e.g. 512MiB.
    #[arg(long)]
    pub memory_reserve: Option<String>,
    /// Cap on the whole tune, e.g. 5m (default 5m).
    #[arg(long)]
    pub max_time: Option<String>,
    /// Stack driver.
    #[arg(long, value_enum, default_value_t = StackArg::Auto)]
    pub stack: StackArg,
    /// Tune directory (default: results/<scenario>/tune-<timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario files.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Print only the resolved plan (every default filled in) as JSON on stdout, for a pipe;
    /// messages and warnings go to stderr.
    #[arg(long)]
    pub print: bool,
    /// Also check what `run --stack STACK` would refuse: the driver's own rules, and what it
    /// needs of this machine (native: app.packages installed; docker: an engine). Without
    /// it, the scenario's own rules only.
    #[arg(long, value_enum)]
    pub stack: Option<StackArg>,
    /// Base URL of an external stack (with --stack external), checked as `run` checks it.
    #[arg(long)]
    pub target: Option<String>,
    /// As `run --allow-remote HOST`.
    #[arg(long, value_name = "HOST")]
    pub allow_remote: Option<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
