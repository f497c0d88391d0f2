//! Typed step outputs: each output a named tensor with an element type and
//! a shape, declared in the step before any member sees data, and encoded
//! for secure summation by its type: floats in fixed point, integers
//! exactly. Values travel between the worker and task code as raw
//! little-endian bytes in the declared types, never as JSON numbers.

use delta_dp::{Lattice, NoiseRng, Privacy};
use delta_secagg::{element_bytes, FixedPoint, Ring, RingVector};
use serde::{Deserialize, Serialize};

use crate::{io::Encoding, EngineError};

/// Most elements one step may declare in all its outputs (a model of 64
/// million parameters); a larger step is refused before anything runs.
pub const MAX_STEP_ELEMENTS: usize = 1 << 26;

/// The element type of an output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DType {
	/// 64-bit floats; summed in fixed point.
	F64,
	/// 32-bit floats (model weights); summed in fixed point, the sum
	/// returned as 64-bit floats.
	F32,
	/// 64-bit integers (counts); summed exactly.
	I64,
}

impl DType {
	/// Every type, with the name task code and the runner use.
	pub const ALL: [(DType, &'static str); 3] =
		[(DType::F64, "float64"), (DType::F32, "float32"), (DType::I64, "int64")];

	/// The type named `name` (`float64`, `float32`, `int64`).
	pub fn from_name(name: &str) -> Option<DType> {
		Self::ALL.iter().find(|(_, n)| *n == name).map(|(d, _)| *d)
	}

	/// Its name.
	pub fn name(self) -> &'static str {
		Self::ALL.iter().find(|(d, _)| *d == self).map_or("float64", |(_, n)| n)
	}

	/// Bytes per element as task code returns it.
	pub fn size(self) -> usize {
		match self {
			DType::F32 => 4,
			DType::F64 | DType::I64 => 8,
		}
	}

	/// The type of the sum of such elements.
	pub fn sum_type(self) -> DType {
		match self {
			DType::F32 => DType::F64,
			other => other,
		}
	}
}

/// Fewest fractional bits a float output may keep in the 32-bit ring: a
/// step is summed there only if each of its float outputs keeps at least
/// this many (a resolution of about 1e-6 of a unit, finer than a float32
/// weight's own near 1).
pub const MIN_FRACTIONAL_BITS_32: u32 = 20;

/// Most fractional bits a bounded float output is given: a float64 holds
/// 53 significant bits, so more would only narrow the range.
pub const MAX_FRACTIONAL_BITS: u32 = 52;

/// One declared output of a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputSpec {
	/// Its name, unique in the step.
	pub name: String,
	/// Its element type.
	pub dtype: DType,
	/// Its shape; empty for a scalar.
	pub shape: Vec<u32>,
	/// The largest magnitude one member's value may have, if the task
	/// declares one. A member refuses a value past it, and a float
	/// output's fixed-point precision is chosen from it: as many
	/// fractional bits as the ring holds for that many members' sum.
	/// Without it, floats use the task's `Encoding::fractional_bits`.
	pub bound: Option<f64>,
}

impl OutputSpec {
	/// A flat float64 output of `len` elements.
	pub fn floats(name: &str, len: u32) -> Self {
		Self::new(name, DType::F64, vec![len])
	}

	/// An output without a declared bound.
	pub fn new(name: &str, dtype: DType, shape: Vec<u32>) -> Self {
		Self { name: name.to_string(), dtype, shape, bound: None }
	}

	/// The same output with every member's values bounded by `bound` in
	/// magnitude.
	pub fn bounded(mut self, bound: f64) -> Self {
		self.bound = Some(bound);
		self
	}

