//! Verification against a validated, prepared key.
//!
//! A key is decoded, validated and prepared once (`PreparedKey`), then each
//! proof pays only for the input multi-exponentiation and one multi-Miller
//! loop with a single final exponentiation. Nodes keep prepared keys keyed
//! by [`key_hash`].

use bls12_381::{Bls12, Scalar};
use sha2::{Digest, Sha256};

use crate::encoding::{decode_inputs, DecodeError, Proof, VerifyingKey};

/// Why a proof does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
	/// The proof, key or inputs are malformed.
	#[error(transparent)]
	Decode(#[from] DecodeError),
	/// The number of public inputs differs from the key's.
	#[error("the key takes {expected} public inputs, {got} were given")]
	WrongInputCount {
		/// The key's number.
		expected: usize,
		/// The number given.
		got: usize,
	},
	/// The pairing check failed: the proof is not for these inputs under
	/// this key.
	#[error("the proof does not verify for these public inputs")]
	Rejected,
}

/// SHA-256 of a key's encoding: how keys are referenced once registered.
pub fn key_hash(encoded_key: &[u8]) -> [u8; 32] {
	Sha256::digest(encoded_key).into()
}

/// A validated key, prepared for fast verification.
pub struct PreparedKey {
	key: VerifyingKey,
	prepared: groth16::PreparedVerifyingKey<Bls12>,
	hash: [u8; 32],
}

impl PreparedKey {
	/// Validates and prepares a key.
	pub fn new(key: VerifyingKey) -> Self {
		let prepared = groth16::prepare_verifying_key(&key.to_groth16());
		let hash = key_hash(&key.to_bytes());
		Self { key, prepared, hash }
	}

	/// Decodes, validates and prepares an encoded key.
	pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
		Ok(Self::new(VerifyingKey::from_bytes(bytes)?))
	}

	/// The key's hash.
	pub fn hash(&self) -> [u8; 32] {
		self.hash
	}

	/// The key.
	pub fn key(&self) -> &VerifyingKey {
		&self.key
	}

	/// Checks `proof` for `inputs`.
	pub fn verify(&self, proof: &Proof, inputs: &[Scalar]) -> Result<(), VerifyError> {
		let expected = self.key.public_inputs();
		if inputs.len() != expected {
			return Err(VerifyError::WrongInputCount { expected, got: inputs.len() });
		}
		groth16::verify_proof(&self.prepared, &proof.to_groth16(), inputs).map_err(|_| VerifyError::Rejected)
	}

	/// Checks an encoded proof for encoded inputs.
	pub fn verify_bytes(&self, proof: &[u8], inputs: &[u8]) -> Result<(), VerifyError> {
		let proof = Proof::from_bytes(proof)?;
		let inputs = decode_inputs(inputs)?;
		self.verify(&proof, &inputs)
	}
}
