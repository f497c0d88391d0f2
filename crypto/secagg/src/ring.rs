//! Vectors in the ring Z_2^k, k in {32, 64, 128}: what members mask and the
//! aggregator sums. Arithmetic wraps by design (it is ring arithmetic);
//! range checks happen in the [`crate::encoder`] before values get here.

use serde::{Deserialize, Serialize};

/// The ring a vector lives in, chosen per vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ring {
	/// Z_2^32: the fastest; enough for counts and coarse fixed point.
	Bits32,
	/// Z_2^64: the default for fixed-point statistics.
	Bits64,
	/// Z_2^128: for long sums of high-precision values.
	Bits128,
}

impl Ring {
	/// k, the number of bits.
	pub fn bits(self) -> u32 {
		match self {
			Ring::Bits32 => 32,
			Ring::Bits64 => 64,
			Ring::Bits128 => 128,
		}
	}

	/// Bytes per element.
	pub fn element_bytes(self) -> usize {
		self.bits() as usize / 8
	}
}

/// A vector of ring elements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RingVector {
	/// Elements of Z_2^32.
	U32(Vec<u32>),
	/// Elements of Z_2^64.
	U64(Vec<u64>),
	/// Elements of Z_2^128.
	U128(Vec<u128>),
}

impl RingVector {
	/// The zero vector of `len` elements in `ring`.
	pub fn zeros(ring: Ring, len: usize) -> Self {
		match ring {
			Ring::Bits32 => RingVector::U32(vec![0; len]),
			Ring::Bits64 => RingVector::U64(vec![0; len]),
			Ring::Bits128 => RingVector::U128(vec![0; len]),
		}
	}

	/// The ring of the elements.
	pub fn ring(&self) -> Ring {
		match self {
			RingVector::U32(_) => Ring::Bits32,
			RingVector::U64(_) => Ring::Bits64,
			RingVector::U128(_) => Ring::Bits128,
		}
	}

	/// Number of elements.
	pub fn len(&self) -> usize {
		match self {
			RingVector::U32(v) => v.len(),
			RingVector::U64(v) => v.len(),
			RingVector::U128(v) => v.len(),
		}
	}

	/// Whether the vector has no elements.
	pub fn is_empty(&self) -> bool {
		self.len() == 0
	}

	/// `self += other`, element-wise in the ring. Returns `false` (and
	/// changes nothing) if the rings or lengths differ.
	pub fn add_assign(&mut self, other: &RingVector) -> bool {
		match (self, other) {
			(RingVector::U32(a), RingVector::U32(b)) if a.len() == b.len() => {
				a.iter_mut().zip(b).for_each(|(x, y)| *x = x.wrapping_add(*y));
			},
			(RingVector::U64(a), RingVector::U64(b)) if a.len() == b.len() => {
				a.iter_mut().zip(b).for_each(|(x, y)| *x = x.wrapping_add(*y));
			},
			(RingVector::U128(a), RingVector::U128(b)) if a.len() == b.len() => {
				a.iter_mut().zip(b).for_each(|(x, y)| *x = x.wrapping_add(*y));
			},
			_ => return false,
		}
		true
	}

	/// The elements as unsigned 128-bit integers, for decoding.
	pub fn to_u128(&self) -> Vec<u128> {
		match self {
			RingVector::U32(v) => v.iter().map(|x| u128::from(*x)).collect(),
			RingVector::U64(v) => v.iter().map(|x| u128::from(*x)).collect(),
			RingVector::U128(v) => v.clone(),
		}
	}
}
