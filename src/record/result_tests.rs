//! A checkpoint's cheap result: fresh figures, the histograms of an earlier result.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Ending, Outcome, Recorder};
use crate::scenario::{parse, Driver};

const SCENARIO: &str = r#"
    [[config]]
    name = "s"
    pm = "static"
    max_children = 2
    [[phase]]
    duration = "10s"
    pattern = "constant"
    rate = 10
    [[request]]
    path = "/cpu.php?ms=1"
"#;

fn record(r: &mut Recorder, start: Instant, n: u64, latency_ms: u64) {
    for i in 0..n {
        let intended = start + Duration::from_millis(i * 10);
        let done = intended + Duration::from_millis(latency_ms);
        r.record(&Outcome {
            phase: 0,
            kind: 0,
            intended,
            sent: Some(intended),
            first_byte: Some(done),
            done,
            ending: Ending::Response { status: 200 },
            fpm: None,
            id: i + 1,
            replay: None,
        });
    }
}

#[test]
fn keeping_histograms_takes_fresh_summaries_and_the_earlier_histograms() {
    let (plan, _) = parse(SCENARIO, Path::new("x/s.toml"), Driver::Native).unwrap();
    let start = Instant::now();
    let mut r = Recorder::new(start, &plan.phases, &plan.requests);
    record(&mut r, start, 10, 5);
    let earlier = r.result();
    record(&mut r, start, 10, 500);
    let cheap = r.result_keeping_histograms(&earlier);
    let full = r.result();
    assert_eq!(cheap.summary, full.summary, "the figures are fresh");
    assert_eq!(cheap.phases[0].summary, full.phases[0].summary);
    assert_eq!(
        cheap.histograms, earlier.histograms,
        "the histograms are kept"
    );
    assert_eq!(
        cheap.phases[0].kinds[0].histograms,
        earlier.phases[0].kinds[0].histograms
    );
    assert_ne!(full.histograms, earlier.histograms);
    assert_eq!(full.histograms.decode().unwrap().latency.len(), 20);
}
