//! `fpmlab completions SHELL` and `fpmlab man`: generated from the clap definition of the
//! command line (clap's own companion crates), so they never drift from it.

use clap::CommandFactory;

use super::exit;
use crate::cli::Cli;

/// Prints the completion script of `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> u8 {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, &mut std::io::stdout());
    exit::OK
}

/// Prints the man page on stdout: the main page, then a section per subcommand, so one
/// `fpmlab.1` documents every option.
pub fn man() -> u8 {
    match render_man() {
        Ok(text) => {
            print!("{text}");
            exit::OK
        }
        Err(e) => {
            eprintln!("error: rendering the man page: {e}");
            exit::ERROR
        }
    }
}

fn render_man() -> std::io::Result<String> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let title = format!("fpmlab {}", sub.get_name());
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        // One section per subcommand, in the same page: what it does, synopsis, options.
        let header = format!(".SH \"{}\"\n{}\n", title.to_uppercase(), roff_text(&about));
        out.extend(header.into_bytes());
        let man = clap_mangen::Man::new(sub.clone().name(title));
        man.render_synopsis_section(&mut out)?;
        man.render_options_section(&mut out)?;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Text safe in a roff paragraph: no leading control character, backslashes doubled.
fn roff_text(s: &str) -> String {
    let s = s.replace('\\', "\\\\");
    if s.starts_with(['.', '\'']) {
        format!("\\&{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn man_page_names_every_subcommand() {
        let text = super::render_man().unwrap();
        for sub in ["run", "validate", "report", "compare", "completions", "man"] {
            assert!(text.contains(&format!("fpmlab {sub}")), "{sub} missing");
        }
    }
}
