use clap::Parser;

fn main() -> std::process::ExitCode {
    fpmlab::app::main(fpmlab::cli::Cli::parse())
}