	/// The fractional bits this output is encoded with in `encoding`'s
	/// ring for `max_summands` members: 0 for integers, the most that fit
	/// the declared bound for a bounded float (at most
	/// [`MAX_FRACTIONAL_BITS`]), the encoding's own otherwise.
	pub fn fractional_bits(&self, encoding: &Encoding, max_summands: u32) -> Result<u32, EngineError> {
		if self.dtype == DType::I64 {
			return Ok(0);
		}
		let Some(bound) = self.bound else { return Ok(encoding.fractional_bits) };
		let unit = FixedPoint::new(encoding.ring, 0, max_summands.max(1))?;
		let room = unit.max_abs_encoded() as f64 / bound;
		// The largest f with bound * 2^f within the ring's share for one
		// member.
		let bits = room.log2().floor();
		let most = MAX_FRACTIONAL_BITS.min(encoding.ring.bits().saturating_sub(2));
		if !(bits >= 0.0) {
			return Err(EngineError::Executor(format!(
				"output {:?}: a bound of {bound} for {max_summands} members does not fit the {}-bit ring",
				self.name,
				encoding.ring.bits()
			)));
		}
		Ok((bits as u32).min(most))
	}

	/// Elements in the output (1 for a scalar), or `None` past
	/// [`MAX_STEP_ELEMENTS`].
	pub fn elements(&self) -> Option<usize> {
		self.shape.iter().try_fold(1usize, |n, d| n.checked_mul(*d as usize)).filter(|n| *n <= MAX_STEP_ELEMENTS)
	}
}

/// Checks a step's outputs (unique names, sizes within bounds); returns
/// the total number of elements.
pub fn check_outputs(outputs: &[OutputSpec]) -> Result<usize, EngineError> {
	let mut total = 0usize;
	for (i, o) in outputs.iter().enumerate() {
		if o.name.is_empty() || outputs[..i].iter().any(|p| p.name == o.name) {
			return Err(EngineError::Executor(format!(
				"the step's output names must be unique and non-empty ({:?})",
				o.name
			)));
		}
		let n = o.elements().ok_or_else(|| too_large(&o.name))?;
		total = total.checked_add(n).filter(|t| *t <= MAX_STEP_ELEMENTS).ok_or_else(|| too_large(&o.name))?;
		if let Some(bound) = o.bound {
			if !(bound.is_finite() && bound > 0.0) {
				return Err(EngineError::Executor(format!(
					"output {:?}: its bound must be a positive finite number, not {bound}",
					o.name
				)));
			}
		}
	}
	Ok(total)
}

/// The encoding a round of a step with these outputs uses, given the
/// task's: the 32-bit ring, which halves every masked message, when the
/// task asked for the default 64-bit ring and every output declares a
/// bound that leaves each float output at least
/// [`MIN_FRACTIONAL_BITS_32`] fractional bits (and each integer output its
/// range) there; the task's encoding otherwise. Both sides compute it: the
/// requester announces it, and a member encodes with what was announced.
pub fn step_encoding(outputs: &[OutputSpec], task: &Encoding, max_summands: u32, private: bool) -> Encoding {
	// A private step's lattice is sized by its noise, not its bounds.
	if private || task.ring != Ring::Bits64 || outputs.is_empty() {
		return *task;
	}
	let narrow = Encoding { ring: Ring::Bits32, fractional_bits: task.fractional_bits.min(29) };
	let fits = outputs.iter().all(|o| {
		let Some(bound) = o.bound else { return false };
		match o.dtype {
			DType::I64 => {
				FixedPoint::new(Ring::Bits32, 0, max_summands.max(1)).is_ok_and(|e| bound <= e.max_abs_encoded() as f64)
			},
			DType::F32 | DType::F64 => {
				o.fractional_bits(&narrow, max_summands).is_ok_and(|bits| bits >= MIN_FRACTIONAL_BITS_32)
			},
		}
	});
	if fits {
		narrow
	} else {
		*task
	}
}

fn shorter() -> EngineError {
	EngineError::Executor("the sum is shorter than the step's outputs".into())
}

fn too_large(name: &str) -> EngineError {
	EngineError::Executor(format!("the step's outputs (at {name:?}) exceed {MAX_STEP_ELEMENTS} elements"))
}

/// An output's values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Values {
	/// 64-bit floats.
	F64(Vec<f64>),
	/// 32-bit floats.
	F32(Vec<f32>),
	/// 64-bit integers.
	I64(Vec<i64>),
}

