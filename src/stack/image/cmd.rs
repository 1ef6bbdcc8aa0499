//! Running the docker CLI and build scripts with a time limit, so that no call can hang.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Lines of a command's output kept for an error message.
const ERROR_TAIL: usize = 15;

/// Output of a finished command.
pub(super) struct Captured {
    pub status: ExitStatus,
    pub stderr: Vec<u8>,
}

/// Runs `cmd` with stdout discarded and stderr captured; `Ok(None)` if it was still running
/// after `timeout` (it is then killed).
pub(super) fn run_captured(
    mut cmd: Command,
    timeout: Duration,
) -> std::io::Result<Option<Captured>> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut pipe = child.stderr.take().expect("stderr is piped");
    let reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            let stderr = reader.join().unwrap_or_default();
            return Ok(Some(Captured { status, stderr }));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// How a streamed command ended, with the last lines it printed.
pub(super) struct Streamed {
    /// `None`: killed after the time limit.
    pub status: Option<ExitStatus>,
    /// The last lines it printed.
    pub tail: Vec<String>,
    timeout: Duration,
}

impl Streamed {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
    pub fn status_text(&self) -> String {
        match self.status {
            Some(s) => s.to_string(),
            None => format!("timed out after {} s", self.timeout.as_secs()),
        }
    }
    pub fn tail_text(&self) -> String {
        self.tail.join("\n")
    }
}

/// Runs `cmd` in its own process group, handing each line of stdout and stderr to `on_line` as
/// it comes. After `timeout` the whole group gets SIGTERM (build-image.sh then removes its temp
/// dir), and SIGKILL 10 s later.
pub(super) fn run_streamed(
    mut cmd: Command,
    timeout: Duration,
    on_line: &mut dyn FnMut(&str),
) -> Result<Streamed> {
    let program = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let (tx, rx) = mpsc::channel::<String>();
    let out = child.stdout.take().expect("stdout is piped");
    let err = child.stderr.take().expect("stderr is piped");
    let readers = [forward_lines(out, tx.clone()), forward_lines(err, tx)];

    let pgid = child.id() as libc::pid_t;
    let deadline = Instant::now() + timeout;
    let mut tail: Vec<String> = Vec::new();
    let mut termed_at: Option<Instant> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                on_line(&line);
                if tail.len() == ERROR_TAIL {
                    tail.remove(0);
                }
                tail.push(line);
            }
            // Both pipes closed: the command (and whatever inherited them) is done.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        match termed_at {
            None if now >= deadline => {
                // SAFETY: kill(2) on the group this function created; no memory is involved.
                unsafe { libc::kill(-pgid, libc::SIGTERM) };
                termed_at = Some(now);
            }
            Some(t) if now >= t + Duration::from_secs(10) => {
                // SAFETY: as above.
                unsafe { libc::kill(-pgid, libc::SIGKILL) };
            }
            _ => {}
        }
    }
    for r in readers {
        let _ = r.join();
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for {program}"))?;
    Ok(Streamed {
        status: if termed_at.is_some() {
            None
        } else {
            Some(status)
        },
        tail,
        timeout,
    })
}

fn forward_lines<R: Read + Send + 'static>(
    pipe: R,
    tx: mpsc::Sender<String>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_command_reports_lines_and_times_out() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo one; echo two >&2; exit 3"]);
        let mut lines = Vec::new();
        let done = run_streamed(cmd, Duration::from_secs(10), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        lines.sort();
        assert_eq!(lines, ["one", "two"]);
        assert_eq!(done.status.and_then(|s| s.code()), Some(3));

        // The group is killed, including the grandchild holding the pipes.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30"]);
        let started = Instant::now();
        let done = run_streamed(cmd, Duration::from_millis(300), &mut |_| {}).unwrap();
        assert!(done.status.is_none() && !done.success());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
