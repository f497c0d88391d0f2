//! Fixed-point encoding of real numbers into a ring, with an explicit scale.
//!
//! A value `x` is encoded as the integer `round(x * 2^f)` (`f` fractional
//! bits), stored in two's complement in Z_2^k. Integers with `f = 0` are
//! exact; a float is exact to within `2^-(f+1)`, so a sum over `n` members
//! is within `n * 2^-(f+1)` of the true sum.
//!
//! The sum of `n` encoded values must not wrap around the ring, or the
//! result would be silently wrong (the original Delta's int64 overflow). So
//! an encoder is built for a maximum number of summands and refuses any
//! value whose magnitude exceeds `(2^(k-1) - 1) / max_summands`; clipping
//! to that bound happens only when the caller asks for it.

use serde::{Deserialize, Serialize};

use crate::{
	ring::{Ring, RingVector},
	Error,
};

/// How to turn real numbers into ring elements and back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedPoint {
	/// The ring the encoded vector lives in.
	pub ring: Ring,
	/// Fractional bits: the scale is `2^fractional_bits`.
	pub fractional_bits: u32,
	/// The most values that will be summed; bounds each value so that the
	/// sum cannot wrap.
	pub max_summands: u32,
}

impl FixedPoint {
	/// An encoder; refuses scales that leave no room for an integer part.
	pub fn new(ring: Ring, fractional_bits: u32, max_summands: u32) -> Result<Self, Error> {
		// `fractional_bits` comes from the requester's announcement: bound it
		// before adding to it (u32::MAX + 2 overflowed).
		if max_summands == 0 || fractional_bits > 96 || fractional_bits + 2 > ring.bits() {
			return Err(Error::BadEncoding { ring, fractional_bits, max_summands });
		}
		let encoder = Self { ring, fractional_bits, max_summands };
		if encoder.max_abs_encoded() == 0 {
			return Err(Error::BadEncoding { ring, fractional_bits, max_summands });
		}
		Ok(encoder)
	}

	/// The largest encoded magnitude one value may have.
	pub fn max_abs_encoded(&self) -> i128 {
		let half: i128 = if self.ring.bits() == 128 { i128::MAX } else { (1i128 << (self.ring.bits() - 1)) - 1 };
		half / i128::from(self.max_summands)
	}

	/// The largest magnitude one real value may have.
	pub fn max_abs_value(&self) -> f64 {
		self.max_abs_encoded() as f64 / self.scale()
	}

	fn scale(&self) -> f64 {
		(2.0f64).powi(self.fractional_bits as i32)
	}

	fn to_ring(&self, encoded: &[i128]) -> RingVector {
		match self.ring {
			Ring::Bits32 => RingVector::U32(encoded.iter().map(|v| *v as u32).collect()),
			Ring::Bits64 => RingVector::U64(encoded.iter().map(|v| *v as u64).collect()),
			Ring::Bits128 => RingVector::U128(encoded.iter().map(|v| *v as u128).collect()),
		}
	}

	/// Encodes floats; a value out of range or not finite is an error.
	pub fn encode_f64(&self, values: &[f64]) -> Result<RingVector, Error> {
		if let Some(encoded) = self.encode_floats_in_range(values, |v| v) {
			return Ok(encoded);
		}
		self.encode_floats(values.iter().copied())
	}

	/// Encodes 32-bit floats (a model's weights) as [`Self::encode_f64`]
	/// would their 64-bit values, without a 64-bit copy of the vector.
	pub fn encode_f32(&self, values: &[f32]) -> Result<RingVector, Error> {
		if let Some(encoded) = self.encode_floats_in_range(values, f64::from) {
			return Ok(encoded);
		}
		self.encode_floats(values.iter().map(|v| f64::from(*v)))
	}

