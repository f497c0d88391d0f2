//! Certified bounds on exp(-a/b) for integers a, b, in interval
//! arithmetic over big integers: every rounding goes down for a lower
//! bound and up for an upper one, so the true value always lies between
//! the two. The sampler builds its table from them and, on the rare draws
//! that land between a table entry's bounds, compares its uniform against
//! the true probability to as many bits as that takes.

use num_bigint::BigUint;
use num_traits::{CheckedSub, One, Zero};

/// Guard bits a computation carries beyond the precision asked of it.
const GUARD_BITS: u32 = 64;

/// A real x ≥ 0 known to lie in [lo / 2^bits, hi / 2^bits].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bounds {
	pub lo: BigUint,
	pub hi: BigUint,
	pub bits: u32,
}

impl Bounds {
	/// Exactly 1.
	pub fn one(bits: u32) -> Self {
		let one = BigUint::one() << bits;
		Self { lo: one.clone(), hi: one, bits }
	}

	/// Bounds on the product (both factors at the same precision).
	pub fn mul(&self, other: &Bounds) -> Bounds {
		debug_assert_eq!(self.bits, other.bits);
		Bounds {
			lo: (&self.lo * &other.lo) >> self.bits,
			hi: ceil_shr(&self.hi * &other.hi, self.bits),
			bits: self.bits,
		}
	}

	/// Bounds on x^n.
	pub fn pow(&self, mut n: u128) -> Bounds {
		let mut result = Bounds::one(self.bits);
		let mut base = self.clone();
		while n > 0 {
			if n & 1 == 1 {
				result = result.mul(&base);
			}
			n >>= 1;
			if n > 0 {
				base = base.mul(&base);
			}
		}
		result
	}

	/// The same bounds at `bits` < `self.bits` of precision.
	pub fn round_to(&self, bits: u32) -> Bounds {
		debug_assert!(bits <= self.bits);
		let drop = self.bits - bits;
		Bounds { lo: &self.lo >> drop, hi: ceil_shr(self.hi.clone(), drop), bits }
	}
}

/// ⌈x / 2^s⌉.
pub(crate) fn ceil_shr(x: BigUint, s: u32) -> BigUint {
	if s == 0 {
		return x;
	}
	let mask = (BigUint::one() << s) - 1u32;
	let round_up = !(&x & &mask).is_zero();
	let q = x >> s;
	if round_up {
		q + 1u32
	} else {
		q
	}
}

/// ⌈a / b⌉, b > 0.
pub(crate) fn ceil_div(a: &BigUint, b: &BigUint) -> BigUint {
	let q = a / b;
	if (&q * b) == *a {
		q
	} else {
		q + 1u32
	}
}

/// Bounds on exp(-num/den) at `bits` of precision (den > 0): the whole
/// part of the exponent as a power of exp(-1), the rest by its Taylor
/// series.
pub(crate) fn exp_neg(num: u128, den: u128, bits: u32) -> Bounds {
	assert!(den > 0, "exp_neg: a zero denominator");
	let work = bits + GUARD_BITS;
	let whole = num / den;
	let rest = exp_neg_at_most_one(num % den, den, work);
	let value = if whole == 0 { rest } else { exp_neg_at_most_one(1, 1, work).pow(whole).mul(&rest) };
	value.round_to(bits)
}

