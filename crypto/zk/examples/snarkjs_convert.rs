//! Converts snarkjs Groth16 files (curve bls12381) to Delta's encoding, as
//! `0x` hex ready for `ZkVerify::register_key` and `ZkVerify::verify`.
//!
//! Run: `cargo run -p delta-zk --example snarkjs_convert -- verification_key.json [proof.json public.json]`

use delta_zk::{encoding::encode_inputs, snarkjs, PreparedKey};

fn read(path: &str) -> String {
	std::fs::read_to_string(path).unwrap_or_else(|e| {
		eprintln!("cannot read {path}: {e}");
		std::process::exit(2)
	})
}

fn fail(what: &str, e: snarkjs::SnarkjsError) -> ! {
	eprintln!("{what}: {e}");
	std::process::exit(1)
}

fn main() {
	let args: Vec<String> = std::env::args().skip(1).collect();
	let Some(key_path) = args.first() else {
		eprintln!("usage: snarkjs_convert verification_key.json [proof.json public.json]");
		std::process::exit(2)
	};
	let key = snarkjs::verifying_key_from_json(&read(key_path)).unwrap_or_else(|e| fail(key_path, e));
	let encoded = key.to_bytes();
	println!("key_hash 0x{}", hex(&delta_zk::key_hash(&encoded)));
	println!("key 0x{}", hex(&encoded));
	if let [_, proof_path, inputs_path] = args.as_slice() {
		let proof = snarkjs::proof_from_json(&read(proof_path)).unwrap_or_else(|e| fail(proof_path, e));
		let inputs = snarkjs::inputs_from_json(&read(inputs_path)).unwrap_or_else(|e| fail(inputs_path, e));
		match PreparedKey::new(key).verify(&proof, &inputs) {
			Ok(()) => println!("verifies: yes"),
			Err(e) => println!("verifies: no ({e})"),
		}
		println!("proof 0x{}", hex(&proof.to_bytes()));
		println!("inputs 0x{}", hex(&encode_inputs(&inputs)));
	}
}

fn hex(bytes: &[u8]) -> String {
	bytes.iter().map(|b| format!("{b:02x}")).collect()
}
