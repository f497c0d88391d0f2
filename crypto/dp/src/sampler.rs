//! Exact sampling of the discrete Gaussian N_Z(0, σ²) in integer
//! arithmetic (Canonne, Kamath, Steinke, "The Discrete Gaussian for
//! Differential Privacy", NeurIPS 2020, algorithms 1-3): no floating point
//! touches a sample, so no rounding of a float can leak through the noise
//! (the attack on textbook Gaussian samplers, Mironov 2012).
//!
//! The random bits come from [`NoiseRng`]: the masking PRG of
//! `delta-secagg` (AES-128 in counter mode) keyed by a seed the caller
//! draws from its cryptographic RNG, so the noise is as unpredictable as
//! the masks and costs a buffer fill per 64 KiB of randomness.

use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::DpError;

/// Largest variance (in lattice units squared) the sampler takes: every
/// intermediate integer of the acceptance test then fits 128 bits.
pub const MAX_VARIANCE: u128 = 1 << 54;

/// Domain label of the per-chunk keys.
const NOISE_LABEL: &[u8] = b"delta-dp/v1/noise-chunk";
/// Coordinates per independent stream when a long vector is noised on
/// several threads.
const PARALLEL_CHUNK: usize = 1 << 16;
/// Randomness generated per chunk.
const CHUNK_BYTES: usize = 64 * 1024;

/// A stream of random words for the sampler: chunk `i` is the keystream of
/// SHA-256(label, seed, i). The seed is zeroized on drop.
pub struct NoiseRng {
	seed: Zeroizing<[u8; 32]>,
	chunk: u64,
	buf: Vec<u8>,
	at: usize,
	/// Random bits not used yet (the low `spare` bits of `bits`): the
	/// sampler's Bernoulli trials take about two bits each, not a word.
	bits: u64,
	spare: u32,
}

impl NoiseRng {
	/// A stream seeded from `rng` (the host's cryptographic RNG).
	pub fn from_rng<R: CryptoRngCore + ?Sized>(rng: &mut R) -> Self {
		let mut seed = Zeroizing::new([0u8; 32]);
		rng.fill_bytes(seed.as_mut_slice());
		Self { seed, chunk: 0, buf: vec![0; CHUNK_BYTES], at: CHUNK_BYTES, bits: 0, spare: 0 }
	}

	/// A stream from a fixed seed: for tests and reproducible benchmarks
	/// only (the same seed gives the same noise).
	pub fn from_seed(seed: [u8; 32]) -> Self {
		Self { seed: Zeroizing::new(seed), chunk: 0, buf: vec![0; CHUNK_BYTES], at: CHUNK_BYTES, bits: 0, spare: 0 }
	}

	fn refill(&mut self) {
		let mut key: [u8; 32] = Sha256::new()
			.chain_update(NOISE_LABEL)
			.chain_update(self.seed.as_slice())
			.chain_update(self.chunk.to_le_bytes())
			.finalize()
			.into();
		delta_secagg::prg::keystream(&key, &mut self.buf);
		key.zeroize();
		self.chunk += 1;
		self.at = 0;
	}

	/// An independent stream keyed by the next 256 bits of this one.
	pub fn fork(&mut self) -> NoiseRng {
		let mut seed = Zeroizing::new([0u8; 32]);
		for word in seed.chunks_exact_mut(8) {
			word.copy_from_slice(&self.next_u64().to_le_bytes());
		}
		Self { seed, chunk: 0, buf: vec![0; CHUNK_BYTES], at: CHUNK_BYTES, bits: 0, spare: 0 }
	}

	/// The next 64 random bits.
	#[inline]
	pub fn next_u64(&mut self) -> u64 {
		if self.at + 8 > self.buf.len() {
			self.refill();
		}
		let mut word = [0u8; 8];
		word.copy_from_slice(&self.buf[self.at..self.at + 8]);
		self.at += 8;
		u64::from_le_bytes(word)
	}

	/// One random bit.
	#[inline]
	fn next_bit(&mut self) -> bool {
		if self.spare == 0 {
			self.bits = self.next_u64();
			self.spare = 64;
		}
		let bit = self.bits & 1 == 1;
		self.bits >>= 1;
		self.spare -= 1;
		bit
	}

