//! The command line's companions, generated from its definition: shell completions and the
//! man page, each naming every subcommand.

use std::process::Command;

fn fpmlab(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fpmlab"))
        .args(args)
        .output()
        .expect("run fpmlab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const SUBCOMMANDS: [&str; 6] = ["run", "validate", "report", "compare", "completions", "man"];

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, text) = fpmlab(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(text.len() > 500, "{shell}: {text}");
        for sub in SUBCOMMANDS {
            assert!(text.contains(sub), "{shell}: {sub} missing");
        }
        // Options of the subcommands too, not just their names.
        assert!(text.contains("export-markdown"), "{shell}");
    }
    let (code, _) = fpmlab(&["completions", "tcsh"]);
    assert_eq!(code, 2, "an unknown shell is a usage error");
}

#[test]
fn bash_completion_script_is_valid_bash() {
    let (_, text) = fpmlab(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fpmlab.bash");
    std::fs::write(&path, text).unwrap();
    let ok = Command::new("bash").arg("-n").arg(&path).status().unwrap();
    assert!(ok.success(), "bash -n refuses the script");
}

#[test]
fn man_page_documents_every_subcommand() {
    let (code, text) = fpmlab(&["man"]);
    assert_eq!(code, 0);
    assert!(
        text.starts_with(".ie") || text.contains(".TH fpmlab"),
        "{}",
        &text[..200.min(text.len())]
    );
    for sub in SUBCOMMANDS {
        let header = format!(".SH \"FPMLAB {}\"", sub.to_uppercase());
        assert!(text.contains(&header), "{header} missing");
    }
    assert!(text.contains("export\\-markdown"), "options are documented");
}
