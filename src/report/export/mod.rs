//! Exporters: every file rendered from a `run.json` (the HTML report, Markdown, CSV, the
//! JSON summary) goes through one trait, as hyperfine's exporters do. An exporter renders
//! to bytes; writing, naming and `-` for stdout are handled here once.

pub mod csv;
pub mod fleet;
pub mod json;
pub mod markdown;
pub mod prom_text;
pub mod prometheus;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::results::RunResult;

/// One file an exporter produces. `suffix` is inserted before the target's extension: ""
/// for the main file, `-timeline` for the CSV timeline (`out.csv` → `out-timeline.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub suffix: &'static str,
    pub bytes: Vec<u8>,
}

impl Artifact {
    pub fn main(text: String) -> Self {
        Artifact {
            suffix: "",
            bytes: text.into_bytes(),
        }
    }
}

/// Renders a run into one or more files.
pub trait Exporter {
    /// A short name for messages (`markdown`).
    fn name(&self) -> &'static str;
    /// The files, main one first.
    fn render(&self, run: &RunResult) -> anyhow::Result<Vec<Artifact>>;
    /// The suffixes of the files it writes (see [`Artifact::suffix`]), main one first.
    fn suffixes(&self) -> &'static [&'static str] {
        &[""]
    }
}

/// Where an artifact with `suffix` goes for `target`: `dir/out.csv` + `-timeline` →
/// `dir/out-timeline.csv`.
pub fn artifact_path(target: &Path, suffix: &str) -> PathBuf {
    if suffix.is_empty() {
        return target.to_path_buf();
    }
    let stem = target
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let name = match target.extension() {
        Some(ext) => format!("{stem}{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}{suffix}"),
    };
    target.with_file_name(name)
}

/// Renders `run` with `exporter` and writes the files for `target`; `-` writes a
/// single-file export to stdout. Returns the paths written.
pub fn write(
    exporter: &dyn Exporter,
    run: &RunResult,
    target: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let artifacts = exporter.render(run)?;
    if target == Path::new("-") {
        anyhow::ensure!(
            artifacts.len() == 1,
            "the {} export writes {} files: give a file name instead of -",
            exporter.name(),
            artifacts.len()
        );
        let mut out = std::io::stdout().lock();
        out.write_all(&artifacts[0].bytes)?;
        out.flush()?;
        return Ok(Vec::new());
    }
    let mut written = Vec::new();
    for a in artifacts {
        let path = artifact_path(target, a.suffix);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, &a.bytes).with_context(|| {
            format!(
                "cannot write the {} export to {}",
                exporter.name(),
                path.display()
            )
        })?;
        written.push(path);
    }
    Ok(written)
}

/// The exports a command was asked for: (exporter, target) pairs.
pub type Requests = Vec<(Box<dyn Exporter>, PathBuf)>;

/// Checks, before anything starts, that every requested export can be written: its
/// directory is created and each file it will write opened for writing. A file that did not
/// exist is removed again, so a run that fails later leaves no empty export behind; an
/// existing one is left as it is until the export overwrites it.
pub fn preflight(requests: &Requests) -> anyhow::Result<()> {
    for (exporter, target) in requests {
        if target == Path::new("-") {
            anyhow::ensure!(
                exporter.suffixes().len() == 1,
                "the {} export writes {} files: give a file name instead of -",
                exporter.name(),
                exporter.suffixes().len()
            );
            continue;
        }
        for suffix in exporter.suffixes() {
            let path = artifact_path(target, suffix);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!(
                        "the {} export cannot write {}: cannot create its directory {}",
                        exporter.name(),
                        path.display(),
                        dir.display()
                    )
                })?;
            }
            let existed = path.exists();
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .with_context(|| {
                    format!(
                        "the {} export cannot write {}: choose a writable path",
                        exporter.name(),
                        path.display()
                    )
                })?;
            if !existed {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    Ok(())
}

/// Writes every requested export; a failure does not stop the others. Returns the paths
/// written and every error.
pub fn write_all(run: &RunResult, requests: &Requests) -> (Vec<PathBuf>, Vec<anyhow::Error>) {
    let mut written = Vec::new();
    let mut errors = Vec::new();
    for (exporter, target) in requests {
        match write(exporter.as_ref(), run, target) {
            Ok(paths) => written.extend(paths),
            Err(e) => errors.push(e),
        }
    }
    (written, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_goes_before_the_extension() {
        assert_eq!(
            artifact_path(Path::new("a/out.csv"), ""),
            PathBuf::from("a/out.csv")
        );
        assert_eq!(
            artifact_path(Path::new("a/out.csv"), "-timeline"),
            PathBuf::from("a/out-timeline.csv")
        );
        assert_eq!(
            artifact_path(Path::new("out"), "-timeline"),
            PathBuf::from("out-timeline")
        );
    }
}
