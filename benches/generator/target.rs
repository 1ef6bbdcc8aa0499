//! The benchmark's target: a plain nginx answering `return 200` on loopback, pinned to the
//! last CPU, and a description of the machine.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

pub struct Nginx {
    child: Child,
    port: u16,
    pub cpu: usize,
}

impl Nginx {
    pub fn start(dir: &Path) -> Nginx {
        let cpu = std::thread::available_parallelism().map_or(1, |n| n.get()) - 1;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let d = dir.display();
        let conf = format!(
            "daemon off; worker_processes 1; pid {d}/tmp/nginx.pid; error_log {d}/error.log; {user}
             events {{ worker_connections 4096; }}
             http {{ access_log off; keepalive_requests 100000000; keepalive_timeout 300s;
               client_body_temp_path {d}/tmp/b; fastcgi_temp_path {d}/tmp/f; proxy_temp_path {d}/tmp/p;
               scgi_temp_path {d}/tmp/s; uwsgi_temp_path {d}/tmp/u;
               server {{ listen 127.0.0.1:{port} backlog=4096; location / {{ return 200 \"ok\\n\"; }} }} }}",
            // SAFETY: geteuid has no preconditions.
            user = if unsafe { libc::geteuid() } == 0 { "user root;" } else { "" }
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new("taskset")
            .args(["-c", &cpu.to_string(), "nginx", "-p"])
            .arg(dir.join("tmp"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .spawn()
            .expect("nginx not found: apt-get install nginx-light");
        let nginx = Nginx { child, port, cpu };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nginx did not start; see {d}/error.log");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets nginx's master take its worker down with it.
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// CPUs, model and kernel, for the report's header.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpus} CPUs ({model}), kernel {}", kernel.trim())
}
