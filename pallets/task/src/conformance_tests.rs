//! The pallet (over the mock runtime) passes the ledger conformance suite,
//! and random call sequences give the same outcomes on the pallet and on
//! the coordinator.

use crate::{mock::*, Error, NextTaskId, Reveals, RoundMembers, Rounds, Tasks};
use delta_ledger_conformance::{
	coordinator::CoordinatorLedger, ops, run_all, trace, Limits, Outcome, RoundView, TaskLedger, Who,
};
use delta_primitives::{
	round::{MemberStatus, RoundParams, ShareKind},
	task::{TaskKind, TaskStatus},
};
use frame_support::traits::Get;
use proptest::prelude::*;
use sp_runtime::{DispatchError, DispatchResult, ModuleError};

/// The task pallet over the mock runtime.
struct PalletLedger {
	ext: sp_io::TestExternalities,
}

impl PalletLedger {
	fn new() -> Self {
		Registered::mutate(|r| r.clear());
		Self { ext: new_test_ext() }
	}

	fn account(who: Who) -> u64 {
		1_000 + u64::from(who)
	}

	fn run(&mut self, f: impl FnOnce() -> DispatchResult) -> Outcome {
		self.ext.execute_with(f).map_err(name)
	}
}

fn name(e: DispatchError) -> &'static str {
	match e {
		DispatchError::Module(ModuleError { message: Some(m), .. }) => m,
		other => panic!("not a pallet error: {other:?}"),
	}
}

fn origin(who: Who) -> RuntimeOrigin {
	RuntimeOrigin::signed(PalletLedger::account(who))
}

impl TaskLedger for PalletLedger {
	fn limits(&mut self) -> Limits {
		type C = <Test as crate::Config>::MaxDatasets;
		Limits {
			max_datasets: C::get(),
			max_dataset_name_len: <<Test as crate::Config>::MaxDatasetNameLen as Get<u32>>::get(),
			max_rounds: <<Test as crate::Config>::MaxRounds as Get<u32>>::get(),
			max_reveals_per_call: <<Test as crate::Config>::MaxRevealsPerCall as Get<u32>>::get(),
			max_share_len: <<Test as crate::Config>::MaxShareLen as Get<u32>>::get(),
			retention: Retention::get(),
		}
	}

	fn register(&mut self, who: Who) {
		let account = Self::account(who);
		Registered::mutate(|r| {
			if !r.contains(&account) {
				r.push(account)
			}
		});
	}

