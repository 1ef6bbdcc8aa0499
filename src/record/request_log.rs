//! The per-request log (`--request-log FILE.csv|.jsonl`): one line per finished request, for
//! people who want their own analysis. The load thread only pushes a small row of numbers
//! into a channel (no formatting, no I/O, never a wait); a thread of its own formats the
//! lines and writes them through a buffer, flushed at least once a second so the file is
//! current while a run goes on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use super::FailureKind;

/// The file format, from the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

impl Format {
    /// `.csv` or `.jsonl` (`.ndjson`, `.json` too).
    pub fn of(path: &Path) -> anyhow::Result<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => Ok(Format::Csv),
            Some("jsonl" | "ndjson" | "json") => Ok(Format::JsonLines),
            _ => anyhow::bail!(
                "--request-log {}: the format comes from the extension: name it FILE.csv or FILE.jsonl",
                path.display()
            ),
        }
    }
}

/// One request as the load thread hands it over: indices and numbers only.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub config: usize,
    pub phase: usize,
    pub kind: usize,
    pub id: u64,
    pub intended_us: u64,
    pub sent_us: Option<u64>,
    pub done_us: u64,
    pub status: Option<u16>,
    pub failure: Option<FailureKind>,
    pub queue_wait_us: Option<i64>,
    pub service_us: Option<u64>,
    pub pid: Option<u32>,
}

enum Msg {
    Row(Row),
    End,
}

/// The load thread's end of the log: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct RequestLogSender {
    config: usize,
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl RequestLogSender {
    /// Queues a row (its `config` is set here); a closed log drops it silently, the run goes on.
    pub fn send(&self, mut row: Row) {
        row.config = self.config;
        let _ = self.tx.send(Msg::Row(row));
    }
}

/// A line of the file: times in µs since the config's load started.
#[derive(Serialize)]
struct Line<'a> {
    config: &'a str,
    id: u64,
    kind: &'a str,
    phase: &'a str,
    intended_us: u64,
    sent_us: Option<u64>,
    done_us: u64,
    /// The HTTP status, or empty when the request got no response.
    status: Option<u16>,
    /// Why there was no response (`timeout`, `reset`, …).
    failure: Option<FailureKind>,
    queue_wait_us: Option<i64>,
    service_us: Option<u64>,
    pid: Option<u32>,
}

/// Names the lines use: configs, phases and request kinds, in scenario order.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub configs: Vec<String>,
    pub phases: Vec<String>,
    pub kinds: Vec<String>,
}

/// The writer thread and the path it writes.
pub struct RequestLog {
    path: PathBuf,
    tx: mpsc::Sender<Msg>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<u64>>>,
}

impl RequestLog {
    /// Creates (truncates) the file and starts the writer thread.
    pub fn create(path: &Path, names: Names) -> anyhow::Result<RequestLog> {
        let format = Format::of(path)?;
        let file = std::fs::File::create(path).with_context(|| {
            format!(
                "cannot create the request log {}: choose a writable path",
                path.display()
            )
        })?;
        let (tx, rx) = mpsc::channel();
        let shown = path.display().to_string();
        let thread = std::thread::Builder::new()
            .name("fpmlab-request-log".into())
            .spawn(move || write_lines(file, format, &names, &rx).context(shown))
            .context("cannot start the request log's thread")?;
        Ok(RequestLog {
            path: path.to_path_buf(),
            tx,
            thread: Some(thread),
        })
    }

    /// The end the load thread of config `config` sends through.
    pub fn sender(&self, config: usize) -> RequestLogSender {
        RequestLogSender {
            config,
            tx: self.tx.clone(),
        }
    }

    /// Writes what is queued, closes the file and returns the number of lines written.
    pub fn finish(mut self) -> anyhow::Result<u64> {
        let _ = self.tx.send(Msg::End);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => anyhow::bail!("the request log's thread panicked"),
            None => Ok(0),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The open file, in its format.
enum Out {
    Csv(Box<csv::Writer<std::io::BufWriter<std::fs::File>>>),
    Json(std::io::BufWriter<std::fs::File>),
}

impl Out {
    fn write(&mut self, line: &Line) -> anyhow::Result<()> {
        match self {
            Out::Csv(w) => w.serialize(line)?,
            Out::Json(w) => {
                serde_json::to_writer(&mut *w, line)?;
                w.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::Csv(w) => w.flush(),
            Out::Json(w) => w.flush(),
        }
    }
}

fn write_lines(
    file: std::fs::File,
    format: Format,
    names: &Names,
    rx: &mpsc::Receiver<Msg>,
) -> anyhow::Result<u64> {
    let name = |v: &'_ [String], i: usize| v.get(i).map_or("", String::as_str).to_owned();
    let buffered = std::io::BufWriter::with_capacity(256 * 1024, file);
    let mut out = match format {
        Format::Csv => Out::Csv(Box::new(csv::Writer::from_writer(buffered))),
        Format::JsonLines => Out::Json(buffered),
    };
    let mut lines = 0u64;
    loop {
        let msg = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(m) => m,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                out.flush()?;
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Msg::End,
        };
        let Msg::Row(r) = msg else { break };
        let line = Line {
            config: &name(&names.configs, r.config),
            id: r.id,
            kind: &name(&names.kinds, r.kind),
            phase: &name(&names.phases, r.phase),
            intended_us: r.intended_us,
            sent_us: r.sent_us,
            done_us: r.done_us,
            status: r.status,
            failure: r.failure,
            queue_wait_us: r.queue_wait_us,
            service_us: r.service_us,
            pid: r.pid,
        };
        out.write(&line)?;
        lines += 1;
    }
    out.flush()?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_with_empty_cells_for_missing_figures() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let names = Names {
            configs: vec!["a,b".into()],
            phases: vec!["p".into()],
            kinds: vec!["k".into()],
        };
        let log = RequestLog::create(&path, names).unwrap();
        let tx = log.sender(0);
        let row = Row {
            config: 9,
            phase: 0,
            kind: 0,
            id: 7,
            intended_us: 10,
            sent_us: Some(12),
            done_us: 30,
            status: None,
            failure: Some(FailureKind::Timeout),
            queue_wait_us: None,
            service_us: None,
            pid: None,
        };
        tx.send(row);
        tx.send(Row {
            id: 8,
            status: Some(200),
            failure: None,
            queue_wait_us: Some(-3),
            service_us: Some(5),
            pid: Some(42),
            ..row
        });
        assert_eq!(log.finish().unwrap(), 2);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "config,id,kind,phase,intended_us,sent_us,done_us,status,failure,queue_wait_us,service_us,pid\n\
             \"a,b\",7,k,p,10,12,30,,timeout,,,\n\
             \"a,b\",8,k,p,10,12,30,200,,-3,5,42\n"
        );
        assert!(Format::of(Path::new("x.txt")).is_err());
    }
}
