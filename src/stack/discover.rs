//! Finding the nginx and php-fpm binaries for the native driver, and their versions.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Result};

/// The daemons the native driver runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// Path of the nginx binary.
    pub nginx: PathBuf,
    /// Path of the php-fpm binary.
    pub php_fpm: PathBuf,
}

impl Binaries {
    /// `FPMLAB_NGINX` / `FPMLAB_PHP_FPM` if set, else a search of `PATH` plus `/usr/sbin`
    /// and `/usr/local/sbin` (Debian puts both daemons in sbin, often not in a user's PATH).
    pub fn discover() -> Result<Binaries> {
        let dirs = search_dirs();
        let nginx = match from_env("FPMLAB_NGINX")? {
            Some(p) => p,
            None => find_nginx(&dirs).ok_or_else(|| {
                anyhow::anyhow!(
                    "nginx not found: apt-get install nginx-light, set FPMLAB_NGINX, \
                     or use --stack docker"
                )
            })?,
        };
        let php_fpm = match from_env("FPMLAB_PHP_FPM")? {
            Some(p) => p,
            None => find_php_fpm(&dirs).ok_or_else(|| {
                anyhow::anyhow!(
                    "php-fpm not found: apt-get install php-fpm (Debian: php8.2-fpm), \
                     set FPMLAB_PHP_FPM, or use --stack docker"
                )
            })?,
        };
        Ok(Binaries { nginx, php_fpm })
    }

    /// nginx's version (`1.22.1`), from `nginx -v` (which prints to stderr).
    pub fn nginx_version(&self) -> Option<String> {
        let out = Command::new(&self.nginx).arg("-v").output().ok()?;
        parse_nginx_version(&String::from_utf8_lossy(&out.stderr))
    }

    /// PHP's version (`8.2.36`), from `php-fpm -v`.
    pub fn php_version(&self) -> Option<String> {
        let out = Command::new(&self.php_fpm).arg("-v").output().ok()?;
        parse_php_version(&String::from_utf8_lossy(&out.stdout))
    }
}

fn from_env(var: &str) -> Result<Option<PathBuf>> {
    let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(value);
    if !is_executable(&path) {
        bail!(
            "{var}={} is not an executable file: fix the path or unset {var}",
            path.display()
        );
    }
    Ok(Some(path))
}

fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for extra in ["/usr/sbin", "/usr/local/sbin"] {
        if !dirs.iter().any(|d| d == Path::new(extra)) {
            dirs.push(extra.into());
        }
    }
    dirs
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn find_nginx(dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter()
        .map(|d| d.join("nginx"))
        .find(|p| is_executable(p))
}

/// The highest `php-fpmX.Y` in any directory (Debian installs versioned names), else the
/// first plain `php-fpm` (source builds and the official image).
fn find_php_fpm(dirs: &[PathBuf]) -> Option<PathBuf> {
    let mut best: Option<((u32, u32), PathBuf)> = None;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(version) = entry.file_name().to_str().and_then(versioned_fpm) else {
                continue;
            };
            if is_executable(&path) && best.as_ref().is_none_or(|(v, _)| version > *v) {
                best = Some((version, path));
            }
        }
    }
    best.map(|(_, p)| p).or_else(|| {
        dirs.iter()
            .map(|d| d.join("php-fpm"))
            .find(|p| is_executable(p))
    })
}

/// `php-fpm8.2` → (8, 2).
fn versioned_fpm(name: &str) -> Option<(u32, u32)> {
    let (major, minor) = name.strip_prefix("php-fpm")?.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// `nginx version: nginx/1.22.1` → `1.22.1` (other builds add text after a space).
pub(super) fn parse_nginx_version(stderr: &str) -> Option<String> {
    let rest = stderr.split("nginx/").nth(1)?;
    let version = rest.split_whitespace().next()?;
    Some(version.to_string())
}

/// `PHP 8.2.36 (fpm-fcgi) (built: …)` → `8.2.36`.
pub(super) fn parse_php_version(stdout: &str) -> Option<String> {
    let line = stdout.lines().find(|l| l.starts_with("PHP "))?;
    line.split_whitespace().nth(1).map(str::to_string)
}

/// Name of a binary for messages (`php-fpm8.2`).
pub fn short_name(path: &Path) -> &str {
    path.file_name().and_then(OsStr::to_str).unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(
            parse_nginx_version("nginx version: nginx/1.22.1\n").as_deref(),
            Some("1.22.1")
        );
        assert_eq!(
            parse_nginx_version("nginx version: nginx/1.26.3 (Ubuntu)\n").as_deref(),
            Some("1.26.3")
        );
        let php =
            "PHP 8.2.36 (fpm-fcgi) (built: Nov 18 2026 20:02:04)\nCopyright (c) The PHP Group\n";
        assert_eq!(parse_php_version(php).as_deref(), Some("8.2.36"));
        assert_eq!(parse_php_version("garbage"), None);
    }

    #[test]
    fn orders_versioned_php_fpm_numerically() {
        assert_eq!(versioned_fpm("php-fpm8.2"), Some((8, 2)));
        assert_eq!(versioned_fpm("php-fpm8.10"), Some((8, 10)));
        assert!(versioned_fpm("php-fpm8.10") > versioned_fpm("php-fpm8.2"));
        assert_eq!(versioned_fpm("php-fpm"), None);
        assert_eq!(versioned_fpm("php-fpm8.2.dpkg-old"), None);
    }

    #[test]
    fn finds_highest_version_in_dirs() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["php-fpm7.4", "php-fpm8.3", "php-fpm8.1", "php-fpm"] {
            let p = dir.path().join(name);
            std::fs::write(&p, "").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let found = find_php_fpm(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(short_name(&found), "php-fpm8.3");
    }
}
