//! Request/Response Authenticators and Message-Authenticator, for both the server
//! (verify requests, sign responses) and the client (sign requests, verify responses).
//!
//! - Response Authenticator: MD5(Code+ID+Length+RequestAuth+Attributes+Secret) (RFC 2865 §3).
//! - Accounting, CoA and Disconnect requests: the same MD5 with 16 zero octets in place
//!   of RequestAuth (RFC 2866 §3, RFC 5176 §2.3).
//! - Access-Request and Status-Server carry a random Request Authenticator (RFC 2865 §3).
//! - Message-Authenticator: HMAC-MD5(Secret, packet with the attribute's value zeroed),
//!   over the Request Authenticator for responses (RFC 3579 §3.2) and over 16 zero octets
//!   for Accounting/CoA/Disconnect requests (RFC 5176 §3.3).

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use rand::RngCore;
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::dictionary::attr;
use crate::packet::{Attribute, Code, EncodeError, Packet, HEADER_LEN};

type HmacMd5 = Hmac<Md5>;

/// Why a packet failed authentication; the receiver drops it silently.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// The Request or Response Authenticator does not match: wrong secret or tampering.
    #[error("authenticator does not match (wrong shared secret?)")]
    BadAuthenticator,
    /// The Message-Authenticator does not match.
    #[error("Message-Authenticator does not match")]
    BadMessageAuthenticator,
    /// Message-Authenticator is required here (RFC 5997 §3, RFC 3579 §3.2) but absent.
    #[error("Message-Authenticator is required but missing")]
    MissingMessageAuthenticator,
    /// More than one Message-Authenticator, or one whose value is not 16 octets.
    #[error("malformed Message-Authenticator")]
    MalformedMessageAuthenticator,
    /// A request was given where a response was expected, or the reverse.
    #[error("{0} is the wrong direction for this operation")]
    WrongDirection(Code),
    /// The packet could not be serialised.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// A fresh unpredictable Request Authenticator for Access-Request or Status-Server (RFC 2865 §3).
pub fn random_authenticator() -> [u8; 16] {
    let mut a = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut a);
    a
}

/// MD5 over an encoded packet with `authenticator` in place of its Authenticator field,
/// followed by the secret (RFC 2865 §3, RFC 2866 §3).
fn md5_over(encoded: &[u8], authenticator: &[u8; 16], secret: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(&encoded[..4]);
    h.update(authenticator);
    h.update(&encoded[HEADER_LEN..]);
    h.update(secret);
    h.finalize().into()
}

/// The Response Authenticator of an encoded response (its own Authenticator field is ignored).
pub fn response_authenticator(encoded: &[u8], request_authenticator: &[u8; 16], secret: &[u8]) -> [u8; 16] {
    md5_over(encoded, request_authenticator, secret)
}

/// The Request Authenticator of an encoded Accounting-, CoA- or Disconnect-Request
/// (RFC 2866 §3, RFC 5176 §2.3).
pub fn computed_request_authenticator(encoded: &[u8], secret: &[u8]) -> [u8; 16] {
    md5_over(encoded, &[0; 16], secret)
}

/// Offsets of Message-Authenticator values in an encoded packet; `Err` if malformed.
fn message_authenticator_offset(encoded: &[u8]) -> Result<Option<usize>, AuthError> {
    let mut found = None;
    let mut at = HEADER_LEN;
    while at + 2 <= encoded.len() {
        let len = usize::from(encoded[at + 1]).max(2);
        if encoded[at] == attr::MESSAGE_AUTHENTICATOR {
            // RFC 3579 §3.2: exactly one, with a 16-octet value.
            if found.is_some() || len != 18 || at + len > encoded.len() {
                return Err(AuthError::MalformedMessageAuthenticator);
            }
            found = Some(at + 2);
        }
        at += len;
    }
    Ok(found)
}

/// HMAC-MD5 over `encoded` with the Authenticator field set to `authenticator` and the
/// Message-Authenticator value at `offset` zeroed (RFC 3579 §3.2).
fn hmac_over(encoded: &[u8], offset: usize, authenticator: &[u8; 16], secret: &[u8]) -> [u8; 16] {
    let mut mac = HmacMd5::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(&encoded[..4]);
    mac.update(authenticator);
    mac.update(&encoded[HEADER_LEN..offset]);
    mac.update(&[0; 16]);
    mac.update(&encoded[offset + 16..]);
    mac.finalize().into_bytes().into()
}

