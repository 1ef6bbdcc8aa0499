//! The sampler loop with this test process standing in for php-fpm's master: a real
//! listener with queued connections, a real child process, and no status page (port 1 is
//! closed), so the status piece fails while the others are still recorded.

use super::*;
use crate::stack::FpmListen;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;

fn endpoints(master: Option<u32>, port: u16) -> Endpoints {
    Endpoints {
        base_url: "http://127.0.0.1:1".into(),
        nginx_health_path: "/".into(),
        fpm_ping_path: "/fpm-ping".into(),
        fpm_status_path: "/fpm-status".into(),
        app_health_path: "/".into(),
        fpm_master_pid: master,
        fpm_listen: Some(FpmListen::Tcp { port }),
        containers: Vec::new(),
        tls: Default::default(),
    }
}

async fn run_for(endpoints: Endpoints, millis: u64) -> Vec<Sample> {
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_sampler(
        endpoints,
        RunClock::new(),
        Duration::from_millis(50),
        cancel.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(millis)).await;
    cancel.cancel();
    task.await.unwrap()
}

#[tokio::test]
async fn failed_piece_does_not_lose_the_others() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: valid listening socket; re-listen sets a small backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 5) }, 0);
    let port = listener.local_addr().unwrap().port();
    let _queued: Vec<_> = (0..2)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let mut child = Command::new("sleep").arg("5").spawn().unwrap();

    let samples = run_for(endpoints(Some(std::process::id()), port), 500).await;
    child.kill().ok();
    child.wait().ok();

    // Ticks every 50 ms from 0 for 500 ms: at most 11 samples (one at the very end); a busy
    // machine may delay some, but the test needs two.
    assert!((2..=11).contains(&samples.len()), "{}", samples.len());
    assert!(samples.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
    for s in &samples {
        assert!(s.fpm.is_none());
        assert!(
            s.errors.len() == 1 && s.errors[0].contains("fpm status"),
            "{:?}",
            s.errors
        );
        let q = s.accept_queue.unwrap();
        assert_eq!((q.queued, q.backlog), (2, Some(5)));
        let w = s
            .workers
            .iter()
            .find(|w| w.pid == child.id())
            .expect("child listed");
        assert!(w.pss_kib.is_some() && w.state.is_none());
    }
    let later = samples[1]
        .workers
        .iter()
        .find(|w| w.pid == child.id())
        .unwrap();
    assert!(
        later.cpu_pct.is_some_and(|c| c < 50.0),
        "sleep is idle: {later:?}"
    );
    let summary = summarize(&samples);
    assert_eq!(summary.failed_samples, summary.samples);
    assert_eq!(summary.max_accept_queue, Some(2));
}

#[tokio::test]
async fn external_stack_samples_only_the_status_page() {
    let samples = run_for(endpoints(None, 1), 500).await;
    assert!(!samples.is_empty());
    for s in &samples {
        assert!(s.accept_queue.is_none() && s.workers.is_empty());
        assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
    }
}
