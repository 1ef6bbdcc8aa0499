//! Seed 004 on the real native stack: scenarios/unready-worker.toml's instance answers 401
//! in its first seconds and 200 afterwards; the error window is on the timeline.

mod common;

use std::path::Path;

#[test]
fn unready_window_then_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/unready-worker.toml");
    let o = common::run_native(&scenario, &out);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = common::load(&out);
    let c = &run.configs[0];
    let t = &c.recorded.timeline;
    // The pool started shortly before the load: the first second is all 401.
    assert!(t[0].status_4xx > 0 && t[0].status_2xx == 0, "{:?}", t[0]);
    // unready for 5 s after the pool started: all 200 from second 6 on.
    for b in t.iter().filter(|b| b.t_s >= 6 && b.t_s < 12) {
        assert!(b.status_2xx > 0 && b.status_4xx == 0, "{b:?}\n{table}");
    }
    let w = c.error_windows.as_ref().unwrap();
    assert_eq!(w.windows.len(), 1, "{w:?}");
    assert_eq!(w.windows[0].from_s, 0);
    assert!((3..=6).contains(&w.windows[0].to_s), "{w:?}");
    assert_eq!(w.recovered, Some(true));
    let a = c.attribution.as_ref().unwrap();
    assert_eq!(
        a.count(fpmlab::attribution::Cause::AppStatus),
        a.failed,
        "the app answered the 401s itself: {a:#?}"
    );
    assert!(table.contains("requests succeeded again"), "{table}");
    common::assert_torn_down(&out, &run);
}
