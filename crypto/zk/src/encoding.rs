//! The byte encoding of proofs, verifying keys and public inputs.
//!
//! One encoding, used on chain, in the worker and in fixtures:
//!
//! - **G1 point**: 48 bytes, **G2 point**: 96 bytes, both in the zkcrypto
//!   compressed form (big-endian x coordinate(s); the three top bits of the
//!   first byte flag compression, infinity and the sign of y), as
//!   `bls12_381::G1Affine::to_compressed` writes them.
//! - **Scalar** (public input): 32 bytes, little-endian, canonical (below
//!   the group order r).
//! - **Proof**: `A (G1) ++ B (G2) ++ C (G1)` = 192 bytes.
//! - **Verifying key**: `b"DZK1" ++ alpha (G1) ++ beta (G2) ++ gamma (G2) ++
//!   delta (G2) ++ n (u32 little-endian, number of public inputs) ++
//!   IC_0 .. IC_n (G1 each)` = 4 + 48 + 3·96 + 4 + 48·(n+1) bytes.
//!   (`beta_g1` and `delta_g1` are prover-side only and not encoded.)
//!
//! Decoding checks every point is on its curve and in the prime-order
//! subgroup, and refuses the point at infinity where Groth16 forbids it.

use bls12_381::{G1Affine, G2Affine, Scalar};
use ff::PrimeField;

/// Largest number of public inputs a key may have. Bounds decoding work
/// and on-chain storage.
pub const MAX_PUBLIC_INPUTS: usize = 64;

/// Encoded proof length.
pub const PROOF_LEN: usize = 48 + 96 + 48;

const KEY_MAGIC: &[u8; 4] = b"DZK1";

/// Why bytes are not a valid proof, key or input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
	/// The byte string has the wrong length.
	#[error("{what}: expected {expected} bytes, got {got}")]
	Length {
		/// What was decoded.
		what: &'static str,
		/// The length it must have.
		expected: usize,
		/// The length it has.
		got: usize,
	},
	/// The key does not start with the format tag.
	#[error("not a Delta verifying key (bad format tag)")]
	BadFormat,
	/// A point's bytes are not a point on the curve.
	#[error("{what}: not a point on the curve")]
	NotOnCurve {
		/// Which point.
		what: &'static str,
	},
	/// A point is on the curve but outside the prime-order subgroup.
	#[error("{what}: not in the prime-order subgroup")]
	NotInSubgroup {
		/// Which point.
		what: &'static str,
	},
	/// A point that must not be the point at infinity is.
	#[error("{what}: the point at infinity is not allowed here")]
	Identity {
		/// Which point.
		what: &'static str,
	},
	/// Too many public inputs.
	#[error("{got} public inputs exceed the maximum of {MAX_PUBLIC_INPUTS}")]
	TooManyInputs {
		/// The number in the key.
		got: usize,
	},
	/// A scalar is not below the group order.
	#[error("public input {index} is not a canonical scalar")]
	NonCanonicalScalar {
		/// Its position.
		index: usize,
	},
}

pub(crate) fn g1(bytes: &[u8], what: &'static str, allow_identity: bool) -> Result<G1Affine, DecodeError> {
	let raw: [u8; 48] = bytes.try_into().map_err(|_| DecodeError::Length { what, expected: 48, got: bytes.len() })?;
	let point =
		Option::<G1Affine>::from(G1Affine::from_compressed_unchecked(&raw)).ok_or(DecodeError::NotOnCurve { what })?;
	if !bool::from(point.is_torsion_free()) {
		return Err(DecodeError::NotInSubgroup { what });
	}
	if !allow_identity && bool::from(point.is_identity()) {
		return Err(DecodeError::Identity { what });
	}
	Ok(point)
}

pub(crate) fn g2(bytes: &[u8], what: &'static str) -> Result<G2Affine, DecodeError> {
	let raw: [u8; 96] = bytes.try_into().map_err(|_| DecodeError::Length { what, expected: 96, got: bytes.len() })?;
	let point =
		Option::<G2Affine>::from(G2Affine::from_compressed_unchecked(&raw)).ok_or(DecodeError::NotOnCurve { what })?;
	if !bool::from(point.is_torsion_free()) {
		return Err(DecodeError::NotInSubgroup { what });
	}
	if bool::from(point.is_identity()) {
		return Err(DecodeError::Identity { what });
	}
	Ok(point)
}

/// A Groth16 proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
	/// A.
	pub a: G1Affine,
	/// B.
	pub b: G2Affine,
	/// C.
	pub c: G1Affine,
}

impl Proof {
	/// The 192-byte encoding.
	pub fn to_bytes(&self) -> [u8; PROOF_LEN] {
		let mut out = [0u8; PROOF_LEN];
		out[..48].copy_from_slice(&self.a.to_compressed());
		out[48..144].copy_from_slice(&self.b.to_compressed());
		out[144..].copy_from_slice(&self.c.to_compressed());
		out
	}

	/// Decodes and validates a proof.
	pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
		if bytes.len() != PROOF_LEN {
			return Err(DecodeError::Length { what: "proof", expected: PROOF_LEN, got: bytes.len() });
		}
		Ok(Self {
			a: g1(&bytes[..48], "proof A", true)?,
			b: g2(&bytes[48..144], "proof B")?,
			c: g1(&bytes[144..], "proof C", true)?,
		})
	}

	pub(crate) fn to_groth16(&self) -> groth16::Proof<bls12_381::Bls12> {
		groth16::Proof { a: self.a, b: self.b, c: self.c }
	}

	pub(crate) fn from_groth16(p: &groth16::Proof<bls12_381::Bls12>) -> Self {
		Self { a: p.a, b: p.b, c: p.c }
	}
}