/// Bounds on exp(-f), f = num/den ∈ [0, 1], from the alternating series
/// Σ (-f)^k / k!, whose terms shrink: computed terms t̃_k = ⌊t̃_{k-1} f / k⌋
/// lie in [t_k - k, t_k] units of 2^-bits, and the series stops at the
/// first t̃_k = 0, whose true term, an upper bound on the rest of the
/// series, is at most k. So the error is at most k(k+1)/2 units.
fn exp_neg_at_most_one(num: u128, den: u128, bits: u32) -> Bounds {
	debug_assert!(num <= den && den > 0);
	let one = BigUint::one() << bits;
	if num == 0 {
		return Bounds::one(bits);
	}
	let (num, den) = (BigUint::from(num), BigUint::from(den));
	let mut term = one.clone();
	let mut even = one.clone();
	let mut odd = BigUint::zero();
	let mut k: u64 = 0;
	loop {
		k += 1;
		term = term * &num / (&den * k);
		if term.is_zero() {
			break;
		}
		if k % 2 == 1 {
			odd += &term;
		} else {
			even += &term;
		}
	}
	let error = BigUint::from(k) * BigUint::from(k + 1) / 2u32;
	let hi = (&even + &error).checked_sub(&odd).unwrap_or_default().min(one);
	let lo = even.checked_sub(&odd).and_then(|sum| sum.checked_sub(&error)).unwrap_or_default();
	// exp(-f) ≥ exp(-1) > 1/4: a lower bound that fell to zero is still valid.
	Bounds { lo, hi: hi.max(BigUint::one()), bits }
}

#[cfg(test)]
mod tests {
	use super::*;

	fn as_f64(x: &BigUint, bits: u32) -> f64 {
		// Enough for a test: the top 64 bits over 2^bits.
		let shift = x.bits().saturating_sub(64) as u32;
		let top: u64 = (x >> shift).try_into().unwrap();
		top as f64 * 2f64.powi(shift as i32 - bits as i32)
	}

	#[test]
	fn bounds_bracket_exp_tightly() {
		for (num, den) in [(0u128, 1u128), (1, 1), (1, 2), (1, 3), (7, 5), (100, 1), (12345, 678), (1, 1 << 60)] {
			let b = exp_neg(num, den, 128);
			assert!(b.lo <= b.hi, "{num}/{den}");
			// Within a few units of 2^-128.
			assert!(&b.hi - &b.lo <= BigUint::from(4u32), "{num}/{den}: width {}", &b.hi - &b.lo);
			let want = (-(num as f64) / den as f64).exp();
			let lo = as_f64(&b.lo, 128);
			let hi = as_f64(&b.hi, 128);
			let tol = want * 1e-14 + 1e-300;
			assert!(lo <= want + tol && hi >= want - tol, "{num}/{den}: [{lo}, {hi}] against {want}");
		}
	}

	#[test]
	fn exp_of_minus_one_has_its_known_digits() {
		// e^-1 = 0x0.5E2D58D8B3BCDF1ABADEC7829054F90D... (its hexadecimal
		// expansion): the first 128 bits lie between the bounds.
		let b = exp_neg(1, 1, 128);
		let floor = BigUint::parse_bytes(b"5E2D58D8B3BCDF1ABADEC7829054F90D", 16).unwrap();
		assert!(b.lo <= &floor + 1u32 && b.hi >= floor, "{b:?}");
	}

	#[test]
	fn products_and_powers_keep_the_true_value_inside() {
		// exp(-1/8)^16 = exp(-2): the power's bounds hold the direct ones'.
		let q = exp_neg(1, 8, 128);
		let p = q.pow(16);
		let direct = exp_neg(2, 1, 128);
		assert!(p.lo <= direct.hi && direct.lo <= p.hi);
		assert!(&p.hi - &p.lo < BigUint::from(200u32));
		assert_eq!(ceil_shr(BigUint::from(9u32), 2), BigUint::from(3u32));
		assert_eq!(ceil_shr(BigUint::from(8u32), 2), BigUint::from(2u32));
		assert_eq!(ceil_div(&BigUint::from(9u32), &BigUint::from(3u32)), BigUint::from(3u32));
		assert_eq!(ceil_div(&BigUint::from(10u32), &BigUint::from(3u32)), BigUint::from(4u32));
		let r = exp_neg(3, 7, 256).round_to(100);
		let s = exp_neg(3, 7, 100);
		assert!(r.lo <= s.hi && s.lo <= r.hi);
	}
}
