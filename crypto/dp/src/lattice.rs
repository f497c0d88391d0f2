//! The distributed discrete Gaussian mechanism as members and the
//! requester run it: each member clips its whole contribution to an L2
//! norm, scales it onto the integer lattice of 2^-f, rounds, and adds
//! discrete Gaussian noise of 1/t of the sum's variance, t being the
//! ledger's threshold (the fewest members whose inputs a completed round
//! holds). Whoever survives, the sum holds at least t members' noise.
//!
//! Both sides derive the same [`Lattice`] from the step's [`Privacy`], its
//! size, the ledger's threshold and member bound, and the ring: nothing
//! about the lattice travels, so a requester cannot ask for less noise
//! than the parameters it published.

use delta_secagg::encoder::round_half_away_to_i64;
use serde::{Deserialize, Serialize};

use crate::{
	accountant::DistributedDiscreteGaussian,
	sampler::{DiscreteGaussian, NoiseRng, MAX_VARIANCE},
	DpError,
};

/// Most fractional bits a lattice is given (a float64's precision).
const MAX_FRACTIONAL_BITS: u32 = 52;
/// Noise tails the ring leaves room for, in standard deviations of the
/// sum (a wrap needs a 16σ deviation: probability below e^-128).
const TAIL_SIGMAS: f64 = 16.0;

/// What a step asks of the members' noise.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Privacy {
	/// The L2 norm each member's whole contribution (every output of the
	/// step together) is clipped to at the member: the sensitivity of the
	/// sum to any one member, and so to any one of its rows.
	pub clip: f64,
	/// The sum's noise standard deviation over `clip`.
	pub noise_multiplier: f64,
	/// The δ the task's ε is stated for.
	pub delta: f64,
}

impl Privacy {
	/// Refuses parameters no member can honour.
	pub fn check(&self) -> Result<(), DpError> {
		if !(self.clip.is_finite() && self.clip > 0.0 && self.clip <= 1e15) {
			return Err(DpError::Parameter(format!("the clip norm must be in (0, 1e15], not {}", self.clip)));
		}
		if !(self.noise_multiplier.is_finite() && self.noise_multiplier >= 0.01 && self.noise_multiplier <= 1e6) {
			return Err(DpError::Parameter(format!(
				"the noise multiplier must be in [0.01, 1e6], not {}",
				self.noise_multiplier
			)));
		}
		if !(self.delta > 0.0 && self.delta < 1.0) {
			return Err(DpError::Parameter(format!("δ must be in (0, 1), not {}", self.delta)));
		}
		Ok(())
	}
}

/// The lattice and noise of one step, as both sides derive them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lattice {
	/// Values are scaled by 2^this before rounding.
	pub fractional_bits: u32,
	/// L2 sensitivity of the sum in lattice units: the clip scaled, plus
	/// what rounding each coordinate to the nearest integer may add
	/// (√dim / 2).
	pub sensitivity: f64,
	/// Each member's noise variance, in lattice units squared: the sum's
	/// (noise multiplier × sensitivity)² over `threshold`, rounded up.
	pub member_variance: u128,
	/// The fewest members whose noise a completed round's sum holds.
	pub threshold: u32,
	/// Coordinates.
	pub dim: usize,
}

impl Lattice {
	/// The finest lattice on which `max_summands` members' clipped,
	/// noised contributions of `dim` coordinates cannot wrap a
	/// `ring_bits`-bit ring (nor 64 bits) and each member's noise stays
	/// within the exact sampler's range.
	pub fn new(
		privacy: &Privacy,
		dim: usize,
		threshold: u32,
		max_summands: u32,
		ring_bits: u32,
	) -> Result<Self, DpError> {
		privacy.check()?;
		if threshold == 0 || max_summands < threshold {
			return Err(DpError::Parameter(format!("a threshold of {threshold} with at most {max_summands} members")));
		}
		let room = 2f64.powi(ring_bits.min(64) as i32 - 1) * 0.5;
		let n = f64::from(max_summands);
		let rounding = (dim as f64).sqrt() / 2.0;
		for bits in (0..=MAX_FRACTIONAL_BITS).rev() {
			let scaled = privacy.clip * 2f64.powi(bits as i32);
			let sensitivity = scaled + rounding;
			let sum_var = (privacy.noise_multiplier * sensitivity).powi(2);
			// Rounded up, with a margin for the float's own rounding.
			let member = (sum_var / f64::from(threshold) * (1.0 + 1e-12)).ceil().max(1.0);
			if member > MAX_VARIANCE as f64 {
				continue;
			}
			let member_variance = member as u128;
			let worst = n * (scaled + 1.0) + TAIL_SIGMAS * (n * member).sqrt();
			if worst <= room {
				return Ok(Self { fractional_bits: bits, sensitivity, member_variance, threshold, dim });
			}
		}
		Err(DpError::NoRoom {
			clip: privacy.clip,
			noise_multiplier: privacy.noise_multiplier,
			members: max_summands,
			ring_bits,
		})
	}

