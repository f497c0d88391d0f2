//! Groth16 proofs and public inputs as `verify_groth16` receives them from
//! a transaction: the first 192 bytes are the proof, the rest the inputs,
//! checked against the dataset-commitment fixture's key.

#![no_main]

use std::sync::OnceLock;

use delta_zk::{encoding::decode_inputs, encoding::PROOF_LEN, PreparedKey, Proof};
use libfuzzer_sys::fuzz_target;

fn key() -> &'static PreparedKey {
	static KEY: OnceLock<PreparedKey> = OnceLock::new();
	KEY.get_or_init(|| PreparedKey::from_bytes(delta_fuzz::ZK_VK).expect("the fixture key is valid"))
}

fuzz_target!(init: delta_fuzz::init("zk_proof"), |data: &[u8]| {
	let (proof, inputs) = data.split_at(data.len().min(PROOF_LEN));
	if let Ok(p) = Proof::from_bytes(proof) {
		assert_eq!(p.to_bytes().as_slice(), proof, "a proof decoded from non-canonical bytes");
	}
	let _ = decode_inputs(inputs);
	let verdict = key().verify_bytes(proof, inputs);
	if verdict.is_ok() {
		// Only the fixture's own proof and inputs verify.
		assert_eq!(proof, delta_fuzz::ZK_PROOF);
		assert_eq!(inputs, delta_fuzz::ZK_INPUTS);
	}
});
