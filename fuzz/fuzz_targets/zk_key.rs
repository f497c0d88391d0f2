//! Groth16 verifying keys as the chain stores them (`ZkVerify`'s register
//! call and the `validate_key` host function): decode and validate, then
//! prepare the keys that pass.

#![no_main]

use delta_zk::{PreparedKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: delta_fuzz::init("zk_key"), |data: &[u8]| {
	let Ok(key) = VerifyingKey::from_bytes(data) else { return };
	// One encoding per key: a key's hash names it on chain.
	assert_eq!(key.to_bytes(), data, "a key decoded from non-canonical bytes");
	let prepared = PreparedKey::from_bytes(data).expect("a valid key prepares");
	assert_eq!(prepared.key().public_inputs(), key.public_inputs());
});
