//! HAProxy's runtime API over its stats socket: one command per connection (the socket's
//! non-interactive mode answers and closes), and `show stat` read into server states.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one command, returns HAProxy's answer.
pub async fn command(socket: &Path, cmd: &str) -> Result<String> {
    let mut s = tokio::net::UnixStream::connect(socket)
        .await
        .with_context(|| format!("cannot reach HAProxy's stats socket {}", socket.display()))?;
    s.write_all(format!("{cmd}\n").as_bytes()).await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

/// Sends a command that answers nothing on success; an answer is HAProxy's complaint.
pub async fn act(socket: &Path, cmd: &str) -> Result<()> {
    let answer = command(socket, cmd).await?;
    let answer = answer.trim();
    // `set server addr` reports what it changed; every other command answers nothing.
    if answer.is_empty() || answer.contains("changed") || answer.contains("no need to change") {
        Ok(())
    } else {
        anyhow::bail!("HAProxy refused `{cmd}`: {answer}")
    }
}

/// One server as `show stat` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServerStat {
    /// Server name (`i1`, or `i1-failopen` for the fail-open twin).
    pub server: String,
    /// HAProxy's status: `UP`, `DOWN`, `MAINT`, `DRAIN`, `NOLB`, or a transition such as
    /// `UP 1/2` (up, one failed check so far) or `DOWN 1/5`.
    pub status: String,
    /// Checks failed while the server was up (HAProxy's `chkfail`).
    pub check_failures: u64,
    /// The last check's result (`L7OK`, `L4CON`, `L7TOUT`, ...).
    pub check_status: String,
    /// Current weight (slow start ramps it up from 0).
    pub weight: u64,
    /// Requests in flight on it.
    pub current_sessions: u64,
}

/// Parses `show stat`'s CSV: the servers of `backend`.
pub fn parse_stat(csv: &str, backend: &str) -> Vec<ServerStat> {
    let mut lines = csv.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let cols: Vec<&str> = header.trim_start_matches("# ").split(',').collect();
    let col = |name: &str| cols.iter().position(|c| *c == name);
    let (Some(px), Some(sv), Some(st)) = (col("pxname"), col("svname"), col("status")) else {
        return Vec::new();
    };
    let (chkfail, check, weight, scur) = (
        col("chkfail"),
        col("check_status"),
        col("weight"),
        col("scur"),
    );
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let get = |i: Option<usize>| i.and_then(|i| f.get(i)).copied().unwrap_or("");
            let name = get(Some(sv));
            if get(Some(px)) != backend || name == "BACKEND" || name == "FRONTEND" {
                return None;
            }
            let num = |i| get(i).parse().unwrap_or(0);
            Some(ServerStat {
                server: name.to_string(),
                status: get(Some(st)).to_string(),
                check_failures: num(chkfail),
                check_status: get(check).trim_start_matches("* ").to_string(),
                weight: num(weight),
                current_sessions: num(scur),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_servers_of_the_backend() {
        let csv = "# pxname,svname,qcur,scur,status,weight,chkfail,check_status\n\
                   fleet,FRONTEND,,3,OPEN,,,\n\
                   instances,i1,0,2,UP,1,0,L7OK\n\
                   instances,i2,0,0,DOWN 1/5,1,2,* L4CON\n\
                   instances,BACKEND,0,2,UP,2,,\n";
        let s = parse_stat(csv, "instances");
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].server.as_str(), s[0].current_sessions), ("i1", 2));
        assert_eq!((s[1].status.as_str(), s[1].check_failures), ("DOWN 1/5", 2));
        assert_eq!(s[1].check_status, "L4CON");
    }
}