	/// 2^fractional_bits.
	pub fn scale(&self) -> f64 {
		2f64.powi(self.fractional_bits as i32)
	}

	/// The sum's noise standard deviation in value units when
	/// `contributors` members' noise is in it (at least `threshold`).
	pub fn sum_std(&self, contributors: u32) -> f64 {
		(self.member_variance as f64 * f64::from(contributors)).sqrt() / self.scale()
	}

	/// The mechanism the accountant charges: the threshold's worth of
	/// noise against the lattice sensitivity. More contributors add more
	/// noise, never less, so this is the promise for every round that
	/// completes.
	pub fn mechanism(&self) -> DistributedDiscreteGaussian {
		let l2 = self.sensitivity;
		// An integer vector's L1 norm is at most √dim times its L2 norm,
		// and at most its squared L2 norm.
		let l1 = (l2 * (self.dim as f64).sqrt()).min(l2 * l2);
		DistributedDiscreteGaussian {
			l2,
			l1,
			member_std: (self.member_variance as f64).sqrt(),
			members: self.threshold,
			dim: self.dim,
		}
	}

	/// A member's contribution: `values` clipped to the L2 norm
	/// `privacy.clip`, scaled and rounded onto the lattice, each coordinate
	/// noised. Returns the integers and the norm before clipping.
	pub fn contribution(
		&self,
		privacy: &Privacy,
		values: &[f64],
		rng: &mut NoiseRng,
	) -> Result<(Vec<i64>, f64), DpError> {
		if values.len() != self.dim {
			return Err(DpError::Parameter(format!(
				"{} values for a lattice of {} coordinates",
				values.len(),
				self.dim
			)));
		}
		let norm = l2_norm(values)?;
		let factor = if norm > privacy.clip { privacy.clip / norm } else { 1.0 };
		let scale = self.scale() * factor;
		let mut out = vec![0i64; values.len()];
		DiscreteGaussian::new(self.member_variance)?
			.map_and_add_to(&mut out, rng, |i, _| values.get(i).map_or(0, |v| round_to_nearest(v * scale)));
		Ok((out, norm))
	}

	/// A value from a coordinate of the sum (the ring's element read as a
	/// signed integer).
	pub fn unscale(&self, lattice_sum: i128) -> f64 {
		lattice_sum as f64 / self.scale()
	}
}

/// 1.5 · 2^52: a float of magnitude below 2^51 added to this lands in
/// [2^52, 2^53), where the floats are the integers, so the addition
/// itself rounds it to the nearest integer (ties to even), and that
/// integer is the sum's bits less this number's bits.
const ROUNDER: f64 = 6_755_399_441_055_744.0;

/// `x` rounded to the nearest integer, ties to even (the sensitivity
/// allows any rounding to nearest: at most 1/2 a coordinate): for |x| <
/// 2^51, by one addition and a subtraction of bits, a third of the cost
/// of a conversion and its checks; past that, by the encoder's rounding
/// (half away from zero, saturating).
#[inline]
fn round_to_nearest(x: f64) -> i64 {
	if x.abs() < 2_251_799_813_685_248.0 {
		return (x + ROUNDER).to_bits() as i64 - ROUNDER.to_bits() as i64;
	}
	round_half_away_to_i64(x)
}

/// Coordinates per partial sum of squares; the partials are added in
/// order, so the norm does not depend on the number of cores.
const NORM_BLOCK: usize = 1 << 16;

