//! The sampler's common case, eight attempts at once, in AVX-512 (x86-64
//! with AVX-512F and DQ, checked at run time).
//!
//! Nothing here decides a value the portable code would decide otherwise:
//! [`decide`] settles only the attempts whose block, whose acceptance
//! trial and whose sign it can settle from the attempt's own two words,
//! with the same table and the same comparisons, and hands every other
//! attempt back to [`DiscreteGaussian::attempt`] in its place in the
//! batch. So the vector path's values equal the portable path's, value
//! for value, for the same stream (a test checks it), and keep its exact
//! law.
//!
//! This is the crate's only unsafe code: the intrinsics and the call into
//! code compiled for features the build does not assume. Each use says
//! why it is sound.

#![allow(unsafe_code)]

use std::arch::x86_64::{
	_mm512_add_epi64, _mm512_and_si512, _mm512_cmp_pd_mask, _mm512_cmpgt_epu64_mask, _mm512_cmplt_epu64_mask,
	_mm512_cvtepu64_pd, _mm512_fmadd_pd, _mm512_loadu_epi64, _mm512_mask_blend_epi64, _mm512_mask_cmpeq_epi64_mask,
	_mm512_mask_sub_epi64, _mm512_mul_pd, _mm512_or_si512, _mm512_set1_epi64, _mm512_set1_pd, _mm512_set_epi64,
	_mm512_setzero_si512, _mm512_sll_epi64, _mm512_srli_epi64, _mm512_storeu_epi64, _mm512_test_epi64_mask,
	_mm_cvtsi64_si128, _CMP_GE_OQ,
};

use delta_secagg::prg::Block;

use super::sampler::{Batch, DiscreteGaussian, NoiseRng, BATCH};

/// Whether this machine runs the vector path.
pub(crate) fn available() -> bool {
	std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq")
}

/// [`DiscreteGaussian::add_in_batches`] with [`decide`] settling the
/// common case; the caller has checked [`available`].
pub(crate) fn add_each(
	g: &DiscreteGaussian,
	values: &mut [i64],
	rng: &mut NoiseRng,
	start: usize,
	base: &impl Fn(usize, i64) -> i64,
) {
	if !available() {
		g.add_in_batches(values, rng, start, base, |_| None);
		return;
	}
	// SAFETY: the CPU has AVX-512F and DQ (checked just above), all the
	// features `add_each_avx512` is compiled for.
	unsafe { add_each_avx512(g, values, rng, start, base) }
}

#[target_feature(enable = "avx512f,avx512dq")]
fn add_each_avx512(
	g: &DiscreteGaussian,
	values: &mut [i64],
	rng: &mut NoiseRng,
	start: usize,
	base: &impl Fn(usize, i64) -> i64,
) {
	let constants = Constants::of(g);
	// The closure is compiled with this function's features, so `decide`
	// inlines into the loop.
	g.add_in_batches(values, rng, start, base, |blocks| decide(g.buckets(), &constants, blocks));
}

/// A sampler's parameters as the vector code uses them.
struct Constants {
	/// The last block of the table.
	top: u64,
	/// b: blocks of 2^b values.
	block_bits: u32,
	/// c = 2^32 / 2σ², rounded: the first acceptance trial's threshold on
	/// its 32 bits u is X = num·c, num = j·(2^(b+1)·i + j).
	per_num: f64,
}

impl Constants {
	fn of(g: &DiscreteGaussian) -> Self {
		let (top, block_bits, den) = g.shape();
		Self { top, block_bits, per_num: 2f64.powi(32) / den as f64 }
	}
}

