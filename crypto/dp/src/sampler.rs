//! Exact sampling of the discrete Gaussian N_Z(0, σ²): every value has
//! exactly the distribution's probability, decided in integer arithmetic
//! (a table of certified bounds, comparisons against a uniform drawn to
//! as many bits as they need), so no rounding of a float can leak through
//! the noise (the attack on textbook Gaussian samplers, Mironov 2012).
//! [`DiscreteGaussian`] says how.
//!
//! The random bits come from [`NoiseRng`]: the masking PRG of
//! `delta-secagg` (AES-128 in counter mode) keyed by a seed the caller
//! draws from its cryptographic RNG, so the noise is as unpredictable as
//! the masks and costs a buffer fill per 8 KiB of randomness (small
//! enough to stay in a core's L1 cache beside the table and the AES
//! blocks it is read from).

use std::sync::{Arc, Mutex, PoisonError};

use delta_secagg::prg::{Block, Keystream};
use num_bigint::BigUint;
use num_traits::{One, Zero};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::{exact, DpError};

/// Largest variance (in lattice units squared) the sampler takes: every
/// intermediate integer of its acceptance tests then fits 128 bits.
pub const MAX_VARIANCE: u128 = 1 << 54;

/// Domain label of a stream's key.
const NOISE_LABEL: &[u8] = b"delta-dp/v2/noise-stream";
/// Coordinates per independent stream when a long vector is noised on
/// several threads.
const PARALLEL_CHUNK: usize = 1 << 16;
/// Keystream blocks generated at a time (8 KiB, 1024 words).
const CHUNK_BLOCKS: usize = 512;

