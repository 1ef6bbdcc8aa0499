//! Everything rendered from `run.json`: the terminal table, the HTML report, the exports.

pub mod charts;
pub mod clients;
pub mod container;
pub mod export;
pub mod fleet;
pub mod html;
pub mod incident;
pub mod md;
pub mod replay;
pub mod table;
pub mod tls;
pub mod tune;

use std::path::PathBuf;

/// The exports a command asked for, from its options: the HTML report and the Markdown,
/// CSV and JSON exports, each to its target path (`-`: stdout).
pub fn requests(
    html: Option<PathBuf>,
    markdown: Option<PathBuf>,
    csv: Option<PathBuf>,
    json: Option<PathBuf>,
) -> export::Requests {
    let mut out: export::Requests = Vec::new();
    if let Some(p) = html {
        out.push((Box::new(html::HtmlReport), p));
    }
    if let Some(p) = markdown {
        out.push((Box::new(export::markdown::MarkdownExporter), p));
    }
    if let Some(p) = csv {
        out.push((Box::new(export::csv::CsvExporter), p));
    }
    if let Some(p) = json {
        out.push((Box::new(export::json::JsonExporter), p));
    }
    out
}
