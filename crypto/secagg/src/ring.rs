//! Vectors in the ring Z_2^k, k in {32, 64, 128}: what members mask and the
//! aggregator sums. Arithmetic wraps by design (it is ring arithmetic);
//! range checks happen in the [`crate::encoder`] before values get here.

use serde::{
	de::{self, SeqAccess, Visitor},
	ser::SerializeTuple,
	Deserialize, Deserializer, Serialize, Serializer,
};

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

/// A vector of ring elements. It serialises as its ring and its elements'
/// little-endian bytes in one byte string, so a masked input of a million
/// elements is one copy on the wire (8 bytes an element in Z_2^64, where a
/// derived encoding would spend up to 10 on a uniformly random element's
/// varint, element by element).
#[derive(Clone, Debug, PartialEq, Eq)]
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

	/// An empty vector in `ring` with room for `len` elements.
	pub fn with_capacity(ring: Ring, len: usize) -> Self {
		match ring {
			Ring::Bits32 => RingVector::U32(Vec::with_capacity(len)),
			Ring::Bits64 => RingVector::U64(Vec::with_capacity(len)),
			Ring::Bits128 => RingVector::U128(Vec::with_capacity(len)),
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

	/// Appends `other`'s elements, so that outputs encoded one by one make
	/// one vector without passing through a wider type. Returns `false`
	/// (and changes nothing) if the rings differ.
	pub fn append(&mut self, other: RingVector) -> bool {
		match (self, other) {
			(RingVector::U32(a), RingVector::U32(b)) => a.extend_from_slice(&b),
			(RingVector::U64(a), RingVector::U64(b)) => a.extend_from_slice(&b),
			(RingVector::U128(a), RingVector::U128(b)) => a.extend_from_slice(&b),
			_ => return false,
		}
		true
	}

	/// The elements at `range`, in the same ring; `None` past the end.
	pub fn slice(&self, range: core::ops::Range<usize>) -> Option<RingVector> {
		Some(match self {
			RingVector::U32(v) => RingVector::U32(v.get(range)?.to_vec()),
			RingVector::U64(v) => RingVector::U64(v.get(range)?.to_vec()),
			RingVector::U128(v) => RingVector::U128(v.get(range)?.to_vec()),
		})
	}
}

/// The elements' little-endian bytes: on a little-endian host the
/// vector's own memory (a masked model is serialised twice a round, to
/// commit to it and to send it), elsewhere a copy.
pub fn element_bytes<T: bytemuck::Pod, const N: usize>(
	values: &[T],
	to_le: impl Fn(T) -> [u8; N],
) -> std::borrow::Cow<'_, [u8]> {
	if cfg!(target_endian = "little") {
		std::borrow::Cow::Borrowed(bytemuck::cast_slice(values))
	} else {
		std::borrow::Cow::Owned(le_bytes(values, to_le))
	}
}

/// The little-endian bytes of `values`, `N` bytes each: written into
/// fixed-size chunks of one buffer, which compiles to a plain copy loop
/// (an iterator of per-element byte arrays went byte by byte).
fn le_bytes<T: Copy, const N: usize>(values: &[T], to_le: impl Fn(T) -> [u8; N]) -> Vec<u8> {
	let mut out = vec![0u8; values.len() * N];
	for (bytes, v) in out.chunks_exact_mut(N).zip(values) {
		bytes.copy_from_slice(&to_le(*v));
	}
	out
}

impl Serialize for RingVector {
	fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
		let bytes = match self {
			RingVector::U32(v) => element_bytes(v, u32::to_le_bytes),
			RingVector::U64(v) => element_bytes(v, u64::to_le_bytes),
			RingVector::U128(v) => element_bytes(v, u128::to_le_bytes),
		};
		let mut t = serializer.serialize_tuple(2)?;
		t.serialize_element(&self.ring())?;
		t.serialize_element(&crate::bytes::Bytes(&bytes))?;
		t.end()
	}
}

