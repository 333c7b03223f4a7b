//! Secrets: passwords (argon2id) and random bearer secrets (looked up by SHA-256).
//!
//! Session ids and API tokens are 256-bit random values, so a fast hash is
//! enough to store them safely; argon2id is only for what people choose.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Hashes a password with argon2id (the crate's defaults follow OWASP: 19 MiB, t=2, p=1).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        // Only fails for absurd parameters, which are constants here.
        .unwrap_or_else(|e| panic!("argon2 hashing failed: {e}"))
}

/// A hash no password matches, verified when the account does not exist so
/// that a wrong e-mail takes as long as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_password("guanxi-timing-equaliser"));

/// Checks a password against a stored hash (or the dummy hash when there is none).
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    let stored = stored.unwrap_or(DUMMY_HASH.as_str());
    match PasswordHash::new(stored) {
        Ok(parsed) => {
            Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && stored != DUMMY_HASH.as_str()
        }
        Err(_) => false,
    }
}

/// A new random secret with a readable prefix (`gxs_` sessions, `gxt_` tokens, `gxc_` CSRF).
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The lookup key of a secret.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", Some(&h)));
        assert!(!verify_password("wrong horse", Some(&h)));
        assert!(!verify_password("guanxi-timing-equaliser", None));
        assert!(!verify_password("x", Some("not a hash")));
    }

    #[test]
    fn secrets_are_distinct_and_prefixed() {
        let a = new_secret("gxt_");
        assert!(a.starts_with("gxt_") && a.len() == 4 + 43);
        assert_ne!(a, new_secret("gxt_"));
        assert_eq!(digest(&a).len(), 32);
        assert!(constant_time_eq("abc", "abc") && !constant_time_eq("abc", "abd") && !constant_time_eq("a", "ab"));
    }
}