/// The L2 norm, without overflow for finite values of any size, or the
/// first value that is not finite: the sum of squares in one pass (eight
/// running sums per block of 2^16, so the additions need not wait on each
/// other, the blocks spread over the cores), and where that overflowed or
/// came near the smallest floats, again with every value over the
/// largest. A sum that is finite means every value was.
fn l2_norm(values: &[f64]) -> Result<f64, DpError> {
	let squares = sum_of_squares(values);
	if squares.is_finite() && squares > 1e-200 {
		return Ok(squares.sqrt());
	}
	if let Some(index) = values.iter().position(|v| !v.is_finite()) {
		return Err(DpError::NotFinite { index });
	}
	let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
	if largest == 0.0 {
		return Ok(0.0);
	}
	Ok(largest * values.iter().map(|v| (v / largest).powi(2)).sum::<f64>().sqrt())
}

fn sum_of_squares(values: &[f64]) -> f64 {
	let block_sum = |block: &[f64]| {
		let mut sums = [0f64; 8];
		let chunks = block.chunks_exact(8);
		let rest: f64 = chunks.remainder().iter().map(|v| v * v).sum();
		for chunk in chunks {
			for (sum, v) in sums.iter_mut().zip(chunk) {
				*sum += v * v;
			}
		}
		sums.iter().sum::<f64>() + rest
	};
	let sum_blocks = |partials: &mut [f64], values: &[f64]| {
		for (partial, block) in partials.iter_mut().zip(values.chunks(NORM_BLOCK)) {
			*partial = block_sum(block);
		}
	};
	let blocks = values.len().div_ceil(NORM_BLOCK);
	let mut partials = vec![0f64; blocks];
	let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
	let per_thread = blocks.div_ceil(cores.min(blocks / 4).max(1)).max(1);
	if per_thread >= blocks {
		sum_blocks(&mut partials, values);
	} else {
		std::thread::scope(|scope| {
			for (partials, values) in partials.chunks_mut(per_thread).zip(values.chunks(per_thread * NORM_BLOCK)) {
				scope.spawn(move || sum_blocks(partials, values));
			}
		});
	}
	partials.iter().sum()
}

#[cfg(test)]
mod tests {
	use super::*;

	fn privacy() -> Privacy {
		Privacy { clip: 1.0, noise_multiplier: 1.0, delta: 1e-6 }
	}

	#[test]
	fn the_lattice_is_as_fine_as_the_sampler_and_the_ring_allow() {
		let l = Lattice::new(&privacy(), 10, 2, 10, 64).unwrap();
		// σ per member ≤ 2^27: clip · 2^f ≈ 2^27 · √2.
		assert_eq!(l.fractional_bits, 27);
		assert!(l.member_variance <= MAX_VARIANCE);
		// The sum of the threshold's noise has at least the asked σ.
		assert!(l.sum_std(2) >= 1.0 && l.sum_std(2) < 1.0 + 1e-6, "{}", l.sum_std(2));
		// A wide clip in the 32-bit ring gets a coarse lattice; one past
		// the ring is refused by name.
		let wide = Privacy { clip: 1e6, ..privacy() };
		assert!(Lattice::new(&wide, 10, 2, 10, 32).unwrap().fractional_bits < 5);
		let e = Lattice::new(&Privacy { clip: 1e15, ..privacy() }, 10, 2, 1000, 32).unwrap_err();
		assert!(matches!(e, DpError::NoRoom { .. }), "{e}");
		assert!(Lattice::new(&privacy(), 10, 0, 10, 64).is_err());
		assert!(Lattice::new(&privacy(), 10, 11, 10, 64).is_err());
		assert!(Lattice::new(&Privacy { noise_multiplier: 0.0, ..privacy() }, 10, 2, 10, 64).is_err());
		assert!(Lattice::new(&Privacy { delta: 0.0, ..privacy() }, 10, 2, 10, 64).is_err());
	}