/// Checks the Message-Authenticator, if present; returns whether there was one.
fn check_message_authenticator(encoded: &[u8], authenticator: &[u8; 16], secret: &[u8]) -> Result<bool, AuthError> {
    let Some(offset) = message_authenticator_offset(encoded)? else {
        return Ok(false);
    };
    let want = hmac_over(encoded, offset, authenticator, secret);
    if bool::from(want.ct_eq(&encoded[offset..offset + 16])) {
        Ok(true)
    } else {
        Err(AuthError::BadMessageAuthenticator)
    }
}

impl Packet {
    /// Starts a request as a client. Access-Request and Status-Server get a random
    /// authenticator now, because User-Password hiding needs it (RFC 2865 §5.2).
    pub fn new_request(code: Code, identifier: u8) -> Packet {
        let mut p = Packet::new(code, identifier);
        if !code.has_computed_request_authenticator() {
            p.authenticator = random_authenticator();
        }
        p
    }

    /// Starts a response to `request`: same Identifier, Proxy-State copied (RFC 2865 §5.33).
    pub fn response_to(request: &Packet, code: Code) -> Packet {
        let mut p = Packet::new(code, request.identifier);
        p.copy_proxy_state(request);
        p
    }

    /// Appends the request's Proxy-State attributes in their order (RFC 2865 §5.33).
    pub fn copy_proxy_state(&mut self, request: &Packet) {
        for value in request.attrs(attr::PROXY_STATE) {
            self.add(attr::PROXY_STATE, value);
        }
    }

    /// Whether the packet carries a Message-Authenticator attribute.
    pub fn has_message_authenticator(&self) -> bool {
        self.attr(attr::MESSAGE_AUTHENTICATOR).is_some()
    }

    /// Inserts a zeroed Message-Authenticator as the first attribute, unless one exists;
    /// the encode functions fill in its value. First, as the BlastRADIUS advice asks.
    pub fn add_message_authenticator(&mut self) {
        if !self.has_message_authenticator() {
            let ma = Attribute { typ: attr::MESSAGE_AUTHENTICATOR, value: vec![0; 16] };
            self.attributes.insert(0, ma);
        }
    }

    /// Signs and serialises a request as a client, updating `self.authenticator` (keep it
    /// to verify the response) and the Message-Authenticator value.
    ///
    /// Access-Request and Status-Server always get a Message-Authenticator (RFC 5997 §3;
    /// BlastRADIUS). Accounting/CoA/Disconnect requests get their MD5 authenticator, and a
    /// Message-Authenticator only if [`Packet::add_message_authenticator`] was called.
    pub fn encode_request(&mut self, secret: &[u8]) -> Result<Vec<u8>, EncodeError> {
        if !self.code.is_request() {
            return Err(EncodeError::WrongDirection(self.code));
        }
        let computed = self.code.has_computed_request_authenticator();
        if computed {
            self.authenticator = [0; 16];
        } else {
            if self.authenticator == [0; 16] {
                self.authenticator = random_authenticator();
            }
            self.add_message_authenticator();
        }
        let mut bytes = self.sign_message_authenticator(secret)?;
        if computed {
            self.authenticator = computed_request_authenticator(&bytes, secret);
            bytes[4..HEADER_LEN].copy_from_slice(&self.authenticator);
        }
        Ok(bytes)
    }

    /// Signs and serialises a response as a server, given the request's authenticator.
    ///
    /// Access-Accept, -Reject and -Challenge always get a Message-Authenticator as their
    /// first attribute (RFC 3579 §3.2 for EAP, BlastRADIUS for the rest); other responses
    /// only if one was added. The Message-Authenticator is computed first, then the
    /// Response Authenticator over the result (RFC 3579 §3.2).
    pub fn encode_response(&mut self, request_authenticator: &[u8; 16], secret: &[u8]) -> Result<Vec<u8>, EncodeError> {
        if self.code.is_request() {
            return Err(EncodeError::WrongDirection(self.code));
        }
        if matches!(self.code, Code::AccessAccept | Code::AccessReject | Code::AccessChallenge) {
            self.add_message_authenticator();
        }
        self.authenticator = *request_authenticator;
        let mut bytes = self.sign_message_authenticator(secret)?;
        self.authenticator = response_authenticator(&bytes, request_authenticator, secret);
        bytes[4..HEADER_LEN].copy_from_slice(&self.authenticator);
        Ok(bytes)
    }

