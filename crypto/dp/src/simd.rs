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
	_mm512_and_si512, _mm512_cmp_pd_mask, _mm512_cmpeq_epi64_mask, _mm512_cmpgt_epu64_mask, _mm512_cmplt_epu64_mask,
	_mm512_cvtepu64_pd, _mm512_fmadd_pd, _mm512_i64gather_epi64, _mm512_loadu_epi64, _mm512_mask_blend_epi64,
	_mm512_movepi64_mask, _mm512_mul_pd, _mm512_or_si512, _mm512_permutex2var_epi64, _mm512_set1_epi64, _mm512_set1_pd,
	_mm512_set_epi64, _mm512_setzero_si512, _mm512_sll_epi64, _mm512_srai_epi64, _mm512_srli_epi64,
	_mm512_storeu_epi64, _mm512_sub_epi64, _mm512_sub_pd, _mm512_xor_si512, _mm_cvtsi64_si128, _CMP_GE_OQ,
};

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
	g.add_in_batches(values, rng, start, base, |words| Some(decide(g.buckets(), &constants, words)));
}

/// A sampler's parameters as the vector code uses them.
struct Constants {
	/// The last block of the table.
	top: u64,
	/// b: blocks of 2^b values.
	block_bits: u32,
	/// 2^32 / 2σ² and 2^(b+1) times it: the first acceptance trial's
	/// threshold on its 32 bits u is (2^(b+1)·i·j + j²) · 2^32 / 2σ².
	per_square: f64,
	per_product: f64,
}

impl Constants {
	fn of(g: &DiscreteGaussian) -> Self {
		let (top, block_bits, den) = g.shape();
		let per_square = 2f64.powi(32) / den as f64;
		Self { top, block_bits, per_square, per_product: per_square * 2f64.powi(block_bits as i32 + 1) }
	}
}

/// Eight attempts from their blocks' sixteen words (attempt k's `r` at
/// word 2k, its `extra` at 2k + 1, as [`DiscreteGaussian::attempt`] reads
/// them): each attempt's value where it is settled, and which are.
///
/// An attempt is settled here when its item is one of the table's blocks
/// and its first acceptance trial comes out false by a margin: u ≥ x + 1
/// in floating point, x the trial's threshold u·2σ² ≥ num·2^32 asks
/// about. x is 2^(b+1)·i·j·c + j²·c with i·j < 2^32 and j² < 2^44 exact
/// in a double and c = 2^32/2σ²; with its four roundings x is within a
/// relative 2^-50 of the true threshold X < 2^32, so within 2^-18 of it,
/// and u ≥ x + 1 implies u > X: the portable trial's `low >= target`. An
/// attempt with X ≥ 2^32 (num ≥ den) never passes, as u < 2^32. Every
/// other attempt (an item past the blocks, a trial true or too close to
/// call) is left to the portable code, about one in thirty.
#[target_feature(enable = "avx512f,avx512dq")]
fn decide(buckets: &[u64; 1024], c: &Constants, words: &[u64; 2 * BATCH]) -> Batch {
	// SAFETY: the loads read the sixteen words of `words`; the gather's
	// indices are r >> 54 < 1024, within `buckets`; the store writes the
	// eight words of `values`.
	unsafe {
		let low = _mm512_loadu_epi64(words.as_ptr().cast::<i64>());
		let high = _mm512_loadu_epi64(words.as_ptr().add(BATCH).cast::<i64>());
		let r = _mm512_permutex2var_epi64(low, _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0), high);
		let extra = _mm512_permutex2var_epi64(low, _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1), high);

		// Table::pick: bucket s = r's top 10 bits, item s below the
		// bucket's threshold, its alias above.
		let s = _mm512_srli_epi64::<54>(r);
		let bucket = _mm512_i64gather_epi64::<8>(s, buckets.as_ptr().cast::<i64>());
		let below = _mm512_cmplt_epu64_mask(
			_mm512_and_si512(r, _mm512_set1_epi64(((1u64 << 54) - 1) as i64)),
			_mm512_srli_epi64::<10>(bucket),
		);
		let item = _mm512_mask_blend_epi64(below, _mm512_and_si512(bucket, _mm512_set1_epi64(1023)), s);
		let past = _mm512_cmpgt_epu64_mask(item, _mm512_set1_epi64(c.top as i64));

		let offset = _mm512_and_si512(extra, _mm512_set1_epi64(((1u64 << c.block_bits) - 1) as i64));
		let magnitude = _mm512_or_si512(_mm512_sll_epi64(item, _mm_cvtsi64_si128(i64::from(c.block_bits))), offset);
		let kept = if c.block_bits == 0 {
			0xff
		} else {
			let i = _mm512_cvtepu64_pd(item);
			let j = _mm512_cvtepu64_pd(offset);
			let x = _mm512_fmadd_pd(
				_mm512_mul_pd(i, j),
				_mm512_set1_pd(c.per_product),
				_mm512_mul_pd(_mm512_mul_pd(j, j), _mm512_set1_pd(c.per_square)),
			);
			let u =
				_mm512_cvtepu64_pd(_mm512_and_si512(_mm512_srli_epi64::<31>(extra), _mm512_set1_epi64(0xffff_ffff)));
			_mm512_cmp_pd_mask::<_CMP_GE_OQ>(_mm512_sub_pd(u, x), _mm512_set1_pd(1.0))
		};
		// The sign in bit 63; zero drawn negative is drawn again.
		let negative = _mm512_srai_epi64::<63>(extra);
		let value = _mm512_sub_epi64(_mm512_xor_si512(magnitude, negative), negative);
		let negative_zero = _mm512_cmpeq_epi64_mask(magnitude, _mm512_setzero_si512()) & _mm512_movepi64_mask(extra);

		let mut values = [0i64; BATCH];
		_mm512_storeu_epi64(values.as_mut_ptr(), value);
		let unsettled = past | !kept;
		Batch { values, unsettled, rejected: !unsettled & negative_zero }
	}
}