impl Values {
	/// Number of elements.
	pub fn len(&self) -> usize {
		match self {
			Values::F64(v) => v.len(),
			Values::F32(v) => v.len(),
			Values::I64(v) => v.len(),
		}
	}

	/// Whether there are none.
	pub fn is_empty(&self) -> bool {
		self.len() == 0
	}

	/// Their type.
	pub fn dtype(&self) -> DType {
		match self {
			Values::F64(_) => DType::F64,
			Values::F32(_) => DType::F32,
			Values::I64(_) => DType::I64,
		}
	}

	/// The values as floats (integers converted), for hosts that want one
	/// type.
	pub fn to_f64(&self) -> Vec<f64> {
		match self {
			Values::F64(v) => v.clone(),
			Values::F32(v) => v.iter().map(|x| f64::from(*x)).collect(),
			Values::I64(v) => v.iter().map(|x| *x as f64).collect(),
		}
	}

	/// Little-endian bytes of the values in their own type.
	pub fn to_le_bytes(&self) -> Vec<u8> {
		self.le_bytes().into_owned()
	}

	/// The same bytes, borrowed from the values themselves on a
	/// little-endian host.
	fn le_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
		match self {
			Values::F64(v) => element_bytes(v, f64::to_le_bytes),
			Values::F32(v) => element_bytes(v, f32::to_le_bytes),
			Values::I64(v) => element_bytes(v, i64::to_le_bytes),
		}
	}

	/// Values of `dtype` from little-endian bytes.
	pub fn from_le_bytes(dtype: DType, bytes: &[u8]) -> Option<Values> {
		if bytes.len() % dtype.size() != 0 {
			return None;
		}
		// On a little-endian host the bytes are the values: one copy into
		// an aligned vector. Elsewhere, one loop per type.
		fn read<T: bytemuck::Pod, const N: usize>(bytes: &[u8], from_le: impl Fn([u8; N]) -> T) -> Vec<T> {
			if cfg!(target_endian = "little") {
				let mut out = vec![T::zeroed(); bytes.len() / N];
				bytemuck::cast_slice_mut::<T, u8>(&mut out).copy_from_slice(bytes);
				return out;
			}
			bytes.chunks_exact(N).map(|c| from_le(c.try_into().unwrap_or([0; N]))).collect()
		}
		Some(match dtype {
			DType::F64 => Values::F64(read(bytes, f64::from_le_bytes)),
			DType::F32 => Values::F32(read(bytes, f32::from_le_bytes)),
			DType::I64 => Values::I64(read(bytes, i64::from_le_bytes)),
		})
	}
}

/// Splits the concatenated little-endian bytes of a step's outputs (each in
/// its declared type, in declared order) into values, checking every length.
pub fn split_bytes(outputs: &[OutputSpec], bytes: &[u8], sums: bool) -> Result<Vec<Values>, EngineError> {
	let mut at = 0usize;
	let mut out = Vec::with_capacity(outputs.len());
	for o in outputs {
		let dtype = if sums { o.dtype.sum_type() } else { o.dtype };
		let n = o.elements().ok_or_else(|| too_large(&o.name))?;
		let len = n * dtype.size();
		let chunk = bytes.get(at..at + len).ok_or_else(|| {
			EngineError::Executor(format!(
				"the values hold {} bytes; the step's outputs need {} (output {:?}: {n} × {})",
				bytes.len(),
				expected_bytes(outputs, sums),
				o.name,
				dtype.name()
			))
		})?;
		out.push(Values::from_le_bytes(dtype, chunk).ok_or_else(|| EngineError::Executor("malformed values".into()))?);
		at += len;
	}
	if at != bytes.len() {
		return Err(EngineError::Executor(format!(
			"the values hold {} bytes; the step's outputs need {}",
			bytes.len(),
			expected_bytes(outputs, sums)
		)));
	}
	Ok(out)
}