	/// 32 random bits (half a word: `below` of a scale under 2^32 needs
	/// no more).
	#[inline]
	fn next_u32(&mut self) -> u32 {
		if self.spare < 32 {
			self.bits = self.next_u64();
			self.spare = 64;
		}
		let word = self.bits as u32;
		self.bits = self.bits.checked_shr(32).unwrap_or(0);
		self.spare -= 32;
		word
	}

	/// Uniform in `[0, n)`, `n > 0` (Lemire's multiply-and-reject), from
	/// 32 bits where `n` fits them.
	#[inline]
	fn below(&mut self, n: u64) -> u64 {
		if let Ok(n) = u32::try_from(n) {
			let mut m = u64::from(self.next_u32()) * u64::from(n);
			if (m as u32) < n {
				let floor = n.wrapping_neg() % n;
				while (m as u32) < floor {
					m = u64::from(self.next_u32()) * u64::from(n);
				}
			}
			return m >> 32;
		}
		let mut m = u128::from(self.next_u64()) * u128::from(n);
		if (m as u64) < n {
			let floor = n.wrapping_neg() % n;
			while (m as u64) < floor {
				m = u128::from(self.next_u64()) * u128::from(n);
			}
		}
		(m >> 64) as u64
	}

	/// True with probability `num / den` (`num <= den`, `den > 0`),
	/// exactly: a uniform U in [0, 1) is drawn bit by bit and compared with
	/// the binary expansion of num/den as it is computed (U < p decides at
	/// the first bit where they differ), about two random bits a trial.
	#[inline]
	fn bernoulli(&mut self, num: u128, den: u128) -> bool {
		if num >= den {
			return true;
		}
		// `rest / den` is what is left of p's expansion; doubling it is
		// done as a comparison against `den - rest`, so nothing overflows.
		let mut rest = num;
		while rest != 0 {
			let gap = den - rest;
			let p_bit = rest >= gap;
			rest = if p_bit { rest - gap } else { rest + rest };
			let u_bit = self.next_bit();
			if u_bit != p_bit {
				return p_bit; // U's bit 0 where p's is 1: U < p
			}
		}
		// p's expansion ended with every bit of U equal so far: U ≥ p.
		false
	}

	/// True with probability exp(-num/den) for `num <= den` (algorithm 1,
	/// first case): the first k with Bernoulli(γ/k) false is odd.
	fn bernoulli_exp_at_most_one(&mut self, num: u128, den: u128) -> bool {
		let mut k: u128 = 1;
		loop {
			// den * k stays within 128 bits for every den the sampler
			// makes (below 2^110) until k is past 2^17, whose chance is
			// below 1/2^17!; saturating there only lowers an already
			// vanishing probability further.
			if !self.bernoulli(num, den.saturating_mul(k)) {
				return k % 2 == 1;
			}
			k += 1;
		}
	}

	/// True with probability exp(-num/den), `den > 0` (algorithm 1): one
	/// Bernoulli(exp(-1)) per whole unit of the exponent, then the rest.
	fn bernoulli_exp(&mut self, mut num: u128, den: u128) -> bool {
		while num > den {
			if !self.bernoulli_exp_at_most_one(1, 1) {
				return false;
			}
			num -= den;
		}
		self.bernoulli_exp_at_most_one(num, den)
	}
}

/// The discrete Gaussian with an integer variance σ² (lattice units
/// squared), sampled exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiscreteGaussian {
	variance: u128,
	/// ⌊σ⌋ + 1: the scale of the discrete Laplace proposals.
	scale: u64,
}

impl DiscreteGaussian {
	/// The distribution N_Z(0, `variance`), `1 <= variance <= MAX_VARIANCE`.
	pub fn new(variance: u128) -> Result<Self, DpError> {
		if !(1..=MAX_VARIANCE).contains(&variance) {
			return Err(DpError::Parameter(format!(
				"a discrete Gaussian variance of {variance} is outside 1..=2^54 lattice units"
			)));
		}
		let scale = isqrt(variance) + 1;
		Ok(Self { variance, scale: scale as u64 })
	}

	/// Its variance.
	pub fn variance(&self) -> u128 {
		self.variance
	}