/// A Groth16 verifying key: what the chain stores and checks proofs
/// against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyingKey {
	/// alpha in G1.
	pub alpha_g1: G1Affine,
	/// beta in G2.
	pub beta_g2: G2Affine,
	/// gamma in G2.
	pub gamma_g2: G2Affine,
	/// delta in G2.
	pub delta_g2: G2Affine,
	/// One point per public input, plus one.
	pub ic: Vec<G1Affine>,
}

impl VerifyingKey {
	/// Number of public inputs a proof against this key takes.
	pub fn public_inputs(&self) -> usize {
		self.ic.len() - 1
	}

	/// Encoded length for `n` public inputs.
	pub fn encoded_len(n: usize) -> usize {
		4 + 48 + 3 * 96 + 4 + 48 * (n + 1)
	}

	/// The encoding described in the module docs.
	pub fn to_bytes(&self) -> Vec<u8> {
		let mut out = Vec::with_capacity(Self::encoded_len(self.public_inputs()));
		out.extend_from_slice(KEY_MAGIC);
		out.extend_from_slice(&self.alpha_g1.to_compressed());
		out.extend_from_slice(&self.beta_g2.to_compressed());
		out.extend_from_slice(&self.gamma_g2.to_compressed());
		out.extend_from_slice(&self.delta_g2.to_compressed());
		out.extend_from_slice(&(self.public_inputs() as u32).to_le_bytes());
		for p in &self.ic {
			out.extend_from_slice(&p.to_compressed());
		}
		out
	}

	/// Decodes and validates a key: format, lengths, every point on its
	/// curve and in the subgroup, none of alpha, beta, gamma, delta or the IC
	/// points at infinity.
	pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
		let header = 4 + 48 + 3 * 96 + 4;
		if bytes.len() < header {
			return Err(DecodeError::Length { what: "verifying key", expected: header, got: bytes.len() });
		}
		if &bytes[..4] != KEY_MAGIC {
			return Err(DecodeError::BadFormat);
		}
		let mut at = 4;
		let mut take = |n: usize| {
			let s = &bytes[at..at + n];
			at += n;
			s
		};
		let alpha_g1 = g1(take(48), "alpha", false)?;
		let beta_g2 = g2(take(96), "beta")?;
		let gamma_g2 = g2(take(96), "gamma")?;
		let delta_g2 = g2(take(96), "delta")?;
		let n = u32::from_le_bytes(take(4).try_into().unwrap_or([0xff; 4])) as usize;
		if n > MAX_PUBLIC_INPUTS {
			return Err(DecodeError::TooManyInputs { got: n });
		}
		let expected = Self::encoded_len(n);
		if bytes.len() != expected {
			return Err(DecodeError::Length { what: "verifying key", expected, got: bytes.len() });
		}
		let mut ic = Vec::with_capacity(n + 1);
		for _ in 0..=n {
			ic.push(g1(take(48), "IC point", false)?);
		}
		Ok(Self { alpha_g1, beta_g2, gamma_g2, delta_g2, ic })
	}

	pub(crate) fn to_groth16(&self) -> groth16::VerifyingKey<bls12_381::Bls12> {
		groth16::VerifyingKey {
			alpha_g1: self.alpha_g1,
			// Not used by verification; the prover's copies live in the
			// proving parameters.
			beta_g1: G1Affine::identity(),
			beta_g2: self.beta_g2,
			gamma_g2: self.gamma_g2,
			delta_g1: G1Affine::identity(),
			delta_g2: self.delta_g2,
			ic: self.ic.clone(),
		}
	}

	pub(crate) fn from_groth16(vk: &groth16::VerifyingKey<bls12_381::Bls12>) -> Self {
		Self {
			alpha_g1: vk.alpha_g1,
			beta_g2: vk.beta_g2,
			gamma_g2: vk.gamma_g2,
			delta_g2: vk.delta_g2,
			ic: vk.ic.clone(),
		}
	}
}

/// Encodes public inputs, 32 bytes each.
pub fn encode_inputs(inputs: &[Scalar]) -> Vec<u8> {
	inputs.iter().flat_map(|s| s.to_repr()).collect()
}

/// Decodes public inputs, refusing non-canonical scalars.
pub fn decode_inputs(bytes: &[u8]) -> Result<Vec<Scalar>, DecodeError> {
	if bytes.len() % 32 != 0 {
		return Err(DecodeError::Length {
			what: "public inputs",
			expected: bytes.len().div_ceil(32) * 32,
			got: bytes.len(),
		});
	}
	if bytes.len() / 32 > MAX_PUBLIC_INPUTS {
		return Err(DecodeError::TooManyInputs { got: bytes.len() / 32 });
	}
	bytes
		.chunks_exact(32)
		.enumerate()
		.map(|(index, chunk)| {
			let mut repr = [0u8; 32];
			repr.copy_from_slice(chunk);
			Option::<Scalar>::from(Scalar::from_repr(repr)).ok_or(DecodeError::NonCanonicalScalar { index })
		})
		.collect()
}
