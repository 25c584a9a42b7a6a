//! User-Password hiding (RFC 2865 §5.2), for PAP.
//!
//! The password is NUL-padded to a multiple of 16 octets (at most 128), then each
//! 16-octet block is XORed with b(i), where b(1) = MD5(Secret + Request Authenticator)
//! and b(i) = MD5(Secret + c(i-1)), c being the previous hidden block.

use md5::{Digest, Md5};
use thiserror::Error;

use crate::dictionary::attr;
use crate::packet::Packet;

/// Longest password User-Password can carry (RFC 2865 §5.2).
pub const MAX_PASSWORD_LEN: usize = 128;

/// Why a User-Password cannot be hidden or recovered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PapError {
    /// The request has no User-Password attribute.
    #[error("no User-Password attribute")]
    Missing,
    /// The password is longer than 128 octets.
    #[error("password of {0} octets exceeds 128")]
    TooLong(usize),
    /// The hidden value is not 16..=128 octets in 16-octet blocks.
    #[error("hidden User-Password of {0} octets is not 16..=128 in 16-octet blocks")]
    BadLength(usize),
}

/// The key stream block b(i) = MD5(Secret + previous), RFC 2865 §5.2.
fn block_key(secret: &[u8], previous: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(secret);
    h.update(previous);
    h.finalize().into()
}

/// Hides a password for the User-Password attribute.
pub fn hide(password: &[u8], secret: &[u8], authenticator: &[u8; 16]) -> Result<Vec<u8>, PapError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PapError::TooLong(password.len()));
    }
    let padded_len = password.len().div_ceil(16).max(1) * 16;
    let mut out = password.to_vec();
    out.resize(padded_len, 0);
    let mut previous: &[u8] = authenticator;
    for at in (0..padded_len).step_by(16) {
        let key = block_key(secret, previous);
        for (p, k) in out[at..at + 16].iter_mut().zip(key) {
            *p ^= k;
        }
        previous = &out[at..at + 16];
    }
    Ok(out)
}

/// Recovers a password from a User-Password value, dropping the trailing NUL padding.
pub fn unhide(hidden: &[u8], secret: &[u8], authenticator: &[u8; 16]) -> Result<Vec<u8>, PapError> {
    if hidden.is_empty() || hidden.len() % 16 != 0 || hidden.len() > MAX_PASSWORD_LEN {
        return Err(PapError::BadLength(hidden.len()));
    }
    let mut out = Vec::with_capacity(hidden.len());
    let mut previous: &[u8] = authenticator;
    for block in hidden.chunks_exact(16) {
        let key = block_key(secret, previous);
        out.extend(block.iter().zip(key).map(|(c, k)| c ^ k));
        previous = block;
    }
    while out.last() == Some(&0) {
        out.pop();
    }
    Ok(out)
}

impl Packet {
    /// The cleartext of the User-Password attribute, using this request's authenticator.
    pub fn user_password(&self, secret: &[u8]) -> Result<Vec<u8>, PapError> {
        let hidden = self.attr(attr::USER_PASSWORD).ok_or(PapError::Missing)?;
        unhide(hidden, secret, &self.authenticator)
    }

    /// Adds a hidden User-Password; call after the request authenticator is set
    /// (as [`Packet::new_request`] does).
    pub fn add_user_password(&mut self, password: &[u8], secret: &[u8]) -> Result<(), PapError> {
        let hidden = hide(password, secret, &self.authenticator)?;
        self.add(attr::USER_PASSWORD, hidden);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::tests::{hex, RFC2865_ACCESS_REQUEST};

    const SECRET: &[u8] = b"xyzzy5461";

    #[test]
    fn rfc2865_7_1_password_arctangent() {
        let req = Packet::decode(&hex(RFC2865_ACCESS_REQUEST)).unwrap();
        assert_eq!(req.user_password(SECRET).unwrap(), b"arctangent");
        let hidden = hide(b"arctangent", SECRET, &req.authenticator).unwrap();
        assert_eq!(hidden, hex("0d be 70 8d 93 d4 13 ce 31 96 e4 3f 78 2a 0a ee"));
        assert_eq!(hidden, req.attr(attr::USER_PASSWORD).unwrap());
    }

    #[test]
    fn multi_block_known_answer() {
        // 40 octets over three blocks, computed independently with Python's hashlib:
        // each block chains on the previous hidden block (RFC 2865 §5.2).
        let auth: [u8; 16] = hex("0f403f9473978057bd83d5cb98f4227a").try_into().unwrap();
        let password = b"correct horse battery staple, twice over";
        let hidden = hide(password, SECRET, &auth).unwrap();
        let want = hex("0fa3618b97d9008b378d964c1d0a688f f81cf1b33b8febbd4ef4b9360c881a53
             3831198d7f96cd47c11b8ffb826127a7");
        assert_eq!(hidden, want);
        assert_eq!(unhide(&hidden, SECRET, &auth).unwrap(), password);
    }

    #[test]
    fn length_rules() {
        let auth = [7u8; 16];
        assert_eq!(hide(b"", SECRET, &auth).unwrap().len(), 16);
        assert_eq!(unhide(&hide(b"", SECRET, &auth).unwrap(), SECRET, &auth).unwrap(), b"");
        for n in [1usize, 15, 16, 17, 127, 128] {
            let pw: Vec<u8> = (1..=n as u8).collect();
            let hidden = hide(&pw, SECRET, &auth).unwrap();
            assert_eq!(hidden.len(), n.div_ceil(16) * 16);
            assert_eq!(unhide(&hidden, SECRET, &auth).unwrap(), pw);
        }
        assert_eq!(hide(&[b'a'; 129], SECRET, &auth), Err(PapError::TooLong(129)));
        for n in [0, 15, 17, 144] {
            assert_eq!(unhide(&vec![1; n], SECRET, &auth), Err(PapError::BadLength(n)));
        }
        assert_eq!(Packet::new(crate::Code::AccessRequest, 0).user_password(SECRET), Err(PapError::Missing));
    }
}
