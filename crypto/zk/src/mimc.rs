//! MiMC-5 over the BLS12-381 scalar field, natively and as a circuit.
//!
//! Parameters: the permutation `x -> (x + k + c_i)^5` for 110 rounds
//! (x^5 is a bijection since gcd(5, r - 1) = 1; 110 = ceil(log_5 r)
//! rounds, the number the MiMC paper requires for a 255-bit field), round
//! constants `c_0 = 0` and `c_i = SHA-512("delta-mimc5/" ++ i as u32 LE)`
//! reduced mod r (`Scalar::from_bytes_wide`). The two-to-one compression is
//! Miyaguchi–Preneel with the left input as key:
//! `H(l, r) = E_l(r) + l + r`. Each round costs 3 multiplication
//! constraints, plus one for the output, so one hash is 331 constraints.

use std::sync::OnceLock;

use bellman::{ConstraintSystem, LinearCombination, SynthesisError, Variable};
use bls12_381::Scalar;
use ff::Field;
use sha2::{Digest, Sha512};

/// Rounds of the permutation.
pub const ROUNDS: usize = 110;

/// The round constants.
pub fn constants() -> &'static [Scalar; ROUNDS] {
	static CONSTANTS: OnceLock<[Scalar; ROUNDS]> = OnceLock::new();
	CONSTANTS.get_or_init(|| {
		let mut out = [Scalar::ZERO; ROUNDS];
		for (i, c) in out.iter_mut().enumerate().skip(1) {
			let mut hasher = Sha512::new();
			hasher.update(b"delta-mimc5/");
			hasher.update((i as u32).to_le_bytes());
			let wide: [u8; 64] = hasher.finalize().into();
			*c = Scalar::from_bytes_wide(&wide);
		}
		out
	})
}

/// `H(left, right)`, natively.
pub fn hash(left: Scalar, right: Scalar) -> Scalar {
	let mut x = right;
	for c in constants() {
		let t = x + left + c;
		let t2 = t.square();
		x = t2.square() * t;
	}
	x + left + left + right
}

/// A value in a circuit: a linear combination with its assignment (known
/// when proving, absent when generating parameters).
#[derive(Clone)]
pub struct Num {
	/// The linear combination.
	pub lc: LinearCombination<Scalar>,
	/// Its value, if known.
	pub value: Option<Scalar>,
}

impl Num {
	/// A constant.
	pub fn constant(value: Scalar) -> Self {
		Self { lc: LinearCombination::zero() + (value, one()), value: Some(value) }
	}

	/// A variable.
	pub fn variable(var: Variable, value: Option<Scalar>) -> Self {
		Self { lc: LinearCombination::zero() + var, value }
	}
}

/// The constant-one variable of every bellman constraint system.
pub fn one() -> Variable {
	Variable::new_unchecked(bellman::Index::Input(0))
}

/// `H(left, right)` in a circuit: 331 constraints.
pub fn hash_gadget<CS: ConstraintSystem<Scalar>>(mut cs: CS, left: &Num, right: &Num) -> Result<Num, SynthesisError> {
	let mut x = right.clone();
	for (i, c) in constants().iter().enumerate() {
		// t = x + k + c (linear)
		let t_lc = x.lc.clone() + &left.lc + (*c, one());
		let t_val = match (x.value, left.value) {
			(Some(a), Some(b)) => Some(a + b + c),
			_ => None,
		};
		let t2_val = t_val.map(|t| t.square());
		let t2 = cs.alloc(|| format!("round {i} t^2"), || t2_val.ok_or(SynthesisError::AssignmentMissing))?;
		cs.enforce(|| format!("round {i} square"), |lc| lc + &t_lc, |lc| lc + &t_lc, |lc| lc + t2);
		let t4_val = t2_val.map(|t| t.square());
		let t4 = cs.alloc(|| format!("round {i} t^4"), || t4_val.ok_or(SynthesisError::AssignmentMissing))?;
		cs.enforce(|| format!("round {i} fourth"), |lc| lc + t2, |lc| lc + t2, |lc| lc + t4);
		let t5_val = match (t4_val, t_val) {
			(Some(a), Some(b)) => Some(a * b),
			_ => None,
		};
		let t5 = cs.alloc(|| format!("round {i} t^5"), || t5_val.ok_or(SynthesisError::AssignmentMissing))?;
		cs.enforce(|| format!("round {i} fifth"), |lc| lc + t4, |lc| lc + &t_lc, |lc| lc + t5);
		x = Num::variable(t5, t5_val);
	}
	let value = match (x.value, left.value, right.value) {
		(Some(x), Some(l), Some(r)) => Some(x + l + l + r),
		_ => None,
	};
	// The output gets its own variable: as a linear combination it would
	// carry its inputs' terms, which double at every level of a tree.
	let out = cs.alloc(|| "output", || value.ok_or(SynthesisError::AssignmentMissing))?;
	cs.enforce(
		|| "output is the sum",
		|lc| lc + &x.lc + &left.lc + &left.lc + &right.lc,
		|lc| lc + one(),
		|lc| lc + out,
	);
	Ok(Num::variable(out, value))
}
