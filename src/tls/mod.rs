//! TLS for `https://` targets: one client configuration (rustls with the ring provider) that
//! the generator, the external driver's check and the probes all use, so they verify the
//! target alike; and errors that name their cause and fix (see [`explain`]).
//!
//! Roots come from the system's store (rustls-native-certs), not a bundled list
//! (webpki-roots): a staging target is often signed by a company CA that the machine's
//! administrators installed in that store, and curl, which users check a target with, uses
//! the same store, so fpmlab trusts what they see trusted.

pub mod explain;
mod insecure;
mod pinned;

use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde::{Deserialize, Serialize};

pub use explain::{explain, explain_chain, explain_io};

/// How an `https://` target's certificate is verified; in run.json as
/// `plan.driver.tls` and each config's `endpoints.tls`. Unused for `http://` targets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "verify", rename_all = "snake_case")]
pub enum TlsVerify {
    /// The certificate must chain to a CA of the system's store and name the target's host
    /// (the default).
    #[default]
    System,
    /// The certificate must chain to a CA of this PEM file (`--ca-file`, absolute path) and
    /// name the target's host; the system's store is not used.
    CaFile { path: String },
    /// No verification at all (`--insecure-tls`): any certificate, any name, any dates. The
    /// handshake's signatures are still checked, so the key exchange is still sound.
    Off,
}

/// The client configuration for `verify`, built once per call (roots of the system's store
/// are read once per process). ALPN offers HTTP/1.1 only: that is what every client of
/// fpmlab speaks.
pub fn client_config(verify: &TlsVerify) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut config = match verify {
        TlsVerify::System => builder
            .with_root_certificates(system_roots().0.clone())
            .with_no_client_auth(),
        TlsVerify::CaFile { path } => {
            let (roots, given) = read_ca_file(Path::new(path))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(pinned::CaFileVerifier::new(
                    roots,
                    given,
                    provider(),
                )?))
                .with_no_client_auth()
        }
        TlsVerify::Off => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(insecure::AcceptAnyCertificate::new(
                provider(),
            )))
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system store's roots and how many certificates it had, read once.
fn system_roots() -> &'static (Arc<RootCertStore>, usize) {
    static ROOTS: OnceLock<(Arc<RootCertStore>, usize)> = OnceLock::new();
    ROOTS.get_or_init(|| {
        // Unreadable entries are skipped: the store is what could be read, and an empty one
        // shows in the unknown-issuer message.
        let found = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        let (added, _) = store.add_parsable_certificates(found.certs);
        (Arc::new(store), added)
    })
}

/// How many certificates the system's store holds (for the unknown-issuer message).
pub fn system_root_count() -> usize {
    system_roots().1
}

/// The CA certificates of a PEM file, for `--ca-file`: an error that says what is wrong
/// with the file (missing, no certificate in it, not a certificate a CA can be made of).
pub fn ca_file_roots(path: &Path) -> Result<Arc<RootCertStore>, String> {
    read_ca_file(path).map(|(roots, _)| roots)
}

/// The roots of a `--ca-file` and its certificates as given.
fn read_ca_file(path: &Path) -> Result<(Arc<RootCertStore>, Vec<CertificateDer<'static>>), String> {
    let shown = path.display();
    let text = std::fs::read(path).map_err(|e| format!("--ca-file {shown}: {e}"))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--ca-file {shown}: not a PEM file ({e:?})"))?;
    if certs.is_empty() {
        return Err(format!(
            "--ca-file {shown}: no certificate in it: give the PEM file of the CA that signed \
             the target's certificate (-----BEGIN CERTIFICATE-----), or of that certificate itself"
        ));
    }
    let mut store = RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        store
            .add(cert.clone())
            .map_err(|e| format!("--ca-file {shown}: certificate {} is unusable: {e}", i + 1))?;
    }
    Ok((Arc::new(store), certs))
}

