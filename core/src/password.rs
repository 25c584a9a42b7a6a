//! Staff password hashing with argon2id. These calls are CPU-heavy by design: async callers
//! run them with `tokio::task::spawn_blocking`.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Cost parameters for new hashes (verification reads them from the stored hash).
#[derive(Debug, Clone, Copy)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
}

/// Hashes `password` with argon2id into a PHC string.
pub fn hash(password: &str, cost: HashCost) -> String {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None).expect("validated argon2 params");
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with valid params")
        .to_string()
}

/// Checks `password` against a PHC string; false for a wrong password or a malformed hash.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the account does not exist so that
/// unknown accounts and wrong passwords take the same time.
pub fn dummy_hash(cost: HashCost) -> String {
    hash("this account does not exist", cost)
}

/// Checks the strength rules for a new staff password.
pub fn check_strength(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < 8 {
        return Err("must be at least 8 characters");
    }
    if password.len() > 256 {
        return Err("must be at most 256 bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let cost = HashCost { memory_kib: 64, iterations: 1 };
        let h = hash("correct horse", cost);
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("correct horse", "not a hash"));
    }
}
