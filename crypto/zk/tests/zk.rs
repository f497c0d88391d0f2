//! Encoding, validation, circuits and verification, end to end: valid
//! proofs verify, and every kind of bad input is refused by name.

use bellman::{gadgets::test::TestConstraintSystem, Circuit};
use bls12_381::{G1Affine, Scalar};
use delta_zk::{
	circuits::{contribution_commitment, table_root, DatasetCircuit, SumCircuit},
	encoding::{decode_inputs, encode_inputs, DecodeError, PROOF_LEN},
	mimc,
	prove::{prove_dataset, prove_sum, setup_dataset, setup_sum},
	PreparedKey, Proof, VerifyError, VerifyingKey,
};
use ff::{Field, PrimeField};

fn table() -> Vec<Vec<u64>> {
	vec![vec![34, 180], vec![51, 165], vec![29, 172], vec![70, 158], vec![45, 190]]
}

const RANGES: [(u64, u64); 2] = [(18, 120), (100, 250)];

#[test]
fn the_mimc_gadget_computes_the_native_hash_in_331_constraints() {
	let mut cs = TestConstraintSystem::<Scalar>::new();
	let l = Scalar::from(7u64);
	let r = Scalar::from(11u64);
	let out = mimc::hash_gadget(&mut cs, &mimc::Num::constant(l), &mimc::Num::constant(r)).unwrap();
	assert!(cs.is_satisfied());
	assert_eq!(cs.num_constraints(), 331);
	assert_eq!(out.value, Some(mimc::hash(l, r)));
	assert_ne!(mimc::hash(l, r), mimc::hash(r, l), "the compression is not symmetric");
}

#[test]
fn the_dataset_circuit_is_satisfied_only_by_in_range_data() {
	let rows = table();
	let mut cs = TestConstraintSystem::<Scalar>::new();
	DatasetCircuit { n: rows.len(), ranges: RANGES.to_vec(), rows: Some(rows.clone()) }.synthesize(&mut cs).unwrap();
	assert!(cs.is_satisfied());
	let mut bad = rows.clone();
	bad[2][0] = 121;
	let mut cs = TestConstraintSystem::<Scalar>::new();
	DatasetCircuit { n: bad.len(), ranges: RANGES.to_vec(), rows: Some(bad) }.synthesize(&mut cs).unwrap();
	assert!(!cs.is_satisfied(), "a value above its range breaks a constraint");
}

#[test]
fn a_dataset_proof_verifies_and_binds_root_count_and_ranges() {
	let rows = table();
	let keys = setup_dataset(rows.len(), &RANGES).unwrap();
	let (proof, inputs) = prove_dataset(&keys, &rows, &RANGES).unwrap();
	let key = PreparedKey::from_bytes(&keys.verifying_key.to_bytes()).unwrap();
	assert_eq!(key.key().public_inputs(), 2 + 2 * RANGES.len());
	key.verify_bytes(&proof.to_bytes(), &encode_inputs(&inputs)).unwrap();
	assert_eq!(inputs[0], table_root(&rows));

	// The same proof for another root, count or range is rejected.
	for (i, other) in [(0, Scalar::from(5u64)), (1, Scalar::from(6u64)), (3, Scalar::from(121u64))] {
		let mut wrong = inputs.clone();
		wrong[i] = other;
		assert_eq!(key.verify(&proof, &wrong), Err(VerifyError::Rejected), "input {i}");
	}
	assert_eq!(key.verify(&proof, &inputs[..3]), Err(VerifyError::WrongInputCount { expected: 6, got: 3 }));
	// Out-of-range data is refused before proving.
	let mut bad = rows.clone();
	bad[0][1] = 99;
	assert!(prove_dataset(&keys, &bad, &RANGES).is_err());
}

