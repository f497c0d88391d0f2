//! Mask expansion: a 256-bit seed stretched into a vector of ring elements.
//!
//! The generator is AES-128 in counter mode (four blocks an instruction
//! with VAES and AVX-512 where the CPU has them, else AES-NI, detected at
//! run time; the same keystream either way), keyed by HKDF-SHA256 of the
//! seed under its own domain label (16 bytes of key, 16 of initial counter
//! block). The seed carries 256 bits; the generator's security is
//! 128 bits, the level of X25519 itself, and AES-128 expands masks about 40%
//! faster than AES-256 (14 rounds against 10). The keystream is written and
//! added chunk by chunk so it stays in cache.

use aes::Aes128;
use ctr::cipher::{generic_array::GenericArray, KeyIvInit, StreamCipherCore, StreamCipherSeekCore};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::ring::RingVector;

/// AES-128 in counter mode with a 64-bit little-endian block counter (the
/// fastest of the `ctr` flavours here; 2^64 blocks is far beyond any mask).
type Core = ctr::CtrCore<Aes128, ctr::flavors::Ctr64LE>;
/// One block of keystream, 16 bytes.
pub type Block = GenericArray<u8, aes::cipher::consts::U16>;

/// Domain label of the mask generator's key derivation.
const MASK_PRG_LABEL: &[u8] = b"delta-secagg/v1/mask-prg";
/// Keystream blocks produced per step (16 KiB): stays in L1 with the slice
/// it is added to.
const CHUNK_BLOCKS: usize = 1024;

/// A seed's keystream: sixteen blocks at a time with VAES where the CPU
/// has it (`vaes`, twice the rate of the `aes` crate's AES-NI on this
/// machine's cores), else the `aes` crate's; the same stream either way.
enum Stream {
	#[cfg(target_arch = "x86_64")]
	Vaes(crate::vaes::VaesCtr),
	Portable(Box<Core>),
}

impl Stream {
	fn new(seed: &[u8; 32]) -> Self {
		#[cfg(target_arch = "x86_64")]
		if crate::vaes::available() {
			let (key, iv) = key_and_iv(seed);
			return Self::Vaes(crate::vaes::VaesCtr::new(&key, &iv));
		}
		Self::portable(seed)
	}

	/// The `aes` crate's stream whatever the CPU (also the reference the
	/// vector stream is tested against).
	fn portable(seed: &[u8; 32]) -> Self {
		let (key, iv) = key_and_iv(seed);
		Self::Portable(Box::new(Core::new(key.as_slice().into(), iv.as_slice().into())))
	}

	fn set_block_pos(&mut self, n: u64) {
		match self {
			#[cfg(target_arch = "x86_64")]
			Self::Vaes(s) => s.set_block_pos(n),
			Self::Portable(c) => c.set_block_pos(n),
		}
	}

	fn write_blocks(&mut self, out: &mut [Block]) {
		match self {
			#[cfg(target_arch = "x86_64")]
			Self::Vaes(s) => s.write_blocks(out),
			Self::Portable(c) => c.write_keystream_blocks(out),
		}
	}
}

/// The generator's AES key and initial counter block: HKDF-SHA256 of the
/// seed under the generator's label.
fn key_and_iv(seed: &[u8; 32]) -> (Zeroizing<[u8; 16]>, Zeroizing<[u8; 16]>) {
	let mut okm = Zeroizing::new([0u8; 32]);
	Hkdf::<Sha256>::new(None, seed)
		.expand(MASK_PRG_LABEL, okm.as_mut_slice())
		.expect("32 bytes is a valid HKDF-SHA256 output length");
	let mut key = Zeroizing::new([0u8; 16]);
	let mut iv = Zeroizing::new([0u8; 16]);
	key.copy_from_slice(&okm[..16]);
	iv.copy_from_slice(&okm[16..]);
	(key, iv)
}

