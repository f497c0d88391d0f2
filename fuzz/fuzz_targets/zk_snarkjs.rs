//! snarkjs's Groth16 JSON (circom): `verification_key.json`, `proof.json`
//! and `public.json` converted to Delta's encoding, as a user's files are.

#![no_main]

use delta_zk::snarkjs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: delta_fuzz::init("zk_snarkjs"), |data: &[u8]| {
	let Ok(text) = std::str::from_utf8(data) else { return };
	if let Ok(key) = snarkjs::verifying_key_from_json(text) {
		let back = snarkjs::verifying_key_from_json(&snarkjs::verifying_key_to_json(&key));
		assert_eq!(back.expect("a converted key converts back"), key);
	}
	if let Ok(proof) = snarkjs::proof_from_json(text) {
		let back = snarkjs::proof_from_json(&snarkjs::proof_to_json(&proof));
		assert_eq!(back.expect("a converted proof converts back"), proof);
	}
	if let Ok(inputs) = snarkjs::inputs_from_json(text) {
		let back = snarkjs::inputs_from_json(&snarkjs::inputs_to_json(&inputs));
		assert_eq!(back.expect("converted inputs convert back"), inputs);
	}
});
