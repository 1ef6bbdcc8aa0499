//! `run`'s TLS options for an https:// target: validated before anything starts, and one
//! handshake with the target before the run, so a certificate problem refuses the run
//! (exit 2, explained) instead of becoming thousands of failed requests.

use std::path::Path;
use std::time::Duration;

use crate::scenario::Driver;
use crate::tls::{self, Probe, TlsVerify};

/// How long the check before the run waits for the connection, then for the handshake.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The verification `--ca-file` / `--insecure-tls` ask for on `url` (clap keeps them apart).
/// Either one on an http:// target is a mistake worth saying; a `--ca-file` is read now.
pub fn verify_setting(
    url: &str,
    ca_file: Option<&Path>,
    insecure: bool,
) -> Result<TlsVerify, String> {
    let flag = match (ca_file, insecure) {
        (Some(_), _) => "--ca-file",
        (None, true) => "--insecure-tls",
        (None, false) => return Ok(TlsVerify::System),
    };
    if !tls::is_https(url) {
        return Err(format!(
            "{flag} applies to an https:// target, and --target {url} is not one: drop {flag}, \
             or give the https:// URL"
        ));
    }
    match ca_file {
        None => Ok(TlsVerify::Off),
        Some(path) => {
            tls::ca_file_roots(path)?;
            // Absolute, so run.json says which file it was wherever it is read.
            let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            Ok(TlsVerify::CaFile {
                path: abs.display().to_string(),
            })
        }
    }
}

/// The warning a run with verification off carries (printed, and in run.json).
pub fn insecure_warning(driver: &Driver) -> Option<String> {
    match driver {
        Driver::External {
            url,
            tls: TlsVerify::Off,
        } => Some(format!(
            "--insecure-tls: the certificate of {url} is not verified (any issuer, name and \
             dates are accepted): fit for a staging server, never for a check that the \
             target is the one you mean"
        )),
        _ => None,
    }
}

/// One handshake with an https:// external target before the run. A target that does not
/// answer at all passes here: the driver's own wait says so, as for http.
pub async fn check_target(driver: &Driver) -> Result<(), String> {
    let Driver::External { url, tls: verify } = driver else {
        return Ok(());
    };
    if !tls::is_https(url) {
        return Ok(());
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("--target {url}: {e}"))?;
    let host = parsed.host_str().unwrap_or_default();
    let port = parsed.port_or_known_default().unwrap_or(443);
    match tls::probe(host, port, verify, CHECK_TIMEOUT).await {
        Probe::Ok { .. } | Probe::Unreachable(_) => Ok(()),
        Probe::Refused(why) => Err(format!("--target {url}: {why} (nothing was run)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_flags_need_an_https_target() {
        let e = verify_setting("http://127.0.0.1:8080", None, true).unwrap_err();
        assert!(
            e.contains("--insecure-tls applies to an https:// target"),
            "{e}"
        );
        let e =
            verify_setting("http://127.0.0.1:8080", Some(Path::new("/x.pem")), false).unwrap_err();
        assert!(e.contains("--ca-file applies"), "{e}");
        assert_eq!(
            verify_setting("https://127.0.0.1:8443", None, false),
            Ok(TlsVerify::System)
        );
        assert_eq!(
            verify_setting("https://127.0.0.1:8443", None, true),
            Ok(TlsVerify::Off)
        );
        let e =
            verify_setting("https://h", Some(Path::new("/nonexistent.pem")), false).unwrap_err();
        assert!(e.contains("--ca-file /nonexistent.pem"), "{e}");
    }

    #[test]
    fn only_insecure_runs_warn() {
        let driver = |tls| Driver::External {
            url: "https://127.0.0.1:8443".into(),
            tls,
        };
        assert!(
            insecure_warning(&driver(TlsVerify::Off)).is_some_and(|w| w.contains("not verified"))
        );
        assert_eq!(insecure_warning(&driver(TlsVerify::System)), None);
        assert_eq!(insecure_warning(&Driver::Native), None);
    }
}
