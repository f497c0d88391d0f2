//! The coordinator passes the ledger conformance suite.

use delta_ledger_conformance::{coordinator::CoordinatorLedger, run_all, Limits, TaskLedger};

/// The task pallet's mock-runtime limits, so that both ledgers are probed
/// at the same edges.
pub fn limits() -> Limits {
	Limits {
		max_datasets: 4,
		max_dataset_name_len: 16,
		max_rounds: 10,
		max_reveals_per_call: 8,
		max_share_len: 128,
		retention: 10,
	}
}

#[test]
fn the_coordinator_passes_every_conformance_scenario() {
	run_all(|| Box::new(CoordinatorLedger::new(limits())) as Box<dyn TaskLedger>);
}

/// The random sequences the pallet test compares must reach every phase,
/// or agreeing on them would prove little.
#[test]
fn random_call_sequences_reach_every_phase() {
	use delta_ledger_conformance::{ops, trace};
	use proptest::strategy::{Strategy, ValueTree};
	use proptest::test_runner::TestRunner;
	let mut runner = TestRunner::deterministic();
	let mut accepted = std::collections::BTreeMap::<&str, usize>::new();
	let mut done = 0;
	for _ in 0..64 {
		let ops = ops(12).new_tree(&mut runner).expect("a sequence").current();
		let mut ledger = CoordinatorLedger::new(limits());
		for line in trace(&mut ledger, &ops) {
			let kind = line.split([' ', '(', '{']).next().unwrap_or("");
			if line.contains("-> Ok(") {
				*accepted
					.entry(match kind {
						"Join" => "Join",
						"Shares" => "Shares",
						"Masked" => "Masked",
						"Reveal" => "Reveal",
						"FinishRound" => "FinishRound",
						_ => "other",
					})
					.or_default() += 1;
			}
			if line.contains("phase: Done") {
				done += 1;
			}
		}
	}
	eprintln!("accepted calls by kind: {accepted:?}; steps with a Done round: {done}");
	assert!(done > 0, "no round reached Done in 64 sequences");
	for kind in ["Join", "Shares", "Masked", "Reveal", "FinishRound"] {
		assert!(accepted.get(kind).copied().unwrap_or(0) > 0, "no accepted {kind} in 64 sequences");
	}
}

#[test]
fn the_coordinators_registry_passes_the_identity_suite() {
	delta_ledger_conformance::identity::run_identity(|| {
		Box::new(CoordinatorLedger::new(limits())) as Box<dyn delta_ledger_conformance::identity::IdentityLedger>
	});
}
