//! # delta-zk-host: Groth16 verification as a host function
//!
//! `delta_zk_verify::verify_groth16` and `delta_zk_verify::validate_key` are called by the
//! runtime (compiled to wasm, where bellman cannot run) and executed
//! natively by the node, which registers [`delta_zk_verify::HostFunctions`] (see
//! `node/src/service.rs`). Prepared verifying keys are cached by key hash,
//! so each proof pays only for its multi-exponentiation and one pairing
//! check.
//!
//! Every node of a network must register these functions: a node without
//! them cannot execute blocks that call them. Results are deterministic
//! (pure functions of the bytes), as consensus requires.

#![cfg_attr(not(feature = "std"), no_std)]

use sp_runtime_interface::{pass_by::PassFatPointerAndRead, runtime_interface};

/// Result codes of [`delta_zk_verify::verify_groth16`].
pub mod code {
	/// The proof verifies.
	pub const OK: u32 = 0;
	/// The key is malformed or invalid.
	pub const MALFORMED_KEY: u32 = 1;
	/// The proof is malformed (length, points).
	pub const MALFORMED_PROOF: u32 = 2;
	/// The inputs are malformed (length, non-canonical scalars).
	pub const MALFORMED_INPUTS: u32 = 3;
	/// The number of inputs differs from the key's.
	pub const WRONG_INPUT_COUNT: u32 = 4;
	/// The pairing check failed.
	pub const REJECTED: u32 = 5;
	/// [`super::delta_zk_verify::validate_key`]: the key is invalid.
	pub const INVALID_KEY: u32 = u32::MAX;
}

#[cfg(feature = "std")]
mod cache {
	use ::delta_zk::PreparedKey;
	use std::{
		collections::HashMap,
		sync::{Arc, Mutex, OnceLock},
	};

	/// Prepared keys kept at most; keys are registered rarely and few.
	const CAPACITY: usize = 256;

	static KEYS: OnceLock<Mutex<HashMap<[u8; 32], Arc<PreparedKey>>>> = OnceLock::new();

	/// The prepared key for `bytes`, from the cache or freshly validated.
	pub fn prepared(bytes: &[u8]) -> Result<Arc<PreparedKey>, ::delta_zk::DecodeError> {
		let hash = ::delta_zk::key_hash(bytes);
		let cache = KEYS.get_or_init(|| Mutex::new(HashMap::new()));
		if let Some(key) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&hash) {
			return Ok(key.clone());
		}
		let key = Arc::new(PreparedKey::from_bytes(bytes)?);
		let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
		if map.len() >= CAPACITY {
			map.clear();
		}
		map.insert(hash, key.clone());
		Ok(key)
	}
}

/// Groth16 on BLS12-381, natively.
#[runtime_interface]
pub trait DeltaZkVerify {
	/// Validates an encoded verifying key (format, lengths, points on the
	/// curve and in the subgroup, no forbidden identities); returns its
	/// number of public inputs, or [`code::INVALID_KEY`].
	///
	/// Always does the full work (decode, validate, prepare: one pairing),
	/// never from the cache, so its benchmarked weight is also the price of
	/// a cache miss in [`verify_groth16`](delta_zk_verify::verify_groth16).
	fn validate_key(key: PassFatPointerAndRead<&[u8]>) -> u32 {
		match ::delta_zk::PreparedKey::from_bytes(key) {
			Ok(k) => k.key().public_inputs() as u32,
			Err(_) => code::INVALID_KEY,
		}
	}

	/// Verifies an encoded proof for encoded public inputs under an encoded
	/// key; returns one of [`code`].
	fn verify_groth16(
		key: PassFatPointerAndRead<&[u8]>,
		proof: PassFatPointerAndRead<&[u8]>,
		inputs: PassFatPointerAndRead<&[u8]>,
	) -> u32 {
		use ::delta_zk::{DecodeError, VerifyError};
		let Ok(key) = cache::prepared(key) else { return code::MALFORMED_KEY };
		match key.verify_bytes(proof, inputs) {
			Ok(()) => code::OK,
			Err(VerifyError::WrongInputCount { .. }) => code::WRONG_INPUT_COUNT,
			Err(VerifyError::Rejected) => code::REJECTED,
			Err(VerifyError::Decode(DecodeError::NonCanonicalScalar { .. })) => code::MALFORMED_INPUTS,
			Err(VerifyError::Decode(DecodeError::Length { what: "public inputs", .. })) => code::MALFORMED_INPUTS,
			Err(VerifyError::Decode(DecodeError::TooManyInputs { .. })) => code::MALFORMED_INPUTS,
			Err(VerifyError::Decode(_)) => code::MALFORMED_PROOF,
		}
	}
}

#[cfg(test)]
mod tests {
	use super::code;
	use super::*;

	const VK: &[u8] = include_bytes!("../../zk/fixtures/dataset_5x2.vk");
	const PROOF: &[u8] = include_bytes!("../../zk/fixtures/dataset_5x2.proof");
	const INPUTS: &[u8] = include_bytes!("../../zk/fixtures/dataset_5x2.inputs");

	#[test]
	fn the_host_functions_verify_and_name_every_failure() {
		assert_eq!(delta_zk_verify::validate_key(VK), 6);
		assert_eq!(delta_zk_verify::validate_key(&VK[1..]), code::INVALID_KEY);
		assert_eq!(delta_zk_verify::verify_groth16(VK, PROOF, INPUTS), code::OK);
		// Cached: the second call takes the prepared key from the cache.
		assert_eq!(delta_zk_verify::verify_groth16(VK, PROOF, INPUTS), code::OK);
		let mut other = INPUTS.to_vec();
		other[0] ^= 1;
		assert_eq!(delta_zk_verify::verify_groth16(VK, PROOF, &other), code::REJECTED);
		assert_eq!(delta_zk_verify::verify_groth16(VK, PROOF, &INPUTS[..32]), code::WRONG_INPUT_COUNT);
		assert_eq!(delta_zk_verify::verify_groth16(VK, PROOF, &INPUTS[..31]), code::MALFORMED_INPUTS);
		assert_eq!(delta_zk_verify::verify_groth16(VK, &PROOF[..100], INPUTS), code::MALFORMED_PROOF);
		assert_eq!(delta_zk_verify::verify_groth16(&VK[..100], PROOF, INPUTS), code::MALFORMED_KEY);
		let mut high = INPUTS.to_vec();
		high[..32].copy_from_slice(&[0xff; 32]);
		assert_eq!(delta_zk_verify::verify_groth16(VK, PROOF, &high), code::MALFORMED_INPUTS);
	}
}
