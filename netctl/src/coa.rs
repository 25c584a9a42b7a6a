//! RADIUS Disconnect-Request and CoA-Request client (RFC 5176), built on the `isp-radiusd`
//! wire code so that serving and sending share one implementation.

use isp_core::store::jobs::RadiusJobPayload;
use isp_radiusd::dictionary::{attr, error_cause, mikrotik};
use isp_radiusd::{AuthError, Code, EncodeError, Packet};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use thiserror::Error;
use tokio::net::UdpSocket;

/// Why a CoA/Disconnect exchange failed.
#[derive(Debug, Error)]
pub enum CoaError {
    /// No valid answer within the timeout.
    #[error("no answer from {0} within the timeout")]
    Timeout(SocketAddr),
    /// The NAS refused (Disconnect-NAK / CoA-NAK) with this Error-Cause.
    #[error("{code} with Error-Cause {cause:?}")]
    Nak {
        /// Disconnect-NAK or CoA-NAK.
        code: Code,
        /// Error-Cause (RFC 5176 §3.6), if any.
        cause: Option<u32>,
    },
    /// The request could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A socket error.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

/// How a delivered request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoaAnswer {
    /// Disconnect-ACK or CoA-ACK.
    Ack,
    /// The NAS no longer has the session (NAK with Session-Context-Not-Found): nothing to do.
    SessionGone,
}

/// Sends one request to a NAS and waits for its answer; implemented over UDP and by test doubles.
pub trait CoaSender: Send + Sync + 'static {
    /// Sends `request` (unsigned) to `to` with `secret`; waits at most `timeout`.
    fn send(
        &self,
        to: SocketAddr,
        secret: &[u8],
        request: Packet,
        timeout: Duration,
    ) -> impl Future<Output = Result<CoaAnswer, CoaError>> + Send;
}

/// The real sender: one ephemeral UDP socket per exchange.
#[derive(Debug, Clone, Copy, Default)]
pub struct UdpCoaSender;

impl CoaSender for UdpCoaSender {
    async fn send(
        &self,
        to: SocketAddr,
        secret: &[u8],
        mut request: Packet,
        timeout: Duration,
    ) -> Result<CoaAnswer, CoaError> {
        let bind: SocketAddr = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("static address");
        let socket = UdpSocket::bind(bind).await?;
        // RFC 5176 §3.3: Message-Authenticator is optional here; we always send one.
        request.add_message_authenticator();
        let bytes = request.encode_request(secret)?;
        socket.send_to(&bytes, to).await?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, from) = match tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
                Ok(r) => r?,
                Err(_) => return Err(CoaError::Timeout(to)),
            };
            if from != to {
                continue;
            }
            let Ok(reply) = Packet::decode(&buf[..n]) else { continue };
            if reply.identifier != request.identifier {
                continue;
            }
            if let Err(e @ AuthError::BadAuthenticator) | Err(e @ AuthError::BadMessageAuthenticator) =
                reply.verify_response(&request.authenticator, secret)
            {
                tracing::warn!(%to, error = %e, "ignoring a forged or mis-keyed CoA answer");
                continue;
            }
            return match reply.code {
                Code::DisconnectAck | Code::CoaAck => Ok(CoaAnswer::Ack),
                Code::DisconnectNak | Code::CoaNak => {
                    let cause = reply.attr_u32(attr::ERROR_CAUSE);
                    if cause == Some(error_cause::SESSION_CONTEXT_NOT_FOUND) {
                        Ok(CoaAnswer::SessionGone)
                    } else {
                        Err(CoaError::Nak { code: reply.code, cause })
                    }
                }
                _ => continue,
            };
        }
    }
}

/// A Disconnect-Request (RFC 5176 §3) identifying the session by User-Name,
/// Acct-Session-Id and, when known, Framed-IP-Address.
pub fn disconnect_request(p: &RadiusJobPayload) -> Packet {
    let mut req = Packet::new_request(Code::DisconnectRequest, rand_id());
    identify(&mut req, p);
    req
}

