//! The docker driver's life cycle against the real engine: bring-your-own app and php-fpm
//! image, teardown after Ctrl-C and SIGKILL, and a clear, quick error without an engine.
//! Without an engine the engine-dependent tests say so loudly and pass.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::docker::{assert_clean, engine, fpmlab, leftovers, repo, status, stderr, tempdir};

/// `stack.app_root` and `stack.fpm_image`: the user's scripts, run by php-fpm from the user's
/// image (here a derived image whose env the script checks), with fpmlab's pool config.
#[test]
fn bring_your_own_app_and_fpm_image() {
    if !engine() {
        return;
    }
    let dir = tempdir();
    let tag = fpmlab::stack::image::image_tag(&repo().join("docker")).unwrap();
    // Builds the base image if this is the first docker test to run.
    let mut log = |l: &str| eprintln!("{l}");
    fpmlab::stack::image::ensure_image(&repo().join("docker"), &mut log).unwrap();
    let byo = format!("fpmlab-test-byo:{}", std::process::id());
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {tag}\nRUN ln -s /usr/sbin/php-fpm8.2 /usr/local/bin/php-fpm\n\
             ENV BYO_MARKER=from-the-image\nLABEL org.fpmlab=1\n"
        ),
    )
    .unwrap();
    let built = Command::new("docker")
        .args(["build", "-q", "-t", &byo])
        .arg(&ctx)
        .output()
        .unwrap();
    assert!(built.status.success(), "docker build: {}", stderr(&built));

    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("byo.php"),
        "<?php\nif (getenv('BYO_MARKER') !== 'from-the-image') { http_response_code(500); }\necho 'byo';\n",
    )
    .unwrap();
    let scenario = |image: &str| {
        format!(
            "[stack]\napp_root = {app:?}\nfpm_image = {image:?}\n[[config]]\nname = \"s2\"\n\
             pm = \"static\"\nmax_children = 2\n[[phase]]\nduration = \"2s\"\n\
             pattern = \"constant\"\nrate = 5\n[[request]]\npath = \"/byo.php\"\n"
        )
    };
    let good = common::scenario(dir.path(), "byo", &scenario(&byo));
    let out = dir.path().join("out");
    let (o, pid) = fpmlab(&good, &out, "docker", &[]);
    let _ = Command::new("docker").args(["rmi", "-f", &byo]).output();
    assert_clean(pid);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = common::load(&out);
    let c = &run.configs[0];
    assert_eq!(
        status(c, "200"),
        c.recorded.summary.scheduled,
        "{:?}",
        c.recorded.summary
    );
    let conf = std::fs::read_to_string(out.join("s2/stack/php-fpm.conf")).unwrap();
    assert!(conf.contains("pm = static") && conf.contains("pm.max_children = 2"));

    // An image that is not there is refused before anything starts, with the fix.
    let missing = common::scenario(dir.path(), "missing", &scenario("fpmlab-no-such:0"));
    let out = dir.path().join("out-missing");
    let (o, pid) = fpmlab(&missing, &out, "docker", &[]);
    assert_clean(pid);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("not in the local image store") && err.contains("docker build"),
        "{err}"
    );
}

/// Ctrl-C mid-run tears the project down through the runner; SIGKILL leaves it to the
/// watchdog process. Either way nothing of the run remains.
#[test]
fn interrupted_and_killed_runs_leave_nothing() {
    if !engine() {
        return;
    }
    let dir = tempdir();
    let scenario = common::scenario(
        dir.path(),
        "long",
        "[[config]]\nname = \"s1\"\npm = \"static\"\nmax_children = 1\n[[phase]]\n\
         duration = \"60s\"\npattern = \"constant\"\nrate = 2\n[[request]]\npath = \"/hello.php\"\n",
    );
    for (signal, expect_code) in [(libc::SIGINT, Some(130)), (libc::SIGKILL, None)] {
        let out = dir.path().join(format!("out-{signal}"));
        let mut child = Command::new(common::bin())
            .args([
                "run",
                scenario.to_str().unwrap(),
                "--stack",
                "docker",
                "--quiet",
                "--out",
            ])
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // Under load: hello.php requests in nginx's access log.
        let access = out.join("s1/logs/nginx-access.log");
        let deadline = Instant::now() + Duration::from_secs(90);
        while std::fs::read_to_string(&access).map_or(0, |t| t.matches("hello.php").count()) < 3 {
            assert!(Instant::now() < deadline, "the load never started");
            assert!(child.try_wait().unwrap().is_none(), "fpmlab exited early");
            std::thread::sleep(Duration::from_millis(200));
        }
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(pid as libc::pid_t, signal) };
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), expect_code, "{}", stderr(&o));
        // The runner's teardown is done when fpmlab exits; the watchdog needs a moment.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !leftovers(pid).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
        }
        assert_clean(pid);
        if signal == libc::SIGINT {
            let run = common::load(&out);
            assert_eq!(run.configs[0].status, fpmlab::results::Status::Interrupted);
            assert!(out.join("s1/logs/docker-php-fpm.log").is_file());
        }
    }
}

/// No engine (a socket that does not exist) or an engine that never answers (a port that
/// accepts and stays silent): `--stack docker` fails at once with the fix; `auto` falls back
/// to native and says why.
#[test]
fn missing_or_silent_engine_fails_fast() {
    let dir = tempdir();
    let quickstart = repo().join("scenarios/quickstart.toml");
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_host = format!("tcp://{}", silent.local_addr().unwrap());
    for (host, expect) in [
        (
            "unix:///nonexistent/docker.sock",
            "docker engine not reachable",
        ),
        (silent_host.as_str(), "did not answer within"),
    ] {
        let started = Instant::now();
        let (o, _) = fpmlab(
            &quickstart,
            &dir.path().join("out"),
            "docker",
            &[("DOCKER_HOST", host)],
        );
        let took = started.elapsed();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{host}: {err}");
        assert!(
            err.contains("--stack docker") && err.contains(expect),
            "{host}: {err}"
        );
        assert!(err.contains("--stack native"), "the fix is named: {err}");
        assert!(took < Duration::from_secs(20), "{host}: took {took:?}");
        assert!(
            !dir.path().join("out").exists(),
            "nothing was started or written"
        );
    }
    // auto: says which driver it chose and why (a missing scenario file ends the run there).
    let mut cmd = Command::new(common::bin());
    cmd.args(["run", "/nonexistent/x.toml", "--stack", "auto"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let o = cmd.output().unwrap();
    let err = stderr(&o);
    assert!(
        err.contains("stack: native (docker engine not reachable"),
        "{err}"
    );
    if engine() {
        let o = Command::new(common::bin())
            .args(["run", "/nonexistent/x.toml", "--stack", "auto"])
            .output()
            .unwrap();
        assert!(
            stderr(&o).contains("stack: docker (engine answered)"),
            "{}",
            stderr(&o)
        );
    }
}