    /// Signs and serialises an Accounting-Response to an Accounting-Request, always with a
    /// Message-Authenticator. Its HMAC is computed over 16 zero octets in the Authenticator
    /// field, as for the Accounting-Request itself (RFC 5176 §3.3 by analogy), which is what
    /// FreeRADIUS verifies; then the Response Authenticator (RFC 2866 §3) over the result.
    pub fn encode_accounting_response(
        &mut self,
        request_authenticator: &[u8; 16],
        secret: &[u8],
    ) -> Result<Vec<u8>, EncodeError> {
        if self.code != Code::AccountingResponse {
            return Err(EncodeError::WrongDirection(self.code));
        }
        self.add_message_authenticator();
        self.authenticator = [0; 16];
        let mut bytes = self.sign_message_authenticator(secret)?;
        self.authenticator = response_authenticator(&bytes, request_authenticator, secret);
        bytes[4..HEADER_LEN].copy_from_slice(&self.authenticator);
        Ok(bytes)
    }

    /// Authenticates an Accounting-Response made by [`Packet::encode_accounting_response`].
    pub fn verify_accounting_response(&self, request_authenticator: &[u8; 16], secret: &[u8]) -> Result<(), AuthError> {
        let bytes = self.encode()?;
        let want = response_authenticator(&bytes, request_authenticator, secret);
        if !bool::from(want.ct_eq(&self.authenticator)) {
            return Err(AuthError::BadAuthenticator);
        }
        check_message_authenticator(&bytes, &[0; 16], secret)?;
        Ok(())
    }

    /// Encodes with the current authenticator and fills in any Message-Authenticator.
    fn sign_message_authenticator(&mut self, secret: &[u8]) -> Result<Vec<u8>, EncodeError> {
        let mut bytes = self.encode()?;
        let offset = message_authenticator_offset(&bytes).map_err(|_| EncodeError::MalformedMessageAuthenticator)?;
        if let Some(offset) = offset {
            let ma = hmac_over(&bytes, offset, &self.authenticator, secret);
            bytes[offset..offset + 16].copy_from_slice(&ma);
            if let Some(a) = self.attributes.iter_mut().find(|a| a.typ == attr::MESSAGE_AUTHENTICATOR) {
                a.value = ma.to_vec();
            }
        }
        Ok(bytes)
    }

    /// Authenticates a received request as a server.
    ///
    /// Accounting/CoA/Disconnect requests must carry the MD5 Request Authenticator.
    /// A Message-Authenticator is verified when present and required on Status-Server
    /// (RFC 5997 §3) and on requests with EAP-Message (RFC 3579 §3.2). Whether to require
    /// it on every Access-Request (BlastRADIUS) is the caller's policy, via
    /// [`Packet::has_message_authenticator`].
    pub fn verify_request(&self, secret: &[u8]) -> Result<(), AuthError> {
        if !self.code.is_request() {
            return Err(AuthError::WrongDirection(self.code));
        }
        let bytes = self.encode()?;
        if self.code.has_computed_request_authenticator() {
            check_message_authenticator(&bytes, &[0; 16], secret)?;
            let want = computed_request_authenticator(&bytes, secret);
            if !bool::from(want.ct_eq(&self.authenticator)) {
                return Err(AuthError::BadAuthenticator);
            }
            return Ok(());
        }
        let present = check_message_authenticator(&bytes, &self.authenticator, secret)?;
        let required =
            matches!(self.code, Code::StatusServer | Code::StatusClient) || self.attr(attr::EAP_MESSAGE).is_some();
        if required && !present {
            return Err(AuthError::MissingMessageAuthenticator);
        }
        Ok(())
    }

