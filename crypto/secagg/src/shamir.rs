//! Shamir t-of-n secret sharing of 32-byte secrets over a prime field.
//!
//! The field is the scalar field of Curve25519, of prime order
//! `l = 2^252 + 27742317777372353535851937790883648493`, with arithmetic from
//! `curve25519-dalek` (constant-time, widely reviewed). A 32-byte secret is
//! split into two 16-byte halves, each an element below 2^128 < l, and each
//! half is shared with its own random polynomial of degree `t - 1`, whose
//! coefficients come from the caller's cryptographic RNG. The share for
//! member `id` is the polynomials' values at `x = id + 1` (x = 0 is the
//! secret).

use curve25519_dalek::scalar::Scalar;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Error, MemberId};

/// One member's share of a 32-byte secret: two field elements.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Share {
	/// The evaluation point is `holder + 1`.
	pub holder: MemberId,
	/// Values of the two polynomials, little-endian canonical scalars.
	pub values: [[u8; 32]; 2],
}

impl core::fmt::Debug for Share {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		// Share values are secret; only the holder is shown.
		f.debug_struct("Share").field("holder", &self.holder).finish_non_exhaustive()
	}
}

fn x_of(id: MemberId) -> Scalar {
	Scalar::from(u64::from(id) + 1)
}

fn halves(secret: &[u8; 32]) -> [Scalar; 2] {
	let mut lo = [0u8; 32];
	let mut hi = [0u8; 32];
	lo[..16].copy_from_slice(&secret[..16]);
	hi[..16].copy_from_slice(&secret[16..]);
	let out = [Scalar::from_bytes_mod_order(lo), Scalar::from_bytes_mod_order(hi)];
	lo.zeroize();
	hi.zeroize();
	out
}

/// Splits `secret` into shares for `holders`, any `threshold` of which
/// reconstruct it.
pub fn split<R: RngCore + CryptoRng>(
	secret: &[u8; 32],
	holders: &[MemberId],
	threshold: usize,
	rng: &mut R,
) -> Result<Vec<Share>, Error> {
	if threshold == 0 || threshold > holders.len() {
		return Err(Error::BadThreshold { threshold, holders: holders.len() });
	}
	let mut shares = Vec::with_capacity(holders.len());
	let mut coefficients: Vec<[Scalar; 2]> = Vec::with_capacity(threshold);
	coefficients.push(halves(secret));
	for _ in 1..threshold {
		coefficients.push([Scalar::random(rng), Scalar::random(rng)]);
	}
	for holder in holders {
		let x = x_of(*holder);
		let mut values = [[0u8; 32]; 2];
		for (half, value) in values.iter_mut().enumerate() {
			// Horner's rule from the highest coefficient down.
			let mut acc = Scalar::ZERO;
			for c in coefficients.iter().rev() {
				acc = acc * x + c[half];
			}
			*value = acc.to_bytes();
			acc.zeroize();
		}
		shares.push(Share { holder: *holder, values });
	}
	coefficients.zeroize();
	Ok(shares)
}

/// Reconstructs a secret from at least `threshold` shares with distinct
/// holders. Shares beyond the first `threshold` are ignored; a wrong share
/// among them yields a wrong secret, which callers detect by checking the
/// secret against a public value (a public key or a commitment).
pub fn reconstruct(shares: &[Share], threshold: usize) -> Result<[u8; 32], Error> {
	if threshold == 0 || shares.len() < threshold {
		return Err(Error::NotEnoughShares { have: shares.len(), need: threshold });
	}
	let used = &shares[..threshold];
	for (i, a) in used.iter().enumerate() {
		if used[..i].iter().any(|b| b.holder == a.holder) {
			return Err(Error::DuplicateShare { holder: a.holder });
		}
	}
	let mut halves = [Scalar::ZERO; 2];
	for (i, share) in used.iter().enumerate() {
		// Lagrange basis polynomial of share i evaluated at 0.
		let xi = x_of(share.holder);
		let mut num = Scalar::ONE;
		let mut den = Scalar::ONE;
		for (j, other) in used.iter().enumerate() {
			if i != j {
				let xj = x_of(other.holder);
				num *= xj;
				den *= xj - xi;
			}
		}
		let basis = num * den.invert();
		for (half, acc) in halves.iter_mut().enumerate() {
			let value = Option::<Scalar>::from(Scalar::from_canonical_bytes(share.values[half]))
				.ok_or(Error::MalformedShare { holder: share.holder })?;
			*acc += value * basis;
		}
	}
	let mut secret = [0u8; 32];
	for (half, value) in halves.iter().enumerate() {
		let bytes = value.to_bytes();
		// A correct reconstruction is below 2^128; anything else means a
		// share was wrong.
		if bytes[16..].iter().any(|b| *b != 0) {
			return Err(Error::InconsistentShares);
		}
		secret[half * 16..half * 16 + 16].copy_from_slice(&bytes[..16]);
	}
	halves.zeroize();
	Ok(secret)
}

