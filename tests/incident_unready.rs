//! Seed 004 on the real native stack: scenarios/unready-worker.toml's instance answers 401
//! in its first seconds and 200 afterwards; the error window is on the timeline.

mod common;

#[test]
fn unready_window_then_recovery() {
    if !common::native_stack() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ran = common::run_end_to_end(&common::shipped("unready-worker"), &dir.path().join("out"));
    let (c, table) = (ran.config(0), &ran.table);
    let t = &c.recorded.timeline;
    // unready.php answers 401 for 5 s after the pool started, and the pool starts before
    // the load: the load's first second is all 401 unless the stack took 4 s to come up.
    assert!(
        t[0].status_4xx > 0 && t[0].status_2xx == 0,
        "{:?}\n{table}",
        t[0]
    );
    // Then the order: 401s, at most one second with both, then only 200s. When the window
    // closes depends on how long the stack took to start; that it closes for good does not.
    let first_ok = t
        .iter()
        .position(|b| b.status_2xx > 0)
        .expect("no 200 at all");
    for b in &t[first_ok + 1..] {
        assert_eq!(
            b.status_4xx, 0,
            "a 401 after the pool was ready: {b:?}\n{table}"
        );
    }
    // The 401s stop at most 5 s after the pool started, so before the load's sixth second
    // (one more for the bucket a late answer lands in); every second from the seventh to
    // the end of the 12 s phase has 200s.
    assert!(first_ok <= 6, "first 200 in second {first_ok}\n{table}");
    for b in t.iter().filter(|b| b.t_s >= 6 && b.t_s < 12) {
        assert!(b.status_2xx > 0 && b.status_4xx == 0, "{b:?}\n{table}");
    }
    let w = c.error_windows.as_ref().unwrap();
    assert_eq!(w.windows.len(), 1, "{w:?}");
    assert_eq!(w.windows[0].from_s, 0);
    assert!((1..=6).contains(&w.windows[0].to_s), "{w:?}");
    assert_eq!(w.recovered, Some(true));
    let a = c.attribution.as_ref().unwrap();
    assert_eq!(
        a.count(fpmlab::attribution::Cause::AppStatus),
        a.failed,
        "the app answered the 401s itself: {a:#?}"
    );
    // Exact accounting: every request got a response, 401 or 200.
    let s = &c.recorded.summary;
    let (ok, unready) = (
        s.status_counts.get("200").copied().unwrap_or(0),
        s.status_counts.get("401").copied().unwrap_or(0),
    );
    assert_eq!(ok + unready, s.sent, "{:?}", s.status_counts);
    assert_eq!(unready, a.failed, "{a:#?}");
    assert!(table.contains("requests succeeded again"), "{table}");
}
