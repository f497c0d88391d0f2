//! The protocol cores under attack: a whole two-round task among 3-5
//! simulated members (the engine's requester and member drivers, the
//! coordinator's ledger rules in memory), every message passing through an
//! adversary that reads its decisions from libFuzzer's bytes: drops,
//! duplicates and delays on any message, and altered, replaced or
//! replayed bytes from corrupt members or a corrupt requester
//! (`delta_sim::adversary`). A finding is a panic anywhere, a run that
//! never ends, or, with no corrupt participant, a result that is not
//! exactly one input from each member counted.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: delta_fuzz::init("protocol"), |data: &[u8]| {
	if let Err(violation) = delta_sim::adversary::scenario(data) {
		panic!("{violation}");
	}
});
