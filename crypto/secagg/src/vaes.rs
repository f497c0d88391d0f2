//! The mask generator's AES-128-CTR keystream, sixteen blocks at a time
//! in AVX-512 registers with VAES (x86-64 with AES-NI, VAES and
//! AVX-512F, checked at run time).
//!
//! The `aes` crate encrypts one 128-bit block per AES-NI instruction; VAES
//! does four per instruction, which on this machine's cores (AMD Zen 4)
//! doubles the keystream's rate. The keystream is exactly the `ctr`
//! crate's `Ctr64LE` one (a test compares them): block n encrypts the
//! initial block with n added to its first eight bytes as a little-endian
//! 64-bit number, wrapping.
//!
//! This is the crate's only unsafe code: the intrinsics and the calls
//! into code compiled for features the build does not assume. Each use
//! says why it is sound.

#![allow(unsafe_code)]

use std::arch::x86_64::{
	__m128i, __m512i, _mm512_add_epi64, _mm512_aesenc_epi128, _mm512_aesenclast_epi128, _mm512_broadcast_i32x4,
	_mm512_set_epi64, _mm512_storeu_si512, _mm512_xor_si512, _mm_aeskeygenassist_si128, _mm_loadu_si128,
	_mm_shuffle_epi32, _mm_slli_si128, _mm_storeu_si128, _mm_xor_si128,
};

use zeroize::Zeroize;

use crate::prg::Block;

/// Whether this machine runs the vector keystream.
pub(crate) fn available() -> bool {
	std::arch::is_x86_feature_detected!("aes")
		&& std::arch::is_x86_feature_detected!("vaes")
		&& std::arch::is_x86_feature_detected!("avx512f")
}

/// A key's eleven round keys and the counter: the stream at block `next`.
pub(crate) struct VaesCtr {
	round_keys: [[u8; 16]; 11],
	/// The initial block's first eight bytes, little-endian, and its last
	/// eight.
	start: u64,
	high: u64,
	next: u64,
}

impl VaesCtr {
	/// The stream of `key` and initial block `iv` from block 0; the caller
	/// has checked [`available`].
	pub(crate) fn new(key: &[u8; 16], iv: &[u8; 16]) -> Self {
		let mut round_keys = [[0u8; 16]; 11];
		// SAFETY: the CPU has AES-NI (the caller checked `available`), the
		// one feature `expand_key` is compiled for.
		unsafe { expand_key(key, &mut round_keys) };
		let word = |at: usize| u64::from_le_bytes(iv[at..at + 8].try_into().unwrap_or([0; 8]));
		Self { round_keys, start: word(0), high: word(8), next: 0 }
	}

	/// Moves to block `n`.
	pub(crate) fn set_block_pos(&mut self, n: u64) {
		self.next = n;
	}

	/// Writes the next `out.len()` blocks.
	pub(crate) fn write_blocks(&mut self, out: &mut [Block]) {
		// SAFETY: `VaesCtr` is made only where `available` held: the CPU
		// has every feature `write_blocks_vaes` is compiled for.
		unsafe { write_blocks_vaes(&self.round_keys, self.start, self.high, self.next, out) };
		self.next = self.next.wrapping_add(out.len() as u64);
	}
}

impl Drop for VaesCtr {
	fn drop(&mut self) {
		self.round_keys.zeroize();
	}
}