/// Adds (or, with `subtract`, subtracts) the mask expanded from `seed` to
/// `target`, element-wise in the target's ring.
pub fn apply_mask(target: &mut RingVector, seed: &[u8; 32], subtract: bool) {
	apply_masks(target, &[(seed, subtract)]);
}

/// Applies several masks in one pass over `target`: the vector is walked in
/// cache-sized chunks and every mask is added to a chunk while it is in
/// cache, so a member's k + 1 masks (or the aggregator's many) cost one trip
/// through memory instead of k + 1. Each keystream is written straight into
/// a small block buffer (no zeroing, no XOR pass) and added from there. A
/// long vector is cut into one contiguous part per core, each masked on a
/// thread of its own from its position in every keystream (counter mode
/// seeks), so the result is the same whatever the number of cores.
pub fn apply_masks(target: &mut RingVector, masks: &[(&[u8; 32], bool)]) {
	match target {
		RingVector::U32(v) => apply_masks_parallel(v, masks),
		RingVector::U64(v) => apply_masks_parallel(v, masks),
		RingVector::U128(v) => apply_masks_parallel(v, masks),
	}
}

/// Elements per thread at least before masking is spread over cores (a
/// thread's start costs about what masking 2^18 elements with one mask does
/// not).
const PARALLEL_FROM: usize = 1 << 18;

/// A ring element as the keystream feeds it: `WIDTH` little-endian bytes.
trait Lane: Copy + Send {
	const WIDTH: usize;
	fn from_le(bytes: &[u8]) -> Self;
	fn add(self, other: Self) -> Self;
	fn sub(self, other: Self) -> Self;
}

macro_rules! lane {
	($t:ty) => {
		impl Lane for $t {
			const WIDTH: usize = core::mem::size_of::<$t>();
			#[inline]
			fn from_le(bytes: &[u8]) -> Self {
				<$t>::from_le_bytes(bytes.try_into().unwrap_or([0; core::mem::size_of::<$t>()]))
			}
			#[inline]
			fn add(self, other: Self) -> Self {
				self.wrapping_add(other)
			}
			#[inline]
			fn sub(self, other: Self) -> Self {
				self.wrapping_sub(other)
			}
		}
	};
}
lane!(u32);
lane!(u64);
lane!(u128);

fn apply_masks_parallel<T: Lane>(values: &mut [T], masks: &[(&[u8; 32], bool)]) {
	let per_block = 16 / T::WIDTH;
	let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
	let threads = cores.min(values.len() / PARALLEL_FROM);
	if threads <= 1 {
		apply_masks_from(values, masks, 0);
		return;
	}
	// Parts start on a keystream block.
	let part = values.len().div_ceil(threads).next_multiple_of(per_block);
	std::thread::scope(|scope| {
		for (i, chunk) in values.chunks_mut(part).enumerate() {
			let first_block = (i * part / per_block) as u64;
			scope.spawn(move || apply_masks_from(chunk, masks, first_block));
		}
	});
}

/// Adds the masks to `values`, which hold the keystreams' elements from
/// block `first_block` on.
fn apply_masks_from<T: Lane>(values: &mut [T], masks: &[(&[u8; 32], bool)], first_block: u64) {
	let per_block = 16 / T::WIDTH;
	let mut cores: Vec<(Stream, bool)> = masks
		.iter()
		.map(|(seed, sub)| {
			let mut c = Stream::new(seed);
			c.set_block_pos(first_block);
			(c, *sub)
		})
		.collect();
	let mut blocks: Vec<Block> = vec![Block::default(); CHUNK_BLOCKS];
	for chunk in values.chunks_mut(CHUNK_BLOCKS * per_block) {
		let used = chunk.len().div_ceil(per_block);
		for (core, subtract) in cores.iter_mut() {
			core.write_blocks(&mut blocks[..used]);
			for (xs, block) in chunk.chunks_mut(per_block).zip(blocks.iter()) {
				for (x, m) in xs.iter_mut().zip(block.chunks_exact(T::WIDTH)) {
					let m = T::from_le(m);
					*x = if *subtract { x.sub(m) } else { x.add(m) };
				}
			}
		}
	}
	blocks.iter_mut().for_each(|b| b.as_mut_slice().zeroize());
}

