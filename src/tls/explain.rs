//! TLS failures in words: the cause (unknown issuer, name mismatch, expired, not TLS at
//! all), what the certificate says (its names, its notAfter) and the fix. Pure code.

use std::io;

use rustls::pki_types::UnixTime;
use rustls::{CertificateError, Error, OtherError};

use super::TlsVerify;

/// Explains a handshake's error with `host:port` under `verify`.
pub fn explain(e: &Error, host: &str, port: u16, verify: &TlsVerify) -> String {
    let target = format!("{host}:{port}");
    let staging = "--insecure-tls accepts it on a staging server";
    match e {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => match verify {
            TlsVerify::CaFile { path } => format!(
                "the certificate of {target} is not signed by the CA in --ca-file {path} (unknown \
                 issuer): give the certificate of the CA that signed it, or the target's \
                 self-signed certificate itself"
            ),
            _ => {
                let roots = super::system_root_count();
                let store = if roots == 0 {
                    "; this machine's store has no CA at all: apt-get install ca-certificates"
                        .to_string()
                } else {
                    String::new()
                };
                format!(
                    "the certificate of {target} is signed by a CA this machine does not trust \
                     (unknown issuer{store}): for a staging server with its own CA or a \
                     self-signed certificate, give --ca-file CA.pem (that CA's certificate, or \
                     the self-signed certificate itself) to keep verification on, or \
                     --insecure-tls to turn it off"
                )
            }
        },
        Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected,
            presented,
        }) => {
            let expected = expected.to_str();
            let names: Vec<String> = presented.iter().map(|n| clean_name(n)).collect();
            let has = if names.is_empty() {
                "names no host (it has no subjectAltName)".to_string()
            } else {
                format!("is for {}", names.join(", "))
            };
            let instead = names
                .iter()
                .find(|n| !n.starts_with('*'))
                .map(|n| {
                    let resolving = if n.parse::<std::net::IpAddr>().is_ok() {
                        ""
                    } else {
                        ", resolving to the server"
                    };
                    format!(
                        "target a name it has (https://{}:{port}{resolving}) or ",
                        bracket(n)
                    )
                })
                .unwrap_or_default();
            format!(
                "the certificate of {target} {has}, not {expected} (name mismatch): {instead}give \
                 the server a certificate for {expected}; {staging}"
            )
        }
        Error::InvalidCertificate(CertificateError::ExpiredContext { time, not_after }) => {
            format!(
                "the certificate of {target} expired on {} (its notAfter; now {}): renew it; \
                 {staging}",
                date(not_after),
                date(time)
            )
        }
        Error::InvalidCertificate(CertificateError::Expired) => {
            format!("the certificate of {target} has expired: renew it; {staging}")
        }
        Error::InvalidCertificate(CertificateError::NotValidYetContext { time, not_before }) => {
            format!(
                "the certificate of {target} is not valid before {} (its notBefore; now {}): \
                 check this machine's clock, or the certificate's dates; {staging}",
                date(not_before),
                date(time)
            )
        }
        Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            if matches!(
                inner.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            ) {
                format!(
                    "the certificate of {target} is a CA's (basicConstraints CA:TRUE, as \
                     `openssl req -x509` makes them) used as the server's own: give that very \
                     certificate as --ca-file (then it is accepted, its name and dates \
                     checked), or make the server's certificate with \
                     -addext basicConstraints=critical,CA:FALSE; {staging}"
                )
            } else {
                format!("the certificate of {target} was refused ({inner}); {staging}")
            }
        }
        Error::InvalidCertificate(other) => {
            format!("the certificate of {target} was refused: {other}; {staging}")
        }
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => format!(
            "{target} did not answer in TLS ({e}): is it an http port? then give --target \
             http://{target}"
        ),
        Error::AlertReceived(alert) => format!(
            "{target} refused the TLS handshake (alert {alert:?}): it may want a client \
             certificate, or a TLS version or cipher fpmlab does not offer (TLS 1.2 and 1.3)"
        ),
        other => format!("TLS handshake with {target} failed: {other}"),
    }
}

/// Explains an io error of a handshake (tokio-rustls wraps rustls' errors in io errors).
pub fn explain_io(e: &io::Error, host: &str, port: u16, verify: &TlsVerify) -> String {
    if let Some(tls) = super::rustls_cause(e) {
        return explain(tls, host, port, verify);
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => format!(
            "{host}:{port} closed the connection during the TLS handshake ({e}): is it an https \
             port?"
        ),
        _ => format!("TLS handshake with {host}:{port}: {e}"),
    }
}