/// AES-128's key schedule by AES-NI's key generation assist.
#[target_feature(enable = "aes")]
fn expand_key(key: &[u8; 16], round_keys: &mut [[u8; 16]; 11]) {
	/// Round key i + 1 from round key i and the assist's output for it.
	#[target_feature(enable = "aes")]
	fn next(k: __m128i, assist: __m128i) -> __m128i {
		let t = _mm_shuffle_epi32::<0xff>(assist);
		let k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
		let k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
		let k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
		_mm_xor_si128(k, t)
	}
	// SAFETY: the loads and stores read `key` and write each round key,
	// 16 bytes each.
	unsafe {
		let mut k = _mm_loadu_si128(key.as_ptr().cast());
		_mm_storeu_si128(round_keys[0].as_mut_ptr().cast(), k);
		macro_rules! round {
			($i:expr, $rcon:expr) => {
				k = next(k, _mm_aeskeygenassist_si128::<$rcon>(k));
				_mm_storeu_si128(round_keys[$i].as_mut_ptr().cast(), k);
			};
		}
		round!(1, 0x01);
		round!(2, 0x02);
		round!(3, 0x04);
		round!(4, 0x08);
		round!(5, 0x10);
		round!(6, 0x20);
		round!(7, 0x40);
		round!(8, 0x80);
		round!(9, 0x1b);
		round!(10, 0x36);
	}
}

/// Four counter blocks, n to n + 3, in one register (each 128-bit lane a
/// block: its low word the counter, its high word the initial block's).
#[target_feature(enable = "avx512f")]
fn counters(start: u64, high: u64, n: u64) -> __m512i {
	let c = start.wrapping_add(n);
	let high = high as i64;
	_mm512_set_epi64(
		high,
		c.wrapping_add(3) as i64,
		high,
		c.wrapping_add(2) as i64,
		high,
		c.wrapping_add(1) as i64,
		high,
		c as i64,
	)
}

/// Four blocks encrypted: AES-128's ten rounds.
#[target_feature(enable = "aes,vaes,avx512f")]
fn encrypt(keys: &[__m512i; 11], x: __m512i) -> __m512i {
	let mut x = _mm512_xor_si512(x, keys[0]);
	for key in &keys[1..10] {
		x = _mm512_aesenc_epi128(x, *key);
	}
	_mm512_aesenclast_epi128(x, keys[10])
}

/// Blocks `first..first + out.len()` of the stream into `out`: sixteen at
/// a time in four registers, the last few through a buffer.
#[target_feature(enable = "aes,vaes,avx512f")]
fn write_blocks_vaes(round_keys: &[[u8; 16]; 11], start: u64, high: u64, first: u64, out: &mut [Block]) {
	// SAFETY: the round keys' loads read 16 bytes each; every store writes
	// 64 bytes, four whole blocks, inside a group of 16 blocks of `out` or
	// inside `tail`.
	unsafe {
		let keys: [__m512i; 11] =
			std::array::from_fn(|i| _mm512_broadcast_i32x4(_mm_loadu_si128(round_keys[i].as_ptr().cast())));
		let four = _mm512_set_epi64(0, 4, 0, 4, 0, 4, 0, 4);
		let mut n = first;
		let mut groups = out.chunks_exact_mut(16);
		for group in &mut groups {
			// Four independent registers, so the rounds of one wait on
			// nothing the others compute.
			let a = counters(start, high, n);
			let b = _mm512_add_epi64(a, four);
			let c = _mm512_add_epi64(b, four);
			let d = _mm512_add_epi64(c, four);
			let (a, b, c, d) = (encrypt(&keys, a), encrypt(&keys, b), encrypt(&keys, c), encrypt(&keys, d));
			let p = group.as_mut_ptr().cast::<u8>();
			_mm512_storeu_si512(p.cast(), a);
			_mm512_storeu_si512(p.add(64).cast(), b);
			_mm512_storeu_si512(p.add(128).cast(), c);
			_mm512_storeu_si512(p.add(192).cast(), d);
			n = n.wrapping_add(16);
		}
		let rest = groups.into_remainder();
		if rest.is_empty() {
			return;
		}
		let mut tail = [0u8; 256];
		for i in 0..rest.len().div_ceil(4) {
			let x = encrypt(&keys, counters(start, high, n.wrapping_add(4 * i as u64)));
			_mm512_storeu_si512(tail.as_mut_ptr().add(64 * i).cast(), x);
		}
		for (block, bytes) in rest.iter_mut().zip(tail.chunks_exact(16)) {
			block.copy_from_slice(bytes);
		}
		tail.zeroize();
	}
}
