//! Secrets at rest: the AES-256-GCM master key for reversible secrets (PPPoE and hotspot
//! passwords, device credentials) and the HS256 key for access tokens.
//!
//! Both come from configuration when set; otherwise they are generated on first start into
//! the data dir with 0600 permissions and read back on every later start.

use crate::config::AuthConfig;
use crate::error::{CoreError, CoreResult};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use std::io::Write;
use std::path::Path;

/// Version prefix of encrypted values, so the scheme can change without ambiguity.
const PREFIX: &str = "v1:";

/// Encrypts and decrypts reversible secrets with the master key.
#[derive(Clone)]
pub struct Cipher(Aes256Gcm);

impl Cipher {
    /// A cipher for a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self(Aes256Gcm::new(key.into()))
    }

    /// Encrypts `plaintext`, binding it to `context` (for example `subscription.password`)
    /// so a value copied into another column does not decrypt there.
    pub fn encrypt(&self, context: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .0
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: context.as_bytes() })
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("{PREFIX}{}", B64.encode(out))
    }

    /// Decrypts a value made by [`Cipher::encrypt`] with the same context.
    pub fn decrypt(&self, context: &str, stored: &str) -> CoreResult<String> {
        let raw = stored
            .strip_prefix(PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .filter(|r| r.len() > 12)
            .ok_or_else(|| CoreError::internal("encrypted value is malformed"))?;
        let (nonce, ct) = raw.split_at(12);
        let pt = self
            .0
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: context.as_bytes() })
            .map_err(|_| CoreError::internal("encrypted value does not decrypt with this master key"))?;
        String::from_utf8(pt).map_err(|_| CoreError::internal("decrypted value is not UTF-8"))
    }
}

/// The process's secrets.
#[derive(Clone)]
pub struct Secrets {
    /// Cipher for reversible secrets.
    pub cipher: Cipher,
    /// HS256 key for access tokens.
    pub jwt_key: Vec<u8>,
}

impl Secrets {
    /// Takes the secrets from `auth` or from files in `data_dir`, creating the files if needed.
    pub fn load_or_create(data_dir: &Path, auth: &AuthConfig) -> CoreResult<Self> {
        let master = if auth.master_key.is_empty() {
            file_secret(&data_dir.join("master.key"))?
        } else {
            B64.decode(auth.master_key.trim()).map_err(|_| CoreError::validation("masterKey", "must be base64"))?
        };
        let master: [u8; 32] =
            master.try_into().map_err(|_| CoreError::validation("masterKey", "must decode to exactly 32 bytes"))?;
        let jwt_key = if auth.jwt_secret.is_empty() {
            file_secret(&data_dir.join("jwt.key"))?
        } else if auth.jwt_secret.len() < 32 {
            return Err(CoreError::validation("jwtSecret", "must be at least 32 characters"));
        } else {
            auth.jwt_secret.as_bytes().to_vec()
        };
        Ok(Self { cipher: Cipher::new(&master), jwt_key })
    }
}

/// Reads a 32-byte base64 secret from `path`, or creates it with mode 0600.
fn file_secret(path: &Path) -> CoreResult<Vec<u8>> {
    let io = |e: std::io::Error| CoreError::internal(format!("{}: {e}", path.display()));
    if let Ok(text) = std::fs::read_to_string(path) {
        return B64.decode(text.trim()).map_err(|_| CoreError::internal(format!("{} is not base64", path.display())));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(B64.encode(key).as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            tracing::info!(path = %path.display(), "generated a new secret");
            Ok(key.to_vec())
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => file_secret(path),
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_context_binding() {
        let c = Cipher::new(&[7u8; 32]);
        let e = c.encrypt("subscription.password", "s3cret");
        assert_ne!(e, c.encrypt("subscription.password", "s3cret"), "fresh nonce each time");
        assert_eq!(c.decrypt("subscription.password", &e).unwrap(), "s3cret");
        assert!(c.decrypt("device.password", &e).is_err());
        assert!(Cipher::new(&[8u8; 32]).decrypt("subscription.password", &e).is_err());
        assert!(c.decrypt("subscription.password", "v1:AAAA").is_err());
    }

    #[test]
    fn generated_files_are_private_and_stable() {
        let dir = std::env::temp_dir().join(format!("isp-secrets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = Secrets::load_or_create(&dir, &AuthConfig::default()).unwrap();
        let b = Secrets::load_or_create(&dir, &AuthConfig::default()).unwrap();
        assert_eq!(a.jwt_key, b.jwt_key);
        let e = a.cipher.encrypt("x", "y");
        assert_eq!(b.cipher.decrypt("x", &e).unwrap(), "y");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("master.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
