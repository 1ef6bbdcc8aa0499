//! Teardown: after a normal run, a failing run and a SIGINT mid-run, no nginx or php-fpm
//! process started by the run remains, and run.json is valid (partial where interrupted).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use fpmlab::results::Status;

const SHORT: &str = r#"
[[config]]
name = "s1"
pm = "static"
max_children = 1
[[phase]]
duration = "1s"
pattern = "constant"
rate = 5
[[request]]
path = "/hello.php"
"#;

#[test]
fn normal_run_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = common::run_native(&common::scenario(dir.path(), "short", SHORT), &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = common::load(&out);
    assert_eq!(run.status, Status::Complete);
    assert!(!run.partial);
    assert_eq!(
        run.configs[0].recorded.summary.status_counts.get("200"),
        Some(&5)
    );
    // The rendered configs and the logs stay with the results.
    let cdir = out.join(&run.configs[0].dir);
    assert!(cdir.join("stack/php-fpm.conf").exists() && cdir.join("stack/nginx.conf").exists());
    assert!(cdir.join("logs/nginx-access.log").exists());
    common::assert_torn_down(&out, &run);
}

#[test]
fn failing_run_leaves_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A php-fpm that dies at once: the stack cannot come up.
    let fake = dir.path().join("php-fpm");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'ERROR: simulated failure' >&2\nexit 78\n",
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&fake).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let o = Command::new(common::bin())
        .args([
            "run",
            common::scenario(dir.path(), "short", SHORT)
                .to_str()
                .unwrap(),
            "--stack",
            "native",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("FPMLAB_PHP_FPM", &fake)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let run = common::load(&out);
    assert_eq!(run.status, Status::Failed);
    assert!(run.partial);
    assert_eq!(run.configs[0].status, Status::Failed);
    let err = run.configs[0].error.as_deref().unwrap_or_default();
    assert!(
        err.contains("simulated failure"),
        "the error should quote php-fpm: {err}"
    );
    common::assert_torn_down(&out, &run);
}

#[test]
fn sigint_mid_run_saves_partial_results_and_tears_down() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let long = SHORT.replace("duration = \"1s\"", "duration = \"60s\"");
    let mut child = Command::new(common::bin())
        .args([
            "run",
            common::scenario(dir.path(), "long", &long)
                .to_str()
                .unwrap(),
            "--stack",
            "native",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until load is under way (run.json shows the config running with requests sent).
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run never got going"
        );
        std::thread::sleep(Duration::from_millis(200));
        if let Ok(run) = fpmlab::results::RunResult::load(&out) {
            if run.configs[0].recorded.summary.sent >= 10 {
                break;
            }
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let run = common::load(&out);
    assert_eq!(run.status, Status::Interrupted);
    assert!(run.partial);
    assert_eq!(run.configs[0].status, Status::Interrupted);
    assert!(run.configs[0].recorded.summary.sent >= 10);
    common::assert_torn_down(&out, &run);
}
