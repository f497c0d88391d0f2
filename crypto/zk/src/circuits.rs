//! The circuits Delta members prove.
//!
//! **Dataset commitment** ([`DatasetCircuit`]): the member's dataset is a
//! table of `n` rows and `c` columns of unsigned integers (fixed-point
//! values: the schema says how many decimals). Row `i` hashes to
//! `leaf_i = H(... H(H(i, v_i0), v_i1) ..., v_i,c-1)` (MiMC-5, see
//! [`crate::mimc`]); leaves are padded with zeros to a power of two and
//! hashed pairwise to the root. The proof shows, without revealing any row,
//! that the public `root` commits to exactly `n` rows (the circuit's shape:
//! one verifying key per (n, c) shape) and that every value of column `j`
//! lies in the public range `[lo_j, hi_j]` (two bit decompositions per
//! value). Public inputs: `root, n, lo_0, hi_0, ..., lo_c-1, hi_c-1`.
//!
//! **Sum over committed data** ([`SumCircuit`]): for the same committed
//! table, the member's contribution `S = sum_i v_i,col` for one column is
//! hidden in `commitment = H(S, blinding)`; the proof shows the committed
//! `root` and the `commitment` are consistent, so a verifier learns that
//! the member's (masked, separately aggregated) contribution is the true
//! column sum of the data it committed before the task, and nothing about
//! `S` itself. Public inputs: `root, commitment`.

use bellman::{Circuit, ConstraintSystem, SynthesisError};
use bls12_381::Scalar;
use ff::{Field, PrimeField};

use crate::mimc::{hash, hash_gadget, one, Num};

/// Bits allowed for a range width: values and ranges are below 2^62.
pub const MAX_RANGE_BITS: u32 = 62;

/// The dataset-commitment circuit. With `rows = None` it describes the
/// shape only (for parameter generation).
#[derive(Clone)]
pub struct DatasetCircuit {
	/// Number of rows.
	pub n: usize,
	/// Inclusive range of each column.
	pub ranges: Vec<(u64, u64)>,
	/// The rows (prover only).
	pub rows: Option<Vec<Vec<u64>>>,
}

/// The sum-over-committed-data circuit.
#[derive(Clone)]
pub struct SumCircuit {
	/// Number of rows.
	pub n: usize,
	/// Number of columns.
	pub columns: usize,
	/// The column summed.
	pub column: usize,
	/// The rows and the blinding factor (prover only).
	pub witness: Option<(Vec<Vec<u64>>, Scalar)>,
}

/// The Merkle root of a table, natively.
pub fn table_root(rows: &[Vec<u64>]) -> Scalar {
	let mut level: Vec<Scalar> = rows.iter().enumerate().map(|(i, row)| leaf(i, row)).collect();
	let width = level.len().next_power_of_two().max(1);
	level.resize(width, Scalar::ZERO);
	while level.len() > 1 {
		level = level.chunks(2).map(|p| hash(p[0], p[1])).collect();
	}
	level[0]
}

fn leaf(i: usize, row: &[u64]) -> Scalar {
	row.iter().fold(Scalar::from(i as u64), |h, v| hash(h, Scalar::from(*v)))
}

/// The public inputs of a dataset-commitment proof.
pub fn dataset_inputs(root: Scalar, n: usize, ranges: &[(u64, u64)]) -> Vec<Scalar> {
	let mut out = vec![root, Scalar::from(n as u64)];
	for (lo, hi) in ranges {
		out.push(Scalar::from(*lo));
		out.push(Scalar::from(*hi));
	}
	out
}

/// The commitment to a contribution `sum`: `H(sum, blinding)`.
pub fn contribution_commitment(sum: u128, blinding: Scalar) -> Scalar {
	hash(scalar_u128(sum), blinding)
}

fn scalar_u128(v: u128) -> Scalar {
	let mut repr = [0u8; 32];
	repr[..16].copy_from_slice(&v.to_le_bytes());
	Scalar::from_repr(repr).unwrap_or(Scalar::ZERO)
}

