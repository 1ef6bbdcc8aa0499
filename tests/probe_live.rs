//! End to end: `run_sampler` against a real php-fpm + nginx pair started in a temp dir, with
//! more slow requests than workers so the unix socket's accept queue fills. Takes ~3 s;
//! skipped, loudly, where nginx or php-fpm is missing (a failure under CI=true).

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use fpmlab::clock::RunClock;
use fpmlab::probe::{run_sampler, summarize};
use fpmlab::stack::{Endpoints, FpmListen};
use tokio_util::sync::CancellationToken;

/// Stops a daemon gracefully (QUIT removes its socket and pid files) and reaps it.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGQUIT) };
        for _ in 0..50 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn write_configs(d: &Path, port: u16) {
    for sub in ["logs", "run", "temp", "www"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let d = d.display();
    std::fs::write(
        format!("{d}/php-fpm.conf"),
        format!(
            "[global]\nerror_log = {d}/logs/php-fpm.log\ndaemonize = no\n\
             [www]\nlisten = {d}/run/www.sock\nlisten.mode = 0666\nlisten.backlog = 50\n\
             pm = static\npm.max_children = 2\npm.status_path = /fpm-status\n\
             pm.status_listen = {d}/run/fpm-status.sock\n"
        ),
    )
    .unwrap();
    let fastcgi = "include /etc/nginx/fastcgi_params;";
    std::fs::write(
        format!("{d}/nginx.conf"),
        format!(
            "daemon off;\nuser root;\npid {d}/run/nginx.pid;\nerror_log {d}/logs/nginx-error.log;\n\
             events {{ worker_connections 128; }}\nhttp {{ access_log off;\n\
             client_body_temp_path {d}/temp/body; fastcgi_temp_path {d}/temp/fastcgi;\n\
             proxy_temp_path {d}/temp/proxy; scgi_temp_path {d}/temp/scgi; uwsgi_temp_path {d}/temp/uwsgi;\n\
             server {{ listen 127.0.0.1:{port}; root {d}/www;\n\
             location = /fpm-status {{ {fastcgi} fastcgi_param SCRIPT_FILENAME $uri; fastcgi_param SCRIPT_NAME $uri; fastcgi_pass unix:{d}/run/fpm-status.sock; }}\n\
             location ~ \\.php$ {{ {fastcgi} fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name; fastcgi_pass unix:{d}/run/www.sock; }}\n\
             }} }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        format!("{d}/www/sleep.php"),
        "<?php usleep((int)($_GET['ms'] ?? 0) * 1000); echo \"ok\\n\";\n",
    )
    .unwrap();
}

async fn wait_ready(client: &reqwest::Client, url: &str) {
    // Generous: a busy machine may take seconds to start php-fpm.
    for _ in 0..600 {
        if client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("stack not ready: {url}");
}

/// A port free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn sampler_sees_queue_workers_and_memory() {
    if !common::native_stack() {
        return;
    }
    let bins = fpmlab::stack::Binaries::discover().unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let dir = tempfile::tempdir().unwrap();
    // As root, nginx and fpm workers run as other users and need x on the socket's dirs.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .unwrap();
    let d = dir.path();
    let port = free_port();
    write_configs(d, port);
    let mut fpm = Command::new(&bins.php_fpm);
    fpm.args(["-F", "-n", "-y"]).arg(d.join("php-fpm.conf"));
    if root {
        fpm.arg("-R");
    }
    let fpm = Daemon(fpm.spawn().expect("php-fpm"));
    let _nginx = Daemon(
        Command::new(&bins.nginx)
            .arg("-p")
            .arg(d)
            .arg("-e")
            .arg(d.join("logs/nginx-error.log"))
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .spawn()
            .expect("nginx"),
    );
    let base_url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    wait_ready(&client, &format!("{base_url}/fpm-status")).await;

    let endpoints = Endpoints {
        base_url: base_url.clone(),
        nginx_health_path: "/".into(),
        fpm_ping_path: "/fpm-ping".into(),
        fpm_status_path: "/fpm-status".into(),
        app_health_path: "/sleep.php".into(),
        fpm_master_pid: Some(fpm.0.id()),
        fpm_listen: Some(FpmListen::Unix {
            path: d.join("run/www.sock"),
        }),
        containers: Vec::new(),
        tls: Default::default(),
    };
    let cancel = CancellationToken::new();
    // The run's own interval: its status-page timeout (0.8 of it) leaves a busy machine
    // time to answer.
    let every = Duration::from_millis(250);
    let sampler = tokio::spawn(run_sampler(
        endpoints,
        RunClock::new(),
        every,
        cancel.clone(),
    ));
    // 6 requests of 1.2 s for 2 workers: 2 run, 4 wait in the socket's accept queue.
    let load: Vec<_> = (0..6)
        .map(|_| {
            let (client, url) = (client.clone(), format!("{base_url}/sleep.php?ms=1200"));
            tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    cancel.cancel();
    let samples = sampler.await.unwrap();
    for l in load {
        l.abort();
    }

    let json = serde_json::to_string_pretty(&samples[samples.len() / 2]).unwrap();
    eprintln!("{} samples; a middle one:\n{json}", samples.len());
    // Ticks at 0, 250, …, 1000 ms: never more than five; a busy machine may lose one
    // (a sample in flight at the end is dropped), but the test needs two.
    assert!((2..=5).contains(&samples.len()), "{}", samples.len());
    assert!(samples.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
    for s in &samples {
        // The local pieces never wait on php-fpm: 2 www workers + the status pool's
        // workers, all with memory, in every sample. php-fpm runs `pm.status_listen` as an
        // ondemand pool of up to 2 workers: a status request still in flight when the next
        // tick asks (a busy machine) forks the second one.
        assert!((3..=4).contains(&s.workers.len()), "{:?}", s.workers);
        assert!(s.workers.iter().all(|w| w.pss_kib.is_some_and(|k| k > 0)));
        // The status page is the one piece that can miss its timeout; then the sample
        // says so.
        assert_eq!(s.fpm.is_none(), !s.errors.is_empty(), "{:?}", s.errors);
        assert!(
            s.errors.iter().all(|e| e.contains("fpm status")),
            "{:?}",
            s.errors
        );
        if let Some(fpm) = &s.fpm {
            assert_eq!(
                (fpm.listen_queue, fpm.listen_queue_len),
                (0, 0),
                "unix: fpm is blind"
            );
        }
    }
    // A worker's CPU share needs its previous reading: every worker already seen in the
    // sample before has one (a status worker forked in between has none yet).
    for pair in samples.windows(2) {
        let seen: Vec<u32> = pair[0].workers.iter().map(|w| w.pid).collect();
        assert!(
            pair[1]
                .workers
                .iter()
                .filter(|w| seen.contains(&w.pid))
                .all(|w| w.cpu_pct.is_some()),
            "{:?}",
            pair[1].workers
        );
    }
    // The last answer of the status page (before the first request's 1.2 s are up): both
    // workers busy.
    let last = samples
        .iter()
        .rev()
        .find(|s| s.fpm.is_some())
        .expect("the status page never answered");
    let running = last
        .workers
        .iter()
        .filter(|w| w.state.as_deref() == Some("Running"));
    assert_eq!(running.count(), 2, "{:?}", last.workers);
    let summary = summarize(&samples);
    eprintln!("{}", serde_json::to_string_pretty(&summary).unwrap());
    // 4 wait for good; a sample taken before a worker's accept() on a busy machine sees
    // its request queued too.
    assert!(
        matches!(summary.max_accept_queue, Some(4..=6)),
        "{:?}",
        summary.max_accept_queue
    );
    assert_eq!(summary.listen_backlog, Some(50));
    assert_eq!(summary.peak_active_workers, Some(2));
    let failed = samples.iter().filter(|s| !s.errors.is_empty()).count();
    assert_eq!(summary.failed_samples as usize, failed);
}
