//! MPPE keys for MS-CHAPv2 (RFC 3079 §3) and their salt-encryption into
//! MS-MPPE-Send-Key / MS-MPPE-Recv-Key (RFC 2548 §2.4.2, §2.4.3).
//!
//! The server (authenticator) sends the NAS its own keys: MS-MPPE-Send-Key is
//! GetAsymmetricStartKey(MasterKey, IsSend=TRUE, IsServer=TRUE), i.e. the Magic3 key,
//! and MS-MPPE-Recv-Key the Magic2 key, as FreeRADIUS rlm_mschap does.

use md5::Md5;
use rand::RngCore;
use sha1::{Digest, Sha1};
use thiserror::Error;

use crate::dictionary::microsoft;
use crate::mschap::hash_nt_password_hash;
use crate::packet::Packet;

/// MS-MPPE-Encryption-Policy: encryption allowed (RFC 2548 §2.4.4).
pub const POLICY_ENCRYPTION_ALLOWED: u32 = 1;
/// MS-MPPE-Encryption-Policy: encryption required (RFC 2548 §2.4.4).
pub const POLICY_ENCRYPTION_REQUIRED: u32 = 2;
/// MS-MPPE-Encryption-Types bit for 40-bit keys (RFC 2548 §2.4.5).
pub const TYPES_40_BIT: u32 = 0x02;
/// MS-MPPE-Encryption-Types bit for 128-bit keys (RFC 2548 §2.4.5).
pub const TYPES_128_BIT: u32 = 0x04;

// RFC 3079 §3.4.
const MAGIC1: &[u8] = b"This is the MPPE Master Key";
const MAGIC2: &[u8] = b"On the client side, this is the send key; on the server side, it is the receive key.";
const MAGIC3: &[u8] = b"On the client side, this is the receive key; on the server side, it is the send key.";
const SHS_PAD1: [u8; 40] = [0x00; 40];
const SHS_PAD2: [u8; 40] = [0xf2; 40];

/// Why an encrypted key attribute could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MppeError {
    /// Not a two-octet salt plus a non-empty multiple of 16 octets.
    #[error("encrypted key of {0} octets has the wrong length")]
    BadLength(usize),
    /// The salt's high bit is clear (RFC 2548 §2.4.2).
    #[error("salt high bit not set")]
    BadSalt,
    /// The decrypted Key-Length exceeds the data (wrong secret or authenticator).
    #[error("decrypted key length {0} is impossible")]
    BadKeyLength(usize),
}

/// GetMasterKey: SHA1(PasswordHashHash + NTResponse + Magic1)[0..16] (RFC 3079 §3.4).
pub fn master_key(password_hash_hash: &[u8; 16], nt_response: &[u8; 24]) -> [u8; 16] {
    let digest = Sha1::new().chain_update(password_hash_hash).chain_update(nt_response).chain_update(MAGIC1).finalize();
    digest[..16].try_into().expect("SHA-1 is 20 octets")
}

/// GetAsymmetricStartKey for a 128-bit key (RFC 3079 §3.4); 40- and 56-bit keys are
/// the first 8 octets of this. The send key of one side is the receive key of the other.
pub fn asymmetric_start_key(master_key: &[u8; 16], is_send: bool, is_server: bool) -> [u8; 16] {
    let magic = if is_send == is_server { MAGIC3 } else { MAGIC2 };
    let digest = Sha1::new()
        .chain_update(master_key)
        .chain_update(SHS_PAD1)
        .chain_update(magic)
        .chain_update(SHS_PAD2)
        .finalize();
    digest[..16].try_into().expect("SHA-1 is 20 octets")
}

/// The server's 128-bit MPPE keys for one MS-CHAPv2 session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MppeKeys {
    /// Goes into MS-MPPE-Send-Key (server to client direction).
    pub send: [u8; 16],
    /// Goes into MS-MPPE-Recv-Key (client to server direction).
    pub recv: [u8; 16],
}

/// Derives the server's keys from the user's NT hash and the peer's NT-Response.
pub fn server_keys(password_hash: &[u8; 16], nt_response: &[u8; 24]) -> MppeKeys {
    let master = master_key(&hash_nt_password_hash(password_hash), nt_response);
    MppeKeys { send: asymmetric_start_key(&master, true, true), recv: asymmetric_start_key(&master, false, true) }
}

