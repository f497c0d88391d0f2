//! Writes the proof fixtures the chain's benchmarks, genesis preset and
//! end-to-end tests use (`crypto/zk/fixtures/`). Keys are random on every
//! run, so fixtures are generated once and committed.
//!
//! Run: `cargo run --release -p delta-zk --example zk_fixtures`
//!
//! Files: `<name>.vk` (encoded key), `<name>.proof` (192 bytes),
//! `<name>.inputs` (32 bytes per public input), for
//! - `inputs_<n>` (n = 1..=16): a circuit with n public inputs only;
//! - `dataset_5x2`: dataset commitment, 5 rows, ranges (18..=120, 100..=250);
//! - `sum_5x2_col1`: sum of column 1 of the same rows, blinded.

use std::{fs, path::Path};

use bls12_381::Scalar;
use delta_zk::{
	circuits::InputsCircuit,
	encoding::encode_inputs,
	prove::{prove_dataset, prove_sum, setup, setup_dataset, setup_sum},
	PreparedKey, Proof, VerifyingKey,
};
use ff::Field;

fn write(dir: &Path, name: &str, key: &VerifyingKey, proof: &Proof, inputs: &[Scalar]) {
	PreparedKey::new(key.clone()).verify(proof, inputs).expect("the fixture verifies");
	fs::write(dir.join(format!("{name}.vk")), key.to_bytes()).expect("write");
	fs::write(dir.join(format!("{name}.proof")), proof.to_bytes()).expect("write");
	fs::write(dir.join(format!("{name}.inputs")), encode_inputs(inputs)).expect("write");
}

fn main() {
	let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
	fs::create_dir_all(&dir).expect("fixtures dir");
	for n in 1..=16usize {
		let keys = setup(InputsCircuit { n, values: None }).expect("setup");
		let values: Vec<Scalar> = (0..n).map(|_| Scalar::random(&mut rand::rng())).collect();
		let proof = groth16::create_random_proof(
			InputsCircuit { n, values: Some(values.clone()) },
			&keys.params,
			&mut rand::rng(),
		)
		.expect("prove");
		let proof = Proof::from_bytes(&{
			let mut b = Vec::new();
			b.extend_from_slice(&proof.a.to_compressed());
			b.extend_from_slice(&proof.b.to_compressed());
			b.extend_from_slice(&proof.c.to_compressed());
			b
		})
		.expect("valid proof");
		write(&dir, &format!("inputs_{n}"), &keys.verifying_key, &proof, &values);
	}
	let rows = vec![vec![34, 180], vec![51, 165], vec![29, 172], vec![70, 158], vec![45, 190]];
	let ranges = [(18, 120), (100, 250)];
	let keys = setup_dataset(rows.len(), &ranges).expect("setup");
	let (proof, inputs) = prove_dataset(&keys, &rows, &ranges).expect("prove");
	write(&dir, "dataset_5x2", &keys.verifying_key, &proof, &inputs);
	let keys = setup_sum(rows.len(), 2, 1).expect("setup");
	let (proof, inputs) = prove_sum(&keys, &rows, 1, Scalar::random(&mut rand::rng())).expect("prove");
	write(&dir, "sum_5x2_col1", &keys.verifying_key, &proof, &inputs);
	println!("fixtures written to {}", dir.display());
}