	fn encode_floats(&self, values: impl ExactSizeIterator<Item = f64>) -> Result<RingVector, Error> {
		let max = self.max_abs_encoded();
		let scale = self.scale();
		self.encode_scaled(values, None, |index, value| {
			let scaled = round_half_away(value * scale);
			if !scaled.is_finite() || scaled.abs() > max as f64 {
				return Err(Error::OutOfRange { index, value, max: self.max_abs_value() });
			}
			Ok(scaled)
		})
	}

	/// [`encode_floats`](Self::encode_floats) in a 32- or 64-bit ring, in
	/// one pass with no branch on a value so that it vectorises (the
	/// checked loop, which stops at the first bad value, took 3 ms per 1e6
	/// values): the same elements, or None where some scaled value is past
	/// 2^51 (where the pass's rounding is not exact; such a value is rare,
	/// and the checked loop encodes it), out of range or not finite, which
	/// the checked loop then names.
	fn encode_floats_in_range<T: Copy>(&self, values: &[T], to_f64: impl Fn(T) -> f64) -> Option<RingVector> {
		let (scale, max) = (self.scale(), i64::try_from(self.max_abs_encoded()).ok()?);
		Some(match self.ring {
			Ring::Bits32 => RingVector::U32(encode_exact(values, &to_f64, scale, max, |i| i as u32)?),
			Ring::Bits64 => RingVector::U64(encode_exact(values, &to_f64, scale, max, |i| i as u64)?),
			Ring::Bits128 => return None,
		})
	}

	/// Encodes floats, clipping each to `±max_abs_value()`; NaN is still an
	/// error, since no clipped value stands for it.
	pub fn encode_f64_clipped(&self, values: &[f64]) -> Result<RingVector, Error> {
		let max = self.max_abs_encoded();
		let scale = self.scale();
		// `max as f64` may round up past max: the integer is clamped too.
		self.encode_scaled(values.iter().copied(), Some(max), |index, value| {
			if value.is_nan() {
				return Err(Error::OutOfRange { index, value, max: self.max_abs_value() });
			}
			Ok(round_half_away(value * scale).clamp(-(max as f64), max as f64))
		})
	}

	/// The ring elements of the integral floats `scaled` returns (already
	/// checked against the range), clamped to `±clip` if given, wrapped
	/// into the ring. A value below 2^63 converts through i64, one
	/// instruction, rather than through i128 (a library call per element:
	/// half of encoding a model's weights).
	fn encode_scaled(
		&self,
		values: impl ExactSizeIterator<Item = f64>,
		clip: Option<i128>,
		scaled: impl Fn(usize, f64) -> Result<f64, Error>,
	) -> Result<RingVector, Error> {
		const TWO_63: f64 = 9_223_372_036_854_775_808.0;
		let integer = |x: f64| -> i128 {
			let v = if x.abs() < TWO_63 { i128::from(x as i64) } else { x as i128 };
			match clip {
				Some(m) => v.clamp(-m, m),
				None => v,
			}
		};
		let wrapped = |x: f64| -> u64 { integer(x) as u64 };
		Ok(match self.ring {
			Ring::Bits32 => {
				let mut out = Vec::with_capacity(values.len());
				for (index, value) in values.enumerate() {
					out.push(wrapped(scaled(index, value)?) as u32);
				}
				RingVector::U32(out)
			},
			Ring::Bits64 => {
				let mut out = Vec::with_capacity(values.len());
				for (index, value) in values.enumerate() {
					out.push(wrapped(scaled(index, value)?));
				}
				RingVector::U64(out)
			},
			Ring::Bits128 => {
				let mut out = Vec::with_capacity(values.len());
				for (index, value) in values.enumerate() {
					out.push(integer(scaled(index, value)?) as u128);
				}
				RingVector::U128(out)
			},
		})
	}