	/// One sample (algorithm 3: discrete Laplace proposals of scale
	/// ⌊σ⌋ + 1, accepted with probability exp(-(|y| - σ²/t)² / 2σ²)).
	pub fn sample(&self, rng: &mut NoiseRng) -> i64 {
		let t = u128::from(self.scale);
		// Proposals past 2^35 are refused outright: their acceptance
		// probability is below exp(-2^8) for every variance allowed, and
		// refusing them keeps (|y|·t - σ²)² within 128 bits.
		const FAR: u64 = 1 << 35;
		let den = 2 * self.variance * t * t;
		loop {
			let y = discrete_laplace(self.scale, rng);
			let magnitude = y.unsigned_abs();
			if magnitude > FAR {
				continue;
			}
			let a = u128::from(magnitude) * t;
			let diff = a.abs_diff(self.variance);
			if rng.bernoulli_exp(diff * diff, den) {
				return y;
			}
		}
	}

	/// Adds one sample to each of `values`. A long vector is noised in
	/// chunks of 2^16 coordinates, each from its own stream forked from
	/// `rng` in order, spread over the machine's cores: the noise is the
	/// same function of `rng` whatever the number of cores, and exact.
	pub fn add_to(&self, values: &mut [i64], rng: &mut NoiseRng) {
		let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
		let threads = cores.min(values.len().div_ceil(PARALLEL_CHUNK));
		if threads <= 1 {
			self.add_each(values, rng);
			return;
		}
		let mut chunks: Vec<(&mut [i64], NoiseRng)> =
			values.chunks_mut(PARALLEL_CHUNK).map(|chunk| (chunk, rng.fork())).collect();
		let per_thread = chunks.len().div_ceil(threads);
		std::thread::scope(|scope| {
			for group in chunks.chunks_mut(per_thread) {
				scope.spawn(move || {
					for (chunk, stream) in group.iter_mut() {
						self.add_each(chunk, stream);
					}
				});
			}
		});
	}

	fn add_each(&self, values: &mut [i64], rng: &mut NoiseRng) {
		for v in values {
			*v = v.wrapping_add(self.sample(rng));
		}
	}
}

/// A sample of the discrete Laplace distribution with scale `t`, P(x) ∝
/// exp(-|x|/t) (algorithm 2 with s = 1).
fn discrete_laplace(t: u64, rng: &mut NoiseRng) -> i64 {
	loop {
		let u = rng.below(t);
		if !rng.bernoulli_exp(u128::from(u), u128::from(t)) {
			continue;
		}
		let mut v: u64 = 0;
		while rng.bernoulli_exp_at_most_one(1, 1) {
			v += 1;
		}
		let x = u.saturating_add(t.saturating_mul(v));
		let negative = rng.next_bit();
		if negative && x == 0 {
			continue;
		}
		let x = x.min(i64::MAX as u64) as i64;
		return if negative { -x } else { x };
	}
}

/// ⌊√v⌋.
pub(crate) fn isqrt(v: u128) -> u128 {
	let mut s = (v as f64).sqrt() as u128;
	while s * s > v {
		s -= 1;
	}
	while (s + 1) * (s + 1) <= v {
		s += 1;
	}
	s
}

#[cfg(test)]
mod tests {
	use super::*;

	fn moments(variance: u128, n: usize, seed: u8) -> (f64, f64, Vec<i64>) {
		let g = DiscreteGaussian::new(variance).unwrap();
		let mut rng = NoiseRng::from_seed([seed; 32]);
		let xs: Vec<i64> = (0..n).map(|_| g.sample(&mut rng)).collect();
		let mean = xs.iter().map(|x| *x as f64).sum::<f64>() / n as f64;
		let var = xs.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
		(mean, var, xs)
	}

	#[test]
	fn samples_have_mean_zero_and_the_declared_variance() {
		for (variance, seed) in [(1u128, 1u8), (10, 2), (1_000_000, 3), (1 << 40, 4), (MAX_VARIANCE, 5)] {
			let n = 100_000;
			let (mean, var, _) = moments(variance, n, seed);
			let sigma = (variance as f64).sqrt();
			// Five standard errors: the mean's is σ/√n, the variance's
			// about σ²·√(2/n).
			assert!(mean.abs() < 5.0 * sigma / (n as f64).sqrt(), "variance {variance}: mean {mean}");
			let rel = (var / variance as f64 - 1.0).abs();
			assert!(rel < 5.0 * (2.0 / n as f64).sqrt(), "variance {variance}: sample variance {var}");
		}
	}

