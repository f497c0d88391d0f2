//! SS58, Substrate's text form of account keys, without pulling in
//! `sp-core`: base58 of `prefix ++ key ++ checksum`, where the checksum is
//! the first two bytes of BLAKE2b-512 over `"SS58PRE" ++ prefix ++ key`.

use blake2::{Blake2b512, Digest};
use delta_primitives::base58;

/// The generic Substrate prefix, which polkadot.js and substrate-interface
/// use by default for development chains.
const GENERIC_PREFIX: u8 = 42;

fn checksum(payload: &[u8]) -> [u8; 2] {
	let mut hasher = Blake2b512::new();
	hasher.update(b"SS58PRE");
	hasher.update(payload);
	let hash = hasher.finalize();
	[hash[0], hash[1]]
}

/// `key` in SS58 with the generic prefix.
pub fn encode(key: &[u8; 32]) -> String {
	let mut payload = Vec::with_capacity(35);
	payload.push(GENERIC_PREFIX);
	payload.extend_from_slice(key);
	let sum = checksum(&payload);
	payload.extend_from_slice(&sum);
	base58::encode(&payload)
}

/// Longest SS58 account address, in characters: base58 of a two-byte
/// prefix, the key and the checksum (36 bytes) is at most 50 characters.
const MAX_ADDRESS_LEN: usize = 50;

/// The 32-byte key of an SS58 address with any one- or two-byte prefix.
///
/// Text longer than any address is refused before base58 decoding, whose
/// work grows with the square of the length: accounts arrive from anyone
/// (a signed call's signer is read before its signature is checked).
pub fn decode(text: &str) -> Result<[u8; 32], String> {
	if text.len() > MAX_ADDRESS_LEN {
		return Err(format!("{} characters is longer than any SS58 account address", text.len()));
	}
	let raw = base58::decode(text).map_err(|e| format!("{e:?}"))?;
	let prefix_len = match raw.first() {
		Some(b) if *b < 64 => 1,
		Some(b) if *b < 128 => 2,
		_ => return Err("unknown address format".into()),
	};
	if raw.len() != prefix_len + 32 + 2 {
		return Err(format!("{} bytes is not an SS58 account address", raw.len()));
	}
	let (body, sum) = raw.split_at(raw.len() - 2);
	if checksum(body) != sum {
		return Err("checksum mismatch".into());
	}
	let mut key = [0u8; 32];
	key.copy_from_slice(&body[prefix_len..]);
	Ok(key)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn alice_round_trips_and_a_typo_is_caught() {
		let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
		let key = decode(alice).unwrap();
		assert_eq!(hex::encode(key), "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d");
		assert_eq!(encode(&key), alice);
		assert_eq!(decode("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ").unwrap_err(), "checksum mismatch");
		// Polkadot's prefix 0 decodes to the same key.
		assert_eq!(decode("15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5").unwrap(), key);
	}

	#[test]
	fn the_longest_address_decodes_and_longer_text_is_refused_unread() {
		// A two-byte prefix (the top of its range) with a key and checksum
		// of 0xff: the longest address there is.
		let mut payload = vec![0x7f, 0xff];
		payload.extend_from_slice(&[0xff; 32]);
		let sum = checksum(&payload);
		payload.extend_from_slice(&sum);
		let longest = base58::encode(&payload);
		assert!(longest.len() <= MAX_ADDRESS_LEN, "{}", longest.len());
		assert_eq!(decode(&longest).unwrap(), [0xff; 32]);
		// Regression (fuzz/corpus/ledger_json/regression-long-account): a
		// signer of a megabyte of base58 took minutes (quadratic decoding)
		// before any signature check.
		let megabyte = "2".repeat(1 << 20);
		assert!(decode(&megabyte).unwrap_err().contains("longer than any SS58"));
	}
}
