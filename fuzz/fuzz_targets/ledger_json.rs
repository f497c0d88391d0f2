//! Ledger records in JSON, as the coordinator serves them and the worker's
//! coordinator ledger and the SDK read them (`delta-ledger-api`): tasks,
//! rounds, members, events, calls and signed payloads, and accounts in
//! SS58 or hex.

#![no_main]

use delta_ledger_api::{AccountId, Call, MemberInfo, RoundInfo, SignedPayload, StoredEvent, TaskInfo};
use libfuzzer_sys::fuzz_target;
use serde::{de::DeserializeOwned, Serialize};

/// Decodes `data` as `T`; what decodes encodes, and decodes to itself.
fn check<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &[u8]) {
	let Ok(value) = serde_json::from_slice::<T>(data) else { return };
	let text = serde_json::to_string(&value).expect("a decoded record encodes");
	assert_eq!(serde_json::from_str::<T>(&text).expect("an encoded record decodes"), value);
}

fuzz_target!(init: delta_fuzz::init("ledger_json"), |data: &[u8]| {
	check::<Option<TaskInfo>>(data);
	check::<Option<RoundInfo>>(data);
	check::<Vec<MemberInfo>>(data);
	check::<Option<MemberInfo>>(data);
	check::<Vec<StoredEvent>>(data);
	check::<StoredEvent>(data);
	check::<Call>(data);
	check::<SignedPayload>(data);
	check::<Option<AccountId>>(data);
	if let Ok(text) = std::str::from_utf8(data) {
		if let Ok(account) = AccountId::parse(text) {
			assert_eq!(AccountId::parse(&account.to_ss58()), Ok(account));
		}
	}
});