#[test]
fn a_sum_proof_binds_the_hidden_contribution_to_the_committed_data() {
	let rows = table();
	let keys = setup_sum(rows.len(), 2, 1).unwrap();
	let blinding = Scalar::random(&mut rand::rng());
	let (proof, inputs) = prove_sum(&keys, &rows, 1, blinding).unwrap();
	let key = PreparedKey::new(keys.verifying_key.clone());
	key.verify(&proof, &inputs).unwrap();
	let sum: u128 = rows.iter().map(|r| u128::from(r[1])).sum();
	assert_eq!(inputs[1], contribution_commitment(sum, blinding));
	// A commitment to any other sum is rejected.
	let lie = contribution_commitment(sum + 1, blinding);
	assert_eq!(key.verify(&proof, &[inputs[0], lie]), Err(VerifyError::Rejected));
	// Another dataset's root is rejected.
	let mut other = rows.clone();
	other[0][0] += 1;
	assert_eq!(key.verify(&proof, &[table_root(&other), inputs[1]]), Err(VerifyError::Rejected));
	let mut cs = TestConstraintSystem::<Scalar>::new();
	SumCircuit { n: rows.len(), columns: 2, column: 1, witness: Some((rows, blinding)) }.synthesize(&mut cs).unwrap();
	assert!(cs.is_satisfied());
}

fn some_key() -> VerifyingKey {
	setup_dataset(2, &[(0, 1)]).unwrap().verifying_key
}

#[test]
fn keys_and_proofs_round_trip_and_malformed_ones_are_named() {
	let key = some_key();
	let bytes = key.to_bytes();
	assert_eq!(bytes.len(), VerifyingKey::encoded_len(4));
	assert_eq!(VerifyingKey::from_bytes(&bytes).unwrap(), key);

	let mut tag = bytes.clone();
	tag[0] = b'X';
	assert_eq!(VerifyingKey::from_bytes(&tag), Err(DecodeError::BadFormat));
	assert!(matches!(VerifyingKey::from_bytes(&bytes[..bytes.len() - 1]), Err(DecodeError::Length { .. })));
	let mut many = bytes.clone();
	many[4 + 48 + 3 * 96..4 + 48 + 3 * 96 + 4].copy_from_slice(&1000u32.to_le_bytes());
	assert_eq!(VerifyingKey::from_bytes(&many), Err(DecodeError::TooManyInputs { got: 1000 }));

	// alpha at infinity.
	let mut identity = bytes.clone();
	identity[4..52].copy_from_slice(&G1Affine::identity().to_compressed());
	assert_eq!(VerifyingKey::from_bytes(&identity), Err(DecodeError::Identity { what: "alpha" }));

	// A point on the curve outside the subgroup, and bytes that are no point.
	let off = off_subgroup_g1();
	let mut outside = bytes.clone();
	outside[4..52].copy_from_slice(&off);
	assert_eq!(VerifyingKey::from_bytes(&outside), Err(DecodeError::NotInSubgroup { what: "alpha" }));
	let mut garbage = bytes.clone();
	garbage[4..52].copy_from_slice(&not_on_curve_g1());
	assert_eq!(VerifyingKey::from_bytes(&garbage), Err(DecodeError::NotOnCurve { what: "alpha" }));

	let rows = vec![vec![1], vec![0]];
	let keys = setup_dataset(2, &[(0, 1)]).unwrap();
	let (proof, _) = prove_dataset(&keys, &rows, &[(0, 1)]).unwrap();
	let encoded = proof.to_bytes();
	assert_eq!(Proof::from_bytes(&encoded).unwrap(), proof);
	assert!(matches!(Proof::from_bytes(&encoded[..PROOF_LEN - 1]), Err(DecodeError::Length { .. })));
	let mut bad = encoded;
	bad[..48].copy_from_slice(&off);
	assert_eq!(Proof::from_bytes(&bad), Err(DecodeError::NotInSubgroup { what: "proof A" }));
}

#[test]
fn public_inputs_must_be_canonical_scalars() {
	let inputs = [Scalar::from(3u64), -Scalar::ONE];
	let bytes = encode_inputs(&inputs);
	assert_eq!(decode_inputs(&bytes).unwrap(), inputs);
	let mut above = bytes.clone();
	above[32..].copy_from_slice(&[0xff; 32]);
	assert_eq!(decode_inputs(&above), Err(DecodeError::NonCanonicalScalar { index: 1 }));
	assert!(matches!(decode_inputs(&bytes[..40]), Err(DecodeError::Length { .. })));
	// The group order itself is not canonical.
	let r = (-Scalar::ONE).to_repr();
	let mut order = r;
	order[0] += 1;
	assert_eq!(decode_inputs(&order), Err(DecodeError::NonCanonicalScalar { index: 0 }));
}