/// Allocates a private value and returns it with its bits enforced (so it
/// is below 2^bits).
fn alloc_bits<CS: ConstraintSystem<Scalar>>(mut cs: CS, value: Option<u64>, bits: u32) -> Result<Num, SynthesisError> {
	let mut lc = bellman::LinearCombination::zero();
	let mut coeff = Scalar::ONE;
	for b in 0..bits {
		let bit_val = value.map(|v| (v >> b) & 1 == 1);
		let bit = cs.alloc(
			|| format!("bit {b}"),
			|| bit_val.map(|x| if x { Scalar::ONE } else { Scalar::ZERO }).ok_or(SynthesisError::AssignmentMissing),
		)?;
		// bit * (1 - bit) = 0
		cs.enforce(|| format!("boolean {b}"), |lc| lc + bit, |lc| lc + one() - bit, |lc| lc);
		lc = lc + (coeff, bit);
		coeff = coeff.double();
	}
	Ok(Num { lc, value: value.map(Scalar::from) })
}

fn range_bits(lo: u64, hi: u64) -> Result<u32, SynthesisError> {
	if hi < lo {
		return Err(SynthesisError::Unsatisfiable);
	}
	let width = hi - lo;
	let bits = (64 - width.leading_zeros()).max(1);
	if bits > MAX_RANGE_BITS {
		return Err(SynthesisError::Unsatisfiable);
	}
	Ok(bits)
}

/// Hashes the table's rows (private) into the root inside a circuit, with
/// `each` called on every value; returns the root.
fn table_root_gadget<CS: ConstraintSystem<Scalar>>(
	cs: &mut CS,
	n: usize,
	columns: usize,
	rows: Option<&Vec<Vec<u64>>>,
	mut each: impl FnMut(&mut CS, usize, usize, Option<u64>, &Num) -> Result<(), SynthesisError>,
) -> Result<Num, SynthesisError> {
	if let Some(rows) = rows {
		if rows.len() != n || rows.iter().any(|r| r.len() != columns) {
			return Err(SynthesisError::Unsatisfiable);
		}
	}
	let mut level = Vec::with_capacity(n.next_power_of_two());
	for i in 0..n {
		let mut h = Num::constant(Scalar::from(i as u64));
		for j in 0..columns {
			let value = rows.map(|r| r[i][j]);
			let var = cs.alloc(
				|| format!("row {i} col {j}"),
				|| value.map(Scalar::from).ok_or(SynthesisError::AssignmentMissing),
			)?;
			let v = Num::variable(var, value.map(Scalar::from));
			each(cs, i, j, value, &v)?;
			h = hash_gadget(cs.namespace(|| format!("leaf {i} col {j}")), &h, &v)?;
		}
		level.push(h);
	}
	let width = n.next_power_of_two().max(1);
	while level.len() < width {
		level.push(Num::constant(Scalar::ZERO));
	}
	let mut depth = 0;
	while level.len() > 1 {
		let mut next = Vec::with_capacity(level.len() / 2);
		for (k, pair) in level.chunks(2).enumerate() {
			next.push(hash_gadget(cs.namespace(|| format!("node {depth} {k}")), &pair[0], &pair[1])?);
		}
		level = next;
		depth += 1;
	}
	Ok(level.remove(0))
}

/// Exposes `num` as a public input.
fn publish<CS: ConstraintSystem<Scalar>>(cs: &mut CS, name: &str, num: &Num) -> Result<(), SynthesisError> {
	let input = cs.alloc_input(|| name.to_string(), || num.value.ok_or(SynthesisError::AssignmentMissing))?;
	cs.enforce(|| format!("{name} is public"), |lc| lc + &num.lc, |lc| lc + one(), |lc| lc + input);
	Ok(())
}

