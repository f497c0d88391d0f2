//! Byte strings for serde: `#[serde(with = "delta_secagg::bytes")]` on a
//! `Vec<u8>` field. A derived `Vec<u8>` goes through serde element by
//! element; as a byte string it is one copy in binary formats. Postcard
//! writes both the same way (a length, then the bytes), so the wire format
//! is unchanged; JSON writes both as an array of numbers, and both are
//! read back.

use serde::{
	de::{self, SeqAccess, Visitor},
	Deserialize, Deserializer, Serialize, Serializer,
};

/// Bytes, serialised as one byte string.
pub struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
	fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
		serializer.serialize_bytes(self.0)
	}
}

/// A byte string read back: from a binary format's bytes, or from a
/// self-describing one's sequence of small integers (JSON).
pub struct ByteBuf(pub Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
	fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
		struct Visit;
		impl<'de> Visitor<'de> for Visit {
			type Value = ByteBuf;
			fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
				f.write_str("a byte string")
			}
			fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
				Ok(ByteBuf(v.to_vec()))
			}
			fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
				Ok(ByteBuf(v))
			}
			fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
				let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
				while let Some(b) = seq.next_element::<u8>()? {
					out.push(b);
				}
				Ok(ByteBuf(out))
			}
		}
		deserializer.deserialize_byte_buf(Visit)
	}
}

/// `serialize_with` for a `Vec<u8>` field.
pub fn serialize<S: Serializer>(value: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
	Bytes(value).serialize(serializer)
}

/// `deserialize_with` for a `Vec<u8>` field.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
	ByteBuf::deserialize(deserializer).map(|b| b.0)
}

#[cfg(test)]
mod tests {
	#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
	struct Derived {
		body: Vec<u8>,
	}

	#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
	struct Fast {
		#[serde(with = "crate::bytes")]
		body: Vec<u8>,
	}

	#[test]
	fn json_reads_both_ways_and_writes_the_same() {
		let fast = Fast { body: vec![0, 7, 255] };
		let text = serde_json::to_string(&fast).unwrap();
		assert_eq!(text, serde_json::to_string(&Derived { body: vec![0, 7, 255] }).unwrap());
		assert_eq!(serde_json::from_str::<Fast>(&text).unwrap(), fast);
	}
}