	/// Encodes integers exactly (scaled by `2^fractional_bits`).
	pub fn encode_i64(&self, values: &[i64]) -> Result<RingVector, Error> {
		let max = self.max_abs_encoded();
		let mut encoded = Vec::with_capacity(values.len());
		for (index, value) in values.iter().enumerate() {
			let scaled = i128::from(*value)
				.checked_shl(self.fractional_bits)
				.filter(|v| v >> self.fractional_bits == i128::from(*value) && v.abs() <= max);
			match scaled {
				Some(v) => encoded.push(v),
				None => return Err(Error::OutOfRange { index, value: *value as f64, max: self.max_abs_value() }),
			}
		}
		Ok(self.to_ring(&encoded))
	}

	/// Decodes a sum to integers in units of `2^-fractional_bits`.
	pub fn decode_scaled(&self, sum: &RingVector) -> Result<Vec<i128>, Error> {
		if sum.ring() != self.ring {
			return Err(Error::RingMismatch { expected: self.ring, got: sum.ring() });
		}
		let bits = self.ring.bits();
		Ok(sum
			.to_u128()
			.into_iter()
			.map(|v| if bits == 128 { v as i128 } else { ((v << (128 - bits)) as i128) >> (128 - bits) })
			.collect())
	}

	/// Decodes a sum to floats. Rings narrower than 128 bits sign-extend
	/// through their own signed type, the same value as through i128
	/// without a 16-byte copy per element.
	pub fn decode_f64(&self, sum: &RingVector) -> Result<Vec<f64>, Error> {
		if sum.ring() != self.ring {
			return Err(Error::RingMismatch { expected: self.ring, got: sum.ring() });
		}
		let scale = self.scale();
		Ok(match sum {
			RingVector::U32(v) => v.iter().map(|x| f64::from(*x as i32) / scale).collect(),
			RingVector::U64(v) => v.iter().map(|x| *x as i64 as f64 / scale).collect(),
			RingVector::U128(v) => v.iter().map(|x| *x as i128 as f64 / scale).collect(),
		})
	}
}

/// `values` scaled and rounded half away from zero, each as `element`
/// makes it from its integer; None where a scaled value is not below 2^51
/// in magnitude (or is NaN) or its integer is past `max`.
///
/// Below 2^51, adding 1.5·2^52 lands a float in [2^52, 2^53), where the
/// floats are the integers, so the addition rounds it to the nearest
/// integer (ties to even), whose bits are the sum's less the constant's;
/// a tie (a fraction of exactly ±1/2, exact below 2^51) is then moved
/// away from zero. Nothing here is more than baseline x86-64's SSE2
/// offers lane by lane (it has no conversion of a float to a 64-bit
/// integer), so the loop vectorises.
fn encode_exact<T: Copy, E: Copy + Default>(
	values: &[T],
	to_f64: &impl Fn(T) -> f64,
	scale: f64,
	max: i64,
	element: impl Fn(i64) -> E,
) -> Option<Vec<E>> {
	const ROUNDER: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52
	const EXACT_BELOW: f64 = 2_251_799_813_685_248.0; // 2^51
	let max = max as f64;
	let mut out = vec![E::default(); values.len()];
	// A plain loop over the two slices, `bad` a local: collected from an
	// iterator, `bad` lived in memory and nothing vectorised.
	let mut bad = false;
	for (o, v) in out.iter_mut().zip(values) {
		let x = to_f64(*v) * scale;
		let shifted = x + ROUNDER;
		let nearest = shifted - ROUNDER;
		let fraction = x - nearest;
		let up = fraction == 0.5 && x > 0.0;
		let down = fraction == -0.5 && x < 0.0;
		let rounded = nearest + f64::from(u8::from(up)) - f64::from(u8::from(down));
		// `!(a < b)` is also true for NaN.
		bad |= !(x.abs() < EXACT_BELOW) | (rounded.abs() > max);
		let bits = (shifted.to_bits() as i64).wrapping_sub(ROUNDER.to_bits() as i64);
		*o = element(bits.wrapping_add(i64::from(up)).wrapping_sub(i64::from(down)));
	}
	(!bad).then_some(out)
}