fn expected_bytes(outputs: &[OutputSpec], sums: bool) -> usize {
	outputs.iter().map(|o| o.elements().unwrap_or(0) * if sums { o.dtype.sum_type() } else { o.dtype }.size()).sum()
}

/// The concatenated little-endian bytes of values.
pub fn join_bytes(values: &[Values]) -> Vec<u8> {
	let mut out = Vec::with_capacity(values.iter().map(|v| v.len() * v.dtype().size()).sum());
	for v in values {
		out.extend_from_slice(&v.le_bytes());
	}
	out
}

/// The encoder of one output: floats in fixed point with the output's
/// fractional bits, integers exactly.
fn encoder_for(o: &OutputSpec, encoding: &Encoding, max_summands: u32) -> Result<FixedPoint, EngineError> {
	Ok(FixedPoint::new(encoding.ring, o.fractional_bits(encoding, max_summands)?, max_summands)?)
}

/// Refuses the first value past the output's declared bound, as the
/// encoder refuses one past the ring's range (`at`: the output's offset
/// in the whole vector).
fn check_bound(o: &OutputSpec, v: &Values, at: usize) -> Result<(), EngineError> {
	let Some(bound) = o.bound else { return Ok(()) };
	let past = match v {
		Values::F64(x) => x.iter().position(|v| !(v.abs() <= bound)).map(|i| (i, x[i])),
		Values::F32(x) => x.iter().position(|v| !(f64::from(v.abs()) <= bound)).map(|i| (i, f64::from(x[i]))),
		Values::I64(x) => x.iter().position(|v| !((*v as f64).abs() <= bound)).map(|i| (i, x[i] as f64)),
	};
	match past {
		Some((index, value)) => {
			Err(EngineError::SecAgg(delta_secagg::Error::OutOfRange { index: index + at, value, max: bound }))
		},
		None => Ok(()),
	}
}

/// Refuses values that differ from the declarations in number, type or
/// size.
fn check_declared(outputs: &[OutputSpec], values: &[Values]) -> Result<(), EngineError> {
	if values.len() != outputs.len() {
		return Err(EngineError::Executor(format!(
			"map returned {} outputs, the step declares {}",
			values.len(),
			outputs.len()
		)));
	}
	for (o, v) in outputs.iter().zip(values) {
		let n = o.elements().ok_or_else(|| too_large(&o.name))?;
		if v.dtype() != o.dtype || v.len() != n {
			return Err(EngineError::Executor(format!(
				"output {:?}: map returned {} {} values, the step declares {n} {}",
				o.name,
				v.len(),
				v.dtype().name(),
				o.dtype.name()
			)));
		}
	}
	Ok(())
}

/// The lattice of a step that asks for differential privacy: what the
/// members noise on and the requester decodes from, derived by both from
/// the step, the round's encoding and the ledger's threshold and member
/// bound.
pub fn private_lattice(
	outputs: &[OutputSpec],
	privacy: &Privacy,
	encoding: &Encoding,
	threshold: u32,
	max_summands: u32,
) -> Result<Lattice, EngineError> {
	let dim = check_outputs(outputs)?;
	Ok(Lattice::new(privacy, dim, threshold, max_summands, encoding.ring.bits())?)
}

/// A member's outputs for a private step, checked against their
/// declarations, as one ring vector: every output together clipped to the
/// L2 norm `privacy.clip`, scaled onto `lattice`, rounded and noised.
/// Declared bounds are checked too, before clipping. Returns the vector
/// and the norm before clipping (for the holder's log only: it is the
/// member's statistic).
pub fn encode_private(
	outputs: &[OutputSpec],
	values: &[Values],
	privacy: &Privacy,
	lattice: &Lattice,
	encoding: &Encoding,
	rng: &mut NoiseRng,
) -> Result<(RingVector, f64), EngineError> {
	check_declared(outputs, values)?;
	let mut flat: Vec<f64> = Vec::with_capacity(lattice.dim);
	for (o, v) in outputs.iter().zip(values) {
		check_bound(o, v, flat.len())?;
		match v {
			Values::F64(x) => flat.extend_from_slice(x),
			Values::F32(x) => flat.extend(x.iter().map(|v| f64::from(*v))),
			Values::I64(x) => flat.extend(x.iter().map(|v| *v as f64)),
		}
	}
	let (lattice_values, norm) = lattice.contribution(privacy, &flat, rng)?;
	// Two's complement in the ring: the sum wraps back to the signed sum.
	let ring = match encoding.ring {
		Ring::Bits32 => RingVector::U32(lattice_values.into_iter().map(|v| v as u32).collect()),
		Ring::Bits64 => RingVector::U64(lattice_values.into_iter().map(|v| v as u64).collect()),
		Ring::Bits128 => RingVector::U128(lattice_values.into_iter().map(|v| i128::from(v) as u128).collect()),
	};
	Ok((ring, norm))
}