/// Eight attempts from their sixteen words, read where the stream's
/// buffer holds them (`blocks`: eight blocks, block k holding words 2k
/// and 2k + 1, little-endian; attempt k's `r` is word k, its `extra`
/// word 8 + k, as [`DiscreteGaussian::add_in_batches`] hands them to
/// [`DiscreteGaussian::attempt`]): each attempt's value where it is
/// settled, and which are; None for a slice that is not eight blocks.
///
/// An attempt is settled here when its item is one of the table's blocks
/// and its first acceptance trial comes out false by a margin: u ≥ x in
/// floating point, x = fl(num·c' + 1), where the portable trial keeps
/// the offset when u ≥ X = num·2^32/2σ². num = j·t with t = 2^(b+1)·i + j
/// < 2^32 and j < 2^21, so num < 2^53 and its product is exact in a
/// double; c' = fl(2^32 / fl(2σ²)) is within a relative 2^-52 of c, and
/// the fused multiply-add rounds once more. Where X < 2^32, x is within
/// 2^-18 of X + 1, so u ≥ x implies u > X: the portable trial's
/// `low >= target`. Where X ≥ 2^32 (num ≥ den, a trial that never
/// passes), x > 2^32 > u, so nothing is settled. Every other attempt (an
/// item past the blocks, a trial true or too close to call) is left to
/// the portable code, fewer than one in a hundred.
#[target_feature(enable = "avx512f,avx512dq")]
fn decide(buckets: &[u64; 1024], c: &Constants, blocks: &[Block]) -> Option<Batch> {
	if blocks.len() != BATCH {
		return None;
	}
	let words = blocks.as_ptr().cast::<u64>();
	// SAFETY: `blocks` is eight blocks of 16 bytes, so the loads read its
	// 128 bytes (unaligned loads: a block is bytes; x86-64 reads them
	// little-endian, as the portable code does) and word k < 16 is in
	// them; the store writes the eight words of `values`. (The buckets are
	// read by bounds-checked indexing.)
	unsafe {
		let r = _mm512_loadu_epi64(words.cast::<i64>());
		let extra = _mm512_loadu_epi64(words.add(BATCH).cast::<i64>());

		// Table::pick: bucket s = r's top 10 bits, item s below the
		// bucket's threshold, its alias above. The eight buckets are read
		// by eight loads, not AVX-512's gather: on this machine's cores
		// (AMD Zen 4) the noise took 1.65 ms per 1e6 values with the
		// gather, 1.3 ms with the loads.
		let s = _mm512_srli_epi64::<54>(r);
		let at = |k: usize| buckets[(words.add(k).read_unaligned() >> 54) as usize] as i64;
		let bucket = _mm512_set_epi64(at(7), at(6), at(5), at(4), at(3), at(2), at(1), at(0));
		let below = _mm512_cmplt_epu64_mask(
			_mm512_and_si512(r, _mm512_set1_epi64(((1u64 << 54) - 1) as i64)),
			_mm512_srli_epi64::<10>(bucket),
		);
		let item = _mm512_mask_blend_epi64(below, _mm512_and_si512(bucket, _mm512_set1_epi64(1023)), s);
		let past = _mm512_cmpgt_epu64_mask(item, _mm512_set1_epi64(c.top as i64));

		let offset = _mm512_and_si512(extra, _mm512_set1_epi64(((1u64 << c.block_bits) - 1) as i64));
		let start = _mm512_sll_epi64(item, _mm_cvtsi64_si128(i64::from(c.block_bits)));
		let magnitude = _mm512_or_si512(start, offset);
		let kept = if c.block_bits == 0 {
			0xff
		} else {
			// t = 2^(b+1)·i + j = magnitude + 2^b·i.
			let t = _mm512_cvtepu64_pd(_mm512_add_epi64(magnitude, start));
			let num = _mm512_mul_pd(t, _mm512_cvtepu64_pd(offset));
			let x = _mm512_fmadd_pd(num, _mm512_set1_pd(c.per_num), _mm512_set1_pd(1.0));
			let u = _mm512_cvtepu64_pd(_mm512_srli_epi64::<32>(extra));
			_mm512_cmp_pd_mask::<_CMP_GE_OQ>(u, x)
		};
		// The sign in bit 31; zero drawn negative is drawn again.
		let negative = _mm512_test_epi64_mask(extra, _mm512_set1_epi64(1 << 31));
		let value = _mm512_mask_sub_epi64(magnitude, negative, _mm512_setzero_si512(), magnitude);
		let negative_zero = _mm512_mask_cmpeq_epi64_mask(negative, magnitude, _mm512_setzero_si512());

		let mut values = [0i64; BATCH];
		_mm512_storeu_epi64(values.as_mut_ptr(), value);
		let unsettled = past | !kept;
		Some(Batch { values, unsettled, rejected: !unsettled & negative_zero })
	}
}
