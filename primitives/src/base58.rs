//! Bitcoin-alphabet base58, the text form of libp2p peer ids.
//!
//! Peer ids are stored as bytes on the ledger but shown and typed by people
//! as base58 (`12D3KooW...`), so both directions are needed in `no_std`
//! code (the coordinator and tooling) without pulling in a dependency.

use alloc::{string::String, vec::Vec};

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Why a string is not valid base58.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base58Error {
	/// The character at this byte offset is not in the bitcoin alphabet.
	InvalidCharacter {
		/// Byte offset of the offending character.
		position: usize,
	},
}

/// Encodes bytes as base58 text.
pub fn encode(input: &[u8]) -> String {
	let zeros = input.iter().take_while(|b| **b == 0).count();
	// Digits in base 58, least significant first.
	let mut digits: Vec<u8> = Vec::with_capacity(input.len() * 138 / 100 + 1);
	for &byte in &input[zeros..] {
		let mut carry = u32::from(byte);
		for digit in digits.iter_mut() {
			carry += u32::from(*digit) << 8;
			*digit = (carry % 58) as u8;
			carry /= 58;
		}
		while carry > 0 {
			digits.push((carry % 58) as u8);
			carry /= 58;
		}
	}
	let mut out = String::with_capacity(zeros + digits.len());
	out.extend(core::iter::repeat('1').take(zeros));
	out.extend(digits.iter().rev().map(|d| ALPHABET[usize::from(*d)] as char));
	out
}

/// Decodes base58 text to bytes.
pub fn decode(input: &str) -> Result<Vec<u8>, Base58Error> {
	let bytes = input.as_bytes();
	let zeros = bytes.iter().take_while(|c| **c == b'1').count();
	// Bytes in base 256, least significant first.
	let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
	for (position, &c) in bytes.iter().enumerate().skip(zeros) {
		let value = ALPHABET
			.iter()
			.position(|a| *a == c)
			.ok_or(Base58Error::InvalidCharacter { position })?;
		let mut carry = value as u32;
		for byte in out.iter_mut() {
			carry += u32::from(*byte) * 58;
			*byte = (carry & 0xff) as u8;
			carry >>= 8;
		}
		while carry > 0 {
			out.push((carry & 0xff) as u8);
			carry >>= 8;
		}
	}
	out.extend(core::iter::repeat(0).take(zeros));
	out.reverse();
	Ok(out)
}

#[cfg(test)]
mod tests {
	use super::*;
	use proptest::prelude::*;

	#[test]
	fn known_vectors() {
		// Vectors from the bitcoin base58 test suite.
		assert_eq!(encode(b""), "");
		assert_eq!(encode(&[0x61]), "2g");
		assert_eq!(encode(&[0x62, 0x62, 0x62]), "a3gV");
		assert_eq!(encode(&[0x00, 0x00, 0x00, 0x28, 0x7f, 0xb4, 0xcd]), "111233QC4");
		assert_eq!(encode(b"Hello World!"), "2NEpo7TZRRrLZSi2U");
		assert_eq!(decode("2NEpo7TZRRrLZSi2U").unwrap(), b"Hello World!".to_vec());
		assert_eq!(decode("111233QC4").unwrap(), vec![0, 0, 0, 0x28, 0x7f, 0xb4, 0xcd]);
	}

	#[test]
	fn rejects_characters_outside_the_alphabet() {
		assert_eq!(decode("abc0def"), Err(Base58Error::InvalidCharacter { position: 3 }));
		assert_eq!(decode("Il"), Err(Base58Error::InvalidCharacter { position: 0 }));
	}

	proptest! {
		#[test]
		fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
			prop_assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
		}
	}
}