/// A stream of random words for the sampler: the masking PRG's keystream
/// keyed by SHA-256(label, seed), generated 8 KiB at a time into a buffer
/// of blocks, each read as two little-endian words. The key lives in the
/// AES core; the buffer is zeroized on drop.
pub struct NoiseRng {
	stream: Keystream,
	blocks: Vec<Block>,
	/// The next word: half `at % 2` of block `at / 2`.
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
		Self::keyed(&seed)
	}

	/// A stream from a fixed seed: for tests and reproducible benchmarks
	/// only (the same seed gives the same noise).
	pub fn from_seed(seed: [u8; 32]) -> Self {
		Self::keyed(&Zeroizing::new(seed))
	}

	fn keyed(seed: &[u8; 32]) -> Self {
		let key =
			Zeroizing::new(<[u8; 32]>::from(Sha256::new().chain_update(NOISE_LABEL).chain_update(seed).finalize()));
		Self {
			stream: Keystream::new(&key),
			blocks: vec![Block::default(); CHUNK_BLOCKS],
			at: 2 * CHUNK_BLOCKS,
			bits: 0,
			spare: 0,
		}
	}

	#[cold]
	fn refill(&mut self) {
		self.stream.fill_blocks(&mut self.blocks);
		self.at = 0;
	}

	/// An independent stream keyed by the next 256 bits of this one.
	pub fn fork(&mut self) -> NoiseRng {
		let mut seed = Zeroizing::new([0u8; 32]);
		for word in seed.chunks_exact_mut(8) {
			word.copy_from_slice(&self.next_u64().to_le_bytes());
		}
		Self::keyed(&seed)
	}

	/// The next 64 random bits.
	#[inline]
	pub fn next_u64(&mut self) -> u64 {
		if self.at >= 2 * self.blocks.len() {
			self.refill();
		}
		let (low, high) = self.pair(self.at >> 1);
		let word = if self.at & 1 == 0 { low } else { high };
		self.at += 1;
		word
	}

	/// The next whole block's two words (a word left over by
	/// [`next_u64`](Self::next_u64) is passed over).
	#[inline(always)]
	fn next_pair(&mut self) -> (u64, u64) {
		let mut i = self.at.div_ceil(2);
		if i >= self.blocks.len() {
			self.refill();
			i = 0;
		}
		self.at = 2 * i + 2;
		self.pair(i)
	}

	/// The next [`BATCH`] whole blocks, lent from the buffer (a word left
	/// over by [`next_u64`](Self::next_u64), and blocks too few for a
	/// batch at the buffer's end, are passed over). Block k holds the
	/// batch's words 2k and 2k + 1, little-endian: the vector path reads
	/// them where they are, and only a batch it leaves to the portable
	/// code is copied out ([`batch_words`]) before that code draws more.
	#[inline(always)]
	fn next_batch(&mut self) -> &[Block] {
		let mut i = self.at.div_ceil(2);
		if i + BATCH > self.blocks.len() {
			self.refill();
			i = 0;
		}
		self.at = 2 * (i + BATCH);
		&self.blocks[i..i + BATCH]
	}

	/// Block `i`'s two words.
	#[inline]
	fn pair(&self, i: usize) -> (u64, u64) {
		self.blocks.get(i).map_or((0, 0), block_words)
	}

	/// The next `n` random bits, 1 ≤ n ≤ 32, from the spare bits of a word.
	#[inline]
	fn next_bits(&mut self, n: u32) -> u64 {
		debug_assert!((1..=32).contains(&n));
		if self.spare < n {
			self.bits = self.next_u64();
			self.spare = 64;
		}
		let value = self.bits & ((1u64 << n) - 1);
		self.bits >>= n;
		self.spare -= n;
		value
	}

	/// One random bit.
	#[inline]
	fn next_bit(&mut self) -> bool {
		self.next_bits(1) == 1
	}

	/// 32 random bits.
	#[inline]
	fn next_u32(&mut self) -> u32 {
		self.next_bits(32) as u32
	}

	/// True with probability `num / den` (`den > 0`), exactly: a uniform U
	/// in [0, 1) is compared with num/den, 32 bits of U first (u·den
	/// against num·2^32 in 128 bits), and only when those 32 bits cannot
	/// tell, about once in 2^32, bit by bit.
	#[inline]
	fn bernoulli(&mut self, num: u128, den: u128) -> bool {
		if num >= den {
			return true;
		}
		if den < 1 << 95 {
			let u = self.next_u32();
			return self.bernoulli_given(num, den, u);
		}
		self.bernoulli_bits(num, den)
	}

	/// [`bernoulli`](Self::bernoulli) for `num < den < 2^95`, with `u`
	/// the first 32 bits of its uniform.
	#[inline]
	fn bernoulli_given(&mut self, num: u128, den: u128, u: u32) -> bool {
		let target = num << 32;
		let low = u128::from(u) * den;
		if low + den <= target {
			return true; // U < (u + 1) / 2^32 ≤ p
		}
		if low >= target {
			return false; // U ≥ u / 2^32 ≥ p
		}
		// u / 2^32 < p < (u + 1) / 2^32: U's further bits, a fresh
		// uniform, decide against (num·2^32 - u·den) / den.
		self.bernoulli_bits(target - low, den)
	}

	/// True with probability `num / den` (`num < den`): a uniform drawn bit
	/// by bit and compared with the binary expansion of num/den as it is
	/// computed (U < p decides at the first bit where they differ).
	fn bernoulli_bits(&mut self, num: u128, den: u128) -> bool {
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

	/// Uniform in `[0, n)`, `n > 0`: 128-bit draws below the next power
	/// of two, drawn again past n.
	fn below_u128(&mut self, n: u128) -> u128 {
		let mask = u128::MAX >> n.leading_zeros().min(127);
		loop {
			let x = ((u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())) & mask;
			if x < n {
				return x;
			}
		}
	}

	/// Whether `whole` + U < x, for U uniform in [0, 1) and a real x that
	/// `bounds(bits)` brackets as (lo, hi) over 2^bits, tighter as bits
	/// grow: U's bits are drawn 64 at a time and the precision doubled
	/// until U's interval lies wholly on one side. The x the sampler asks
	/// about are exp of a nonzero rational times an integer, never dyadic,
	/// so this ends with probability 1 (and exact bounds end it at once).
	#[cold]
	fn below_real(&mut self, whole: u64, bounds: impl Fn(u32) -> (BigUint, BigUint)) -> bool {
		let mut bits = 128u32;
		let mut u = BigUint::zero();
		let mut drawn = 0u32;
		loop {
			let (lo, hi) = bounds(bits);
			while drawn < bits {
				u = (u << 64u32) + self.next_u64();
				drawn += 64;
			}
			let v = (BigUint::from(whole) << bits) + &u;
			if &v + BigUint::one() <= lo {
				return true;
			}
			if v >= hi {
				return false;
			}
			bits = bits.saturating_mul(2);
		}
	}

	/// True with probability exp(-num/den) for `num <= den` (algorithm 1,
	/// first case): the first k with Bernoulli(γ/k) false is odd.
	fn bernoulli_exp_at_most_one(&mut self, num: u128, den: u128) -> bool {
		self.bernoulli_exp_trials_from(1, num, den)
	}

	/// Algorithm 1's trials from the k-th on, the earlier ones true.
	fn bernoulli_exp_trials_from(&mut self, mut k: u128, num: u128, den: u128) -> bool {
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

	/// True with probability exp(-num/den), `den > 0`, where `u` is 32
	/// fresh random bits for the first trial: the sampler's common case,
	/// num/den well below 1, ends there with one multiplication.
	#[inline]
	fn bernoulli_exp_given(&mut self, num: u128, den: u128, u: u32) -> bool {
		if num >= den || den >= 1 << 95 {
			return self.bernoulli_exp(num, den);
		}
		// Algorithm 1's first trial, Bernoulli(num/den), on `u`.
		!self.bernoulli_given(num, den, u) || self.bernoulli_exp_trials_from(2, num, den)
	}

	/// True with probability exp(-num/den), `0 < den < 2^64`, where `u` is
	/// 32 fresh random bits for the first trial: the sampler's common case
	/// (num/den below 1/2) in one 64-bit multiplication, kept at once
	/// unless that trial comes out true (num/den of the time).
	#[inline]
	fn bernoulli_exp_small(&mut self, num: u64, den: u64, u: u32) -> bool {
		let target = u128::from(num) << 32;
		let low = u128::from(u) * u128::from(den);
		if num < den && low >= target {
			return true; // the first trial is false: U ≥ u / 2^32 ≥ num/den
		}
		self.bernoulli_exp_rest(u128::from(num), u128::from(den), u)
	}

	/// [`bernoulli_exp_given`](Self::bernoulli_exp_given) off the hot path.
	#[cold]
	fn bernoulli_exp_rest(&mut self, num: u128, den: u128, u: u32) -> bool {
		self.bernoulli_exp_given(num, den, u)
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

impl Drop for NoiseRng {
	fn drop(&mut self) {
		self.blocks.iter_mut().for_each(|b| b.as_mut_slice().zeroize());
		self.bits.zeroize();
	}
}

/// Fractional bits of the table's bounds on its probabilities; a draw
/// lands between an entry's two bounds about once in 2^54 values.
const TABLE_BITS: u32 = 160;
/// The table covers its distribution out to this many of its standard
/// deviations (the mass beyond, about 2^-38, is drawn through the tail):
/// with its σ below 128 that is at most 896 blocks, within the 1024
/// buckets.
const TABLE_SIGMAS: u64 = 7;
/// Tables a process keeps, the latest used: a member noises every round
/// of a step with the same one, and building one takes milliseconds.
const CACHED_TABLES: usize = 8;
static TABLES: Mutex<Vec<(u128, Arc<Table>)>> = Mutex::new(Vec::new());
/// A variance past (2·this)² is sampled in blocks of 2^b values, b chosen
/// so that the table's own σ, σ/2^b, is in [this, 2·this). The larger the
/// table's σ, the likelier an offset is kept at its first trial: 99.4 to
/// 99.7% of the time at [64, 128), against 98.8 to 99.4% at [32, 64).
const TABLE_SIGMA: u128 = 64;
/// The table's weights sum to at most 2^64 - 2^this; the rest of 2^64
/// goes to a bucket that draws again.
const SLACK_BITS: u32 = 54;
/// Tail proposals this far past the table are refused: their probability
/// is below (7/8)^65536, about 2^-12600, smaller than any float.
const FAR_TAIL: u64 = 1 << 16;

/// The discrete Gaussian N_Z(0, σ²) with an integer variance σ² (lattice
/// units squared), sampled exactly.
///
/// A value's magnitude m = 2^b·i + j is drawn as a block i from a table of
/// the discrete Gaussian with σ/2^b (σ/2^b in [64, 128), or b = 0 for
/// σ < 128), an offset j uniform in [0, 2^b), kept with probability
/// exp(-((2^b·i + j)² - (2^b·i)²) / 2σ²) (99.4 to 99.7% of the time,
/// nearly always at its first trial); then a
/// sign. The table is Walker's alias method over integer weights that sum
/// to 2^64, so one random word picks an entry with exactly the weight's
/// probability. Entry i has two weights: ⌊c·p_i⌋ and ⌈c·p_i⌉ - ⌊c·p_i⌋,
/// from certified bounds on p_i = exp(-i²·4^b / 2σ²). A draw of the first
/// is a sample; a draw of the second (about 2^-54 of them) is kept with
/// probability frac(c·p_i), decided by comparing a uniform against c·p_i
/// bit by bit to whatever precision that takes. Blocks past the table are
/// proposed from a geometric tail and kept with their exact probability
/// the same way. Every step is an exact rejection, so the values have
/// exactly the discrete Gaussian's probabilities, with about two random
/// words and no division a value, where Canonne, Kamath and Steinke's
/// algorithm takes some thirty Bernoulli trials.
#[derive(Clone, Debug)]
pub struct DiscreteGaussian {
	variance: u128,
	/// b: blocks of 2^b values.
	block_bits: u32,
	table: Arc<Table>,
}

impl DiscreteGaussian {
	/// The distribution N_Z(0, `variance`), `1 <= variance <= MAX_VARIANCE`.
	pub fn new(variance: u128) -> Result<Self, DpError> {
		if !(1..=MAX_VARIANCE).contains(&variance) {
			return Err(DpError::Parameter(format!(
				"a discrete Gaussian variance of {variance} is outside 1..=2^54 lattice units"
			)));
		}
		let sigma = isqrt(variance);
		let block_bits = if sigma >= 2 * TABLE_SIGMA { (sigma / TABLE_SIGMA).ilog2() } else { 0 };
		let cached = |tables: &mut Vec<(u128, Arc<Table>)>| {
			let at = tables.iter().position(|(v, _)| *v == variance)?;
			let entry = tables.remove(at);
			let table = entry.1.clone();
			tables.push(entry);
			Some(table)
		};
		if let Some(table) = cached(&mut TABLES.lock().unwrap_or_else(PoisonError::into_inner)) {
			return Ok(Self { variance, block_bits, table });
		}
		let table_sigma = (sigma >> block_bits) as u64;
		let built = Self::with_table(variance, block_bits, TABLE_SIGMAS * (table_sigma + 1), 0)?;
		let mut tables = TABLES.lock().unwrap_or_else(PoisonError::into_inner);
		if cached(&mut tables).is_none() {
			tables.push((variance, built.table.clone()));
			if tables.len() > CACHED_TABLES {
				tables.remove(0);
			}
		}
		Ok(built)
	}

	/// The sampler with blocks of 2^`block_bits`, a table of blocks
	/// 0..=`top`, and the low `dropped` bits of each entry's sure weight
	/// moved to its uncertain one (tests use a short table and dropped
	/// bits to send most draws through the tail and the exact comparison).
	fn with_table(variance: u128, block_bits: u32, top: u64, dropped: u32) -> Result<Self, DpError> {
		let table = Arc::new(Table::new(1 << (2 * block_bits), 2 * variance, top, dropped)?);
		Ok(Self { variance, block_bits, table })
	}

	/// Its variance.
	pub fn variance(&self) -> u128 {
		self.variance
	}

	/// One sample.
	#[inline(always)]
	pub fn sample(&self, rng: &mut NoiseRng) -> i64 {
		loop {
			let (r, extra) = rng.next_pair();
			if let Some(value) = self.attempt(r, extra, rng) {
				return value;
			}
		}
	}

	/// One attempt at a value from two words of the stream, or None to
	/// draw again (with fresh words, so the values keep their exact law).
	/// `r` picks the table's item; `extra` gives the offset in its low
	/// b ≤ 21 bits, the sign in bit 31 and the acceptance trial's 32 bits
	/// in its high half. Anything rarer (a trial that needs more bits,
	/// fewer than one value in 150; an item past the blocks, which leaves
	/// `extra` unread) takes further bits from the stream.
	#[inline(always)]
	fn attempt(&self, r: u64, extra: u64, rng: &mut NoiseRng) -> Option<i64> {
		let table = &*self.table;
		let item = table.pick(r);
		let block = if item <= table.top { item } else { table.rare(item - table.top, rng)? };
		let b = self.block_bits;
		let magnitude = if b == 0 {
			block
		} else {
			let offset = extra & ((1u64 << b) - 1);
			if !self.keeps(block, offset, (extra >> 32) as u32, rng) {
				return None;
			}
			(block << b) | offset
		};
		let negative = extra >> 31 & 1 == 1;
		if negative && magnitude == 0 {
			// Zero is one value, not two.
			return None;
		}
		let magnitude = magnitude as i64;
		Some(if negative { -magnitude } else { magnitude })
	}

	/// Whether offset j of block i is kept: true with probability
	/// exp(-((2^b·i + j)² - (2^b·i)²) / 2σ²), `u` the first 32 bits of its
	/// first trial. (2^b·i + j)² - (2^b·i)² = 2^(b+1)·i·j + j².
	#[inline]
	fn keeps(&self, block: u64, offset: u64, u: u32, rng: &mut NoiseRng) -> bool {
		let b = self.block_bits;
		let den = 2 * self.variance;
		if block <= self.table.top {
			// i < 2^10 and j < 2^b ≤ 2^21: below 2^53 + 2^42, and den ≤ 2^55.
			let num = ((block * offset) << (b + 1)) + offset * offset;
			return rng.bernoulli_exp_small(num, den as u64, u);
		}
		let num = ((u128::from(block) * u128::from(offset)) << (b + 1)) + u128::from(offset) * u128::from(offset);
		rng.bernoulli_exp_given(num, den, u)
	}

	/// Adds one sample to each of `values`. A long vector is noised in
	/// chunks of 2^16 coordinates, each from its own stream forked from
	/// `rng` in order, spread over the machine's cores: the noise is the
	/// same function of `rng` whatever the number of cores, and exact.
	pub fn add_to(&self, values: &mut [i64], rng: &mut NoiseRng) {
		self.map_and_add_to(values, rng, |_, value| value);
	}

	/// [`add_to`](Self::add_to), coordinate i first set to `base(i, its
	/// value)` in the same loop, on the thread that noises it (the caller's
	/// scaling, in parallel and without a pass of its own).
	pub fn map_and_add_to(&self, values: &mut [i64], rng: &mut NoiseRng, base: impl Fn(usize, i64) -> i64 + Sync) {
		let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
		let threads = cores.min(values.len().div_ceil(PARALLEL_CHUNK));
		if threads <= 1 {
			self.add_each(values, rng, 0, &base);
			return;
		}
		let mut chunks: Vec<(usize, &mut [i64], NoiseRng)> = values
			.chunks_mut(PARALLEL_CHUNK)
			.enumerate()
			.map(|(i, chunk)| (i * PARALLEL_CHUNK, chunk, rng.fork()))
			.collect();
		let per_thread = chunks.len().div_ceil(threads);
		let base = &base;
		std::thread::scope(|scope| {
			for group in chunks.chunks_mut(per_thread) {
				scope.spawn(move || {
					for (start, chunk, stream) in group.iter_mut() {
						self.add_each(chunk, stream, *start, base);
					}
				});
			}
		});
	}

	/// Sets each of `values` (coordinate `start + i` of the whole) to its
	/// `base` plus one sample, the samples made [`BATCH`] attempts at a
	/// time: on x86-64 with AVX-512 the common case of eight at once in
	/// vector registers (`simd`), with the same values as the portable
	/// loop.
	fn add_each(&self, values: &mut [i64], rng: &mut NoiseRng, start: usize, base: impl Fn(usize, i64) -> i64) {
		#[cfg(target_arch = "x86_64")]
		crate::simd::add_each(self, values, rng, start, &base);
		#[cfg(not(target_arch = "x86_64"))]
		self.add_in_batches(values, rng, start, &base, |_| None);
	}

	/// [`add_each`](Self::add_each)'s loop: batches of [`BATCH`] attempts
	/// from [`BATCH`] blocks of the stream read together, attempt k's `r`
	/// the batch's word k and its `extra` word [`BATCH`] + k (so a vector
	/// of each is one load); `decide` may
	/// settle a batch's common cases at once (see [`Batch`]), and every
	/// attempt it leaves, or all of them where it gives None, is made by
	/// [`attempt`](Self::attempt) in its place, with further bits from past
	/// the batch. The values go to the coordinates in attempt order, batch
	/// after batch, so each coordinate has the exact law (one attempt's
	/// outcome never moves another's value to another coordinate); a batch
	/// whose eight attempts all gave a value fills eight coordinates at
	/// once, and a batch's values left over at the end of `values` are
	/// dropped.
	#[inline(always)]
	pub(crate) fn add_in_batches(
		&self,
		values: &mut [i64],
		rng: &mut NoiseRng,
		start: usize,
		base: &impl Fn(usize, i64) -> i64,
		mut decide: impl FnMut(&[Block]) -> Option<Batch>,
	) {
		let n = values.len();
		let mut at = 0;
		while at < n {
			let blocks = rng.next_batch();
			let settled = decide(blocks);
			if let Some(batch) = &settled {
				if batch.unsettled == 0 && batch.rejected == 0 {
					if let Some(out) = values.get_mut(at..at + BATCH) {
						for (k, (v, noise)) in out.iter_mut().zip(batch.values).enumerate() {
							*v = base(start + at + k, *v).wrapping_add(noise);
						}
						at += BATCH;
						continue;
					}
				}
			}
			// Copied out: an attempt that needs more bits may refill the
			// buffer the batch was lent from.
			let words = batch_words(blocks);
			for lane in 0..BATCH {
				let value = match &settled {
					Some(batch) if batch.unsettled >> lane & 1 == 0 => {
						(batch.rejected >> lane & 1 == 0).then_some(batch.values[lane])
					},
					_ => self.attempt(words[lane], words[BATCH + lane], rng),
				};
				if let (Some(noise), Some(v)) = (value, values.get_mut(at)) {
					*v = base(start + at, *v).wrapping_add(noise);
					at += 1;
				}
			}
		}
	}

	/// The alias table's buckets, for the vector path.
	#[cfg(target_arch = "x86_64")]
	pub(crate) fn buckets(&self) -> &[u64; BUCKETS] {
		&self.table.buckets
	}

	/// The table's last block, b, and 2σ², for the vector path.
	#[cfg(target_arch = "x86_64")]
	pub(crate) fn shape(&self) -> (u64, u32, u128) {
		(self.table.top, self.block_bits, 2 * self.variance)
	}
}

/// Attempts made together: eight blocks of the stream, eight 64-bit
/// lanes of an AVX-512 register for each word of an attempt.
pub(crate) const BATCH: usize = 8;

/// A block of the stream as its two little-endian words.
#[inline]
fn block_words(block: &Block) -> (u64, u64) {
	let both = u128::from_le_bytes(<[u8; 16]>::from(*block));
	(both as u64, (both >> 64) as u64)
}

/// A batch's [`BATCH`] blocks as its 2·[`BATCH`] words, block k's at 2k
/// and 2k + 1.
fn batch_words(blocks: &[Block]) -> [u64; 2 * BATCH] {
	let mut words = [0u64; 2 * BATCH];
	for (pair, block) in words.chunks_exact_mut(2).zip(blocks) {
		(pair[0], pair[1]) = block_words(block);
	}
	words
}

/// What a batch's vector pass settled: lane k's attempt gives `values[k]`
/// unless bit k of `unsettled` (left to [`DiscreteGaussian::attempt`]) or
/// of `rejected` (drawn again: zero with a minus sign) is set.
pub(crate) struct Batch {
	pub(crate) values: [i64; BATCH],
	pub(crate) unsettled: u8,
	pub(crate) rejected: u8,
}

/// The alias table's buckets: 2^10, so a word's top 10 bits pick one
/// and its low 54 bits are compared with the bucket's threshold.
const BUCKET_BITS: u32 = 10;
const BUCKETS: usize = 1 << BUCKET_BITS;
/// The bits a threshold has, and each bucket's capacity, 2^54.
const THRESHOLD_BITS: u32 = 64 - BUCKET_BITS;
const THRESHOLD_MASK: u64 = (1 << THRESHOLD_BITS) - 1;
const ALIAS_MASK: u64 = BUCKETS as u64 - 1;
/// Items of the table past its blocks 0..=top: the uncertain weights,
/// all in one item (block i with probability frac(c·p_i) for each), at
/// top + 1; the tail at top + 2; the rest of 2^64 (draw again) at top + 3
/// and every item past it.
const UNSURE: u64 = 1;
const TAIL: u64 = 2;
const AGAIN: u64 = 3;

/// The table of blocks i ≥ 0 with probabilities ∝ p_i = exp(-i²·unit/den)
/// (the half discrete Gaussian of σ² = den/2unit), scaled by c so that
/// the weights and the tail's sum to at most 2^64.
#[derive(Clone, Debug)]
struct Table {
	/// Walker's alias buckets, bucket s holding item s below its threshold
	/// (of 2^54) and its alias above: each the threshold in the high 54
	/// bits, the alias in the low 10. Item i ≤ top is block i; the items
	/// past are [`UNSURE`], [`TAIL`] and [`AGAIN`] after top. 8 KiB, in L1.
	buckets: Box<[u64; BUCKETS]>,
	/// Block i's sure weight, ⌊c·p_i⌋ less any dropped bits, from certified
	/// bounds on p_i, for i = 0..=top.
	kept: Vec<u64>,
	/// Running sums of the uncertain weights ⌈c·p_i⌉ - kept_i.
	unsure_ends: Vec<u128>,
	scale: u64,
	unit: u128,
	den: u128,
	top: u64,
	/// The tail proposes top + 1 + G, G geometric with P(G = g) =
	/// 2^-k (1 - 2^-k)^g; `tail_weight` ≥ c·p_{top+1}·2^k.
	tail_bits: u32,
	tail_weight: u64,
}

impl Table {
	fn new(unit: u128, den: u128, top: u64, dropped: u32) -> Result<Self, DpError> {
		if top + AGAIN >= BUCKETS as u64 {
			return Err(DpError::Parameter(format!("a noise table of {top} blocks is too long")));
		}
		let bits = TABLE_BITS;
		let q = exact::exp_neg(unit, den, bits);
		let q2 = q.mul(&q);
		// p_{i+1} = p_i · q^(2i+1).
		let mut p = exact::Bounds::one(bits);
		let mut step = q.clone();
		let mut bounds = Vec::with_capacity(top as usize + 2);
		for _ in 0..=top + 1 {
			let next = p.mul(&step);
			bounds.push(p);
			p = next;
			step = step.mul(&q2);
		}
		// Past the table, p_{i+1}/p_i = q^(2i+1) ≤ q^(2·top+3): the tail's
		// geometric ratio 1 - 2^-k must be at least that.
		let ratio = q.pow(u128::from(2 * top + 3));
		let one = BigUint::one() << bits;
		let tail_bits = (1..=32u32)
			.find(|k| ratio.hi <= &one - (&one >> *k))
			.ok_or_else(|| DpError::Parameter(format!("no geometric tail fits a table of {top} blocks")))?;
		let blocks = &bounds[..=top as usize];
		let tail_hi = &bounds[top as usize + 1].hi << tail_bits;
		let total: BigUint = blocks.iter().map(|b| &b.hi).sum::<BigUint>() + &tail_hi;
		let room = (BigUint::one() << 64u32) - (BigUint::one() << SLACK_BITS);
		let scale = u64::try_from((room << bits) / total)
			.map_err(|_| DpError::Parameter("the noise table's scale does not fit 64 bits".into()))?;
		let c = BigUint::from(scale);
		let word =
			|x: BigUint| u64::try_from(x).map_err(|_| DpError::Parameter("a noise table weight past 2^64".into()));
		let mut sure = Vec::with_capacity(blocks.len());
		let mut upper = Vec::with_capacity(blocks.len());
		for b in blocks {
			sure.push(word((&b.lo * &c) >> bits)?);
			upper.push(word(exact::ceil_shr(&b.hi * &c, bits))?);
		}
		let tail_weight = word(exact::ceil_shr(tail_hi * &c, bits))?;

		let kept: Vec<u64> =
			sure.iter().map(|lo| lo.checked_shr(dropped).unwrap_or(0).checked_shl(dropped).unwrap_or(0)).collect();
		// Items by index: blocks 0..=top, then the uncertain weights, the
		// tail and the rest.
		let mut items: Vec<u128> = kept.iter().map(|w| u128::from(*w)).collect();
		let mut unsure_ends = Vec::with_capacity(blocks.len());
		let mut unsure: u128 = 0;
		for (&kept, &hi) in kept.iter().zip(&upper) {
			unsure += u128::from(hi - kept);
			unsure_ends.push(unsure);
		}
		items.push(unsure);
		items.push(u128::from(tail_weight));
		let used: u128 = items.iter().sum();
		let whole = 1u128 << 64;
		if used > whole {
			return Err(DpError::Parameter("the noise table's weights pass 2^64".into()));
		}
		items.push(whole - used);
		let buckets = alias_buckets(items);
		Ok(Self { buckets, kept, unsure_ends, scale, unit, den, top, tail_bits, tail_weight })
	}

	/// The item a uniform word `r` draws, each with exactly its weight's
	/// share of 2^64: block i for i ≤ top, the items past it rarely.
	#[inline]
	fn pick(&self, r: u64) -> u64 {
		let s = (r >> THRESHOLD_BITS) as usize;
		let bucket = self.buckets[s & (BUCKETS - 1)];
		if r & THRESHOLD_MASK < bucket >> BUCKET_BITS {
			s as u64
		} else {
			bucket & ALIAS_MASK
		}
	}

	/// The items drawn about once in 2^54 (`past` the last block): the
	/// uncertain weights, the tail, and the rest of 2^64 (draw again).
	#[cold]
	fn rare(&self, past: u64, rng: &mut NoiseRng) -> Option<u64> {
		match past {
			UNSURE => self.unsure(rng),
			TAIL => self.tail(rng),
			_ => None,
		}
	}

	/// The uncertain weights were drawn: a uniform point of their union
	/// picks block i and a point of [kept_i, ⌈c·p_i⌉), kept if it falls
	/// below c·p_i.
	fn unsure(&self, rng: &mut NoiseRng) -> Option<u64> {
		let total = *self.unsure_ends.last()?;
		let at = rng.below_u128(total);
		let i = self.unsure_ends.partition_point(|end| *end <= at);
		let start = if i == 0 { 0 } else { self.unsure_ends[i - 1] };
		let point = self.kept[i] + u64::try_from(at - start).ok()?;
		let exponent = (i as u128) * (i as u128) * self.unit;
		let c = BigUint::from(self.scale);
		let den = self.den;
		let kept = rng.below_real(point, |bits| {
			let p = exact::exp_neg(exponent, den, bits);
			(&p.lo * &c, &p.hi * &c)
		});
		kept.then_some(i as u64)
	}

	/// A block past the table: top + 1 + G, kept with probability
	/// c·p_i / (tail_weight · 2^-k (1 - 2^-k)^G) ≤ 1.
	#[cold]
	fn tail(&self, rng: &mut NoiseRng) -> Option<u64> {
		let k = self.tail_bits;
		let mut g: u64 = 0;
		while rng.next_bits(k) != 0 {
			g += 1;
			if g > FAR_TAIL {
				return None;
			}
		}
		let block = self.top + 1 + g;
		let exponent = u128::from(block) * u128::from(block) * self.unit;
		let c = BigUint::from(self.scale);
		let shift = k * (g as u32 + 1);
		let denominator = BigUint::from(self.tail_weight) * BigUint::from((1u64 << k) - 1).pow(g as u32);
		let den = self.den;
		let kept = rng.below_real(0, |bits| {
			let p = exact::exp_neg(exponent, den, bits);
			(((&p.lo * &c) << shift) / &denominator, exact::ceil_div(&((&p.hi * &c) << shift), &denominator))
		});
		kept.then_some(block)
	}
}

/// Walker's alias buckets for at most 2^10 integer weights (item i's at
/// `weights[i]`) summing to exactly 2^64: a word's top 10 bits pick a
/// bucket s, and its low 54 bits below s's threshold item s, above it s's
/// alias, so each item is drawn with exactly its weight's share of 2^64.
fn alias_buckets(mut weights: Vec<u128>) -> Box<[u64; BUCKETS]> {
	weights.resize(BUCKETS, 0);
	let capacity = 1u128 << THRESHOLD_BITS;
	// A full bucket: threshold 0, its own alias.
	let mut buckets = Box::new([0u64; BUCKETS]);
	for (s, bucket) in buckets.iter_mut().enumerate() {
		*bucket = s as u64;
	}
	let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..BUCKETS).partition(|i| weights[*i] < capacity);
	while let Some(s) = small.pop() {
		// The weights left sum to exactly capacity × buckets left, so while
		// one is short another is over: `large` is never empty here.
		let Some(&l) = large.last() else {
			break;
		};
		buckets[s] = ((weights[s] as u64) << BUCKET_BITS) | l as u64;
		weights[l] -= capacity - weights[s];
		if weights[l] < capacity {
			large.pop();
			small.push(l);
		}
	}
	buckets
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

	/// P(x) ∝ exp(-x²/2V), by summation in floats (a test's reference).
	fn exact_probability(variance: u128, x: i64) -> f64 {
		let v = variance as f64;
		let reach = (20.0 * v.sqrt()) as i64 + 20;
		let norm: f64 = (-reach..=reach).map(|k| (-((k * k) as f64) / (2.0 * v)).exp()).sum();
		(-((x * x) as f64) / (2.0 * v)).exp() / norm
	}

	/// Every count within five standard errors of its expected share.
	fn assert_shares(what: &str, counts: &[(String, usize, f64)], n: usize) {
		for (name, seen, p) in counts {
			let se = (p * (1.0 - p) / n as f64).sqrt().max(1e-12);
			let share = *seen as f64 / n as f64;
			assert!((share - p).abs() < 5.0 * se, "{what}: {name}: expected {p}, seen {share}");
		}
	}

	/// n values by `sample`, by `add_each` (the vector path where the
	/// machine has it) and by the portable batch loop.
	fn both_ways(g: &DiscreteGaussian, n: usize, rng: &mut NoiseRng) -> [(&'static str, Vec<i64>); 3] {
		let one_by_one = (0..n).map(|_| g.sample(rng)).collect();
		let mut vector = vec![0i64; n];
		g.add_each(&mut vector, rng, 0, |_, v| v);
		let mut portable = vec![0i64; n];
		g.add_in_batches(&mut portable, rng, 0, &|_, v| v, |_| None);
		[("sample", one_by_one), ("add_each", vector), ("portable batches", portable)]
	}

	#[test]
	fn the_vector_path_gives_the_portable_values() {
		// Where the machine has no AVX-512, add_each is the portable loop
		// and this compares it with itself.
		#[cfg(target_arch = "x86_64")]
		eprintln!("vector path available: {}", crate::simd::available());
		let short_tables = [
			DiscreteGaussian::with_table((1u128 << 20) + 12_345, 5, 6, 0).unwrap(),
			DiscreteGaussian::with_table((1u128 << 20) + 12_345, 5, 40, 50).unwrap(),
			DiscreteGaussian::with_table(900, 0, 3, 52).unwrap(),
		];
		let samplers = [1u128, 10, 4095, 4096, 1 << 20, (1 << 30) + 7, 1 << 44, MAX_VARIANCE]
			.into_iter()
			.map(|v| DiscreteGaussian::new(v).unwrap())
			.chain(short_tables);
		for (k, g) in samplers.enumerate() {
			for n in [1usize, 7, 8, 9, 1000, 20_000] {
				let seed = [k as u8 ^ (n as u8); 32];
				let mut vector = vec![3i64; n];
				g.add_each(&mut vector, &mut NoiseRng::from_seed(seed), 5, |i, v| v + i as i64);
				let mut portable = vec![3i64; n];
				g.add_in_batches(&mut portable, &mut NoiseRng::from_seed(seed), 5, &|i, v| v + i as i64, |_| None);
				assert_eq!(vector, portable, "variance {}, block bits {}, {n} values", g.variance, g.block_bits);
			}
		}
	}

	#[test]
	fn blocked_variances_have_the_exact_probabilities() {
		// σ ≈ 2051: blocks of 32 values from a table of σ ≈ 64.
		let variance = (1u128 << 22) + 12_345;
		let g = DiscreteGaussian::new(variance).unwrap();
		assert_eq!(g.block_bits, 5);
		let mut rng = NoiseRng::from_seed([21; 32]);
		let n = 400_000;
		for (way, xs) in both_ways(&g, n, &mut rng) {
			let sigma = (variance as f64).sqrt();
			let half = (sigma / 2.0) as i64;
			// Bins of half a σ across ±3σ, and the offsets within a block.
			let mut counts = Vec::new();
			for k in -6i64..6 {
				let (from, to) = (k * half, (k + 1) * half);
				let p: f64 = (from..to).map(|x| exact_probability(variance, x)).sum();
				counts.push((format!("[{from}, {to})"), xs.iter().filter(|x| (from..to).contains(x)).count(), p));
			}
			let reach = (12.0 * sigma) as i64;
			for r in [0i64, 1, 7, 16, 31] {
				let p: f64 =
					(-reach..=reach).filter(|x| x.rem_euclid(32) == r).map(|x| exact_probability(variance, x)).sum();
				counts.push((format!("x mod 32 = {r}"), xs.iter().filter(|x| x.rem_euclid(32) == r).count(), p));
			}
			for x in [0i64, 1, -1, 31, 32, -32] {
				counts.push((
					format!("x = {x}"),
					xs.iter().filter(|v| **v == x).count(),
					exact_probability(variance, x),
				));
			}
			assert_shares(&format!("σ² = 2^22 + 12345, {way}"), &counts, n);
		}
	}

	#[test]
	fn the_tail_and_the_uncertain_weights_keep_the_exact_probabilities() {
		// A table of blocks 0..=2 with no sure weight: every value comes
		// through the exact comparison against exp, a third of them from
		// the geometric tail.
		let g = DiscreteGaussian::with_table(9, 0, 2, 64).unwrap();
		assert!(g.table.kept.iter().all(|w| *w == 0));
		let mut rng = NoiseRng::from_seed([22; 32]);
		let n = 30_000;
		for (way, xs) in both_ways(&g, n, &mut rng) {
			let counts: Vec<_> = (-8i64..=8)
				.map(|x| (format!("x = {x}"), xs.iter().filter(|v| **v == x).count(), exact_probability(9, x)))
				.collect();
			assert_shares(&format!("σ² = 9, short table, {way}"), &counts, n);
		}
		// Blocks of 4 from a table of 21 blocks, σ = 192.
		let variance = 192 * 192;
		let g = DiscreteGaussian::with_table(variance, 2, 20, 64).unwrap();
		let n = 20_000;
		for (way, xs) in both_ways(&g, n, &mut rng) {
			let mut counts = Vec::new();
			for k in -6i64..6 {
				let (from, to) = (k * 96, (k + 1) * 96);
				let p: f64 = (from..to).map(|x| exact_probability(variance, x)).sum();
				counts.push((format!("[{from}, {to})"), xs.iter().filter(|x| (from..to).contains(x)).count(), p));
			}
			assert_shares(&format!("σ = 192, short table, {way}"), &counts, n);
		}
	}

	#[test]
	fn the_alias_buckets_give_each_weight_exactly_its_share() {
		for variance in [1u128, 9, 4095, 4096, (1 << 20) + 12_345, MAX_VARIANCE] {
			let g = DiscreteGaussian::new(variance).unwrap();
			let t = &g.table;
			let capacity = 1u128 << THRESHOLD_BITS;
			let mut mass = vec![0u128; BUCKETS];
			for (s, bucket) in t.buckets.iter().enumerate() {
				let own = u128::from(bucket >> BUCKET_BITS);
				assert!(own < capacity);
				mass[s] += own;
				mass[(bucket & ALIAS_MASK) as usize] += capacity - own;
			}
			assert_eq!(mass.iter().sum::<u128>(), 1u128 << 64);
			let mut unsure = 0u128;
			let top = t.top as usize;
			for (i, kept) in t.kept.iter().enumerate() {
				assert_eq!(mass[i], u128::from(*kept), "σ² = {variance}, block {i}");
				// Certified bounds 160 bits deep: ⌊c·p_i⌋ and ⌈c·p_i⌉ are at
				// most a unit or two apart.
				let width = t.unsure_ends[i] - unsure;
				assert!(width <= 2, "σ² = {variance}, block {i}: uncertain weight {width}");
				unsure = t.unsure_ends[i];
			}
			assert_eq!(t.kept.len(), top + 1);
			assert_eq!(mass[top + UNSURE as usize], unsure);
			assert_eq!(mass[top + TAIL as usize], u128::from(t.tail_weight));
			// The items that draw again hold about 2^-10 of the mass.
			let again: u128 = mass[top + AGAIN as usize..].iter().sum();
			assert!(again > (1 << SLACK_BITS) - 4096 && again < 1 << (SLACK_BITS + 1), "σ² = {variance}: {again}");
			// The table's own σ is in [1, 128).
			assert!(t.top <= TABLE_SIGMAS * 129, "σ² = {variance}: {} blocks", t.top);
		}
		// A table too long for the buckets is refused.
		assert!(DiscreteGaussian::with_table(1 << 20, 0, BUCKETS as u64 - 3, 0).is_err());
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
		g.add_each(&mut first, &mut parent.fork(), 0, |_, v| v);
		assert_eq!(first[..], a[..PARALLEL_CHUNK]);
		let var = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / n as f64;
		assert!((var / (1u64 << 40) as f64 - 1.0).abs() < 5.0 * (2.0 / n as f64).sqrt(), "{var}");
		// A base set in the same loop gets the same noise, each coordinate
		// its own base.
		let mut mapped = vec![5i64; n];
		g.map_and_add_to(&mut mapped, &mut NoiseRng::from_seed([7; 32]), |i, old| old * i as i64);
		assert!(mapped.iter().zip(&a).enumerate().all(|(i, (m, x))| *m == x + 5 * i as i64));
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
		// exp(-γ) trials given the first trial's 32 bits, as the sampler
		// makes them, below and past γ = 1.
		for (num, den) in [(1u128, 64u128), (1, 3), (2, 3), (5, 5), (7, 3), (0, 9)] {
			let p = (-(num as f64) / den as f64).exp();
			let seen = (0..n)
				.filter(|_| {
					let u = rng.next_u32();
					rng.bernoulli_exp_given(num, den, u)
				})
				.count() as f64
				/ n as f64;
			let se = (p * (1.0 - p) / n as f64).sqrt().max(1e-9);
			assert!((seen - p).abs() <= 5.0 * se, "exp(-{num}/{den}) = {p}, seen {seen}");
		}
		// Uniform draws below a bound stay below it and cover it evenly.
		for bound in [6u128, (1 << 40) + 3, (1 << 100) + 3] {
			let mut counts = [0usize; 6];
			for _ in 0..60_000 {
				let x = rng.below_u128(bound);
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
