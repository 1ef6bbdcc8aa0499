//! `summarize` over crafted samples.

use super::*;
use crate::probe::{AcceptQueue, FpmStatus, WorkerSample};

fn fpm(listen_queue: u32, active: u32, total: u32, reached: u64) -> FpmStatus {
    FpmStatus {
        pool: "www".into(),
        process_manager: "dynamic".into(),
        start_since_s: 10,
        accepted_conn: 0,
        listen_queue,
        max_listen_queue: 99, // pre-run high-water mark: must not leak into the summary
        listen_queue_len: 0,
        idle_processes: total - active,
        active_processes: active,
        total_processes: total,
        max_active_processes: active,
        max_children_reached: reached,
        slow_requests: 0,
    }
}

fn worker(pid: u32, pss_kib: Option<u64>) -> WorkerSample {
    WorkerSample {
        pid,
        state: None,
        requests: None,
        request_duration_us: None,
        pss_kib,
        cpu_pct: None,
    }
}

fn sample(t_ms: u64) -> Sample {
    Sample {
        t_ms,
        fpm: None,
        fpm_status_rtt_us: None,
        accept_queue: None,
        workers: Vec::new(),
        errors: Vec::new(),
        container: None,
        fpm_master_alive: None,
    }
}

#[test]
fn empty() {
    let s = summarize(&[]);
    assert_eq!(s.samples, 0);
    assert_eq!(s.max_listen_queue, None);
    assert_eq!(s.peak_total_pss_kib, None);
    assert_eq!(s.max_children_reached_in_run, None);
}

#[test]
fn peaks_and_counters() {
    let samples = vec![
        Sample {
            fpm: Some(fpm(0, 1, 2, 3)),
            accept_queue: Some(AcceptQueue {
                queued: 0,
                backlog: Some(50),
            }),
            workers: vec![worker(1, Some(1000)), worker(2, Some(1200))],
            ..sample(0)
        },
        Sample {
            // unix socket: fpm says 0 while the kernel holds 7
            fpm: Some(fpm(0, 4, 4, 5)),
            accept_queue: Some(AcceptQueue {
                queued: 7,
                backlog: Some(50),
            }),
            workers: vec![worker(1, Some(3000)), worker(2, None), worker(3, Some(900))],
            errors: vec!["pss (/proc/PID/smaps_rollup): 1 workers unreadable".into()],
            ..sample(250)
        },
        Sample {
            errors: vec!["fpm status: timed out".into()],
            workers: vec![worker(1, Some(2500)), worker(2, Some(2000))],
            ..sample(500)
        },
        Sample {
            fpm: Some(fpm(2, 3, 4, 6)),
            ..sample(750)
        },
    ];
    let s = summarize(&samples);
    assert_eq!(s.samples, 4);
    assert_eq!(s.failed_samples, 2);
    assert_eq!(s.max_accept_queue, Some(7));
    assert_eq!(s.max_fpm_listen_queue, Some(2));
    assert_eq!(s.max_listen_queue, Some(7));
    assert_eq!(s.peak_total_workers, Some(4));
    assert_eq!(s.peak_active_workers, Some(4));
    assert_eq!(s.peak_worker_pss_kib, Some(3000));
    // 2500 + 2000; the 250 ms sample has a missing PSS and is left out.
    assert_eq!(s.peak_total_pss_kib, Some(4500));
    assert_eq!(s.max_children_reached, Some(6));
    assert_eq!(s.max_children_reached_in_run, Some(3));
    assert_eq!(s.listen_backlog, Some(50));

    // Order does not matter for the counters.
    let mut reversed = samples.clone();
    reversed.reverse();
    assert_eq!(summarize(&reversed), s);
}

#[test]
fn tcp_backlog_from_fpm_when_kernel_unknown() {
    let mut status = fpm(5, 2, 2, 0);
    status.listen_queue_len = 128;
    let samples = [Sample {
        fpm: Some(status),
        accept_queue: Some(AcceptQueue {
            queued: 3,
            backlog: None,
        }),
        ..sample(0)
    }];
    let s = summarize(&samples);
    assert_eq!(s.listen_backlog, Some(128));
    assert_eq!(s.max_listen_queue, Some(5));
}

#[test]
fn json_shape() {
    let s = Sample {
        accept_queue: Some(AcceptQueue {
            queued: 1,
            backlog: Some(4096),
        }),
        workers: vec![worker(9, Some(1036))],
        ..sample(250)
    };
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["t_ms"], 250);
    assert_eq!(v["accept_queue"]["backlog"], 4096);
    assert_eq!(v["workers"][0]["pss_kib"], 1036);
    assert!(v["fpm"].is_null());
    let back: Sample = serde_json::from_value(v).unwrap();
    assert_eq!(back, s);
    let v = serde_json::to_value(summarize(&[s])).unwrap();
    assert_eq!(v["peak_worker_pss_kib"], 1036);
    assert_eq!(v["max_accept_queue"], 1);
}

#[test]
fn container_peaks_and_increases() {
    use crate::probe::{CgroupUsage, ContainerSample};
    let fpm = |cpu_us, cpu_pct, mem, oom| ContainerSample {
        php_fpm: Some(CgroupUsage {
            cpu_pct,
            cpu_usage_us: cpu_us,
            cpu_throttled_us: Some(cpu_us / 10),
            memory_bytes: mem,
            memory_limit_bytes: Some(100),
            memory_limit_hits: Some(oom * 3),
            oom_kills: Some(oom),
        }),
        nginx: None,
    };
    let samples = [
        Sample {
            container: Some(fpm(1_000_000, None, 40, 1)),
            ..sample(0)
        },
        Sample {
            container: Some(fpm(1_200_000, Some(80.0), 99, 1)),
            ..sample(250)
        },
        // A sample whose cgroup read failed has no container data.
        sample(500),
        Sample {
            container: Some(fpm(1_500_000, Some(120.0), 60, 3)),
            ..sample(1000)
        },
    ];
    let c = summarize(&samples).container.unwrap();
    assert!(c.nginx.is_none());
    let p = c.php_fpm.unwrap();
    assert_eq!(p.peak_memory_bytes, 99);
    assert_eq!(p.memory_limit_bytes, Some(100));
    assert_eq!(p.peak_cpu_pct, Some(120.0));
    // 0.5 s of CPU over 1 s.
    assert_eq!(p.mean_cpu_pct, Some(50.0));
    assert_eq!(p.cpu_throttled_ms, Some(50));
    assert_eq!(p.memory_limit_hits, Some(6));
    assert_eq!(p.oom_kills, Some(2));
    assert!(summarize(&[sample(0)]).container.is_none());
}