	#[test]
	fn contributions_are_clipped_to_the_norm_and_noised() {
		let p = Privacy { clip: 2.0, noise_multiplier: 1.0, delta: 1e-6 };
		let l = Lattice::new(&p, 2, 3, 10, 64).unwrap();
		let mut rng = NoiseRng::from_seed([3; 32]);
		// (30, 40) has norm 50: clipped to (1.2, 1.6).
		let n = 20_000;
		let mut sums = [0f64; 2];
		for _ in 0..n {
			let (c, norm) = l.contribution(&p, &[30.0, 40.0], &mut rng).unwrap();
			assert_eq!(norm, 50.0);
			sums[0] += l.unscale(i128::from(c[0]));
			sums[1] += l.unscale(i128::from(c[1]));
		}
		// Each member's noise has σ = 2 / √3; the mean over n is within
		// five standard errors of the clipped value.
		let se = 2.0 / 3f64.sqrt() / (n as f64).sqrt();
		assert!((sums[0] / n as f64 - 1.2).abs() < 5.0 * se, "{sums:?}");
		assert!((sums[1] / n as f64 - 1.6).abs() < 5.0 * se, "{sums:?}");
		let e = l.contribution(&p, &[f64::NAN, 0.0], &mut rng).unwrap_err();
		assert!(matches!(e, DpError::NotFinite { index: 0 }));
		assert!(l.contribution(&p, &[1.0], &mut rng).is_err());
	}

	#[test]
	fn the_charged_mechanism_is_the_asked_noise_multiplier() {
		let p = Privacy { clip: 3.0, noise_multiplier: 1.5, delta: 1e-6 };
		let l = Lattice::new(&p, 1000, 4, 20, 64).unwrap();
		let m = l.mechanism();
		let z = (f64::from(m.members)).sqrt() * m.member_std / m.l2;
		assert!(z >= 1.5 && z < 1.5 * (1.0 + 1e-9), "{z}");
		assert_eq!(l2_norm(&[3.0, 4.0]).unwrap(), 5.0);
		assert_eq!(l2_norm(&[1e300, 1e300]).unwrap(), 1e300 * 2f64.sqrt());
		assert_eq!(l2_norm(&[3e-200, 4e-200]).unwrap(), 5e-200);
		assert_eq!(l2_norm(&[0.0; 3]).unwrap(), 0.0);
		let long: Vec<f64> = (0..1001).map(|i| f64::from(i % 7) - 3.0).collect();
		let want = long.iter().map(|v| v * v).sum::<f64>().sqrt();
		assert!((l2_norm(&long).unwrap() - want).abs() < 1e-12 * want);
		// Long enough for the cores to share it: the same sum as block by
		// block on one.
		let long: Vec<f64> = (0..(9 * NORM_BLOCK + 17)).map(|i| (i % 1000) as f64 * 1e-3 - 0.5).collect();
		let serial: f64 = long.chunks(NORM_BLOCK).map(sum_of_squares).sum();
		assert_eq!(l2_norm(&long).unwrap(), serial.sqrt());
		// A value that is not finite is named wherever it is, also after a
		// zero and in a long vector.
		let mut bad = long.clone();
		bad[7 * NORM_BLOCK + 3] = f64::NAN;
		assert!(matches!(l2_norm(&bad), Err(DpError::NotFinite { index }) if index == 7 * NORM_BLOCK + 3));
		assert!(matches!(l2_norm(&[0.0, f64::NAN]), Err(DpError::NotFinite { index: 1 })));
		assert!(matches!(l2_norm(&[0.0, f64::NEG_INFINITY]), Err(DpError::NotFinite { index: 1 })));
	}

	#[test]
	fn rounding_onto_the_lattice_is_to_the_nearest_integer() {
		let limit = 2_251_799_813_685_248.0; // 2^51
		let mut xs = vec![0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 0.49999999999999994, 1e-300, -7.25, 123_456.5];
		xs.extend([limit - 0.5, limit - 1.5, -(limit - 0.5), limit, limit + 2.0, -limit, 1e18, -1e18, 1e300]);
		let mut state = 0x9E37_79B9_7F4A_7C15u64;
		for _ in 0..100_000 {
			state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
			let magnitude = f64::from((state >> 40) as u32) * 2f64.powi((state % 40) as i32 - 20);
			xs.push(if state & 1 == 0 { magnitude } else { -magnitude });
		}
		for x in xs {
			let r = round_to_nearest(x);
			if x.abs() < limit {
				assert_eq!(r as f64, x.round_ties_even(), "{x}");
			} else {
				assert_eq!(r, round_half_away_to_i64(x), "{x}");
			}
			assert!((r as f64 - x).abs() <= 0.5 || x.abs() > 9.2e18, "{x} -> {r}");
		}
	}
}
