//! Figures for delta-zk on this machine: native verification time per
//! proof, and for each circuit at a given size its constraint count, key
//! generation and proving time.
//!
//! Run: `cargo run --release -p delta-zk --example zk_figures -- <rows> [columns]`
//! (`--count-only` counts constraints without proving, for sizes too large
//! to prove here).

use std::time::Instant;

use bellman::{Circuit, ConstraintSystem, Index, LinearCombination, SynthesisError, Variable};
use bls12_381::Scalar;
use delta_zk::{
	circuits::{DatasetCircuit, SumCircuit},
	prove::{prove_dataset, prove_sum, setup_dataset, setup_sum},
	PreparedKey,
};
use ff::Field;

/// Counts constraints and variables without storing them.
#[derive(Default)]
struct Counter {
	constraints: usize,
	aux: usize,
	inputs: usize,
}

impl ConstraintSystem<Scalar> for Counter {
	type Root = Self;

	fn alloc<F, A, AR>(&mut self, _: A, _: F) -> Result<Variable, SynthesisError>
	where
		F: FnOnce() -> Result<Scalar, SynthesisError>,
		A: FnOnce() -> AR,
		AR: Into<String>,
	{
		self.aux += 1;
		Ok(Variable::new_unchecked(Index::Aux(self.aux - 1)))
	}

	fn alloc_input<F, A, AR>(&mut self, _: A, _: F) -> Result<Variable, SynthesisError>
	where
		F: FnOnce() -> Result<Scalar, SynthesisError>,
		A: FnOnce() -> AR,
		AR: Into<String>,
	{
		self.inputs += 1;
		Ok(Variable::new_unchecked(Index::Input(self.inputs)))
	}

	fn enforce<A, AR, LA, LB, LC>(&mut self, _: A, _: LA, _: LB, _: LC)
	where
		A: FnOnce() -> AR,
		AR: Into<String>,
		LA: FnOnce(LinearCombination<Scalar>) -> LinearCombination<Scalar>,
		LB: FnOnce(LinearCombination<Scalar>) -> LinearCombination<Scalar>,
		LC: FnOnce(LinearCombination<Scalar>) -> LinearCombination<Scalar>,
	{
		self.constraints += 1;
	}

	fn push_namespace<NR, N>(&mut self, _: N)
	where
		NR: Into<String>,
		N: FnOnce() -> NR,
	{
	}

	fn pop_namespace(&mut self) {}

	fn get_root(&mut self) -> &mut Self::Root {
		self
	}
}

fn count(circuit: impl Circuit<Scalar>) -> Counter {
	let mut cs = Counter::default();
	circuit.synthesize(&mut cs).expect("shape synthesizes");
	cs
}

fn main() {
	let args: Vec<String> = std::env::args().skip(1).collect();
	let count_only = args.iter().any(|a| a == "--count-only");
	let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
	let rows = numbers.first().copied().unwrap_or(1_000);
	let columns = numbers.get(1).copied().unwrap_or(1);
	let ranges = vec![(0u64, 1_000_000u64); columns];
	let table: Vec<Vec<u64>> =
		(0..rows).map(|i| (0..columns).map(|j| ((i * 7919 + j * 104_729) % 1_000_000) as u64).collect()).collect();

	let d = count(DatasetCircuit { n: rows, ranges: ranges.clone(), rows: None });
	let s = count(SumCircuit { n: rows, columns, column: 0, witness: None });
	println!("rows {rows}, columns {columns}");
	println!("dataset commitment: {} constraints, {} public inputs", d.constraints, d.inputs);
	println!("sum over committed data: {} constraints, {} public inputs", s.constraints, s.inputs);
	if count_only {
		return;
	}

	let t = Instant::now();
	let keys = setup_dataset(rows, &ranges).expect("setup");
	let setup_s = t.elapsed().as_secs_f64();
	let t = Instant::now();
	let (proof, inputs) = prove_dataset(&keys, &table, &ranges).expect("prove");
	let prove_s = t.elapsed().as_secs_f64();
	println!("dataset commitment: key generation {setup_s:.1} s, proving {prove_s:.1} s");

	let t = Instant::now();
	let key = PreparedKey::from_bytes(&keys.verifying_key.to_bytes()).expect("valid key");
	let prepare_ms = t.elapsed().as_secs_f64() * 1e3;
	let reps = 50;
	let t = Instant::now();
	for _ in 0..reps {
		key.verify(&proof, &inputs).expect("verifies");
	}
	let verify_ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(reps);
	println!(
		"verification: key decode+validate+prepare {prepare_ms:.2} ms once, then {verify_ms:.2} ms per proof ({} public inputs)",
		inputs.len()
	);

	let t = Instant::now();
	let keys = setup_sum(rows, columns, 0).expect("setup");
	let setup_s = t.elapsed().as_secs_f64();
	let t = Instant::now();
	let (proof, inputs) = prove_sum(&keys, &table, 0, Scalar::random(&mut rand::rng())).expect("prove");
	let prove_s = t.elapsed().as_secs_f64();
	PreparedKey::new(keys.verifying_key).verify(&proof, &inputs).expect("verifies");
	println!("sum over committed data: key generation {setup_s:.1} s, proving {prove_s:.1} s");
}
