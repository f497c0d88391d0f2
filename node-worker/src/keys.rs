//! The worker's secrets: its account key (signs ledger calls), its libp2p
//! node key (authenticates its Noise handshakes) and the API token. Each
//! lives in its own file, readable by the owner only, and never appears in
//! logs.

use std::{io::Write, path::Path};

use rand_core::{OsRng, RngCore};
use sp_core::{sr25519, Pair as _};

/// Why a key cannot be loaded or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
	/// The file cannot be read or written.
	#[error("{path}: {source}")]
	Io {
		/// The file.
		path: String,
		/// The I/O error.
		source: std::io::Error,
	},
	/// The file does not hold 32 bytes of hex.
	#[error("{path}: expected 64 hex digits (a 32-byte secret)")]
	Malformed {
		/// The file.
		path: String,
	},
	/// The secret URI is invalid (its text is not repeated: it is secret).
	#[error("identity.suri is not a valid secret URI")]
	BadSuri,
	/// The file exists and would be overwritten.
	#[error("{path} exists; pass --force to replace it")]
	Exists {
		/// The file.
		path: String,
	},
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
	move |source| KeyError::Io { path: path.display().to_string(), source }
}

/// Writes 32 fresh random bytes as hex, owner-only.
pub fn write_secret(path: &Path, force: bool) -> Result<(), KeyError> {
	let mut secret = [0u8; 32];
	OsRng.fill_bytes(&mut secret);
	write_private(path, hex::encode(secret).as_bytes(), force)
}

/// Writes `bytes` to a new owner-only file.
pub fn write_private(path: &Path, bytes: &[u8], force: bool) -> Result<(), KeyError> {
	if path.exists() && !force {
		return Err(KeyError::Exists { path: path.display().to_string() });
	}
	let mut options = std::fs::OpenOptions::new();
	options.write(true).create(true).truncate(true);
	#[cfg(unix)]
	{
		use std::os::unix::fs::OpenOptionsExt;
		options.mode(0o600);
	}
	let mut file = options.open(path).map_err(io(path))?;
	file.write_all(bytes).map_err(io(path))?;
	file.write_all(b"\n").map_err(io(path))?;
	file.sync_all().map_err(io(path))
}

/// Reads a 32-byte hex secret.
pub fn read_secret(path: &Path) -> Result<[u8; 32], KeyError> {
	let text = std::fs::read_to_string(path).map_err(io(path))?;
	hex::decode(text.trim())
		.ok()
		.and_then(|b| <[u8; 32]>::try_from(b).ok())
		.ok_or_else(|| KeyError::Malformed { path: path.display().to_string() })
}

/// The account key: from a secret URI if given, else from the seed file.
pub fn account(suri: &str, key_file: &Path) -> Result<sr25519::Pair, KeyError> {
	if !suri.is_empty() {
		return sr25519::Pair::from_string(suri, None).map_err(|_| KeyError::BadSuri);
	}
	Ok(sr25519::Pair::from_seed(&read_secret(key_file)?))
}

/// The libp2p node key.
pub fn node_key(key_file: &Path) -> Result<libp2p::identity::Keypair, KeyError> {
	let secret = read_secret(key_file)?;
	libp2p::identity::Keypair::ed25519_from_bytes(secret)
		.map_err(|_| KeyError::Malformed { path: key_file.display().to_string() })
}

/// The API token (the file's text, trimmed).
pub fn api_token(path: &Path) -> Result<String, KeyError> {
	let token = std::fs::read_to_string(path).map_err(io(path))?.trim().to_string();
	if token.len() < 32 {
		return Err(KeyError::Malformed { path: path.display().to_string() });
	}
	Ok(token)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn secrets_round_trip_and_are_private() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("k");
		write_secret(&path, false).unwrap();
		assert!(matches!(write_secret(&path, false), Err(KeyError::Exists { .. })));
		let a = account("", &path).unwrap();
		let b = account("", &path).unwrap();
		assert_eq!(a.public(), b.public());
		node_key(&path).unwrap();
		#[cfg(unix)]
		{
			use std::os::unix::fs::PermissionsExt;
			assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
		}
		std::fs::write(&path, "abc").unwrap();
		assert!(matches!(account("", &path), Err(KeyError::Malformed { .. })));
		assert!(matches!(account("not a uri", &path), Err(KeyError::BadSuri)));
	}
}
