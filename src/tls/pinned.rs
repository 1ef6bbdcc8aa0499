//! `--ca-file` verification. The usual case is rustls' own: the target's certificate must
//! chain to a certificate of the file. One more is accepted: the file holds the target's
//! very certificate, and that certificate says it is a CA (`openssl req -x509` makes
//! self-signed certificates so unless told otherwise). rustls refuses a CA certificate as
//! a server's own even when trusted, where curl and browsers accept the exact certificate
//! they were given; so does fpmlab, still checking its dates and its name.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, DigitallySignedStruct, Error, OtherError, RootCertStore, SignatureScheme,
};

#[derive(Debug)]
pub struct CaFileVerifier {
    inner: Arc<WebPkiServerVerifier>,
    /// The file's certificates, byte for byte.
    given: Vec<CertificateDer<'static>>,
}

impl CaFileVerifier {
    pub fn new(
        roots: Arc<RootCertStore>,
        given: Vec<CertificateDer<'static>>,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<Self, String> {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| format!("--ca-file: {e}"))?;
        Ok(CaFileVerifier { inner, given })
    }
}

/// Whether rustls refused the certificate only for being a CA's.
fn ca_used_as_end_entity(e: &Error) -> bool {
    match e {
        Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            matches!(
                inner.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            )
        }
        _ => false,
    }
}

impl ServerCertVerifier for CaFileVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let verdict = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verdict {
            // webpki checks an end entity's dates before its CA flag, so reaching this
            // refusal means the dates were right; the name is checked here.
            Err(e) if ca_used_as_end_entity(&e) && self.given.iter().any(|c| c == end_entity) => {
                let cert = webpki::EndEntityCert::try_from(end_entity)
                    .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
                cert.verify_is_valid_for_subject_name(server_name)
                    .map_err(name_error)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// webpki's name error as rustls reports it for any other certificate.
fn name_error(e: webpki::Error) -> Error {
    match e {
        webpki::Error::CertNotValidForName(ctx) => {
            Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected: ctx.expected,
                presented: ctx.presented,
            })
        }
        other => Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(other)))),
    }
}
