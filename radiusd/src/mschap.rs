//! MS-CHAPv2 (RFC 2759) as carried in RADIUS Microsoft VSAs (RFC 2548 §2.3).
//!
//! The NAS sends MS-CHAP-Challenge (the 16-octet Authenticator Challenge) and
//! MS-CHAP2-Response; the server checks the NT-Response against the user's NT hash and
//! answers with MS-CHAP2-Success (ident + `"S=<authenticator response>"`) or MS-CHAP-Error.

use des::cipher::{BlockEncrypt, KeyInit};
use md4::Md4;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::dictionary::{attr, microsoft};
use crate::packet::Packet;

/// Error code for a wrong user name or password (RFC 2759 §6).
pub const ERROR_AUTHENTICATION_FAILURE: u32 = 691;
/// Error code for a restricted logon time (RFC 2759 §6).
pub const ERROR_RESTRICTED_LOGON_HOURS: u32 = 646;
/// Error code for a disabled account (RFC 2759 §6).
pub const ERROR_ACCT_DISABLED: u32 = 647;
/// Error code for an expired password (RFC 2759 §6).
pub const ERROR_PASSWD_EXPIRED: u32 = 648;
/// Error code for a user without dial-in permission (RFC 2759 §6).
pub const ERROR_NO_DIALIN_PERMISSION: u32 = 649;

/// Why an MS-CHAPv2 request did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MschapError {
    /// A required attribute (MS-CHAP-Challenge, MS-CHAP2-Response, User-Name) is absent.
    #[error("missing {0}")]
    Missing(&'static str),
    /// MS-CHAP-Challenge is not 16 octets or MS-CHAP2-Response is not 50.
    #[error("{0} has the wrong length")]
    BadLength(&'static str),
    /// The NT-Response does not match: wrong password. Carries the ident for MS-CHAP-Error.
    #[error("MS-CHAPv2 response does not match")]
    AuthenticationFailed {
        /// The PPP CHAP ident to echo in MS-CHAP-Error.
        ident: u8,
    },
}

/// ChallengeHash: SHA1(PeerChallenge + AuthenticatorChallenge + UserName)[0..8]
/// (RFC 2759 §8.2). Any "DOMAIN\" prefix is dropped from the user name, as §8.2 asks.
pub fn challenge_hash(peer_challenge: &[u8; 16], authenticator_challenge: &[u8; 16], username: &[u8]) -> [u8; 8] {
    let name = match username.iter().rposition(|&b| b == b'\\') {
        Some(at) => &username[at + 1..],
        None => username,
    };
    let digest =
        Sha1::new().chain_update(peer_challenge).chain_update(authenticator_challenge).chain_update(name).finalize();
    digest[..8].try_into().expect("SHA-1 is 20 octets")
}

/// NtPasswordHash: MD4 of the UTF-16LE password (RFC 2759 §8.3). Store this, not the password.
pub fn nt_password_hash(password: &str) -> [u8; 16] {
    let mut h = Md4::new();
    for unit in password.encode_utf16() {
        h.update(unit.to_le_bytes());
    }
    h.finalize().into()
}

/// HashNtPasswordHash: MD4 of the NT hash (RFC 2759 §8.4).
pub fn hash_nt_password_hash(password_hash: &[u8; 16]) -> [u8; 16] {
    Md4::digest(password_hash).into()
}

/// Spreads 7 key octets over 8, leaving each low (parity) bit clear (RFC 2759 §8.6).
fn des_key(k: &[u8]) -> [u8; 8] {
    [
        k[0],
        k[0] << 7 | k[1] >> 1,
        k[1] << 6 | k[2] >> 2,
        k[2] << 5 | k[3] >> 3,
        k[3] << 4 | k[4] >> 4,
        k[4] << 3 | k[5] >> 5,
        k[5] << 2 | k[6] >> 6,
        k[6] << 1,
    ]
    .map(|b| b & 0xfe)
}

/// ChallengeResponse: DES-encrypts the challenge under three 7-octet slices of the
/// zero-padded NT hash (RFC 2759 §8.5).
pub fn challenge_response(challenge: &[u8; 8], password_hash: &[u8; 16]) -> [u8; 24] {
    let mut z = [0u8; 21];
    z[..16].copy_from_slice(password_hash);
    let mut out = [0u8; 24];
    for (slice, key) in out.chunks_exact_mut(8).zip(z.chunks_exact(7)) {
        let cipher = des::Des::new(&des_key(key).into());
        let mut block = (*challenge).into();
        cipher.encrypt_block(&mut block);
        slice.copy_from_slice(&block);
    }
    out
}

/// GenerateNTResponse (RFC 2759 §8.1), from the NT hash rather than the password.
pub fn generate_nt_response(
    authenticator_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    username: &[u8],
    password_hash: &[u8; 16],
) -> [u8; 24] {
    let challenge = challenge_hash(peer_challenge, authenticator_challenge, username);
    challenge_response(&challenge, password_hash)
}

/// GenerateAuthenticatorResponse: "S=" and 40 upper-case hex digits (RFC 2759 §8.7).
pub fn generate_authenticator_response(
    password_hash: &[u8; 16],
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    username: &[u8],
) -> String {
    const MAGIC1: &[u8] = b"Magic server to client signing constant";
    const MAGIC2: &[u8] = b"Pad to make it do more than one iteration";
    let digest = Sha1::new()
        .chain_update(hash_nt_password_hash(password_hash))
        .chain_update(nt_response)
        .chain_update(MAGIC1)
        .finalize();
    let challenge = challenge_hash(peer_challenge, authenticator_challenge, username);
    let digest = Sha1::new().chain_update(digest).chain_update(challenge).chain_update(MAGIC2).finalize();
    format!("S={}", upper_hex(&digest))
}

fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The MS-CHAP2-Response VSA value: Ident, Flags, Peer-Challenge, Reserved, Response
/// (RFC 2548 §2.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mschapv2Response {
    /// PPP CHAP ident, echoed in MS-CHAP2-Success and MS-CHAP-Error.
    pub ident: u8,
    /// Flags octet (zero in MS-CHAPv2).
    pub flags: u8,
    /// The peer's 16-octet challenge.
    pub peer_challenge: [u8; 16],
    /// The 24-octet NT-Response.
    pub nt_response: [u8; 24],
}

