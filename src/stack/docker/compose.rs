//! Running `docker compose` / `docker-compose` and `docker` with time limits, and the watchdog
//! that takes a compose project down if fpmlab dies without doing it itself.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::stack::process::Watchdog;

/// Lines of a failed command's stderr quoted in its error.
const ERROR_LINES: usize = 12;

/// One compose project: the command (`docker compose` or `docker-compose`), `-p`, `-f` and the
/// environment the compose file reads.
#[derive(Debug, Clone)]
pub struct Compose {
    /// Program and leading arguments, e.g. `["docker", "compose"]`.
    pub argv: Vec<String>,
    /// Project name (`-p`).
    pub project: String,
    /// The compose files (`-f` each): compose.yaml and any override.
    pub files: Vec<PathBuf>,
    /// `FPMLAB_*` variables for the compose file.
    pub env: Vec<(String, String)>,
}

impl Compose {
    /// The full command line for `args`, as a std `Command` with the environment set.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..]).arg("-p").arg(&self.project);
        for file in &self.files {
            cmd.arg("-f").arg(file);
        }
        cmd.args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            // compose would otherwise also read these and mix in other files or projects.
            .env_remove("COMPOSE_FILE")
            .env_remove("COMPOSE_PROJECT_NAME")
            .stdin(Stdio::null());
        cmd
    }

    /// The command as a person would type it, without the subcommand (for messages).
    pub fn text(&self) -> String {
        let mut text = format!("{} -p {}", self.argv.join(" "), self.project);
        for file in &self.files {
            text.push_str(&format!(" -f {}", file.display()));
        }
        text
    }

    /// Runs `compose ARGS`; stdout on success, an error quoting stderr otherwise.
    pub async fn run(&self, args: &[&str], timeout: Duration) -> Result<String> {
        let text = format!("{} {}", self.text(), args.join(" "));
        output(self.command(args), &text, timeout).await
    }

    /// Blocking `compose ARGS` with output discarded, for `Drop`: true when it succeeded.
    pub fn run_blocking(&self, args: &[&str], timeout: Duration) -> bool {
        let mut cmd = self.command(args);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        run_blocking(cmd, timeout)
    }
}

/// Runs `docker ARGS`; stdout on success, an error quoting stderr otherwise.
pub async fn docker(args: &[&str], timeout: Duration) -> Result<String> {
    let mut cmd = std::process::Command::new("docker");
    cmd.args(args).stdin(Stdio::null());
    output(cmd, &format!("docker {}", args.join(" ")), timeout).await
}

async fn output(cmd: std::process::Command, text: &str, timeout: Duration) -> Result<String> {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    let out = match tokio::time::timeout(timeout, cmd.output()).await {
        Ok(out) => out.with_context(|| format!("cannot run `{text}`"))?,
        Err(_) => bail!(
            "`{text}` did not finish within {} s: is the docker engine overloaded or hung? \
             (`docker info` should answer at once)",
            timeout.as_secs()
        ),
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        bail!(
            "`{text}` failed ({}):\n{}",
            out.status,
            lines[lines.len().saturating_sub(ERROR_LINES)..].join("\n")
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run_blocking(mut cmd: std::process::Command, timeout: Duration) -> bool {
    let Ok(mut child) = cmd.spawn() else {
        return false;
    };
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// Takes the project down if fpmlab dies (SIGKILL, a second Ctrl-C, abort) while it runs:
/// the stack's shared watchdog running `compose down`. A clean teardown disarms it first.
/// A failed `down` is tried again every second for a minute: a docker fleet's balancer
/// project cannot remove its network while instances (whose own watchdogs take them down
/// at the same time) are still attached to it.
pub fn watchdog(compose: &Compose) -> Result<Watchdog> {
    let down = compose.command(&["down", "-v", "--remove-orphans", "-t", "1"]);
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(r#"read _; n=0; until "$@"; do n=$((n + 1)); [ $n -ge 60 ] && exit 1; sleep 1; done"#)
        .arg("fpmlab-compose-watchdog")
        .arg(down.get_program())
        .args(down.get_args())
        .envs(compose.env.iter().map(|(k, v)| (k, v)))
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME");
    Watchdog::arm(cmd, "the compose project's watchdog")
}