	fn create_task(
		&mut self,
		owner: Who,
		datasets: Vec<Vec<u8>>,
		rounds: u32,
		params: RoundParams,
	) -> Result<u64, &'static str> {
		self.ext
			.execute_with(|| {
				let id = NextTaskId::<Test>::get();
				DeltaTask::create_task(origin(owner), [7; 32], TaskKind::Statistics, datasets, rounds, params)
					.map(|()| id)
			})
			.map_err(name)
	}

	fn start_round(&mut self, who: Who, task: u64) -> Outcome {
		self.run(|| DeltaTask::start_round(origin(who), task))
	}

	fn join(&mut self, who: Who, task: u64, round: u32, channel: [u8; 32], masking: [u8; 32]) -> Outcome {
		self.run(|| DeltaTask::join(origin(who), task, round, channel, masking))
	}

	fn commit_shares(&mut self, who: Who, task: u64, round: u32, commitment: [u8; 32]) -> Outcome {
		self.run(|| DeltaTask::commit_shares(origin(who), task, round, commitment))
	}

	fn commit_masked(&mut self, who: Who, task: u64, round: u32, commitment: [u8; 32]) -> Outcome {
		self.run(|| DeltaTask::commit_masked(origin(who), task, round, commitment))
	}

	fn reveal(&mut self, who: Who, task: u64, round: u32, shares: Vec<(Who, ShareKind, Vec<u8>)>) -> Outcome {
		let shares = shares.into_iter().map(|(o, k, s)| (Self::account(o), k, s)).collect();
		self.run(|| DeltaTask::reveal(origin(who), task, round, shares))
	}

	fn finish_round(&mut self, who: Who, task: u64, round: u32, result: [u8; 32]) -> Outcome {
		self.run(|| DeltaTask::finish_round(origin(who), task, round, result))
	}

	fn finish_task(&mut self, who: Who, task: u64) -> Outcome {
		self.run(|| DeltaTask::finish_task(origin(who), task))
	}

	fn cancel_task(&mut self, who: Who, task: u64) -> Outcome {
		self.run(|| DeltaTask::cancel_task(origin(who), task))
	}

	fn advance(&mut self, units: u64) {
		self.ext.execute_with(|| run_to(System::block_number() + units));
	}

	fn round(&mut self, task: u64, round: u32) -> Option<RoundView> {
		self.ext.execute_with(|| {
			Rounds::<Test>::get(task, round).map(|r| RoundView {
				state: r.state,
				seed_fixed: r.seed.is_some(),
				result: r.result,
			})
		})
	}

	fn member_status(&mut self, task: u64, round: u32, who: Who) -> Option<MemberStatus> {
		self.ext.execute_with(|| RoundMembers::<Test>::get((task, round, Self::account(who))).map(|m| m.status))
	}

	fn revealed(&mut self, task: u64, round: u32, revealer: Who, owner: Who) -> Option<(ShareKind, Vec<u8>)> {
		self.ext.execute_with(|| {
			Reveals::<Test>::get((task, round, Self::account(revealer), Self::account(owner)))
				.map(|(k, s)| (k, s.into_inner()))
		})
	}

	fn task_status(&mut self, task: u64) -> Option<TaskStatus> {
		self.ext.execute_with(|| Tasks::<Test>::get(task).map(|t| t.status))
	}

	fn charge_privacy(&mut self, holder: Who, task: u64, dataset: &str, epsilon: u64) -> Outcome {
		let dataset = dataset.as_bytes().to_vec();
		self.run(|| DeltaTask::charge_privacy(origin(holder), task, dataset, epsilon))
	}

	fn privacy_spent(&mut self, holder: Who, dataset: &str, requester: Who) -> u64 {
		let dataset = dataset.as_bytes().to_vec();
		self.ext.execute_with(|| DeltaTask::privacy_spent(Self::account(holder), dataset, Self::account(requester)))
	}
}

#[test]
fn the_pallet_passes_every_conformance_scenario() {
	run_all(|| Box::new(PalletLedger::new()) as Box<dyn TaskLedger>);
}

#[test]
fn every_shared_refusal_name_is_a_pallet_error() {
	use delta_primitives::task::TaskError as T;
	let all = [
		T::UnknownTask,
		T::UnknownRound,
		T::NotOwner,
		T::TaskNotActive,
		T::TooManyDatasets,
		T::BadDatasetName,
		T::BadRoundCount,
		T::TooFewMembers,
		T::MinAboveMax,
		T::TooManyMembers,
		T::BadThreshold,
		T::ZeroTimeout,
		T::RoundInProgress,
		T::NoRoundsLeft,
		T::NotRegistered,
		T::WrongPhase,
		T::DeadlinePassed,
		T::AlreadyJoined,
		T::RoundFull,
		T::NotInRound,
		T::DroppedOut,
		T::AlreadyDone,
		T::BadKeys,
		T::RevealTooLarge,
		T::RevealForUnknownMember,
		T::WrongShareKind,
		T::DuplicateReveal,
		T::DeadlineSlotsFull,
		T::BadCharge,
	];
	for e in all {
		let pallet: &'static str = Error::<Test>::from(e).into();
		assert_eq!(pallet, e.name());
	}
}

proptest! {
	#![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

	/// The same random call sequence (joins, commits, reveals, deadlines,
	/// cancellations, bad calls) leaves the pallet and the coordinator with
	/// the same outcome at every step.
	#[test]
	fn pallet_and_coordinator_agree_on_random_call_sequences(ops in ops(12)) {
		// Pruning timing is checked by the scenarios; here retention is
		// longer than any sequence so that both keep every round.
		Retention::set(1_000_000);
		let mut pallet = PalletLedger::new();
		let mut coordinator = CoordinatorLedger::new(pallet.limits());
		let on_chain = trace(&mut pallet, &ops);
		let off_chain = trace(&mut coordinator, &ops);
		for (step, (a, b)) in on_chain.iter().zip(&off_chain).enumerate() {
			prop_assert_eq!(a, b, "step {} differs", step);
		}
		Retention::set(10);
	}
}