impl Circuit<Scalar> for DatasetCircuit {
	fn synthesize<CS: ConstraintSystem<Scalar>>(self, cs: &mut CS) -> Result<(), SynthesisError> {
		let columns = self.ranges.len();
		let bits: Vec<u32> = self.ranges.iter().map(|(lo, hi)| range_bits(*lo, *hi)).collect::<Result<_, _>>()?;
		let ranges = self.ranges.clone();
		let root = table_root_gadget(cs, self.n, columns, self.rows.as_ref(), |cs, i, j, value, v| {
			let (lo, hi) = ranges[j];
			// v - lo and hi - v both fit in `bits` bits: lo <= v <= hi.
			let above = alloc_bits(
				cs.namespace(|| format!("row {i} col {j} above")),
				value.map(|x| x.wrapping_sub(lo)),
				bits[j],
			)?;
			cs.enforce(
				|| format!("row {i} col {j} above lo"),
				|lc| lc + &v.lc - (Scalar::from(lo), one()),
				|lc| lc + one(),
				|lc| lc + &above.lc,
			);
			let below = alloc_bits(
				cs.namespace(|| format!("row {i} col {j} below")),
				value.map(|x| hi.wrapping_sub(x)),
				bits[j],
			)?;
			cs.enforce(
				|| format!("row {i} col {j} below hi"),
				|lc| lc + (Scalar::from(hi), one()) - &v.lc,
				|lc| lc + one(),
				|lc| lc + &below.lc,
			);
			Ok(())
		})?;
		publish(cs, "root", &root)?;
		publish(cs, "n", &Num::constant(Scalar::from(self.n as u64)))?;
		for (j, (lo, hi)) in self.ranges.iter().enumerate() {
			publish(cs, &format!("lo {j}"), &Num::constant(Scalar::from(*lo)))?;
			publish(cs, &format!("hi {j}"), &Num::constant(Scalar::from(*hi)))?;
		}
		Ok(())
	}
}

impl Circuit<Scalar> for SumCircuit {
	fn synthesize<CS: ConstraintSystem<Scalar>>(self, cs: &mut CS) -> Result<(), SynthesisError> {
		if self.column >= self.columns {
			return Err(SynthesisError::Unsatisfiable);
		}
		let rows = self.witness.as_ref().map(|(r, _)| r);
		let mut sum = Num { lc: bellman::LinearCombination::zero(), value: rows.map(|_| Scalar::ZERO) };
		let column = self.column;
		let root = table_root_gadget(cs, self.n, self.columns, rows, |_, _, j, _, v| {
			if j == column {
				sum.lc = sum.lc.clone() + &v.lc;
				sum.value = match (sum.value, v.value) {
					(Some(a), Some(b)) => Some(a + b),
					_ => None,
				};
			}
			Ok(())
		})?;
		let blinding_val = self.witness.as_ref().map(|(_, b)| *b);
		let blinding = cs.alloc(|| "blinding", || blinding_val.ok_or(SynthesisError::AssignmentMissing))?;
		let commitment =
			hash_gadget(cs.namespace(|| "contribution hash"), &sum, &Num::variable(blinding, blinding_val))?;
		publish(cs, "root", &root)?;
		publish(cs, "commitment", &commitment)?;
		Ok(())
	}
}

/// A circuit with `n` public inputs and nothing else: what benchmarks of
/// verification cost per input use.
#[derive(Clone)]
pub struct InputsCircuit {
	/// Number of public inputs.
	pub n: usize,
	/// Their values (prover only).
	pub values: Option<Vec<Scalar>>,
}

impl Circuit<Scalar> for InputsCircuit {
	fn synthesize<CS: ConstraintSystem<Scalar>>(self, cs: &mut CS) -> Result<(), SynthesisError> {
		for i in 0..self.n {
			let value = self.values.as_ref().map(|v| v[i]);
			let var = cs.alloc(|| format!("x {i}"), || value.ok_or(SynthesisError::AssignmentMissing))?;
			publish(cs, &format!("input {i}"), &Num::variable(var, value))?;
		}
		Ok(())
	}
}