    /// Authenticates a received response as a client, given the authenticator of the
    /// request it answers. Whether to require a Message-Authenticator is the caller's policy.
    pub fn verify_response(&self, request_authenticator: &[u8; 16], secret: &[u8]) -> Result<(), AuthError> {
        if self.code.is_request() {
            return Err(AuthError::WrongDirection(self.code));
        }
        let bytes = self.encode()?;
        let want = response_authenticator(&bytes, request_authenticator, secret);
        if !bool::from(want.ct_eq(&self.authenticator)) {
            return Err(AuthError::BadAuthenticator);
        }
        check_message_authenticator(&bytes, request_authenticator, secret)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::tests::{hex, RFC2865_ACCESS_ACCEPT, RFC2865_ACCESS_REQUEST};
    use std::net::Ipv4Addr;

    const SECRET: &[u8] = b"xyzzy5461";

    #[test]
    fn rfc2865_7_1_access_accept_response_authenticator() {
        let req = Packet::decode(&hex(RFC2865_ACCESS_REQUEST)).unwrap();
        let mut accept = Packet::response_to(&req, Code::AccessAccept);
        accept.add_u32(attr::SERVICE_TYPE, 1); // Login-User
        accept.add_u32(attr::LOGIN_SERVICE, 0); // Telnet
        accept.add_ipv4(attr::LOGIN_IP_HOST, Ipv4Addr::new(192, 168, 1, 3));
        let mut bytes = accept.encode().unwrap();
        let auth = response_authenticator(&bytes, &req.authenticator, SECRET);
        assert_eq!(auth.to_vec(), hex("86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2"));
        bytes[4..20].copy_from_slice(&auth);
        assert_eq!(bytes, hex(RFC2865_ACCESS_ACCEPT));

        let rfc = Packet::decode(&hex(RFC2865_ACCESS_ACCEPT)).unwrap();
        assert_eq!(rfc.verify_response(&req.authenticator, SECRET), Ok(()));
        assert_eq!(rfc.verify_response(&req.authenticator, b"wrong"), Err(AuthError::BadAuthenticator));
        // No Message-Authenticator in a 1997-era request: allowed, policy is the caller's.
        assert_eq!(req.verify_request(SECRET), Ok(()));
        assert!(!req.has_message_authenticator());
    }

    #[test]
    fn rfc5997_6_1_status_server_authentication_port() {
        let req = hex("0cda00268a54f4686fb394c52866e302185d062350125a665e2e1e8411f3e243822097c84fa3");
        let req = Packet::decode(&req).unwrap();
        assert_eq!(req.code, Code::StatusServer);
        assert_eq!(req.verify_request(SECRET), Ok(()));
        assert_eq!(req.verify_request(b"xyzzy5462"), Err(AuthError::BadMessageAuthenticator));
        // The Access-Accept reply in the RFC carries no attributes.
        let accept = Packet::new(Code::AccessAccept, req.identifier);
        let auth = response_authenticator(&accept.encode().unwrap(), &req.authenticator, SECRET);
        assert_eq!(auth.to_vec(), hex("ef0d552a4bf2d693ec2b6fe8b5411d66"));
        // Stripping the Message-Authenticator makes it unacceptable (RFC 5997 §3).
        let mut bare = req.clone();
        bare.remove(attr::MESSAGE_AUTHENTICATOR);
        assert_eq!(bare.verify_request(SECRET), Err(AuthError::MissingMessageAuthenticator));
    }

    #[test]
    fn rfc5997_6_2_status_server_accounting_port() {
        let req = hex("0cb30026925f6b66dd5fed571fcb1db7ad3882605012e8d6eabda910875cd91fdade26367858");
        let req = Packet::decode(&req).unwrap();
        assert_eq!(req.verify_request(SECRET), Ok(()));
        // The RFC prints Code 02 here; an Accounting-Response is Code 5 and the printed
        // authenticator is the one for Code 5 (a known erratum of the example).
        let resp = Packet::new(Code::AccountingResponse, req.identifier);
        let auth = response_authenticator(&resp.encode().unwrap(), &req.authenticator, SECRET);
        assert_eq!(auth.to_vec(), hex("0f6f92145f107e2f504e860a4860669c"));
    }

    #[test]
    fn disconnect_request_known_answer() {
        // Disconnect-Request for Acct-Session-Id "09042AF8", as built by the
        // Flexinets Radius.Core test suite with secret "xyzzy5461".
        let want = hex("2801001e2ec8a0da729620319be0140bc28e92682c0a3039303432414638");
        let mut p = Packet::new_request(Code::DisconnectRequest, 1);
        p.add_str(attr::ACCT_SESSION_ID, "09042AF8");
        assert_eq!(p.encode_request(SECRET).unwrap(), want);
        let got = Packet::decode(&want).unwrap();
        assert_eq!(got.verify_request(SECRET), Ok(()));
        assert_eq!(got.verify_request(b"other"), Err(AuthError::BadAuthenticator));
    }

    #[test]
    fn accounting_request_known_answer() {
        // Accounting-Request (User-Name "nemo", Acct-Status-Type Start, Acct-Session-Id
        // "20024") from a third-party RADIUS test suite, secret "xyzzy5461".
        let bytes = hex("0404002711019c27d4e00cbc523b3e2fc834baf401066e656d6f2806000000012c073230303234");
        let p = Packet::decode(&bytes).unwrap();
        assert_eq!(p.verify_request(SECRET), Ok(()));
        let mut rebuilt = Packet::new(Code::AccountingRequest, 4);
        rebuilt.attributes = p.attributes.clone();
        assert_eq!(rebuilt.encode_request(SECRET).unwrap(), bytes);
        let mut tampered = p.clone();
        tampered.attributes[1].value[3] = 2;
        assert_eq!(tampered.verify_request(SECRET), Err(AuthError::BadAuthenticator));
    }

    #[test]
    fn requests_from_freeradius_radclient() {
        // Sent by FreeRADIUS 3.2.1 radclient with secret "testing123".
        let secret = b"testing123";
        // Access-Request with Message-Authenticator, User-Password "arctangent".
        let access = hex("010e0043825c36337730c58abcbc421a26a697a201066e656d6f02127cc9cc8cc294426dd0389eec88
             be922350128fef0b2fea3895a450534bd70487e4ee20056d7431");
        let access = Packet::decode(&access).unwrap();
        assert_eq!(access.verify_request(secret), Ok(()));
        assert_eq!(access.verify_request(SECRET), Err(AuthError::BadMessageAuthenticator));
        assert_eq!(access.user_password(secret).unwrap(), b"arctangent");
        // Status-Server with Message-Authenticator.
        let status = hex("0c02003276d8b9c3383dea06ce86d65ca597ee0f5012c8870936d7551508916f809575d2a0fd1a0c
             00002c507f0600000001");
        assert_eq!(Packet::decode(&status).unwrap().verify_request(secret), Ok(()));
        // Accounting-Request: Stop, Acct-Input-Octets 7 + Acct-Input-Gigawords 2, two Proxy-States.
        let acct = hex("04db00397965fb723ea9b0c08dec1a9f38e82d2e01066e656d6f2806000000022c056162632a0600
             0000073406000000022104313521043233");
        let acct = Packet::decode(&acct).unwrap();
        assert_eq!(acct.verify_request(secret), Ok(()));
        assert_eq!(acct.verify_request(SECRET), Err(AuthError::BadAuthenticator));
        assert_eq!(acct.attr_u64(attr::ACCT_INPUT_OCTETS, attr::ACCT_INPUT_GIGAWORDS), Some((2 << 32) + 7));
        let reply = Packet::response_to(&acct, Code::AccountingResponse);
        assert_eq!(reply.attrs(attr::PROXY_STATE).collect::<Vec<_>>(), [b"15", b"23"]);
    }

    #[test]
    fn proxy_state_copied_in_order_known_answer() {
        // RFC 2865 §7.1 with two Proxy-State attributes appended, and the expected reply,
        // from the Flexinets Radius.Core test suite.
        let req = hex("010000420f403f9473978057bd83d5cb98f4227a01066e656d6f02120dbe708d93d413ce3196e4
             3f782a0aee0406c0a8011005060000000321053135342105323330");
        let want = hex("02000030acf049cee1a3ed134316e5b3348cdf3c0606000000010f06000000000e06c0a801032105
             3135342105323330");
        let req = Packet::decode(&req).unwrap();
        let mut accept = Packet::new(Code::AccessAccept, req.identifier);
        accept.add_u32(attr::SERVICE_TYPE, 1);
        accept.add_u32(attr::LOGIN_SERVICE, 0);
        accept.add_ipv4(attr::LOGIN_IP_HOST, Ipv4Addr::new(192, 168, 1, 3));
        accept.copy_proxy_state(&req);
        let mut bytes = accept.encode().unwrap();
        let auth = response_authenticator(&bytes, &req.authenticator, SECRET);
        bytes[4..20].copy_from_slice(&auth);
        assert_eq!(bytes, want);
        let reply = Packet::response_to(&req, Code::AccessReject);
        let states: Vec<&[u8]> = reply.attrs(attr::PROXY_STATE).collect();
        assert_eq!(states, [&b"154"[..], &b"230"[..]]);
    }

    #[test]
    fn signed_response_carries_message_authenticator_first() {
        let req = Packet::decode(&hex(RFC2865_ACCESS_REQUEST)).unwrap();
        let mut accept = Packet::response_to(&req, Code::AccessAccept);
        accept.add_u32(attr::SESSION_TIMEOUT, 3600);
        let bytes = accept.encode_response(&req.authenticator, SECRET).unwrap();
        assert_eq!(bytes[20..22], [attr::MESSAGE_AUTHENTICATOR, 18]);
        let got = Packet::decode(&bytes).unwrap();
        assert_eq!(got, accept);
        assert_eq!(got.verify_response(&req.authenticator, SECRET), Ok(()));
        // Independent check of the HMAC: recompute over the bytes with the value zeroed.
        let mut zeroed = bytes.clone();
        zeroed[4..20].copy_from_slice(&req.authenticator);
        zeroed[22..38].fill(0);
        let mut mac = HmacMd5::new_from_slice(SECRET).unwrap();
        mac.update(&zeroed);
        assert_eq!(bytes[22..38], mac.finalize().into_bytes()[..]);
        // A response forged by someone who can compute MD5 but lacks HMAC (BlastRADIUS):
        // fixing the Response Authenticator alone does not pass.
        let mut forged = got.clone();
        forged.attributes[1].value = 86400u32.to_be_bytes().to_vec();
        let mut fb = forged.encode().unwrap();
        forged.authenticator = response_authenticator(&fb, &req.authenticator, SECRET);
        fb[4..20].copy_from_slice(&forged.authenticator);
        let forged = Packet::decode(&fb).unwrap();
        assert_eq!(forged.verify_response(&req.authenticator, SECRET), Err(AuthError::BadMessageAuthenticator));
    }

    #[test]
    fn client_requests_sign_and_verify() {
        let mut access = Packet::new_request(Code::AccessRequest, 9);
        assert_ne!(access.authenticator, [0; 16]);
        access.add_str(attr::USER_NAME, "alice");
        access.add(attr::EAP_MESSAGE, vec![2, 9, 0, 5, 1]);
        let bytes = access.encode_request(SECRET).unwrap();
        let got = Packet::decode(&bytes).unwrap();
        assert_eq!(got.attributes[0].typ, attr::MESSAGE_AUTHENTICATOR);
        assert_eq!(got.verify_request(SECRET), Ok(()));
        assert_eq!(got.verify_request(b"nope"), Err(AuthError::BadMessageAuthenticator));

        let mut coa = Packet::new_request(Code::CoaRequest, 3);
        coa.add_str(attr::ACCT_SESSION_ID, "81f00001");
        coa.add_message_authenticator();
        let bytes = coa.encode_request(SECRET).unwrap();
        let got = Packet::decode(&bytes).unwrap();
        assert_eq!(got.verify_request(SECRET), Ok(()));
        // The NAS answers; the client checks the answer with the request's authenticator.
        let mut ack = Packet::response_to(&got, Code::CoaAck);
        let ack_bytes = ack.encode_response(&got.authenticator, SECRET).unwrap();
        let ack = Packet::decode(&ack_bytes).unwrap();
        assert!(!ack.has_message_authenticator());
        assert_eq!(ack.verify_response(&coa.authenticator, SECRET), Ok(()));
        assert_eq!(ack.verify_response(&[1; 16], SECRET), Err(AuthError::BadAuthenticator));
    }

    #[test]
    fn rejects_wrong_direction_and_duplicate_message_authenticators() {
        let mut accept = Packet::new(Code::AccessAccept, 1);
        assert_eq!(accept.encode_request(SECRET), Err(EncodeError::WrongDirection(Code::AccessAccept)));
        assert_eq!(accept.verify_request(SECRET), Err(AuthError::WrongDirection(Code::AccessAccept)));
        let mut req = Packet::new_request(Code::AccessRequest, 1);
        assert!(req.encode_response(&[0; 16], SECRET).is_err());
        req.add(attr::MESSAGE_AUTHENTICATOR, vec![0; 16]);
        req.add(attr::MESSAGE_AUTHENTICATOR, vec![0; 16]);
        assert_eq!(req.verify_request(SECRET), Err(AuthError::MalformedMessageAuthenticator));
        let mut short = Packet::new_request(Code::AccessRequest, 1);
        short.add(attr::MESSAGE_AUTHENTICATOR, vec![0; 4]);
        assert_eq!(short.verify_request(SECRET), Err(AuthError::MalformedMessageAuthenticator));
    }
}