/// `x` rounded to the nearest integer, halves away from zero: what
/// `f64::round` returns (but for the sign of a zero), without its libm
/// call (baseline x86-64 has no
/// rounding instruction; the call was a third of encoding a 1M-weight
/// update). Below 2^52 the fraction x - trunc(x) is exact; from 2^52 on
/// every float is an integer, and NaN and the infinities come back as
/// they are.
#[inline]
pub fn round_half_away(x: f64) -> f64 {
	// 2^52.
	const INTEGERS_FROM: f64 = 4_503_599_627_370_496.0;
	// Also NaN, for which every comparison is false.
	if x.is_nan() || x.abs() >= INTEGERS_FROM {
		return x;
	}
	let whole = (x as i64) as f64;
	let fraction = x - whole;
	// Comparisons as numbers, not branches: a fraction is a coin toss.
	whole + f64::from(u8::from(fraction >= 0.5)) - f64::from(u8::from(fraction <= -0.5))
}

/// [`round_half_away`] to an integer, saturating at i64's range as `as`
/// does, in integer steps (the members' noise lattice rounds this way).
#[inline]
pub fn round_half_away_to_i64(x: f64) -> i64 {
	let whole = x as i64;
	let fraction = x - whole as f64;
	whole.saturating_add(i64::from(fraction >= 0.5)).saturating_sub(i64::from(fraction <= -0.5))
}

#[cfg(test)]
mod tests {
	use super::*;
	use proptest::prelude::*;

	#[test]
	fn rounding_matches_f64_round() {
		for x in [
			0.0,
			-0.0,
			0.4,
			0.5,
			0.6,
			1.5,
			2.5,
			-0.5,
			-0.49,
			-1.5,
			-2.6,
			4503599627370495.5,
			4503599627370497.0,
			1e17,
			-1e17,
			12345.678,
			0.49999999999999994,
			-0.49999999999999994,
			f64::MAX,
			f64::MIN,
		] {
			assert_eq!(round_half_away(x), x.round(), "{x}");
		}
		for x in [0.0, 0.4, 0.5, 0.6, 1.5, 2.5, -0.5, -0.49, -1.5, -2.6, 4503599627370495.5, 1e17, -1e17, 12345.678] {
			assert_eq!(round_half_away_to_i64(x), x.round() as i64, "{x}");
		}
		assert_eq!(round_half_away_to_i64(1e300), i64::MAX);
		assert_eq!(round_half_away_to_i64(-1e300), i64::MIN);
		assert!(round_half_away(f64::NAN).is_nan());
		assert_eq!(round_half_away(f64::INFINITY), f64::INFINITY);
		assert_eq!(round_half_away(f64::NEG_INFINITY), f64::NEG_INFINITY);
	}

	#[test]
	fn test_vectors() {
		let e = FixedPoint::new(Ring::Bits32, 8, 1).unwrap();
		assert_eq!(
			e.encode_f64(&[1.0, -1.0, 0.5, 0.00390625]).unwrap(),
			RingVector::U32(vec![256, 0xffff_ff00, 128, 1])
		);
		// Rounds to nearest: 0.001 * 256 = 0.256 -> 0.
		assert_eq!(e.encode_f64(&[0.001]).unwrap(), RingVector::U32(vec![0]));
		let e = FixedPoint::new(Ring::Bits64, 0, 1).unwrap();
		assert_eq!(e.encode_i64(&[-2, 3]).unwrap(), RingVector::U64(vec![u64::MAX - 1, 3]));
		assert_eq!(e.decode_scaled(&RingVector::U64(vec![u64::MAX - 1, 3])).unwrap(), vec![-2, 3]);
		let e = FixedPoint::new(Ring::Bits128, 16, 1).unwrap();
		assert_eq!(e.decode_f64(&e.encode_f64(&[-3.25]).unwrap()).unwrap(), vec![-3.25]);
		assert_eq!(
			e.decode_f64(&RingVector::U64(vec![1])),
			Err(Error::RingMismatch { expected: Ring::Bits128, got: Ring::Bits64 })
		);
	}