/// Two distinct salts with the high bit set, for the two key attributes of one packet.
pub fn random_salts() -> ([u8; 2], [u8; 2]) {
    let mut rng = rand::thread_rng();
    let mut salt = || {
        let mut s = [0u8; 2];
        rng.fill_bytes(&mut s);
        s[0] |= 0x80;
        s
    };
    let first = salt();
    loop {
        let second = salt();
        if second != first {
            return (first, second);
        }
    }
}

/// Salt-encrypts a key (RFC 2548 §2.4.2): P = Key-Length + Key + zero padding to a
/// multiple of 16; b(1) = MD5(Secret + Request Authenticator + Salt), b(i) =
/// MD5(Secret + c(i-1)); the value is Salt + c(1) + ... + c(n).
pub fn encrypt_key(key: &[u8], secret: &[u8], request_authenticator: &[u8; 16], salt: [u8; 2]) -> Vec<u8> {
    let mut plain = vec![key.len() as u8];
    plain.extend_from_slice(key);
    plain.resize(plain.len().div_ceil(16) * 16, 0);
    let mut out = salt.to_vec();
    for at in (0..plain.len()).step_by(16) {
        let b = if at == 0 {
            Md5::new().chain_update(secret).chain_update(request_authenticator).chain_update(salt).finalize()
        } else {
            Md5::new().chain_update(secret).chain_update(&out[at - 14..at + 2]).finalize()
        };
        out.extend(plain[at..at + 16].iter().zip(b).map(|(p, b)| p ^ b));
    }
    out
}

/// Reverses [`encrypt_key`], as the NAS does (for tests and a client).
pub fn decrypt_key(value: &[u8], secret: &[u8], request_authenticator: &[u8; 16]) -> Result<Vec<u8>, MppeError> {
    let Some((salt, cipher)) = value.split_first_chunk::<2>() else {
        return Err(MppeError::BadLength(value.len()));
    };
    if cipher.is_empty() || cipher.len() % 16 != 0 {
        return Err(MppeError::BadLength(value.len()));
    }
    if salt[0] & 0x80 == 0 {
        return Err(MppeError::BadSalt);
    }
    let mut plain = Vec::with_capacity(cipher.len());
    for (i, block) in cipher.chunks_exact(16).enumerate() {
        let b = if i == 0 {
            Md5::new().chain_update(secret).chain_update(request_authenticator).chain_update(salt).finalize()
        } else {
            Md5::new().chain_update(secret).chain_update(&cipher[(i - 1) * 16..i * 16]).finalize()
        };
        plain.extend(block.iter().zip(b).map(|(c, b)| c ^ b));
    }
    let len = usize::from(plain[0]);
    if len > plain.len() - 1 {
        return Err(MppeError::BadKeyLength(len));
    }
    Ok(plain[1..=len].to_vec())
}

impl Packet {
    /// Adds MS-MPPE-Send-Key and MS-MPPE-Recv-Key, encrypted for the request they answer.
    pub fn add_mppe_keys(&mut self, keys: &MppeKeys, secret: &[u8], request_authenticator: &[u8; 16]) {
        let (send_salt, recv_salt) = random_salts();
        let ms = microsoft::VENDOR_ID;
        let send = encrypt_key(&keys.send, secret, request_authenticator, send_salt);
        let recv = encrypt_key(&keys.recv, secret, request_authenticator, recv_salt);
        self.add_vendor(ms, microsoft::MPPE_SEND_KEY, &send);
        self.add_vendor(ms, microsoft::MPPE_RECV_KEY, &recv);
    }

