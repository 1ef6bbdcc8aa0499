//! run.json's contract: `docs/run.schema.json` is the schema generated from the types (so it
//! cannot drift), and every run.json fixture validates against it. Every run.json the other
//! tests produce is validated too, as `common::load` reads it.

mod common;

use std::path::Path;

#[test]
fn committed_schema_is_the_generated_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/run.schema.json");
    let generated = fpmlab::results::json_schema();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/run.schema.json is not the schema of the run.json types: \
         UPDATE_SNAPSHOTS=1 cargo test --release --test schema regenerates it (review the diff)"
    );
}

#[test]
fn every_fixture_validates() {
    let mut found = 0;
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == "run.json") {
                common::validate_run_json(&path);
                found += 1;
            }
        }
    }
    assert!(found >= 1, "no run.json fixture found");
}

#[test]
fn a_wrong_run_json_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/bursts/run.json"
    );
    let mut run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    run["configs"][0]["status"] = "exploded".into();
    std::fs::write(&path, run.to_string()).unwrap();
    let failed = std::panic::catch_unwind(|| common::validate_run_json(&path));
    assert!(failed.is_err(), "an unknown status must not validate");
}