	#[test]
	fn bounds_leave_room_for_the_sum() {
		let e = FixedPoint::new(Ring::Bits32, 0, 4).unwrap();
		assert_eq!(e.max_abs_encoded(), (i32::MAX as i128) / 4);
		assert!(e.encode_i64(&[536_870_911]).is_ok());
		assert_eq!(
			e.encode_i64(&[0, 536_870_912]),
			Err(Error::OutOfRange { index: 1, value: 536_870_912.0, max: 536_870_911.0 })
		);
		assert!(matches!(e.encode_f64(&[f64::NAN]), Err(Error::OutOfRange { index: 0, .. })));
		assert!(matches!(e.encode_f64(&[f64::INFINITY]), Err(Error::OutOfRange { .. })));
		assert_eq!(
			e.encode_f64_clipped(&[1e12, -1e12]).unwrap(),
			RingVector::U32(vec![536_870_911, (-536_870_911i32) as u32])
		);
		assert!(FixedPoint::new(Ring::Bits32, 31, 1).is_err());
		assert!(FixedPoint::new(Ring::Bits64, 10, 0).is_err());
	}

	#[test]
	fn the_i64_fast_path_encodes_as_the_i128_reference_at_the_ring_edges() {
		let reference = |e: &FixedPoint, x: f64| -> i128 {
			let max = e.max_abs_encoded();
			((x * e.scale()).round().clamp(-(max as f64), max as f64) as i128).clamp(-max, max)
		};
		for (ring, bits) in [(Ring::Bits32, 8), (Ring::Bits64, 0), (Ring::Bits64, 24), (Ring::Bits128, 0)] {
			// One summand: the bound is 2^(k-1) - 1, which f64 rounds up to 2^(k-1).
			let e = FixedPoint::new(ring, bits, 1).unwrap();
			let edge = e.max_abs_value();
			for x in [edge, -edge, edge * 2.0, -edge * 2.0, 1e300, -1e300, -0.0, 0.4999, -2.5] {
				let want = reference(&e, x);
				let got = e.encode_f64_clipped(&[x]).unwrap();
				assert_eq!(got, e.to_ring(&[want]), "{ring:?} {x}");
				if x.abs() <= edge && e.encode_f64(&[x]).is_ok() {
					assert_eq!(e.encode_f64(&[x]).unwrap(), e.to_ring(&[(x * e.scale()).round() as i128]), "{x}");
				}
			}
		}
	}

	#[test]
	fn a_long_vector_encodes_as_its_values_one_by_one_and_names_its_first_bad_value() {
		for ring in [Ring::Bits32, Ring::Bits64, Ring::Bits128] {
			let e = FixedPoint::new(ring, 4, 3).unwrap();
			let edge = e.max_abs_value();
			let values: Vec<f64> = (0..1000)
				.map(|i| [0.5, -0.5, 1.03125, -2.96875, -0.0, edge, -edge][i % 7] * (1.0 - (i / 7) as f64 * 1e-3))
				.collect();
			let one_by_one: Vec<u128> = values.iter().flat_map(|v| e.encode_f64(&[*v]).unwrap().to_u128()).collect();
			assert_eq!(e.encode_f64(&values).unwrap().to_u128(), one_by_one, "{ring:?}");
			for (at, bad) in [(700, f64::NAN), (701, f64::INFINITY), (999, edge * 2.0)] {
				let mut broken = values.clone();
				broken[at] = bad;
				broken[at + 1..].fill(f64::NAN);
				match e.encode_f64(&broken) {
					Err(Error::OutOfRange { index, .. }) => assert_eq!(index, at, "{ring:?} {bad}"),
					other => panic!("{ring:?} {bad}: {other:?}"),
				}
			}
		}
	}