/// The explanation of the first TLS error in `e`'s chain of causes (an HTTP client's error
/// wraps it a few levels down), or `None` when the failure was not TLS's.
pub fn explain_chain(
    e: &(dyn std::error::Error + 'static),
    host: &str,
    port: u16,
    verify: &TlsVerify,
) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(tls) = c.downcast_ref::<Error>() {
            return Some(explain(tls, host, port, verify));
        }
        // An io error's `source` skips the error it wraps: step into that one instead.
        if let Some(inner) = c.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            cause = Some(inner);
            continue;
        }
        cause = c.source();
    }
    None
}

/// `DnsName("staging.example.com")` or `IpAddress(127.0.0.1)` (how rustls lists a
/// certificate's names) as the bare name.
fn clean_name(presented: &str) -> String {
    let inner = presented
        .strip_prefix("DnsName(\"")
        .and_then(|r| r.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|r| r.strip_suffix(')'))
        });
    inner.unwrap_or(presented).to_string()
}

/// An IPv6 address in brackets, for a URL.
fn bracket(name: &str) -> String {
    if name.contains(':') {
        format!("[{name}]")
    } else {
        name.to_string()
    }
}

fn date(t: &UnixTime) -> String {
    chrono::DateTime::from_timestamp(t.as_secs() as i64, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{} s after 1970", t.as_secs()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rustls::pki_types::ServerName;

    use super::*;

    fn cert_error(e: CertificateError) -> Error {
        Error::InvalidCertificate(e)
    }

    #[test]
    fn unknown_issuer_gives_both_fixes() {
        let m = explain(
            &cert_error(CertificateError::UnknownIssuer),
            "127.0.0.1",
            8443,
            &TlsVerify::System,
        );
        assert!(m.contains("127.0.0.1:8443"), "{m}");
        assert!(m.contains("unknown issuer"), "{m}");
        assert!(m.contains("--ca-file"), "{m}");
        assert!(m.contains("--insecure-tls"), "{m}");
        let ca = TlsVerify::CaFile {
            path: "/etc/staging-ca.pem".into(),
        };
        let m = explain(&cert_error(CertificateError::UnknownIssuer), "h", 1, &ca);
        assert!(
            m.contains("not signed by the CA in --ca-file /etc/staging-ca.pem"),
            "{m}"
        );
    }

    #[test]
    fn name_mismatch_lists_the_certificates_names() {
        let e = cert_error(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("127.0.0.1").unwrap(),
            presented: vec![
                "DnsName(\"staging.example.com\")".into(),
                "IpAddress(10.1.2.3)".into(),
            ],
        });
        let m = explain(&e, "127.0.0.1", 8443, &TlsVerify::System);
        assert!(
            m.contains("is for staging.example.com, 10.1.2.3, not 127.0.0.1 (name mismatch)"),
            "{m}"
        );
        assert!(m.contains("https://staging.example.com:8443"), "{m}");
        let none = cert_error(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("localhost").unwrap(),
            presented: vec![],
        });
        let m = explain(&none, "localhost", 443, &TlsVerify::System);
        assert!(m.contains("no subjectAltName"), "{m}");
    }

    #[test]
    fn expiry_gives_the_not_after_date() {
        let e = cert_error(CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(1_800_000_000)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_609_459_200)),
        });
        let m = explain(&e, "127.0.0.1", 8443, &TlsVerify::System);
        assert!(
            m.contains("expired on 2021-01-01 00:00:00 UTC (its notAfter"),
            "{m}"
        );
        assert!(m.contains("renew"), "{m}");
    }

    #[test]
    fn a_plain_http_port_is_named() {
        let e = Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        let m = explain(&e, "127.0.0.1", 8080, &TlsVerify::System);
        assert!(m.contains("http://127.0.0.1:8080"), "{m}");
    }

    #[test]
    fn causes_are_found_inside_io_errors() {
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            cert_error(CertificateError::UnknownIssuer),
        );
        let outer = io::Error::other(io);
        let m = explain_chain(&outer, "h", 1, &TlsVerify::System);
        assert!(m.is_some_and(|m| m.contains("unknown issuer")));
        let plain = io::Error::other("refused");
        assert!(explain_chain(&plain, "h", 1, &TlsVerify::System).is_none());
    }
}