impl Mschapv2Response {
    /// Parses the 50-octet value.
    pub fn parse(value: &[u8]) -> Result<Mschapv2Response, MschapError> {
        let value: &[u8; 50] = value.try_into().map_err(|_| MschapError::BadLength("MS-CHAP2-Response"))?;
        Ok(Mschapv2Response {
            ident: value[0],
            flags: value[1],
            peer_challenge: value[2..18].try_into().expect("16 octets"),
            // value[18..26] is Reserved.
            nt_response: value[26..50].try_into().expect("24 octets"),
        })
    }

    /// Serialises to the 50-octet value, with Reserved zeroed (for clients and tests).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = vec![self.ident, self.flags];
        v.extend_from_slice(&self.peer_challenge);
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&self.nt_response);
        v
    }
}

/// A verified MS-CHAPv2 exchange: what the reply and the MPPE keys need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mschapv2Verified {
    /// PPP CHAP ident of the exchange.
    pub ident: u8,
    /// The peer's NT-Response, input to the MPPE master key (RFC 3079 §3.4).
    pub nt_response: [u8; 24],
    /// "S=" + 40 hex digits, proving to the peer that the server knows the password.
    pub authenticator_response: String,
}

impl Mschapv2Verified {
    /// The MS-CHAP2-Success value: Ident + authenticator response (RFC 2548 §2.3.3).
    pub fn success_value(&self) -> Vec<u8> {
        let mut v = vec![self.ident];
        v.extend_from_slice(self.authenticator_response.as_bytes());
        v
    }
}

