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
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Asserts exit 0 and that nothing was left behind.
    let ran = common::run_text_end_to_end(dir.path(), "short", SHORT);
    let (run, out) = (&ran.run, &ran.out);
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
}

#[test]
fn failing_run_leaves_nothing_and_says_why() {
    if !common::native_stack() {
        return;
    }
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
    // Exit 1, and nothing left behind.
    let run = common::finish(o, &out, Some(1)).run;
    assert_eq!(run.status, Status::Failed);
    assert!(run.partial);
    assert_eq!(run.configs[0].status, Status::Failed);
    let err = run.configs[0].error.as_deref().unwrap_or_default();
    assert!(
        err.contains("simulated failure"),
        "the error should quote php-fpm: {err}"
    );
}

#[test]
fn sigint_mid_run_saves_partial_results_and_tears_down() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let long = SHORT.replace("duration = \"1s\"", "duration = \"60s\"");
    let mut child = common::spawn_native(&common::scenario(dir.path(), "long", &long), &out);
    // Wait until load is under way (run.json, rewritten every 5 s during the load, shows
    // requests sent). The phase lasts 60 s: waiting up to 50 s still interrupts it.
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(50),
            "the run never got going"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "fpmlab ended before the interrupt"
        );
        std::thread::sleep(Duration::from_millis(200));
        if let Ok(run) = fpmlab::results::RunResult::load(&out) {
            if run.configs[0].recorded.summary.sent >= 10 {
                break;
            }
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    // Exit 130, partial results saved, and nothing left behind.
    let run = common::finish(child.wait_with_output().unwrap(), &out, Some(130)).run;
    assert_eq!(run.status, Status::Interrupted);
    assert!(run.partial);
    assert_eq!(run.configs[0].status, Status::Interrupted);
    assert!(run.configs[0].recorded.summary.sent >= 10);
}