	#[test]
	fn the_unit_discrete_gaussian_has_its_exact_probabilities() {
		let n = 200_000;
		let (_, _, xs) = moments(1, n, 9);
		// P(x) = exp(-x²/2) / Σ_k exp(-k²/2).
		let norm: f64 = (-40i32..=40).map(|k| (-(f64::from(k * k)) / 2.0).exp()).sum();
		for x in -3i64..=3 {
			let p = (-(x * x) as f64 / 2.0).exp() / norm;
			let seen = xs.iter().filter(|v| **v == x).count() as f64 / n as f64;
			let se = (p * (1.0 - p) / n as f64).sqrt();
			assert!((seen - p).abs() < 5.0 * se, "P({x}) = {p}, seen {seen}");
		}
	}

	#[test]
	fn long_vectors_are_noised_in_parallel_as_a_fixed_function_of_the_stream() {
		let g = DiscreteGaussian::new(1 << 40).unwrap();
		let n = 3 * PARALLEL_CHUNK + 5;
		let noised = |seed: u8| {
			let mut v = vec![0i64; n];
			g.add_to(&mut v, &mut NoiseRng::from_seed([seed; 32]));
			v
		};
		let a = noised(7);
		assert_eq!(a, noised(7), "the same stream gives the same noise");
		assert_ne!(a, noised(8));
		// The chunks' streams are independent: no chunk repeats another.
		assert_ne!(a[..PARALLEL_CHUNK], a[PARALLEL_CHUNK..2 * PARALLEL_CHUNK]);
		// Each chunk is what its forked stream gives sequentially.
		let mut parent = NoiseRng::from_seed([7; 32]);
		let mut first = vec![0i64; PARALLEL_CHUNK];
		g.add_each(&mut first, &mut parent.fork());
		assert_eq!(first[..], a[..PARALLEL_CHUNK]);
		let var = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / n as f64;
		assert!((var / (1u64 << 40) as f64 - 1.0).abs() < 5.0 * (2.0 / n as f64).sqrt(), "{var}");
	}

	#[test]
	fn bernoulli_trials_have_their_exact_probabilities_even_for_huge_denominators() {
		let mut rng = NoiseRng::from_seed([11; 32]);
		let n = 200_000;
		let huge = u128::MAX - 6;
		for (num, den) in
			[(1u128, 3u128), (2, 3), (1, 2), (0, 5), (5, 5), (7, 1000), (huge / 3, huge), (huge - 1, huge)]
		{
			let p = num as f64 / den as f64;
			let seen = (0..n).filter(|_| rng.bernoulli(num, den)).count() as f64 / n as f64;
			let se = (p * (1.0 - p) / n as f64).sqrt().max(1e-9);
			assert!((seen - p).abs() <= 5.0 * se, "{num}/{den}: p = {p}, seen {seen}");
		}
		// Uniform draws below a 32-bit and a 64-bit bound stay below it
		// and cover it evenly.
		for bound in [6u64, (1 << 40) + 3] {
			let mut counts = [0usize; 6];
			for _ in 0..60_000 {
				let x = rng.below(bound);
				assert!(x < bound);
				counts[(x % 6) as usize] += 1;
			}
			assert!(counts.iter().all(|c| (*c as f64 - 10_000.0).abs() < 500.0), "{bound}: {counts:?}");
		}
	}

	#[test]
	fn variances_outside_the_range_are_refused() {
		assert!(DiscreteGaussian::new(0).is_err());
		assert!(DiscreteGaussian::new(MAX_VARIANCE + 1).is_err());
		assert_eq!(isqrt(MAX_VARIANCE), 1 << 27);
		assert_eq!(isqrt(99), 9);
	}

	#[test]
	fn streams_from_different_seeds_differ_and_one_seed_repeats() {
		let mut a = NoiseRng::from_seed([1; 32]);
		let mut b = NoiseRng::from_seed([1; 32]);
		let mut c = NoiseRng::from_seed([2; 32]);
		// Across a chunk boundary too.
		let xa: Vec<u64> = (0..10_000).map(|_| a.next_u64()).collect();
		let xb: Vec<u64> = (0..10_000).map(|_| b.next_u64()).collect();
		let xc: Vec<u64> = (0..10_000).map(|_| c.next_u64()).collect();
		assert_eq!(xa, xb);
		assert_ne!(xa, xc);
		assert_ne!(xa[..8192], xa[8192..]);
		let mut seeded = NoiseRng::from_rng(&mut rand_core::OsRng);
		assert!((0..4).map(|_| seeded.next_u64()).any(|w| w != 0));
	}
}
