//! What makes a `[[request]]` look like real traffic: its headers, its body and the data
//! file whose rows fill its `{{column}}` placeholders. Pure parsing and checks; the load
//! path renders the result (see `load::http`).

use std::path::Path;

use sha2::{Digest, Sha256};

/// Largest body file accepted: a request body bigger than this is a file upload test,
/// not traffic fpmlab renders once and sends many times.
pub const MAX_BODY_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Largest data file accepted: its rows are all held in memory during the load.
pub const MAX_DATA_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Headers fpmlab writes itself on every request; a scenario may not set them.
const RESERVED_HEADERS: [&str; 5] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "x-fpmlab-id",
];

/// One piece of a text with placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Bytes sent as they are.
    Lit(Vec<u8>),
    /// The picked row's value of this column (index into the data file's columns).
    Col(usize),
}

/// Splits `text` into literal bytes and `{{column}}` placeholders. A placeholder is `{{`,
/// a name of letters, digits, `_`, `-` or `.` (spaces around it allowed), then `}}`;
/// anything else between braces is literal text. Placeholders are resolved against
/// `columns`; a name that is not a column is an error naming the columns there are.
pub fn parse_template(text: &[u8], columns: &[String]) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut lit = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with(b"{{") {
            if let Some((name, len)) = placeholder(&text[i..]) {
                let Some(col) = columns.iter().position(|c| c.as_bytes() == name) else {
                    let name = String::from_utf8_lossy(name);
                    return Err(if columns.is_empty() {
                        format!("{{{{{name}}}}} is a placeholder but the request has no data file: add data = \"FILE.csv\" with a column \"{name}\", or remove the placeholder")
                    } else {
                        format!(
                            "{{{{{name}}}}} names no column of the data file: use one of {}",
                            columns.join(", ")
                        )
                    });
                };
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Col(col));
                i += len;
                continue;
            }
        }
        lit.push(text[i]);
        i += 1;
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(parts)
}

/// The name and total length of a placeholder at the start of `text`, if one is there.
fn placeholder(text: &[u8]) -> Option<(&[u8], usize)> {
    let end = text.windows(2).skip(2).position(|w| w == b"}}")? + 2;
    let inner = &text[2..end];
    let name = trim_spaces(inner);
    let ok = !name.is_empty()
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    ok.then_some((name, end + 2))
}

fn trim_spaces(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| c != b' ').unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c != b' ').map_or(start, |e| e + 1);
    &b[start..end]
}

/// The columns a template uses, in order of first use.
pub fn columns_used(parts: &[Part]) -> Vec<usize> {
    let mut used = Vec::new();
    for p in parts {
        if let Part::Col(c) = p {
            if !used.contains(c) {
                used.push(*c);
            }
        }
    }
    used
}

/// Checks a header name: an HTTP token (RFC 9110 `tchar`s), and not one fpmlab sets.
pub fn check_header_name(name: &str) -> Result<(), String> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(tchar) {
        return Err(format!("\"{name}\" is not a header name: use letters, digits and - (an HTTP token), e.g. \"X-Request-Source\""));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("{name} is set by fpmlab on every request: remove it (Host comes from the target, Content-Length from the body, X-Fpmlab-Id numbers each request)"));
    }
    Ok(())
}

/// Checks a header value (before or after substitution): no CR, LF or other control
/// character but tab, which would split the header or break the request.
pub fn check_header_value(value: &[u8]) -> Result<(), String> {
    match value.iter().find(|&&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        Some(b) => Err(format!("contains the control character {b:#04x}: header values must be one line of text (no CR or LF)")),
        None => Ok(()),
    }
}

/// Checks a path value after substitution: no spaces or control characters, which would
/// break the request line (percent-encode them in the data file instead).
pub fn check_path_value(value: &[u8]) -> Result<(), String> {
    match value.iter().find(|&&b| b <= 0x20 || b == 0x7f) {
        Some(b) => Err(format!("contains {b:#04x}, which cannot appear in a request line: percent-encode it (a space is %20)")),
        None => Ok(()),
    }
}

