//! Ledger records in SCALE, as the worker's chain ledger decodes the
//! runtime API's answers and the `TaskCreated` event
//! (`node-worker/src/ledger/chain.rs`); the first byte picks the record
//! (see `delta_fuzz::chain`).

#![no_main]

use codec::{Decode, Encode};
use delta_fuzz::chain;
use libfuzzer_sys::fuzz_target;

/// Decodes as the worker does (`R::decode(&mut &bytes[..])`); what decodes
/// re-encodes to the bytes it consumed.
fn check<T: Decode + Encode>(data: &[u8]) {
	let mut input = data;
	let Ok(value) = T::decode(&mut input) else { return };
	let consumed = &data[..data.len() - input.len()];
	assert_eq!(value.encode(), consumed, "a record decoded from non-canonical bytes");
}

fuzz_target!(init: delta_fuzz::init("ledger_scale"), |data: &[u8]| {
	let Some((&which, data)) = data.split_first() else { return };
	match which {
		chain::TASK => check::<Option<chain::TaskView>>(data),
		chain::ROUND => check::<Option<chain::RoundView>>(data),
		chain::MEMBERS => check::<Vec<([u8; 32], chain::MemberInfo)>>(data),
		chain::MEMBER => check::<Option<chain::MemberInfo>>(data),
		chain::ACCOUNT => check::<Option<[u8; 32]>>(data),
		chain::TASK_CREATED => check::<(u64, [u8; 32], [u8; 32])>(data),
		_ => {},
	}
});