/// Checks the MS-CHAP2-Response of an Access-Request against the user's NT hash
/// (RFC 2759 §8.1), in constant time.
pub fn verify(request: &Packet, password_hash: &[u8; 16]) -> Result<Mschapv2Verified, MschapError> {
    let ms = microsoft::VENDOR_ID;
    let challenge =
        request.vendor_attr(ms, microsoft::CHAP_CHALLENGE).ok_or(MschapError::Missing("MS-CHAP-Challenge"))?;
    let challenge: &[u8; 16] = challenge.try_into().map_err(|_| MschapError::BadLength("MS-CHAP-Challenge"))?;
    let response =
        request.vendor_attr(ms, microsoft::CHAP2_RESPONSE).ok_or(MschapError::Missing("MS-CHAP2-Response"))?;
    let response = Mschapv2Response::parse(response)?;
    let username = request.attr(attr::USER_NAME).ok_or(MschapError::Missing("User-Name"))?;
    let want = generate_nt_response(challenge, &response.peer_challenge, username, password_hash);
    if !bool::from(want.ct_eq(&response.nt_response)) {
        return Err(MschapError::AuthenticationFailed { ident: response.ident });
    }
    let authenticator_response = generate_authenticator_response(
        password_hash,
        &response.nt_response,
        &response.peer_challenge,
        challenge,
        username,
    );
    Ok(Mschapv2Verified { ident: response.ident, nt_response: response.nt_response, authenticator_response })
}

/// The MS-CHAP-Error value: Ident + `"E=691 R=0 C=<32 hex> V=3"` and an optional `" M=<text>"`
/// (RFC 2759 §6, RFC 2548 §2.1.5). `challenge` is the new challenge for a retry.
pub fn error_value(ident: u8, error: u32, retry: bool, challenge: &[u8; 16], message: Option<&str>) -> Vec<u8> {
    let mut text = format!("E={error} R={} C={} V=3", u8::from(retry), upper_hex(challenge));
    if let Some(m) = message {
        text.push_str(" M=");
        text.push_str(m);
    }
    let mut v = vec![ident];
    v.extend_from_slice(text.as_bytes());
    v
}

