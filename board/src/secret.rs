//! Randomness, comparisons and password hashing: every secret the board
//! makes comes from the operating system's generator, and every comparison
//! of one takes the same time wherever the inputs differ.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::{OsRng, RngCore};
use subtle::ConstantTimeEq;

/// The shortest password the board accepts.
pub const MIN_PASSWORD: usize = 10;
/// The longest (hashing a megabyte would be a cheap way to load the board).
pub const MAX_PASSWORD: usize = 1024;

/// `bytes` random bytes from the OS, as hex.
pub fn random_hex(bytes: usize) -> String {
	let mut buf = vec![0u8; bytes];
	OsRng.fill_bytes(&mut buf);
	hex::encode(buf)
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
pub fn same(a: &[u8], b: &[u8]) -> bool {
	a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn argon2() -> Argon2<'static> {
	// OWASP's first recommended setting for Argon2id: 19 MiB, 2 passes, 1 lane.
	let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
	Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A password that cannot be used, and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
	#[error("a password needs at least {MIN_PASSWORD} characters")]
	TooShort,
	#[error("a password may have at most {MAX_PASSWORD} characters")]
	TooLong,
	#[error("the password could not be hashed: {0}")]
	Hash(String),
}

/// The PHC string of `password` (Argon2id, random salt).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
	let chars = password.chars().count();
	if chars < MIN_PASSWORD {
		return Err(PasswordError::TooShort);
	}
	if password.len() > MAX_PASSWORD {
		return Err(PasswordError::TooLong);
	}
	let salt = SaltString::generate(&mut OsRng);
	argon2()
		.hash_password(password.as_bytes(), &salt)
		.map(|h| h.to_string())
		.map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `stored`.
pub fn verify_password(password: &str, stored: &str) -> bool {
	if password.len() > MAX_PASSWORD {
		return false;
	}
	match PasswordHash::new(stored) {
		Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
		Err(_) => false,
	}
}

/// A hash no password matches, verified against when a name does not
/// exist so that a sign-in takes as long for an unknown name as for a
/// wrong password.
pub fn decoy_hash() -> String {
	hash_password(&random_hex(16)).unwrap_or_default()
}

/// Whether `name` may be an account name: 2 to 32 of `a-z 0-9 _ -`,
/// starting with a letter. It appears in the user's API address.
pub fn valid_name(name: &str) -> bool {
	let bytes = name.as_bytes();
	(2..=32).contains(&bytes.len())
		&& bytes[0].is_ascii_lowercase()
		&& bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_password_verifies_against_its_own_hash_only() {
		let h = hash_password("correct horse battery").unwrap();
		assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
		assert!(verify_password("correct horse battery", &h));
		assert!(!verify_password("correct horse batterY", &h));
		assert!(!verify_password("correct horse battery", "not a hash"));
		assert_ne!(h, hash_password("correct horse battery").unwrap(), "salts are random");
		assert!(!verify_password("anything at all", &decoy_hash()));
	}

	#[test]
	fn short_and_huge_passwords_are_refused() {
		assert_eq!(hash_password("short"), Err(PasswordError::TooShort));
		assert_eq!(hash_password(&"x".repeat(MAX_PASSWORD + 1)), Err(PasswordError::TooLong));
	}

	#[test]
	fn names_are_short_lowercase_words() {
		for ok in ["bob", "ada_l", "a1-b2", "zz"] {
			assert!(valid_name(ok), "{ok}");
		}
		for bad in ["", "b", "Bob", "1bob", "bob/../x", "bob smith", &"a".repeat(33), "bób"] {
			assert!(!valid_name(bad), "{bad}");
		}
	}

	#[test]
	fn comparisons_and_randomness() {
		assert!(same(b"abc", b"abc"));
		assert!(!same(b"abc", b"abd"));
		assert!(!same(b"abc", b"abcd"));
		let (a, b) = (random_hex(32), random_hex(32));
		assert_eq!(a.len(), 64);
		assert_ne!(a, b);
	}
}