/// A data file's rows, all values as text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Column names, in file order.
    pub columns: Vec<String>,
    /// Rows; each has exactly one value per column.
    pub rows: Vec<Vec<String>>,
}

/// The format of a data file, from its extension.
pub fn data_format(path: &Path) -> Result<&'static str, String> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("csv") => Ok("csv"),
        Some(e) if e.eq_ignore_ascii_case("json") => Ok("json"),
        _ => Err(format!("{}: name a .csv file (header row = column names) or a .json file (an array of objects)", path.display())),
    }
}

/// Reads a file of at most `max` bytes, with its SHA-256 in hex.
pub fn read_capped(path: &Path, max: u64) -> Result<(Vec<u8>, String), String> {
    let meta = std::fs::metadata(path).map_err(|e| {
        format!(
            "cannot read {}: {e}: give a path relative to the scenario file",
            path.display()
        )
    })?;
    if !meta.is_file() {
        return Err(format!("{} is not a file: name a file", path.display()));
    }
    if meta.len() > max {
        return Err(format!(
            "{} is {} bytes, over the limit of {max}: use a smaller file",
            path.display(),
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let sha = hex(&Sha256::digest(&bytes));
    Ok((bytes, sha))
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a data file's bytes: CSV with a header row, or a JSON array of flat objects with
/// the same keys. An empty file, a file with no rows, a ragged row or a nested value is an
/// error that says where.
pub fn parse_table(bytes: &[u8], format: &str) -> Result<Table, String> {
    let table = if format == "csv" {
        parse_csv(bytes)?
    } else {
        parse_json(bytes)?
    };
    if table.columns.is_empty() {
        return Err("has no columns: the first line names them, e.g. token,cart_id".into());
    }
    if table.rows.is_empty() {
        return Err("has no rows: add at least one below the column names".into());
    }
    Ok(table)
}

fn parse_csv(bytes: &[u8]) -> Result<Table, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| format!("is not valid CSV: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    check_columns(&columns)?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| match e.kind() {
            csv::ErrorKind::UnequalLengths {
                pos, expected_len, len,
            } => format!(
                "line {}: {len} values where the header has {expected_len}: give every row one value per column",
                pos.as_ref().map_or(0, |p| p.line())
            ),
            _ => format!("is not valid CSV: {e}"),
        })?;
        rows.push(record.iter().map(str::to_string).collect());
    }
    Ok(Table { columns, rows })
}

fn parse_json(bytes: &[u8]) -> Result<Table, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("is not valid JSON: {e}"))?;
    let serde_json::Value::Array(items) = value else {
        return Err(
            "is not a JSON array: give an array of objects, e.g. [{\"token\": \"a\"}]".into(),
        );
    };
    let mut columns: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let serde_json::Value::Object(map) = item else {
            return Err(format!(
                "item {i} is not an object: give an array of objects"
            ));
        };
        if i == 0 {
            columns = map.keys().cloned().collect();
            check_columns(&columns)?;
        }
        if map.len() != columns.len() || !columns.iter().all(|c| map.contains_key(c)) {
            return Err(format!(
                "item {i} has keys other than the first item's ({}): give every object the same keys",
                columns.join(", ")
            ));
        }
        let mut row = Vec::with_capacity(columns.len());
        for c in &columns {
            row.push(match &map[c] {
                serde_json::Value::String(s) => s.clone(),
                v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => v.to_string(),
                _ => {
                    return Err(format!(
                    "item {i}, key \"{c}\": only strings, numbers and booleans can be substituted"
                ))
                }
            });
        }
        rows.push(row);
    }
    Ok(Table { columns, rows })
}

fn check_columns(columns: &[String]) -> Result<(), String> {
    for (i, c) in columns.iter().enumerate() {
        if placeholder(format!("{{{{{c}}}}}").as_bytes()).is_none() {
            return Err(format!("column \"{c}\" cannot be a placeholder: name columns with letters, digits, '_', '-' or '.'"));
        }
        if columns[..i].contains(c) {
            return Err(format!(
                "column \"{c}\" appears twice: name every column once"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "traffic_tests.rs"]
mod tests;
