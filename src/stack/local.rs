//! Helpers of the native driver: free ports, readiness checks, short socket directories.

use std::net::TcpListener;
use std::path::PathBuf;

use anyhow::{Context, Result};

/// The readiness checks: nginx alone, php-fpm's ping (status pool), and the main pool
/// (fpmlab's agent answers `/fpmlab-health`, whatever the application).
pub async fn ready(client: &reqwest::Client, base: &str) -> Result<(), String> {
    let get = |path: &'static str| async move {
        let resp = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("GET {path} answered {status}"));
        }
        Ok(body)
    };
    get("/nginx-health").await?;
    let pong = get("/fpm-ping").await?;
    if pong.trim() != "pong" {
        return Err(format!("GET /fpm-ping answered {pong:?}, not pong"));
    }
    get(crate::scenario::DEFAULT_HEALTH_PATH).await?;
    Ok(())
}

/// Three distinct free ports on 127.0.0.1 (nginx, fpm, status), held together while
/// picking so the kernel hands out different ones.
pub fn free_ports() -> Result<[u16; 3]> {
    let listeners = [(); 3].map(|_| TcpListener::bind("127.0.0.1:0"));
    let mut ports = [0u16; 3];
    for (port, l) in ports.iter_mut().zip(listeners) {
        *port = l
            .context("cannot bind 127.0.0.1:0 to pick a free port")?
            .local_addr()?
            .port();
    }
    Ok(ports)
}

/// A fresh, short directory under the system temp dir for a unix socket whose path under
/// the run directory would not fit `sun_path`. The caller removes it.
pub fn short_socket_dir() -> Result<PathBuf> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("fpmlab-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Whether fpmlab runs as root (then the daemons need `user root` and php-fpm `-R`).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
