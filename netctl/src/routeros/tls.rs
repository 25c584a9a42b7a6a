//! API-SSL (port 8729) over rustls. MikroTik certificates are usually self-signed, so the
//! router is identified by the SHA-256 fingerprint of its certificate (as shown by
//! `/certificate print detail`), not by a CA chain. Routers running API-SSL without any
//! certificate use anonymous Diffie-Hellman, which rustls does not offer: give the router a
//! certificate first.

use super::client::{Client, ClientError};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// SHA-256 fingerprint of a DER certificate, the identity pinned for one router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of(cert_der: &[u8]) -> Self {
        Self(Sha256::digest(cert_der).into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Why a fingerprint string could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a certificate fingerprint is 64 hex digits (colons allowed), got {0:?}")]
pub struct BadFingerprint(pub String);

impl FromStr for Fingerprint {
    type Err = BadFingerprint;

    /// Accepts `ab12...` and `AB:12:...`.
    fn from_str(s: &str) -> Result<Self, BadFingerprint> {
        let bad = || BadFingerprint(s.to_owned());
        let digits: Vec<u8> = s.bytes().filter(|b| *b != b':').collect();
        if digits.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
            out[i] = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }
}

/// Accepts exactly the pinned certificate; remembers what it saw for the error message.
#[derive(Debug)]
struct PinnedCert {
    pin: Fingerprint,
    seen: Mutex<Option<Fingerprint>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = Fingerprint::of(end_entity);
        *self.seen.lock().expect("fingerprint slot poisoned") = Some(got);
        if got == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
        }
    }

    // The handshake signatures are still checked: the pin says whose key it is, these
    // prove the peer holds it.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl Client<TlsStream<TcpStream>> {
    /// Connects with API-SSL (port 8729 on a router), accepting only the certificate with
    /// fingerprint `pin`, and logs in.
    pub async fn connect_tls(
        addr: impl ToSocketAddrs,
        pin: Fingerprint,
        user: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(PinnedCert {
            pin,
            seen: Mutex::new(None),
            algorithms: provider.signature_verification_algorithms,
        });
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        let handshake = async {
            let tcp = TcpStream::connect(addr).await.map_err(ClientError::Connect)?;
            tcp.set_nodelay(true).map_err(ClientError::Connect)?;
            // The pin is the identity, so the name only decides SNI: none for an address.
            let ip = tcp.peer_addr().map_err(ClientError::Connect)?.ip();
            TlsConnector::from(Arc::new(config)).connect(ServerName::IpAddress(ip.into()), tcp).await.map_err(|e| {
                match *verifier.seen.lock().expect("fingerprint slot poisoned") {
                    Some(seen) if seen != pin => ClientError::Tls(format!(
                        "router certificate fingerprint {seen} does not match the pinned {pin}"
                    )),
                    // rustls reports its own failures as InvalidData; anything else is the
                    // line (reset, closed) and says nothing about the router's identity.
                    _ if e.kind() != std::io::ErrorKind::InvalidData => ClientError::Connect(e),
                    _ => ClientError::Tls(e.to_string()),
                }
            })
        };
        let stream = tokio::time::timeout(timeout, handshake).await.map_err(|_| ClientError::Timeout(timeout))??;
        let client = Self::new(stream, timeout);
        client.login(user, password).await?;
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routeros::sim::RouterSim;
    use crate::routeros::Command;

    const T: Duration = Duration::from_secs(5);

    fn self_signed() -> (Vec<u8>, Vec<u8>) {
        let rcgen::CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(vec!["router.test".to_owned()]).unwrap();
        (cert.der().to_vec(), key_pair.serialize_der())
    }

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let fp = Fingerprint::of(b"certificate");
        let plain = fp.to_string();
        assert_eq!(plain.len(), 64);
        assert_eq!(plain.parse::<Fingerprint>().unwrap(), fp);
        let colons = plain
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap().to_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(colons.parse::<Fingerprint>().unwrap(), fp);
        assert!("abcd".parse::<Fingerprint>().is_err());
        assert!("zz".repeat(32).parse::<Fingerprint>().is_err());
    }

    #[tokio::test]
    async fn pinned_certificate_is_accepted() {
        let (cert, key) = self_signed();
        let pin = Fingerprint::of(&cert);
        let sim = RouterSim::start_tls("admin", "secret", cert, key).await;
        let c = Client::connect_tls(sim.addr(), pin, "admin", "secret", T).await.unwrap();
        let id = c.run(Command::new("/ppp/secret/add").attr("name", "alice")).await.unwrap().ret;
        assert!(id.is_some());
        assert_eq!(sim.state().ppp_secrets.len(), 1);
    }

    #[tokio::test]
    async fn other_certificate_is_refused_with_both_fingerprints() {
        let (cert, key) = self_signed();
        let actual = Fingerprint::of(&cert);
        let sim = RouterSim::start_tls("admin", "secret", cert, key).await;
        let pin = Fingerprint::of(b"some other certificate");
        let err = Client::connect_tls(sim.addr(), pin, "admin", "secret", T).await.err().unwrap();
        let msg = err.to_string();
        assert!(matches!(err, ClientError::Tls(_)), "{msg}");
        assert!(msg.contains(&actual.to_string()) && msg.contains(&pin.to_string()), "{msg}");
    }
}