/// A CoA-Request (RFC 5176 §3) carrying the new Mikrotik-Rate-Limit.
pub fn coa_request(p: &RadiusJobPayload) -> Packet {
    let mut req = Packet::new_request(Code::CoaRequest, rand_id());
    identify(&mut req, p);
    if let Some(rate) = &p.rate_limit {
        req.add_vendor_str(mikrotik::VENDOR_ID, mikrotik::RATE_LIMIT, rate);
    }
    req
}

fn identify(req: &mut Packet, p: &RadiusJobPayload) {
    req.add_str(attr::USER_NAME, &p.username);
    req.add_str(attr::ACCT_SESSION_ID, &p.acct_session_id);
    if let Some(ip) = p.framed_ip.as_deref().and_then(|s| s.parse::<Ipv4Addr>().ok()) {
        req.add_ipv4(attr::FRAMED_IP_ADDRESS, ip);
    }
}

fn rand_id() -> u8 {
    isp_radiusd::auth::random_authenticator()[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> RadiusJobPayload {
        RadiusJobPayload {
            acct_session_id: "81f00001".into(),
            username: "alice".into(),
            framed_ip: Some("100.64.0.9".into()),
            rate_limit: Some("512k/1000k".into()),
            reason: "quota".into(),
        }
    }

    #[test]
    fn requests_identify_the_session_and_sign_per_rfc5176() {
        let secret = b"s3cret";
        let mut dm = disconnect_request(&payload());
        let bytes = dm.encode_request(secret).unwrap();
        let got = Packet::decode(&bytes).unwrap();
        assert_eq!(got.code, Code::DisconnectRequest);
        got.verify_request(secret).unwrap();
        assert_eq!(got.attr_str(attr::USER_NAME), Some("alice"));
        assert_eq!(got.attr_str(attr::ACCT_SESSION_ID), Some("81f00001"));
        assert_eq!(got.attr_ipv4(attr::FRAMED_IP_ADDRESS), Some(Ipv4Addr::new(100, 64, 0, 9)));
        assert_eq!(got.vendor_attr(mikrotik::VENDOR_ID, mikrotik::RATE_LIMIT), None);
        let coa = coa_request(&payload());
        assert_eq!(coa.code, Code::CoaRequest);
        assert_eq!(coa.vendor_attr(mikrotik::VENDOR_ID, mikrotik::RATE_LIMIT), Some(&b"512k/1000k"[..]));
    }

    #[tokio::test]
    async fn udp_sender_reports_ack_nak_and_timeout() {
        let nas = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = nas.local_addr().unwrap();
        let secret = b"s3cret".to_vec();
        let server = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            for code in [Code::DisconnectAck, Code::DisconnectNak] {
                let (n, from) = nas.recv_from(&mut buf).await.unwrap();
                let req = Packet::decode(&buf[..n]).unwrap();
                req.verify_request(b"s3cret").unwrap();
                let mut reply = Packet::response_to(&req, code);
                if code == Code::DisconnectNak {
                    reply.add_u32(attr::ERROR_CAUSE, error_cause::SESSION_CONTEXT_NOT_FOUND);
                }
                let bytes = reply.encode_response(&req.authenticator, b"s3cret").unwrap();
                nas.send_to(&bytes, from).await.unwrap();
            }
            // Third request: no answer.
            let _ = nas.recv_from(&mut buf).await;
        });
        let t = Duration::from_secs(2);
        let s = UdpCoaSender;
        assert_eq!(s.send(to, &secret, disconnect_request(&payload()), t).await.unwrap(), CoaAnswer::Ack);
        assert_eq!(s.send(to, &secret, disconnect_request(&payload()), t).await.unwrap(), CoaAnswer::SessionGone);
        let err = s.send(to, &secret, disconnect_request(&payload()), Duration::from_millis(100)).await.unwrap_err();
        assert!(matches!(err, CoaError::Timeout(_)), "{err}");
        server.await.unwrap();
    }
}
