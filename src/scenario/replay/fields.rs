//! Splitting one access-log line into its fields, the way both nginx and the ALB write
//! them: fields separated by single spaces, a field in double quotes may hold spaces (a
//! backslash escapes the next byte), and nginx's `[$time_local]` is one bracketed field.
//! Hand-written: the `csv` crate cannot take brackets as quotes, and a log line is simple
//! enough that a few lines here are clearer than a grammar.

/// The fields of `line`, quotes and brackets removed (escapes kept as written: they are
/// part of the value a server logged, e.g. nginx's `\x22`).
pub fn split(line: &str) -> Result<Vec<&str>, String> {
    let bytes = line.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            open @ (b'"' | b'[') => {
                let close = if open == b'"' { b'"' } else { b']' };
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j] != close {
                    j += if bytes[j] == b'\\' && open == b'"' {
                        2
                    } else {
                        1
                    };
                }
                if j >= bytes.len() {
                    let what = if open == b'"' { "a quote" } else { "a bracket" };
                    return Err(format!(
                        "{what} opened at byte {} is never closed (a cut-off line?)",
                        i + 1
                    ));
                }
                fields.push(&line[start..j]);
                i = j + 1;
            }
            _ => {
                let start = i;
                while i < bytes.len() && bytes[i] != b' ' && bytes[i] != b'\t' {
                    i += 1;
                }
                fields.push(&line[start..i]);
            }
        }
    }
    Ok(fields)
}

/// `METHOD TARGET HTTP/x.y` as a server logs it: the method and the target made relative
/// (an absolute `scheme://host:port/path` loses its scheme and authority; the ALB logs
/// every request so).
pub fn request_line(request: &str) -> Result<(String, String), String> {
    let mut parts = request.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "request \"{}\" is not METHOD PATH HTTP/x.y",
            clip(request)
        ));
    };
    if method == "-" || target == "-" {
        return Err("no request: the server could not read one (logged as \"-\")".into());
    }
    if method.is_empty()
        || method.len() > 20
        || !method
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "\"{}\" is not an HTTP method (upper-case letters)",
            clip(method)
        ));
    }
    let path = relative(target)?;
    if let Some(b) = path.bytes().find(|&b| b <= 0x20 || b == 0x7f) {
        return Err(format!(
            "the path holds the byte {b:#04x}, which cannot be sent in a request line"
        ));
    }
    Ok((method.to_string(), path.to_string()))
}

/// The path and query of a request target: `/a?b` as is, `https://host:443/a?b` as `/a?b`,
/// `https://host:443` as `/`.
fn relative(target: &str) -> Result<&str, String> {
    if target.starts_with('/') {
        return Ok(target);
    }
    if let Some((_, rest)) = target.split_once("://") {
        return Ok(rest.find('/').map_or("/", |i| &rest[i..]));
    }
    Err(format!(
        "\"{}\" is neither a path nor an absolute URL",
        clip(target)
    ))
}

/// At most 200 characters of a line, for examples in messages and run.json.
pub fn clip(text: &str) -> String {
    const MAX: usize = 200;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX).collect();
    cut.push('…');
    cut
}