/// A compressed G1 point on the curve but outside the prime-order subgroup.
fn off_subgroup_g1() -> [u8; 48] {
	for x in 1u64.. {
		let mut raw = [0u8; 48];
		raw[40..].copy_from_slice(&x.to_be_bytes());
		raw[0] |= 0x80;
		if let Some(p) = Option::<G1Affine>::from(G1Affine::from_compressed_unchecked(&raw)) {
			if !bool::from(p.is_torsion_free()) {
				return raw;
			}
		}
	}
	unreachable!("some small x gives a point outside the subgroup")
}

/// A compressed G1 encoding whose x has no point on the curve.
fn not_on_curve_g1() -> [u8; 48] {
	for x in 1u64.. {
		let mut raw = [0u8; 48];
		raw[40..].copy_from_slice(&x.to_be_bytes());
		raw[0] |= 0x80;
		if Option::<G1Affine>::from(G1Affine::from_compressed_unchecked(&raw)).is_none() {
			return raw;
		}
	}
	unreachable!("some small x is not on the curve")
}

#[test]
fn snarkjs_json_converts_both_ways_and_foreign_curves_are_refused() {
	use delta_zk::snarkjs::*;
	let key = VerifyingKey::from_bytes(include_bytes!("../fixtures/sum_5x2_col1.vk")).unwrap();
	let proof = Proof::from_bytes(include_bytes!("../fixtures/sum_5x2_col1.proof")).unwrap();
	let inputs = decode_inputs(include_bytes!("../fixtures/sum_5x2_col1.inputs")).unwrap();
	let key_json = verifying_key_to_json(&key);
	let proof_json = proof_to_json(&proof);
	let inputs_json = inputs_to_json(&inputs);
	assert!(key_json.contains("\"curve\":\"bls12381\"") && key_json.contains("\"nPublic\":2"));
	let back = verifying_key_from_json(&key_json).unwrap();
	assert_eq!(back, key);
	assert_eq!(proof_from_json(&proof_json).unwrap(), proof);
	assert_eq!(inputs_from_json(&inputs_json).unwrap(), inputs);
	PreparedKey::new(back)
		.verify(&proof_from_json(&proof_json).unwrap(), &inputs_from_json(&inputs_json).unwrap())
		.unwrap();

	let bn = key_json.replace("bls12381", "bn128");
	assert!(matches!(verifying_key_from_json(&bn), Err(SnarkjsError::Unsupported { what: "curve", .. })));
	let plonk = proof_json.replace("groth16", "plonk");
	assert!(matches!(proof_from_json(&plonk), Err(SnarkjsError::Unsupported { what: "protocol", .. })));
	assert!(matches!(inputs_from_json("[\"-1\"]"), Err(SnarkjsError::BadNumber(_))));
	// The group order is not a scalar.
	let order = "52435875175126190479447740508185965837690552500527637822603658699938581184513";
	assert!(matches!(inputs_from_json(&format!("[\"{order}\"]")), Err(SnarkjsError::BadNumber(_))));
	let wrong_count = key_json.replace("\"nPublic\":2", "\"nPublic\":3");
	assert!(matches!(verifying_key_from_json(&wrong_count), Err(SnarkjsError::Malformed(_))));
	// A point moved off the curve.
	let mut v: serde_json::Value = serde_json::from_str(&key_json).unwrap();
	v["vk_alpha_1"][1] = serde_json::json!("5");
	let off = verifying_key_from_json(&v.to_string());
	assert!(matches!(off, Err(SnarkjsError::Point(DecodeError::NotOnCurve { .. }))), "{off:?}");
	let mut v: serde_json::Value = serde_json::from_str(&proof_json).unwrap();
	v["pi_b"][1][0] = serde_json::json!("7");
	let off = proof_from_json(&v.to_string());
	assert!(matches!(off, Err(SnarkjsError::Point(DecodeError::NotOnCurve { .. }))), "{off:?}");
}
