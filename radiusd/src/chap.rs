//! CHAP-Password verification (RFC 1994 §4.1, RFC 2865 §2.2 and §5.3).
//!
//! The NAS sends CHAP-Password = CHAP Ident (1 octet) + Response (16 octets), where
//! Response = MD5(Ident + Password + Challenge). The challenge is CHAP-Challenge when
//! present, else the Request Authenticator (RFC 2865 §5.40).

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::dictionary::attr;
use crate::packet::Packet;

/// Why a CHAP-Password did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChapError {
    /// The request has no CHAP-Password attribute.
    #[error("no CHAP-Password attribute")]
    Missing,
    /// CHAP-Password is not 17 octets.
    #[error("CHAP-Password of {0} octets, expected 17")]
    BadLength(usize),
    /// The response does not match the password.
    #[error("CHAP response does not match")]
    Mismatch,
}

/// The CHAP response MD5(Ident + Password + Challenge) (RFC 1994 §4.1).
pub fn chap_response(ident: u8, password: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update([ident]);
    h.update(password);
    h.update(challenge);
    h.finalize().into()
}

/// The challenge the NAS used: CHAP-Challenge, or else the Request Authenticator.
pub fn challenge(request: &Packet) -> &[u8] {
    request.attr(attr::CHAP_CHALLENGE).unwrap_or(&request.authenticator)
}

/// Checks the request's CHAP-Password against the cleartext password, in constant time.
pub fn verify(request: &Packet, password: &[u8]) -> Result<(), ChapError> {
    let value = request.attr(attr::CHAP_PASSWORD).ok_or(ChapError::Missing)?;
    let [ident, response @ ..] = value else {
        return Err(ChapError::BadLength(0));
    };
    if response.len() != 16 {
        return Err(ChapError::BadLength(value.len()));
    }
    let want = chap_response(*ident, password, challenge(request));
    if bool::from(want.ct_eq(response)) {
        Ok(())
    } else {
        Err(ChapError::Mismatch)
    }
}

impl Packet {
    /// Adds CHAP-Password for a client request, using CHAP-Challenge if present, else
    /// the Request Authenticator.
    pub fn add_chap_password(&mut self, ident: u8, password: &[u8]) {
        let response = chap_response(ident, password, challenge(self));
        let mut value = vec![ident];
        value.extend_from_slice(&response);
        self.add(attr::CHAP_PASSWORD, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::tests::{hex, RFC2865_CHAP_REQUEST};

    #[test]
    fn chap_known_answer_from_the_request_authenticator() {
        // RFC 2865 §7.2 gives the packet but not flopsy's password. With its ident (0x16)
        // and authenticator as challenge, MD5(ident + "hopsalot" + challenge) computed
        // independently with Python's hashlib:
        let mut p = Packet::decode(&hex(RFC2865_CHAP_REQUEST)).unwrap();
        assert_eq!(challenge(&p), hex("2aee86f08d0d55969ca5978e0d3367a2"));
        assert_eq!(verify(&p, b"hopsalot"), Err(ChapError::Mismatch));
        p.remove(attr::CHAP_PASSWORD);
        p.add(attr::CHAP_PASSWORD, hex("16 34e3d944d8c69b3c619440e6fe018868"));
        assert_eq!(verify(&p, b"hopsalot"), Ok(()));
        assert_eq!(verify(&p, b"hopsalot "), Err(ChapError::Mismatch));
    }

    #[test]
    fn chap_password_from_freeradius_radclient() {
        // Sent by FreeRADIUS 3.2.1 radclient for User-Name "nemo", CHAP-Password "arctangent".
        let p = Packet::decode(&hex(
            "01e4002d2fa0a62218dd3a61c4261bcb81af5c2801066e656d6f0313e24dfd4bc5f820e5c19333891cf1b0827b",
        ))
        .unwrap();
        assert_eq!(verify(&p, b"arctangent"), Ok(()));
        assert_eq!(verify(&p, b"arctangenT"), Err(ChapError::Mismatch));
    }

    #[test]
    fn chap_challenge_attribute_wins() {
        let mut p = Packet::new_request(crate::Code::AccessRequest, 1);
        p.add(attr::CHAP_CHALLENGE, b"0123456789abcdef".to_vec());
        p.add_chap_password(7, b"secret-pw");
        let value = p.attr(attr::CHAP_PASSWORD).unwrap();
        assert_eq!(value[1..], chap_response(7, b"secret-pw", b"0123456789abcdef"));
        assert_eq!(verify(&p, b"secret-pw"), Ok(()));
        assert_eq!(verify(&p, b"secret-pX"), Err(ChapError::Mismatch));
    }

    #[test]
    fn malformed_chap_password() {
        let mut p = Packet::new_request(crate::Code::AccessRequest, 1);
        assert_eq!(verify(&p, b"x"), Err(ChapError::Missing));
        p.add(attr::CHAP_PASSWORD, vec![]);
        assert_eq!(verify(&p, b"x"), Err(ChapError::BadLength(0)));
        p.remove(attr::CHAP_PASSWORD);
        p.add(attr::CHAP_PASSWORD, vec![1; 16]);
        assert_eq!(verify(&p, b"x"), Err(ChapError::BadLength(16)));
    }
}
