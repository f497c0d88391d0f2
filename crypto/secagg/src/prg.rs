//! Mask expansion: a 256-bit seed stretched into a vector of ring elements.
//!
//! The generator is AES-128 in counter mode (AES-NI when the CPU has it,
//! detected at run time), keyed by HKDF-SHA256 of the seed under its own
//! domain label. The seed carries 256 bits; the generator's security is
//! 128 bits, the level of X25519 itself, and AES-128 expands masks about 40%
//! faster than AES-256 (14 rounds against 10). The keystream is written and
//! added chunk by chunk so it stays in cache.

use aes::Aes128;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::ring::RingVector;

type Aes128Ctr = ctr::Ctr128BE<Aes128>;

/// Domain label of the mask generator's key derivation.
const MASK_PRG_LABEL: &[u8] = b"delta-secagg/v1/mask-prg";
/// Keystream bytes produced per step; fits in L1/L2 with the target slice.
const CHUNK: usize = 16 * 1024;

fn cipher(seed: &[u8; 32]) -> Aes128Ctr {
	let mut okm = Zeroizing::new([0u8; 32]);
	Hkdf::<Sha256>::new(None, seed)
		.expand(MASK_PRG_LABEL, okm.as_mut_slice())
		.expect("32 bytes is a valid HKDF-SHA256 output length");
	let (key, iv) = okm.split_at(16);
	Aes128Ctr::new(key.into(), iv.into())
}

/// Adds (`sign = 1`) or subtracts (`sign = -1`) the mask expanded from
/// `seed` to `target`, element-wise in the target's ring.
pub fn apply_mask(target: &mut RingVector, seed: &[u8; 32], subtract: bool) {
	let mut cipher = cipher(seed);
	let mut buf = Zeroizing::new(vec![0u8; CHUNK]);
	macro_rules! run {
		($v:expr, $t:ty) => {{
			let width = core::mem::size_of::<$t>();
			for chunk in $v.chunks_mut(CHUNK / width) {
				let bytes = &mut buf[..chunk.len() * width];
				bytes.fill(0);
				cipher.apply_keystream(bytes);
				for (x, m) in chunk.iter_mut().zip(bytes.chunks_exact(width)) {
					let mut le = [0u8; core::mem::size_of::<$t>()];
					le.copy_from_slice(m);
					let m = <$t>::from_le_bytes(le);
					*x = if subtract { x.wrapping_sub(m) } else { x.wrapping_add(m) };
				}
			}
		}};
	}
	match target {
		RingVector::U32(v) => run!(v, u32),
		RingVector::U64(v) => run!(v, u64),
		RingVector::U128(v) => run!(v, u128),
	}
	buf.zeroize();
}

/// Writes `len` bytes of the raw keystream for `seed`; used by the
/// throughput benchmark and the uniformity test.
pub fn keystream(seed: &[u8; 32], out: &mut [u8]) {
	out.fill(0);
	cipher(seed).apply_keystream(out);
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::ring::Ring;

	#[test]
	fn adding_then_subtracting_a_mask_is_the_identity() {
		for ring in [Ring::Bits32, Ring::Bits64, Ring::Bits128] {
			let original = RingVector::zeros(ring, 10_001);
			let mut v = original.clone();
			apply_mask(&mut v, &[7; 32], false);
			assert_ne!(v, original);
			apply_mask(&mut v, &[7; 32], true);
			assert_eq!(v, original);
		}
	}

	#[test]
	fn the_mask_is_a_fixed_function_of_the_seed() {
		let mut a = RingVector::zeros(Ring::Bits32, 4);
		apply_mask(&mut a, &[0; 32], false);
		let mut b = RingVector::zeros(Ring::Bits32, 4);
		apply_mask(&mut b, &[0; 32], false);
		assert_eq!(a, b);
		let mut c = RingVector::zeros(Ring::Bits32, 4);
		apply_mask(&mut c, &[1; 32], false);
		assert_ne!(a, c);
		// The u32 mask is the little-endian reading of the keystream.
		let mut stream = [0u8; 16];
		keystream(&[0; 32], &mut stream);
		let expect: Vec<u32> =
			stream.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
		assert_eq!(a, RingVector::U32(expect));
	}

	#[test]
	fn chunk_boundaries_do_not_change_the_stream() {
		// A long u64 mask equals the keystream read in one piece.
		let n = CHUNK / 8 * 3 + 5;
		let mut v = RingVector::zeros(Ring::Bits64, n);
		apply_mask(&mut v, &[9; 32], false);
		let mut stream = vec![0u8; n * 8];
		keystream(&[9; 32], &mut stream);
		let expect: Vec<u64> = stream
			.chunks(8)
			.map(|c| u64::from_le_bytes(c.try_into().unwrap()))
			.collect();
		assert_eq!(v, RingVector::U64(expect));
	}
}