/// A seed's keystream, read on from where the last read stopped: random
/// bytes for those who want them rather than a mask (the members' noise).
pub struct Keystream {
	core: Stream,
	blocks: Vec<Block>,
}

impl Keystream {
	/// The keystream of `seed` from its start.
	pub fn new(seed: &[u8; 32]) -> Self {
		// The byte reader's buffer is made at its first `fill`: a reader
		// of blocks never needs it.
		Self { core: Stream::new(seed), blocks: Vec::new() }
	}

	/// Fills `out` with the next `out.len()` bytes, a multiple of 16 (whole
	/// blocks, so the next read starts where this one ended).
	pub fn fill(&mut self, out: &mut [u8]) {
		debug_assert_eq!(out.len() % 16, 0);
		if self.blocks.is_empty() {
			self.blocks = vec![Block::default(); CHUNK_BLOCKS];
		}
		for chunk in out.chunks_mut(CHUNK_BLOCKS * 16) {
			let used = chunk.len() / 16;
			self.core.write_blocks(&mut self.blocks[..used]);
			for (bytes, block) in chunk.chunks_exact_mut(16).zip(self.blocks.iter()) {
				bytes.copy_from_slice(block);
			}
		}
	}

	/// Fills `out` with the next `out.len()` blocks, written in place: a
	/// reader of words keeps only `out` in cache, no byte buffer beside it.
	pub fn fill_blocks(&mut self, out: &mut [Block]) {
		self.core.write_blocks(out);
	}
}

impl Drop for Keystream {
	fn drop(&mut self) {
		self.blocks.iter_mut().for_each(|b| b.as_mut_slice().zeroize());
	}
}