/// Decodes the unmasked sum of a private step: floats as 64-bit floats,
/// integer outputs rounded to the nearest integer (their noise is not).
pub fn decode_private(outputs: &[OutputSpec], sum: &RingVector, lattice: &Lattice) -> Result<Vec<Values>, EngineError> {
	let bits = sum.ring().bits();
	let all = sum.to_u128();
	if all.len() != lattice.dim {
		return Err(EngineError::Executor("the sum does not match the step's outputs".into()));
	}
	let signed = |v: u128| -> i128 {
		if bits == 128 {
			v as i128
		} else if v >> (bits - 1) == 1 {
			v as i128 - (1i128 << bits)
		} else {
			v as i128
		}
	};
	let mut at = 0usize;
	let mut out = Vec::with_capacity(outputs.len());
	for o in outputs {
		let n = o.elements().ok_or_else(|| too_large(&o.name))?;
		let part = all[at..at + n].iter().map(|v| lattice.unscale(signed(*v)));
		at += n;
		out.push(match o.dtype {
			DType::F64 | DType::F32 => Values::F64(part.collect()),
			DType::I64 => Values::I64(part.map(|v| v.round() as i64).collect()),
		});
	}
	Ok(out)
}

/// Encodes a member's outputs, checked against their declarations, into
/// one ring vector (outputs in declared order).
pub fn encode(
	outputs: &[OutputSpec],
	values: &[Values],
	encoding: &Encoding,
	max_summands: u32,
) -> Result<RingVector, EngineError> {
	check_declared(outputs, values)?;
	// Each output straight into the round's ring, appended in place.
	let total = outputs.iter().map(|o| o.elements().unwrap_or(0)).sum();
	let mut all = RingVector::with_capacity(encoding.ring, total);
	for (o, v) in outputs.iter().zip(values) {
		check_bound(o, v, all.len())?;
		let e = encoder_for(o, encoding, max_summands)?;
		let ring = match v {
			Values::F64(x) => e.encode_f64(x),
			Values::F32(x) => e.encode_f32(x),
			Values::I64(x) => e.encode_i64(x),
		}
		.map_err(|err| match err {
			// Name the output; the index within the whole vector would not
			// mean anything to the task's author.
			delta_secagg::Error::OutOfRange { index, value, max } => {
				EngineError::SecAgg(delta_secagg::Error::OutOfRange { index: index + all.len(), value, max })
			},
			other => EngineError::SecAgg(other),
		})?;
		if !all.append(ring) {
			return Err(EngineError::Executor("an output was encoded in another ring".into()));
		}
	}
	Ok(all)
}