#[cfg(test)]
mod tests {
	use super::*;
	use proptest::prelude::*;
	use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

	#[test]
	fn threshold_one_is_the_secret_itself() {
		// Test vector: with t = 1 the polynomial is constant, so every share
		// holds the two halves of the secret as scalars.
		let secret: [u8; 32] = core::array::from_fn(|i| i as u8);
		let shares = split(&secret, &[0, 5], 1, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
		let mut lo = [0u8; 32];
		lo[..16].copy_from_slice(&secret[..16]);
		assert_eq!(shares[1].values[0], lo);
		assert_eq!(reconstruct(&shares[1..], 1).unwrap(), secret);
	}

	#[test]
	fn known_polynomial_test_vector() {
		// Secret halves (lo = 7, hi = 0) with t = 2 and the RNG replaced by
		// a fixed slope: reconstructing from hand-built shares f(x) = 7 + 3x
		// at x = 1, 2 (holders 0, 1) gives back 7.
		let share = |holder: MemberId, v: u64| {
			let mut values = [[0u8; 32]; 2];
			values[0] = Scalar::from(v).to_bytes();
			values[1] = Scalar::from(2 * (u64::from(holder) + 1)).to_bytes(); // g(x) = 0 + 2x
			Share { holder, values }
		};
		let secret = reconstruct(&[share(0, 10), share(1, 13)], 2).unwrap();
		let mut expect = [0u8; 32];
		expect[0] = 7;
		assert_eq!(secret, expect);
	}

	#[test]
	fn fewer_than_threshold_is_a_named_error() {
		let mut rng = ChaCha20Rng::seed_from_u64(2);
		let shares = split(&[9; 32], &[0, 1, 2, 3], 3, &mut rng).unwrap();
		assert_eq!(reconstruct(&shares[..2], 3), Err(Error::NotEnoughShares { have: 2, need: 3 }));
		let dup = vec![shares[0].clone(), shares[0].clone(), shares[1].clone()];
		assert_eq!(reconstruct(&dup, 3), Err(Error::DuplicateShare { holder: 0 }));
		assert_eq!(split(&[9; 32], &[0, 1], 3, &mut rng).err(), Some(Error::BadThreshold { threshold: 3, holders: 2 }));
	}

	#[test]
	fn a_tampered_share_does_not_reconstruct_the_secret() {
		let mut rng = ChaCha20Rng::seed_from_u64(3);
		let mut shares = split(&[5; 32], &[0, 1, 2], 3, &mut rng).unwrap();
		shares[1].values[0][0] ^= 1;
		assert_ne!(reconstruct(&shares, 3).ok(), Some([5; 32]));
	}

	proptest! {
		#[test]
		fn any_threshold_subset_reconstructs(
			secret in any::<[u8; 32]>(),
			n in 1usize..12,
			t_frac in 0.0f64..1.0,
			seed in any::<u64>(),
			pick in any::<u64>(),
		) {
			let t = 1 + ((n - 1) as f64 * t_frac) as usize;
			let holders: Vec<MemberId> = (0..n as u32).map(|i| i * 3 + 1).collect();
			let mut rng = ChaCha20Rng::seed_from_u64(seed);
			let shares = split(&secret, &holders, t, &mut rng).unwrap();
			// A pseudo-random subset of size t, in pseudo-random order.
			let mut order: Vec<usize> = (0..n).collect();
			let mut p = pick;
			for i in (1..n).rev() {
				order.swap(i, (p % (i as u64 + 1)) as usize);
				p = p.rotate_left(7) ^ 0x9e37_79b9_7f4a_7c15;
			}
			let subset: Vec<Share> = order[..t].iter().map(|i| shares[*i].clone()).collect();
			prop_assert_eq!(reconstruct(&subset, t).unwrap(), secret);
		}
	}
}