impl Packet {
    /// Adds MS-CHAP2-Success to an Access-Accept.
    pub fn add_mschapv2_success(&mut self, verified: &Mschapv2Verified) {
        self.add_vendor(microsoft::VENDOR_ID, microsoft::CHAP2_SUCCESS, &verified.success_value());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::tests::hex;
    use crate::Code;

    // RFC 2759 §9.2.
    const USER: &[u8] = b"User";
    const PASSWORD: &str = "clientPass";
    fn auth_challenge() -> [u8; 16] {
        hex("5B5D7C7D7B3F2F3E3C2C602132262628").try_into().unwrap()
    }
    fn peer_challenge() -> [u8; 16] {
        hex("21402324255E262A28295F2B3A337C7E").try_into().unwrap()
    }
    const NT_RESPONSE: &str = "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF";

    #[test]
    fn rfc2759_9_2_vectors() {
        let challenge = challenge_hash(&peer_challenge(), &auth_challenge(), USER);
        assert_eq!(challenge.to_vec(), hex("D02E4386BCE91226"));
        let hash = nt_password_hash(PASSWORD);
        assert_eq!(hash.to_vec(), hex("44EBBA8D5312B8D611474411F56989AE"));
        assert_eq!(hash_nt_password_hash(&hash).to_vec(), hex("41C00C584BD2D91C4017A2A12FA59F3F"));
        let nt = generate_nt_response(&auth_challenge(), &peer_challenge(), USER, &hash);
        assert_eq!(nt.to_vec(), hex(NT_RESPONSE));
        let s = generate_authenticator_response(&hash, &nt, &peer_challenge(), &auth_challenge(), USER);
        assert_eq!(s, "S=407A5589115FD0D6209F510FE9C04566932CDA56");
        // A domain prefix is not part of the hashed name (RFC 2759 §8.2).
        let with_domain = challenge_hash(&peer_challenge(), &auth_challenge(), b"CORP\\User");
        assert_eq!(with_domain, challenge);
    }

    fn request(password_hash: &[u8; 16]) -> Packet {
        let nt = generate_nt_response(&auth_challenge(), &peer_challenge(), USER, password_hash);
        let response = Mschapv2Response { ident: 0x2a, flags: 0, peer_challenge: peer_challenge(), nt_response: nt };
        let mut p = Packet::new_request(Code::AccessRequest, 1);
        p.add(attr::USER_NAME, USER);
        p.add_vendor(microsoft::VENDOR_ID, microsoft::CHAP_CHALLENGE, &auth_challenge());
        p.add_vendor(microsoft::VENDOR_ID, microsoft::CHAP2_RESPONSE, &response.to_bytes());
        p
    }

    #[test]
    fn verifies_a_request_built_from_the_rfc_vector() {
        let p = request(&nt_password_hash(PASSWORD));
        let raw = p.vendor_attr(microsoft::VENDOR_ID, microsoft::CHAP2_RESPONSE).unwrap();
        assert_eq!(raw.len(), 50);
        assert_eq!(raw[26..], hex(NT_RESPONSE));
        let ok = verify(&p, &nt_password_hash(PASSWORD)).unwrap();
        assert_eq!(ok.nt_response.to_vec(), hex(NT_RESPONSE));
        assert_eq!(ok.success_value(), b"\x2aS=407A5589115FD0D6209F510FE9C04566932CDA56");
        let mut accept = Packet::response_to(&p, Code::AccessAccept);
        accept.add_mschapv2_success(&ok);
        let success = accept.vendor_attr(microsoft::VENDOR_ID, microsoft::CHAP2_SUCCESS).unwrap();
        assert_eq!(success.len(), 43);
        assert_eq!(verify(&p, &nt_password_hash("clientPasS")), Err(MschapError::AuthenticationFailed { ident: 0x2a }));
    }

    #[test]
    fn missing_and_malformed_attributes() {
        let hash = nt_password_hash(PASSWORD);
        let mut p = request(&hash);
        p.remove(attr::USER_NAME);
        assert_eq!(verify(&p, &hash), Err(MschapError::Missing("User-Name")));
        let mut p = Packet::new_request(Code::AccessRequest, 1);
        assert_eq!(verify(&p, &hash), Err(MschapError::Missing("MS-CHAP-Challenge")));
        p.add_vendor(microsoft::VENDOR_ID, microsoft::CHAP_CHALLENGE, &[1; 8]);
        assert_eq!(verify(&p, &hash), Err(MschapError::BadLength("MS-CHAP-Challenge")));
        assert_eq!(Mschapv2Response::parse(&[0; 49]), Err(MschapError::BadLength("MS-CHAP2-Response")));
    }

    #[test]
    fn error_value_format() {
        let v = error_value(0x2a, ERROR_AUTHENTICATION_FAILURE, false, &auth_challenge(), None);
        assert_eq!(v[0], 0x2a);
        assert_eq!(&v[1..], b"E=691 R=0 C=5B5D7C7D7B3F2F3E3C2C602132262628 V=3");
        let v = error_value(1, ERROR_PASSWD_EXPIRED, true, &[0; 16], Some("expired"));
        assert!(v.ends_with(b"E=648 R=1 C=00000000000000000000000000000000 V=3 M=expired"));
    }

    #[test]
    fn des_key_expansion_spreads_bits() {
        assert_eq!(des_key(&[0xff; 7]), [0xfe; 8]);
        assert_eq!(des_key(&[0x80, 0, 0, 0, 0, 0, 0x01]), [0x80, 0, 0, 0, 0, 0, 0, 0x02]);
    }
}