impl<'de> Deserialize<'de> for RingVector {
	fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
		struct Pair;
		impl<'de> Visitor<'de> for Pair {
			type Value = RingVector;
			fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
				f.write_str("a ring and its elements' bytes")
			}
			fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RingVector, A::Error> {
				let ring: Ring = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
				seq.next_element_seed(Elements(ring))?.ok_or_else(|| de::Error::invalid_length(1, &self))
			}
		}
		deserializer.deserialize_tuple(2, Pair)
	}
}

/// A ring vector's elements, read from their bytes where the format lends
/// them (postcard does, from the message's buffer): one copy into the
/// elements, not a copy of the bytes first (a masked model of 8 MB was
/// copied, and its fresh pages touched, twice).
struct Elements(Ring);

impl<'de> de::DeserializeSeed<'de> for Elements {
	type Value = RingVector;
	fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RingVector, D::Error> {
		deserializer.deserialize_byte_buf(self)
	}
}

impl Elements {
	fn read<E: de::Error>(&self, bytes: &[u8]) -> Result<RingVector, E> {
		let width = self.0.element_bytes();
		if bytes.len() % width != 0 {
			return Err(E::custom(format_args!(
				"{} bytes are not a whole number of {width}-byte elements",
				bytes.len()
			)));
		}
		macro_rules! read {
			($t:ty) => {
				bytes
					.chunks_exact(width)
					.map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or([0; core::mem::size_of::<$t>()])))
					.collect()
			};
		}
		Ok(match self.0 {
			Ring::Bits32 => RingVector::U32(read!(u32)),
			Ring::Bits64 => RingVector::U64(read!(u64)),
			Ring::Bits128 => RingVector::U128(read!(u128)),
		})
	}
}

impl<'de> Visitor<'de> for Elements {
	type Value = RingVector;
	fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
		f.write_str("a byte string of ring elements")
	}
	fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<RingVector, E> {
		self.read(v)
	}
	fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RingVector, A::Error> {
		// Formats without byte strings (JSON) give the bytes one by one.
		let crate::bytes::ByteBuf(bytes) =
			crate::bytes::ByteBuf::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
		self.read(&bytes)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn vectors_round_trip_in_every_ring_and_ragged_bytes_are_refused() {
		for v in [
			RingVector::U32(vec![0, 1, u32::MAX]),
			RingVector::U64(vec![u64::MAX, 7]),
			RingVector::U128(vec![u128::MAX - 3]),
			RingVector::U64(vec![]),
		] {
			let text = serde_json::to_string(&v).unwrap();
			assert_eq!(serde_json::from_str::<RingVector>(&text).unwrap(), v, "{text}");
		}
		// The elements travel as their little-endian bytes.
		let text = serde_json::to_string(&RingVector::U32(vec![258])).unwrap();
		assert_eq!(text, r#"["Bits32",[2,1,0,0]]"#);
		let text = serde_json::to_string(&RingVector::U128(vec![1 << 64 | 3])).unwrap();
		assert_eq!(text, r#"["Bits128",[3,0,0,0,0,0,0,0,1,0,0,0,0,0,0,0]]"#);
		let err = serde_json::from_str::<RingVector>(r#"["Bits64",[1,2,3]]"#).unwrap_err();
		assert!(err.to_string().contains("3 bytes are not a whole number of 8-byte elements"), "{err}");
	}

	#[test]
	fn appending_and_slicing_keep_the_ring_and_refuse_a_mismatch() {
		let mut v = RingVector::U64(vec![]);
		assert!(v.append(RingVector::U64(vec![1, 2])));
		assert!(v.append(RingVector::U64(vec![3])));
		assert_eq!(v, RingVector::U64(vec![1, 2, 3]));
		assert!(!v.append(RingVector::U32(vec![4])));
		assert_eq!(v, RingVector::U64(vec![1, 2, 3]));
		assert_eq!(v.slice(1..3), Some(RingVector::U64(vec![2, 3])));
		assert_eq!(v.slice(2..4), None);
		let mut w = RingVector::U32(vec![7]);
		assert!(w.append(RingVector::U32(vec![8])));
		assert_eq!(w.slice(0..1), Some(RingVector::U32(vec![7])));
		assert_eq!(le_bytes(&[0x0102u16], u16::to_le_bytes), vec![2, 1]);
	}
}
