//! What a fleet does to one running native instance besides up and down: kill it outright,
//! swap its nginx directives by reload (a cold instance warming up), and find its php-fpm's
//! process group (throttling).

use anyhow::{Context, Result};

use super::native::NativeStack;

impl NativeStack {
    /// SIGKILL to php-fpm's and nginx's process groups, as a crashed host or container:
    /// requests in flight are cut, nothing is answered. Logs and configs stay.
    pub fn kill_now(&mut self) {
        if let Some(w) = self.watchdog.take() {
            w.disarm();
        }
        for d in &mut self.daemons {
            d.kill_and_reap();
        }
        self.daemons.clear();
    }

    /// Whether its daemons run (not killed, not stopped).
    pub fn is_running(&self) -> bool {
        !self.daemons.is_empty() && self.daemons.iter().all(|d| !d.has_exited())
    }

    /// php-fpm's process group (master and workers), while it runs.
    pub fn fpm_group(&self) -> Option<u32> {
        self.daemons
            .first()
            .filter(|d| !d.has_exited())
            .map(|d| d.pid())
    }

    /// Replaces the app's extra nginx directives (`app.nginx`) and reloads nginx (SIGHUP to
    /// its master: new workers take the new config, old ones finish their requests).
    pub fn reload_nginx_with(&mut self, directives: Vec<String>) -> Result<()> {
        self.stack.app.nginx = directives;
        let layout = self
            .layout
            .clone()
            .context("the instance is not up: nothing to reload")?;
        self.write_configs(&layout)?;
        let nginx = self.daemons.get(1).context("nginx is not running")?;
        // SAFETY: plain syscall to our own child, which is not reaped (it is in `daemons`).
        unsafe {
            libc::kill(nginx.pid() as libc::pid_t, libc::SIGHUP);
        }
        Ok(())
    }
}
