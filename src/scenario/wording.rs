//! toml's type errors reworded for people: `invalid type: integer `30`, expected a string`
//! becomes `stack.max_execution_time is a duration: write "30s"`. The field is found from
//! the error's position in the file (its key, under the last `[table]` header above it);
//! the fix from what kind of value that field takes.

/// What a field takes, by its key (the same key means the same kind in every table).
fn kind_of(key: &str) -> Option<(&'static str, &'static str)> {
    Some(match key {
        "max_execution_time"
        | "request_terminate_timeout"
        | "fastcgi_connect_timeout"
        | "fastcgi_read_timeout"
        | "keepalive_timeout"
        | "client_timeout"
        | "health_timeout"
        | "process_idle_timeout"
        | "duration"
        | "every"
        | "think_time" => ("a duration", "write \"30s\" (units: ms, s, m, h)"),
        "send_window" => ("a duration", "write \"100us\" (units: us, ms)"),
        "memory" | "worker_memory" => ("a size", "write \"512MiB\" (or \"1GiB\")"),
        "memory_limit" => ("a php size", "write \"128M\" (K, M or G; -1 for no limit)"),
        "max_children" | "start_servers" | "min_spare_servers" | "max_spare_servers"
        | "max_spawn_rate" | "max_requests" | "size" | "users" | "weight" | "seed"
        | "max_in_flight" | "max_connections" | "listen_backlog" => {
            ("a whole number", "write it without quotes, e.g. 4")
        }
        "rate" | "from_rate" | "to_rate" | "cpus" => {
            ("a number", "write it without quotes, e.g. 10 or 0.5")
        }
        "cpuset" => ("a list of CPU numbers", "write e.g. [0, 1]"),
        "name" | "description" | "pm" | "pattern" | "path" | "method" | "body" | "body_file"
        | "content_type" | "data" | "data_pick" | "listen" | "root" | "app_root"
        | "front_controller" | "health_path" | "fpm_image" | "docker_network" | "metric" => {
            ("text", "put it in quotes, e.g. \"static\"")
        }
        "agent" => ("true or false", "write agent = true or agent = false"),
        _ => return None,
    })
}

/// The dotted field at byte `at` of `text`: the key on that line, under the table header
/// above it (`stack.max_execution_time`, `config.max_children`).
pub fn field_at(text: &str, at: usize) -> Option<String> {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line.split('=').next()?.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') || !line.contains('=') {
        return None;
    }
    let table = text[..line_start].lines().rev().find_map(|l| {
        let l = l.trim();
        l.starts_with('[')
            .then(|| l.trim_matches(['[', ']']).trim().to_string())
    });
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

/// The reworded problem `(field, message)` for a type error of a known field, or `None`
/// for any other error.
pub fn reword(e: &toml::de::Error, text: &str) -> Option<(String, String)> {
    let msg = e.message();
    if !msg.starts_with("invalid type") {
        return None;
    }
    let field = field_at(text, e.span()?.start)?;
    let key = field.rsplit('.').next().unwrap_or(&field);
    let line = text[..e.span()?.start.min(text.len())]
        .matches('\n')
        .count()
        + 1;
    let found = msg
        .strip_prefix("invalid type: ")
        .and_then(|m| m.split(", expected").next())
        .unwrap_or(msg);
    // A field of no known kind keeps toml's own message, which shows the line.
    let (kind, fix) = kind_of(key)?;
    Some((
        field.clone(),
        format!("{field} is {kind}: {fix} (line {line} has {found})"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> (String, String) {
        let e = toml::from_str::<crate::scenario::raw::RawScenario>(text).unwrap_err();
        reword(&e, text).unwrap_or_else(|| panic!("not reworded: {e}"))
    }

    #[test]
    fn names_the_field_and_the_fix() {
        let (f, m) = problem("[stack]\nlisten = \"tcp\"\nmax_execution_time = 30\n");
        assert_eq!(f, "stack.max_execution_time");
        assert!(
            m.starts_with("stack.max_execution_time is a duration: write \"30s\""),
            "{m}"
        );
        assert!(m.contains("line 3"), "{m}");
        let (f, m) = problem("[[config]]\nname = \"a\"\nmax_children = \"4\"\n");
        assert_eq!(f, "config.max_children");
        assert!(m.contains("is a whole number"), "{m}");
        let (_, m) = problem("[stack]\nmemory = 512\n");
        assert!(m.contains("is a size: write \"512MiB\""), "{m}");
    }

    #[test]
    fn other_errors_are_left_alone() {
        let text = "[stack]\nbacklog = 3\n";
        let e = toml::from_str::<crate::scenario::raw::RawScenario>(text).unwrap_err();
        assert!(reword(&e, text).is_none());
    }
}
