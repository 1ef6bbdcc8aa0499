//! What the docker driver reads about its running containers: the published port, whether a
//! container's first process lives, the php-fpm master under it, the cached versions, and the
//! leftovers of a project to remove with the plain docker CLI.

use std::sync::{Mutex, OnceLock};

use anyhow::Result;

use super::compose::docker;
use super::{DOWN_TIMEOUT, QUERY_TIMEOUT};
use crate::scenario::StackSettings;
use crate::stack::StackInfo;

/// nginx and php versions per php-fpm image (`None`: fpmlab's own), learnt once per process.
static VERSIONS: OnceLock<Mutex<Vec<(String, StackInfo)>>> = OnceLock::new();

pub(super) fn version_key(stack: &StackSettings) -> String {
    format!("{:?}", stack.fpm_image)
}

pub(super) fn remember_versions(key: String, info: StackInfo) {
    if let Ok(mut cache) = VERSIONS.get_or_init(Default::default).lock() {
        cache.push((key, info));
    }
}

pub(super) fn cached_versions(key: &str) -> Option<StackInfo> {
    let cache = VERSIONS.get()?.lock().ok()?;
    cache.iter().find(|(k, _)| k == key).map(|(_, i)| i.clone())
}

/// `127.0.0.1:49153` (compose's `port` output, possibly with several lines) → 49153.
pub(super) fn parse_port(text: &str) -> Option<u16> {
    text.lines()
        .find_map(|l| l.trim().rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
        .filter(|&p| p != 0)
}

/// Whether `pid` is a live (non-zombie) process.
pub(super) fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// The php-fpm master: the container's first process, or (under an init or entrypoint
/// wrapper such as tini or a shell) the first php-fpm below it. Falls back to `pid`.
pub(super) fn find_fpm_master(pid: u32) -> u32 {
    let is_fpm = |p: u32| {
        std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.starts_with("php-fpm"))
    };
    let mut level = vec![pid];
    for _ in 0..3 {
        if let Some(&p) = level.iter().find(|&&p| is_fpm(p)) {
            return p;
        }
        level = level
            .iter()
            .flat_map(|&p| crate::procfs::children(p).unwrap_or_default())
            .collect();
    }
    pid
}

/// Removes whatever of `project` is left (containers with their anonymous volumes, networks)
/// with the plain docker CLI; Err names what could not be removed.
pub(super) async fn remove_leftovers(project: &str) -> Result<()> {
    let filter = format!("label=com.docker.compose.project={project}");
    let ids = docker(&["ps", "-aq", "--filter", &filter], QUERY_TIMEOUT).await?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(&ids);
        docker(&args, DOWN_TIMEOUT).await?;
    }
    let nets = docker(&["network", "ls", "-q", "--filter", &filter], QUERY_TIMEOUT).await?;
    let nets: Vec<&str> = nets.split_whitespace().collect();
    if !nets.is_empty() {
        let mut args = vec!["network", "rm"];
        args.extend(&nets);
        docker(&args, QUERY_TIMEOUT).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compose_port_output() {
        assert_eq!(parse_port("127.0.0.1:49153\n"), Some(49153));
        assert_eq!(parse_port("127.0.0.1:0\n"), None);
        assert_eq!(parse_port(""), None);
        assert_eq!(parse_port("[::1]:8080\n"), Some(8080));
    }

    #[test]
    fn finds_no_master_in_a_missing_process() {
        assert_eq!(find_fpm_master(u32::MAX - 1), u32::MAX - 1);
        assert!(alive(std::process::id()));
        assert!(!alive(u32::MAX - 1));
    }
}