/// Decodes an unmasked sum into each output's sum: floats as 64-bit
/// floats, integers exactly.
pub fn decode(
	outputs: &[OutputSpec],
	sum: &RingVector,
	encoding: &Encoding,
	max_summands: u32,
) -> Result<Vec<Values>, EngineError> {
	let mut at = 0usize;
	let mut out = Vec::with_capacity(outputs.len());
	for o in outputs {
		let n = o.elements().ok_or_else(|| too_large(&o.name))?;
		let end = at.checked_add(n).filter(|end| *end <= sum.len());
		let part = match end {
			// One output (a model's weights, flattened): decoded in place.
			Some(end) if at == 0 && end == sum.len() => std::borrow::Cow::Borrowed(sum),
			Some(end) => std::borrow::Cow::Owned(sum.slice(at..end).ok_or_else(shorter)?),
			None => return Err(shorter()),
		};
		at += n;
		let e = encoder_for(o, encoding, max_summands)?;
		let part = part.as_ref();
		out.push(match o.dtype {
			DType::F64 | DType::F32 => Values::F64(e.decode_f64(part)?),
			DType::I64 => Values::I64(
				e.decode_scaled(part)?
					.into_iter()
					.map(|v| {
						i64::try_from(v)
							.map_err(|_| EngineError::Executor(format!("the sum of {:?} exceeds 64 bits", o.name)))
					})
					.collect::<Result<_, _>>()?,
			),
		});
	}
	if at != sum.len() {
		return Err(EngineError::Executor("the sum is longer than the step's outputs".into()));
	}
	Ok(out)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn outputs() -> Vec<OutputSpec> {
		vec![
			OutputSpec::new("w", DType::F32, vec![2, 3]),
			OutputSpec::new("n", DType::I64, vec![]),
			OutputSpec::floats("s", 2),
		]
	}

	#[test]
	fn counts_sum_exactly_and_floats_within_the_fixed_point_bound() {
		let encoding = Encoding::default();
		let a = vec![
			Values::F32(vec![0.5, -1.25, 3.0, 0.1, 0.2, 0.3]),
			Values::I64(vec![1_000_000_007]),
			Values::F64(vec![1.0 / 3.0, -2.0]),
		];
		let b = vec![Values::F32(vec![1.0; 6]), Values::I64(vec![-7]), Values::F64(vec![2.0 / 3.0, 0.5])];
		let mut sum = encode(&outputs(), &a, &encoding, 2).unwrap();
		sum.add_assign(&encode(&outputs(), &b, &encoding, 2).unwrap());
		let sums = decode(&outputs(), &sum, &encoding, 2).unwrap();
		assert_eq!(sums[1], Values::I64(vec![1_000_000_000]));
		let Values::F64(w) = &sums[0] else { panic!("{sums:?}") };
		assert_eq!(w.len(), 6);
		assert!((w[1] - (-0.25)).abs() < 1e-6 && (w[3] - 1.1).abs() < 1e-6, "{w:?}");
		let Values::F64(s) = &sums[2] else { panic!("{sums:?}") };
		assert!((s[0] - 1.0).abs() < 1e-6 && (s[1] + 1.5).abs() < 1e-6);
	}

	#[test]
	fn values_that_differ_from_the_declaration_are_refused() {
		let encoding = Encoding::default();
		let wrong_type = vec![Values::F64(vec![0.0; 6]), Values::I64(vec![1]), Values::F64(vec![0.0; 2])];
		let e = encode(&outputs(), &wrong_type, &encoding, 2).unwrap_err().to_string();
		assert!(e.contains("\"w\"") && e.contains("float32"), "{e}");
		let wrong_len = vec![Values::F32(vec![0.0; 5]), Values::I64(vec![1]), Values::F64(vec![0.0; 2])];
		assert!(encode(&outputs(), &wrong_len, &encoding, 2).is_err());
		assert!(encode(&outputs(), &wrong_len[..2], &encoding, 2).is_err());
	}

	#[test]
	fn bytes_round_trip_in_declared_types_and_bad_lengths_are_named() {
		let values = vec![Values::F32(vec![1.5; 6]), Values::I64(vec![-3]), Values::F64(vec![0.25, 8.0])];
		let bytes = join_bytes(&values);
		assert_eq!(bytes.len(), 6 * 4 + 8 + 2 * 8);
		// Little-endian in each declared type, whatever the host.
		assert_eq!(&bytes[..4], &[0, 0, 0xc0, 0x3f]);
		assert_eq!(&bytes[24..32], &[0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
		assert_eq!(&bytes[40..], &[0, 0, 0, 0, 0, 0, 0x20, 0x40]);
		assert_eq!(split_bytes(&outputs(), &bytes, false).unwrap(), values);
		// Unaligned input reads the same values.
		let mut shifted = vec![0u8];
		shifted.extend_from_slice(&bytes);
		assert_eq!(split_bytes(&outputs(), &shifted[1..], false).unwrap(), values);
		let e = split_bytes(&outputs(), &bytes[1..], false).unwrap_err().to_string();
		assert!(e.contains("need 48"), "{e}");
		// Sums of float32 outputs come back as float64.
		let sums = vec![Values::F64(vec![1.5; 6]), Values::I64(vec![-3]), Values::F64(vec![0.25, 8.0])];
		assert_eq!(split_bytes(&outputs(), &join_bytes(&sums), true).unwrap(), sums);
	}

	#[test]
	fn declarations_are_checked() {
		assert_eq!(check_outputs(&outputs()).unwrap(), 6 + 1 + 2);
		let twice = vec![OutputSpec::floats("a", 1), OutputSpec::floats("a", 2)];
		assert!(check_outputs(&twice).is_err());
		let huge = vec![OutputSpec::new("m", DType::F32, vec![1 << 14, 1 << 14])];
		assert!(check_outputs(&huge).unwrap_err().to_string().contains("exceed"));
		assert_eq!(DType::from_name("float32"), Some(DType::F32));
		assert_eq!(DType::I64.name(), "int64");
		assert_eq!(DType::from_name("bool"), None);
	}

	#[test]
	fn a_declared_bound_sets_the_precision_and_is_enforced_at_the_member() {
		let encoding = Encoding::default();
		let weights = |bound| vec![OutputSpec::new("w", DType::F32, vec![3]).bounded(bound)];
		// 2^63 / 3 members / bound 1.0: 61 bits of room, capped at 52.
		assert_eq!(weights(1.0)[0].fractional_bits(&encoding, 3).unwrap(), MAX_FRACTIONAL_BITS);
		// A bound of 2^40 leaves 63 - 2 - 40 = 21 bits for 3 members.
		assert_eq!(weights((1u64 << 40) as f64)[0].fractional_bits(&encoding, 3).unwrap(), 21);
		assert!(weights(1e30)[0].fractional_bits(&encoding, 3).is_err(), "a bound past the ring is refused");
		// Finer than the default 24 bits: a sum of 1e-9 steps is exact to 1e-12.
		let a = vec![Values::F32(vec![1e-3, -0.5, 1.0])];
		let mut sum = encode(&weights(1.0), &a, &encoding, 3).unwrap();
		sum.add_assign(&encode(&weights(1.0), &a, &encoding, 3).unwrap());
		let Values::F64(s) = &decode(&weights(1.0), &sum, &encoding, 3).unwrap()[0] else { panic!() };
		assert!((s[0] - 2.0 * f64::from(1e-3f32)).abs() < 1e-12, "{s:?}");
		// A value past the bound is refused, naming the bound, though the
		// ring would hold it.
		let past = vec![Values::F32(vec![0.0, 1.5, 0.0])];
		let e = encode(&weights(1.0), &past, &encoding, 3).unwrap_err();
		assert!(
			matches!(e, EngineError::SecAgg(delta_secagg::Error::OutOfRange { index: 1, max, .. }) if max == 1.0),
			"{e:?}"
		);
		let nan = vec![Values::F32(vec![f32::NAN, 0.0, 0.0])];
		assert!(encode(&weights(1.0), &nan, &encoding, 3).is_err());
		let mut bad = weights(1.0);
		bad[0].bound = Some(-1.0);
		assert!(check_outputs(&bad).unwrap_err().to_string().contains("positive finite"));
	}

	#[test]
	fn private_steps_are_clipped_noised_and_decoded_on_one_lattice() {
		let outputs = vec![OutputSpec::floats("x", 3), OutputSpec::new("n", DType::I64, vec![])];
		let privacy = Privacy { clip: 10.0, noise_multiplier: 0.01, delta: 1e-6 };
		let encoding = Encoding::default();
		let lattice = private_lattice(&outputs, &privacy, &encoding, 2, 3).unwrap();
		let mut rng = NoiseRng::from_seed([1; 32]);
		let a = vec![Values::F64(vec![-1.0, 2.0, 0.5]), Values::I64(vec![3])];
		let far = vec![Values::F64(vec![300.0, 0.0, 0.0]), Values::I64(vec![400])];
		let (mut sum, norm) = encode_private(&outputs, &a, &privacy, &lattice, &encoding, &mut rng).unwrap();
		assert!((norm - (1.0f64 + 4.0 + 0.25 + 9.0).sqrt()).abs() < 1e-12);
		// Norm 500: scaled to 10, i.e. (6, 0, 0, 8).
		let (far_sum, far_norm) = encode_private(&outputs, &far, &privacy, &lattice, &encoding, &mut rng).unwrap();
		assert_eq!(far_norm, 500.0);
		sum.add_assign(&far_sum);
		let sums = decode_private(&outputs, &sum, &lattice).unwrap();
		// The noise's σ is 0.1 over the sum: well within 1.
		let Values::F64(x) = &sums[0] else { panic!("{sums:?}") };
		assert!((x[0] - 5.0).abs() < 1.0 && (x[1] - 2.0).abs() < 1.0 && (x[2] - 0.5).abs() < 1.0, "{x:?}");
		assert!(matches!(&sums[1], Values::I64(n) if (n[0] - 11).abs() <= 1), "{sums:?}");
		// Values that differ from the declaration are refused as without DP.
		let wrong = vec![Values::F64(vec![0.0; 2]), Values::I64(vec![1])];
		assert!(encode_private(&outputs, &wrong, &privacy, &lattice, &encoding, &mut rng).is_err());
		// A private step keeps the task's ring.
		let bounded = vec![OutputSpec::new("w", DType::F32, vec![4]).bounded(1.0)];
		assert_eq!(step_encoding(&bounded, &encoding, 100, true), encoding);
	}

	#[test]
	fn bounded_steps_are_summed_in_the_32_bit_ring_when_precision_allows() {
		let task = Encoding::default();
		let weights = vec![OutputSpec::new("w", DType::F32, vec![4]).bounded(1.0)];
		let chosen = step_encoding(&weights, &task, 100, false);
		assert_eq!(chosen.ring, Ring::Bits32);
		assert!(weights[0].fractional_bits(&chosen, 100).unwrap() >= MIN_FRACTIONAL_BITS_32);
		// Exact enough for model averaging, in half the bytes.
		let a = vec![Values::F32(vec![0.1, -0.2, 0.3, -1.0])];
		let sum = encode(&weights, &a, &chosen, 100).unwrap();
		assert_eq!(sum.ring(), Ring::Bits32);
		let Values::F64(s) = &decode(&weights, &sum, &chosen, 100).unwrap()[0] else { panic!() };
		assert!((s[0] - f64::from(0.1f32)).abs() < 1e-6 && (s[3] + 1.0).abs() < 1e-6, "{s:?}");
		// An unbounded output, a bound too wide for 20 fractional bits, or a
		// task that chose its own ring keep the task's encoding.
		let mixed = vec![weights[0].clone(), OutputSpec::new("n", DType::I64, vec![])];
		assert_eq!(step_encoding(&mixed, &task, 100, false), task);
		let wide = vec![OutputSpec::new("w", DType::F32, vec![4]).bounded(1e6)];
		assert_eq!(step_encoding(&wide, &task, 100, false), task);
		let own = Encoding { ring: Ring::Bits128, fractional_bits: 30 };
		assert_eq!(step_encoding(&weights, &own, 100, false), own);
		// Bounded counts fit the 32-bit ring too.
		let counts = vec![OutputSpec::new("n", DType::I64, vec![]).bounded(1e6)];
		assert_eq!(step_encoding(&counts, &task, 100, false).ring, Ring::Bits32);
	}
}