	#[test]
	fn any_stated_scale_is_refused_or_accepted_without_overflow() {
		// Regression (fuzz/corpus/peer_message/regression-fractional-bits):
		// an announcement's fractional bits near u32::MAX overflowed the
		// bound check instead of being refused.
		for bits in [u32::MAX, u32::MAX - 1, 97, 1 << 31] {
			for ring in [Ring::Bits32, Ring::Bits64, Ring::Bits128] {
				assert!(matches!(FixedPoint::new(ring, bits, 3), Err(Error::BadEncoding { .. })), "{bits} {ring:?}");
			}
		}
		assert!(FixedPoint::new(Ring::Bits128, 96, 1).is_ok());
	}

	proptest! {
		#[test]
		fn sums_of_in_range_values_decode_exactly(
			values in proptest::collection::vec(-1_000_000i64..1_000_000, 1..50),
			bits in 0u32..12,
		) {
			for ring in [Ring::Bits32, Ring::Bits64, Ring::Bits128] {
				let e = FixedPoint::new(ring, bits, values.len() as u32).unwrap();
				let Ok(first) = e.encode_i64(&values[..1]) else { continue };
				let mut sum = RingVector::zeros(ring, 1);
				sum.add_assign(&first);
				let mut ok = true;
				for v in &values[1..] {
					match e.encode_i64(&[*v]) {
						Ok(x) => { sum.add_assign(&x); },
						Err(_) => { ok = false; break; },
					}
				}
				if ok {
					let expect: i128 = values.iter().map(|v| i128::from(*v) << bits).sum();
					prop_assert_eq!(e.decode_scaled(&sum).unwrap(), vec![expect]);
				}
			}
		}

		#[test]
		fn floats_encode_as_the_i128_reference(x in -1e9f64..1e9, bits in 0u32..30) {
			for ring in [Ring::Bits32, Ring::Bits64, Ring::Bits128] {
				let e = FixedPoint::new(ring, bits, 7).unwrap();
				let scaled = (x * e.scale()).round();
				if scaled.abs() <= e.max_abs_encoded() as f64 {
					prop_assert_eq!(e.encode_f64(&[x]).unwrap(), e.to_ring(&[scaled as i128]));
				}
			}
		}

		#[test]
		fn f32_values_encode_as_their_f64_values(xs in proptest::collection::vec(-1e6f32..1e6, 0..20), bits in 0u32..20) {
			for ring in [Ring::Bits32, Ring::Bits64, Ring::Bits128] {
				let Ok(e) = FixedPoint::new(ring, bits, 3) else { continue };
				let wide: Vec<f64> = xs.iter().map(|v| f64::from(*v)).collect();
				prop_assert_eq!(e.encode_f32(&xs), e.encode_f64(&wide));
			}
		}

		#[test]
		fn floats_decode_as_the_i128_reference(raw in proptest::collection::vec(any::<u128>(), 0..20), bits in 0u32..30) {
			for ring in [Ring::Bits32, Ring::Bits64, Ring::Bits128] {
				let e = FixedPoint::new(ring, bits, 1).unwrap();
				let sum = match ring {
					Ring::Bits32 => RingVector::U32(raw.iter().map(|v| *v as u32).collect()),
					Ring::Bits64 => RingVector::U64(raw.iter().map(|v| *v as u64).collect()),
					Ring::Bits128 => RingVector::U128(raw.clone()),
				};
				let want: Vec<f64> = e.decode_scaled(&sum).unwrap().into_iter().map(|v| v as f64 / e.scale()).collect();
				prop_assert_eq!(e.decode_f64(&sum).unwrap(), want);
			}
		}

		#[test]
		fn floats_round_trip_within_half_a_unit(x in -1e6f64..1e6, bits in 0u32..30) {
			let e = FixedPoint::new(Ring::Bits64, bits, 1).unwrap();
			let back = e.decode_f64(&e.encode_f64(&[x]).unwrap()).unwrap()[0];
			prop_assert!((back - x).abs() <= 0.5 / (2f64).powi(bits as i32) + 1e-9);
		}
	}
}