/// Writes the raw keystream for `seed` into `out` (a whole number of
/// 16-byte blocks is generated; a partial last block is cut); used by the
/// neighbour graph, the throughput benchmark and tests.
pub fn keystream(seed: &[u8; 32], out: &mut [u8]) {
	let mut stream = Keystream::new(seed);
	let (whole, tail) = out.split_at_mut(out.len() / 16 * 16);
	stream.fill(whole);
	if !tail.is_empty() {
		let mut last = Zeroizing::new([0u8; 16]);
		stream.fill(last.as_mut_slice());
		tail.copy_from_slice(&last[..tail.len()]);
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::ring::Ring;

	#[test]
	fn the_vector_keystream_is_the_aes_crates() {
		#[cfg(target_arch = "x86_64")]
		eprintln!("VAES keystream available: {}", crate::vaes::available());
		for seed in [[0u8; 32], [0xa5; 32]] {
			for start in [0u64, 1, 3, 15, 16, 17, 1 << 40] {
				for len in [0usize, 1, 3, 4, 5, 15, 16, 17, 31, 33, 64, 1000] {
					let mut fast = Stream::new(&seed);
					let mut reference = Stream::portable(&seed);
					fast.set_block_pos(start);
					reference.set_block_pos(start);
					let mut a = vec![Block::default(); len];
					let mut b = vec![Block::default(); len];
					// Two reads, so the second starts where the first ended.
					for _ in 0..2 {
						fast.write_blocks(&mut a);
						reference.write_blocks(&mut b);
						assert_eq!(a, b, "seed {}, from block {start}, {len} blocks", seed[0]);
					}
				}
			}
		}
	}

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
		let expect: Vec<u32> = stream.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
		assert_eq!(a, RingVector::U32(expect));
	}

	#[test]
	fn several_masks_in_one_pass_equal_one_at_a_time() {
		for ring in [Ring::Bits32, Ring::Bits64, Ring::Bits128] {
			let mut one = RingVector::zeros(ring, CHUNK_BLOCKS * 5 + 3);
			apply_mask(&mut one, &[1; 32], false);
			apply_mask(&mut one, &[2; 32], true);
			apply_mask(&mut one, &[3; 32], false);
			let mut fused = RingVector::zeros(ring, CHUNK_BLOCKS * 5 + 3);
			apply_masks(&mut fused, &[(&[1; 32], false), (&[2; 32], true), (&[3; 32], false)]);
			assert_eq!(one, fused);
		}
	}

	#[test]
	fn long_vectors_masked_in_parts_equal_the_stream_in_one_piece() {
		// Long enough for two threads, and not a whole number of blocks.
		let n = 2 * PARALLEL_FROM + 7;
		let mut v = RingVector::zeros(Ring::Bits64, n);
		apply_masks(&mut v, &[(&[4; 32], false), (&[5; 32], true)]);
		let stream = |seed: u8| {
			let mut bytes = vec![0u8; n * 8];
			keystream(&[seed; 32], &mut bytes);
			bytes.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect::<Vec<u64>>()
		};
		let expect: Vec<u64> = stream(4).iter().zip(stream(5)).map(|(a, b)| a.wrapping_sub(b)).collect();
		assert_eq!(v, RingVector::U64(expect));
		// Parts starting at any block, whatever the machine's cores.
		for ring in [Ring::Bits32, Ring::Bits64, Ring::Bits128] {
			let mut whole = RingVector::zeros(ring, CHUNK_BLOCKS * 3 + 5);
			let mut parts = whole.clone();
			let masks = [(&[6u8; 32], false), (&[7u8; 32], true)];
			fn split<T: Lane>(v: &mut [T], masks: &[(&[u8; 32], bool)], at_block: usize) {
				let (a, b) = v.split_at_mut(at_block * 16 / T::WIDTH);
				apply_masks_from(a, masks, 0);
				apply_masks_from(b, masks, at_block as u64);
			}
			match (&mut whole, &mut parts) {
				(RingVector::U32(w), RingVector::U32(p)) => {
					apply_masks_from(w, &masks, 0);
					split(p, &masks, CHUNK_BLOCKS / 2 + 1);
				},
				(RingVector::U64(w), RingVector::U64(p)) => {
					apply_masks_from(w, &masks, 0);
					split(p, &masks, CHUNK_BLOCKS + 3);
				},
				(RingVector::U128(w), RingVector::U128(p)) => {
					apply_masks_from(w, &masks, 0);
					split(p, &masks, 2 * CHUNK_BLOCKS + 1);
				},
				_ => unreachable!(),
			}
			assert_eq!(whole, parts);
		}
	}

	#[test]
	fn a_keystream_read_in_pieces_is_the_keystream() {
		let mut whole = vec![0u8; CHUNK_BLOCKS * 16 * 2 + 48];
		keystream(&[8; 32], &mut whole);
		let mut reader = Keystream::new(&[8; 32]);
		let mut pieces = Vec::new();
		for len in [16usize, CHUNK_BLOCKS * 16 + 32, CHUNK_BLOCKS * 16] {
			let mut piece = vec![0u8; len];
			reader.fill(&mut piece);
			pieces.extend(piece);
		}
		assert_eq!(pieces, whole);
		// Read as blocks, the same stream.
		let mut reader = Keystream::new(&[8; 32]);
		let mut blocks = Vec::new();
		for len in [1usize, CHUNK_BLOCKS + 2, CHUNK_BLOCKS] {
			let mut piece = vec![Block::default(); len];
			reader.fill_blocks(&mut piece);
			blocks.extend(piece);
		}
		assert_eq!(blocks.concat(), whole);
	}

	#[test]
	fn chunk_boundaries_do_not_change_the_stream() {
		// A long u64 mask equals the keystream read in one piece.
		let n = CHUNK_BLOCKS * 2 * 3 + 5;
		let mut v = RingVector::zeros(Ring::Bits64, n);
		apply_mask(&mut v, &[9; 32], false);
		let mut stream = vec![0u8; n * 8];
		keystream(&[9; 32], &mut stream);
		let expect: Vec<u64> = stream.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
		assert_eq!(v, RingVector::U64(expect));
	}
}