/// The name a handshake presents (SNI) and verifies the certificate against: the URL's
/// host, without IPv6 brackets. An IP address is verified against the certificate's IP
/// names and sent without SNI, as the TLS standard says.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string())
        .map_err(|_| format!("{host} is not a valid host name for TLS"))
}

/// A `reqwest` client builder for talking to `base_url`: direct (a proxy from the
/// environment must not answer for the target) and, for `https://`, with `verify`'s
/// configuration, so the probes and the external driver's check verify as the generator does.
pub fn http_client(base_url: &str, verify: &TlsVerify) -> Result<reqwest::ClientBuilder, String> {
    let builder = reqwest::Client::builder().no_proxy();
    if is_https(base_url) {
        // reqwest takes the configuration by value; a clone keeps the shared one intact.
        let config = ClientConfig::clone(client_config(verify)?.as_ref());
        return Ok(builder.use_preconfigured_tls(config));
    }
    Ok(builder)
}

/// Whether a URL's scheme is https (case-insensitive, as URLs are).
pub fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

/// How a probe handshake went.
#[derive(Debug)]
pub enum Probe {
    /// The handshake succeeded; it took this long (after the TCP connection).
    Ok { handshake: Duration },
    /// No TCP connection: nothing said about TLS (the caller waits for the target).
    Unreachable(String),
    /// The TCP connection was made and the handshake failed: the explained cause.
    Refused(String),
}

/// One TLS handshake with `host:port` under `verify`, bounded by `timeout`: the check before
/// a run, so a certificate problem refuses the run instead of failing every request.
pub async fn probe(host: &str, port: u16, verify: &TlsVerify, timeout: Duration) -> Probe {
    let (config, name) = match (client_config(verify), server_name(host)) {
        (Ok(c), Ok(n)) => (c, n),
        (Err(e), _) | (_, Err(e)) => return Probe::Refused(e),
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let connect = tokio::net::TcpStream::connect((bare, port));
    let tcp = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Probe::Unreachable(format!("connect {host}:{port}: {e}")),
        Err(_) => return Probe::Unreachable(format!("connect {host}:{port}: timed out")),
    };
    let started = Instant::now();
    let connector = tokio_rustls::TlsConnector::from(config);
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Ok(Ok(_)) => Probe::Ok {
            handshake: started.elapsed(),
        },
        Ok(Err(e)) => Probe::Refused(explain_io(&e, host, port, verify)),
        Err(_) => Probe::Refused(format!(
            "{host}:{port} accepted the connection but did not complete a TLS handshake within \
             {} s: is it an https port? (an http:// port waits for a request)",
            timeout.as_secs()
        )),
    }
}

/// Reads an io error's TLS cause, if it has one.
fn rustls_cause(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_recognised_whatever_the_case() {
        assert!(is_https("https://127.0.0.1:8443"));
        assert!(is_https("HTTPS://localhost"));
        assert!(!is_https("http://127.0.0.1"));
        assert!(!is_https("http"));
    }

    #[test]
    fn server_names_for_hosts_and_addresses() {
        assert!(matches!(
            server_name("127.0.0.1").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("staging.example.com").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(server_name("bad name").is_err());
    }

    #[test]
    fn a_ca_file_without_a_certificate_says_what_to_give() {
        let dir = std::env::temp_dir().join(format!("fpmlab-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a pem\n").unwrap();
        let e = ca_file_roots(&empty).unwrap_err();
        assert!(e.contains("no certificate in it"), "{e}");
        let e = ca_file_roots(&dir.join("missing.pem")).unwrap_err();
        assert!(e.contains("missing.pem"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_setting_builds_a_configuration() {
        assert!(client_config(&TlsVerify::System).is_ok());
        let off = client_config(&TlsVerify::Off).unwrap();
        assert_eq!(off.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let missing = TlsVerify::CaFile {
            path: "/nonexistent/ca.pem".into(),
        };
        assert!(client_config(&missing).is_err());
    }
}
