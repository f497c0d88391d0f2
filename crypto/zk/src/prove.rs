//! Parameter generation and proving for Delta's circuits.
//!
//! Parameters come from `groth16::generate_random_parameters` with the
//! thread-local CSPRNG: fine for tests, fixtures and single-party
//! deployments; a network with mutually distrusting members needs a
//! multi-party setup ceremony for its keys (not provided here).

use bellman::{Circuit, SynthesisError};
use bls12_381::{Bls12, Scalar};

use crate::{
	circuits::{contribution_commitment, dataset_inputs, table_root, DatasetCircuit, SumCircuit},
	encoding::{Proof, VerifyingKey},
};

/// Proving parameters and the matching verifying key.
pub struct Keys {
	/// What the prover needs.
	pub params: groth16::Parameters<Bls12>,
	/// What the chain registers.
	pub verifying_key: VerifyingKey,
}

/// Generates keys for a circuit shape.
pub fn setup<C: Circuit<Scalar>>(shape: C) -> Result<Keys, SynthesisError> {
	let params = groth16::generate_random_parameters::<Bls12, _, _>(shape, &mut rand::rng())?;
	let verifying_key = VerifyingKey::from_groth16(&params.vk);
	Ok(Keys { params, verifying_key })
}

/// Keys for the dataset-commitment circuit of `n` rows with these column
/// ranges.
pub fn setup_dataset(n: usize, ranges: &[(u64, u64)]) -> Result<Keys, SynthesisError> {
	setup(DatasetCircuit { n, ranges: ranges.to_vec(), rows: None })
}

/// Keys for the sum circuit.
pub fn setup_sum(n: usize, columns: usize, column: usize) -> Result<Keys, SynthesisError> {
	setup(SumCircuit { n, columns, column, witness: None })
}

/// Proves that `rows` lie in `ranges`; returns the proof and its public
/// inputs (root, n, ranges).
pub fn prove_dataset(
	keys: &Keys,
	rows: &[Vec<u64>],
	ranges: &[(u64, u64)],
) -> Result<(Proof, Vec<Scalar>), SynthesisError> {
	// bellman proves unsatisfied circuits without complaint (the proof then
	// fails verification); refuse out-of-range data here, by name.
	for row in rows {
		if row.len() != ranges.len() || row.iter().zip(ranges).any(|(v, (lo, hi))| v < lo || v > hi) {
			return Err(SynthesisError::Unsatisfiable);
		}
	}
	let circuit = DatasetCircuit { n: rows.len(), ranges: ranges.to_vec(), rows: Some(rows.to_vec()) };
	let proof = groth16::create_random_proof(circuit, &keys.params, &mut rand::rng())?;
	Ok((Proof::from_groth16(&proof), dataset_inputs(table_root(rows), rows.len(), ranges)))
}

/// Proves that `commitment = H(sum of column, blinding)` for the committed
/// `rows`; returns the proof and its public inputs (root, commitment).
pub fn prove_sum(
	keys: &Keys,
	rows: &[Vec<u64>],
	column: usize,
	blinding: Scalar,
) -> Result<(Proof, Vec<Scalar>), SynthesisError> {
	let columns = rows.first().map_or(0, Vec::len);
	if column >= columns || rows.iter().any(|r| r.len() != columns) {
		return Err(SynthesisError::Unsatisfiable);
	}
	let circuit = SumCircuit { n: rows.len(), columns, column, witness: Some((rows.to_vec(), blinding)) };
	let proof = groth16::create_random_proof(circuit, &keys.params, &mut rand::rng())?;
	let sum: u128 = rows.iter().map(|r| u128::from(r[column])).sum();
	Ok((Proof::from_groth16(&proof), vec![table_root(rows), contribution_commitment(sum, blinding)]))
}