    /// Adds MS-MPPE-Encryption-Policy and MS-MPPE-Encryption-Types (RFC 2548 §2.4.4, §2.4.5).
    pub fn add_mppe_encryption(&mut self, policy: u32, types: u32) {
        self.add_vendor_u32(microsoft::VENDOR_ID, microsoft::MPPE_ENCRYPTION_POLICY, policy);
        self.add_vendor_u32(microsoft::VENDOR_ID, microsoft::MPPE_ENCRYPTION_TYPES, types);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mschap::nt_password_hash;
    use crate::packet::tests::hex;
    use crate::Code;

    // RFC 3079 §3.5.3 (128-bit), built on the RFC 2759 §9.2 exchange.
    const NT_RESPONSE: &str = "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF";

    fn nt_response() -> [u8; 24] {
        hex(NT_RESPONSE).try_into().unwrap()
    }

    #[test]
    fn rfc3079_3_5_3_master_and_send_start_key() {
        let hash_hash: [u8; 16] = hex("41C00C584BD2D91C4017A2A12FA59F3F").try_into().unwrap();
        let master = master_key(&hash_hash, &nt_response());
        assert_eq!(master.to_vec(), hex("FDECE3717A8C838CB388E527AE3CDD31"));
        let send = asymmetric_start_key(&master, true, true);
        assert_eq!(send.to_vec(), hex("8B7CDC149B993A1BA118CB153F56DCCB"));
        // The client's receive key is the server's send key, and the reverse.
        assert_eq!(asymmetric_start_key(&master, false, false), send);
        assert_eq!(asymmetric_start_key(&master, false, true), asymmetric_start_key(&master, true, false));
        let keys = server_keys(&nt_password_hash("clientPass"), &nt_response());
        assert_eq!(keys.send, send);
        // Not printed in the RFC; SHA1(Master + pad1 + Magic2 + pad2), computed
        // independently with Python's hashlib.
        assert_eq!(keys.recv.to_vec(), hex("D5F0E9521E3EA9589645E86051C82226"));
    }

    #[test]
    fn salt_encryption_known_answer_and_round_trip() {
        let auth: [u8; 16] = hex("0f403f9473978057bd83d5cb98f4227a").try_into().unwrap();
        let key = hex("8B7CDC149B993A1BA118CB153F56DCCB");
        let value = encrypt_key(&key, b"xyzzy5461", &auth, [0x80, 0x01]);
        assert_eq!(value.len(), 2 + 32);
        // Computed independently with Python's hashlib (RFC 2548 §2.4.2 construction).
        assert_eq!(value, hex("8001 d7c4aaa4718a06cddca737c2f3bcd1ff ef26b141dc036e4cdb731d79248c658e"));
        assert_eq!(decrypt_key(&value, b"xyzzy5461", &auth).unwrap(), key);
        assert!(decrypt_key(&value, b"other", &auth).map_or(true, |k| k != key));
        assert_eq!(decrypt_key(&value[..33], b"xyzzy5461", &auth), Err(MppeError::BadLength(33)));
        assert_eq!(decrypt_key(&[0x80, 0], b"x", &auth), Err(MppeError::BadLength(2)));
        let mut low = value.clone();
        low[0] = 0x01;
        assert_eq!(decrypt_key(&low, b"xyzzy5461", &auth), Err(MppeError::BadSalt));
    }

    #[test]
    fn reply_attributes() {
        let auth = [3u8; 16];
        let keys = server_keys(&nt_password_hash("clientPass"), &nt_response());
        let mut accept = Packet::new(Code::AccessAccept, 1);
        accept.add_mppe_keys(&keys, b"s", &auth);
        accept.add_mppe_encryption(POLICY_ENCRYPTION_ALLOWED, TYPES_40_BIT | TYPES_128_BIT);
        let ms = microsoft::VENDOR_ID;
        let send = accept.vendor_attr(ms, microsoft::MPPE_SEND_KEY).unwrap();
        let recv = accept.vendor_attr(ms, microsoft::MPPE_RECV_KEY).unwrap();
        assert_ne!(send[..2], recv[..2], "salts must differ within a packet");
        assert!(send[0] & 0x80 != 0 && recv[0] & 0x80 != 0);
        assert_eq!(decrypt_key(send, b"s", &auth).unwrap(), keys.send);
        assert_eq!(decrypt_key(recv, b"s", &auth).unwrap(), keys.recv);
        assert_eq!(accept.vendor_attr_u32(ms, microsoft::MPPE_ENCRYPTION_POLICY), Some(1));
        assert_eq!(accept.vendor_attr_u32(ms, microsoft::MPPE_ENCRYPTION_TYPES), Some(6));
    }
}
