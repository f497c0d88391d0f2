//! Benchmarks for the task pallet, each at its worst case: the action that
//! meets a phase's quorum (moving the round and its deadline), the largest
//! task and reveal, and a block where the most deadlines fall.

use super::*;
use alloc::{vec, vec::Vec};
use delta_primitives::round::{MemberStatus, PhaseTimeouts, RoundParams, RoundState, ShareKind};
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{Get, Hooks},
	BoundedVec,
};
use frame_system::RawOrigin;

fn params(members: u32) -> RoundParams {
	RoundParams {
		min_members: 2,
		max_members: members.max(2),
		threshold: 2,
		timeouts: PhaseTimeouts { open: 10, share_keys: 10, compute: 10, unmask: 10 },
	}
}

fn member<T: Config>(i: u32) -> T::AccountId {
	let who: T::AccountId = account("member", i, 0);
	T::Members::register_for_benchmarks(&who);
	who
}

fn new_task<T: Config>(owner: &T::AccountId, members: u32) -> TaskId {
	let id = NextTaskId::<T>::get();
	let datasets = vec![vec![b'd'; T::MaxDatasetNameLen::get() as usize]; T::MaxDatasets::get() as usize];
	Pallet::<T>::create_task(
		RawOrigin::Signed(owner.clone()).into(),
		[1; 32],
		TaskKind::Statistics,
		datasets,
		T::MaxRounds::get(),
		params(members),
	)
	.expect("valid task");
	id
}

/// A task with round 0 started and `members` members brought to `status`.
fn round_at<T: Config>(members: u32, upto: u8) -> (T::AccountId, TaskId, Vec<T::AccountId>) {
	let owner: T::AccountId = whitelisted_caller();
	let task = new_task::<T>(&owner, members);
	Pallet::<T>::start_round(RawOrigin::Signed(owner.clone()).into(), task).expect("start");
	let who: Vec<T::AccountId> = (0..members).map(member::<T>).collect();
	for (i, m) in who.iter().enumerate() {
		let k = i as u8 + 1;
		Pallet::<T>::join(RawOrigin::Signed(m.clone()).into(), task, 0, [k; 32], [k + 100; 32]).expect("join");
	}
	if upto >= 1 {
		for m in &who {
			Pallet::<T>::commit_shares(RawOrigin::Signed(m.clone()).into(), task, 0, [2; 32]).expect("shares");
		}
	}
	if upto >= 2 {
		for m in &who {
			Pallet::<T>::commit_masked(RawOrigin::Signed(m.clone()).into(), task, 0, [3; 32]).expect("masked");
		}
	}
	(owner, task, who)
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn create_task() {
		let owner: T::AccountId = whitelisted_caller();
		let datasets = vec![vec![b'd'; T::MaxDatasetNameLen::get() as usize]; T::MaxDatasets::get() as usize];
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), [1; 32], TaskKind::Statistics, datasets, T::MaxRounds::get(), params(3));
		assert!(Tasks::<T>::contains_key(0));
	}

	/// Starting round 1 after round 0 ended (the previous round is read).
	#[benchmark]
	fn start_round() {
		let owner: T::AccountId = whitelisted_caller();
		let task = new_task::<T>(&owner, 2);
		Pallet::<T>::start_round(RawOrigin::Signed(owner.clone()).into(), task).expect("start");
		let deadline = frame_system::Pallet::<T>::block_number() + 10u32.into();
		Pallet::<T>::on_initialize(deadline);
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), task);
		assert!(Rounds::<T>::contains_key(task, 1));
	}

	/// The join that fills the round: fixes the member set and the seed.
	#[benchmark]
	fn join() {
		let owner: T::AccountId = whitelisted_caller();
		let task = new_task::<T>(&owner, 2);
		Pallet::<T>::start_round(RawOrigin::Signed(owner).into(), task).expect("start");
		let first = member::<T>(0);
		Pallet::<T>::join(RawOrigin::Signed(first).into(), task, 0, [1; 32], [2; 32]).expect("join");
		let last = member::<T>(1);
		#[extrinsic_call]
		_(RawOrigin::Signed(last), task, 0, [3; 32], [4; 32]);
		assert!(Rounds::<T>::get(task, 0).and_then(|r| r.seed).is_some());
	}

	/// The commitment that completes ShareKeys.
	#[benchmark]
	fn commit_shares() {
		let (_, task, who) = round_at::<T>(2, 0);
		Pallet::<T>::commit_shares(RawOrigin::Signed(who[0].clone()).into(), task, 0, [2; 32]).expect("shares");
		#[extrinsic_call]
		_(RawOrigin::Signed(who[1].clone()), task, 0, [2; 32]);
	}

	/// The commitment that completes Compute.
	#[benchmark]
	fn commit_masked() {
		let (_, task, who) = round_at::<T>(2, 1);
		Pallet::<T>::commit_masked(RawOrigin::Signed(who[0].clone()).into(), task, 0, [3; 32]).expect("masked");
		#[extrinsic_call]
		_(RawOrigin::Signed(who[1].clone()), task, 0, [3; 32]);
	}

	/// A reveal of `n` shares, each for a different survivor.
	#[benchmark]
	fn reveal(n: Linear<2, { T::MaxRevealsPerCall::get() }>) {
		let (_, task, who) = round_at::<T>(n, 2);
		let shares: Vec<(T::AccountId, ShareKind, Vec<u8>)> =
			who.iter().map(|o| (o.clone(), ShareKind::SelfMask, vec![7; T::MaxShareLen::get() as usize])).collect();
		#[extrinsic_call]
		_(RawOrigin::Signed(who[0].clone()), task, 0, shares);
	}

	#[benchmark]
	fn finish_round() {
		let (owner, task, who) = round_at::<T>(2, 2);
		for m in &who {
			let shares = who.iter().map(|o| (o.clone(), ShareKind::SelfMask, vec![7; 32])).collect();
			Pallet::<T>::reveal(RawOrigin::Signed(m.clone()).into(), task, 0, shares).expect("reveal");
		}
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), task, 0, [9; 32]);
	}

	#[benchmark]
	fn finish_task() {
		let owner: T::AccountId = whitelisted_caller();
		let task = new_task::<T>(&owner, 2);
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), task);
	}

	#[benchmark]
	fn cancel_task() {
		let (owner, task, _) = round_at::<T>(2, 1);
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), task);
	}

	/// A charge for the last of the most datasets a task may name, each of
	/// the longest name, onto a total already held.
	#[benchmark]
	fn charge_privacy() {
		let owner: T::AccountId = whitelisted_caller();
		let len = T::MaxDatasetNameLen::get() as usize;
		let datasets: Vec<Vec<u8>> = (0..T::MaxDatasets::get()).map(|i| vec![b'a' + (i % 26) as u8; len]).collect();
		let last = datasets.last().cloned().unwrap_or_default();
		let task = NextTaskId::<T>::get();
		Pallet::<T>::create_task(
			RawOrigin::Signed(owner.clone()).into(),
			[1; 32],
			TaskKind::Statistics,
			datasets,
			1,
			params(2),
		)
		.expect("valid task");
		let holder = member::<T>(0);
		Pallet::<T>::charge_privacy(RawOrigin::Signed(holder.clone()).into(), task, last.clone(), 1).expect("charge");
		#[extrinsic_call]
		_(RawOrigin::Signed(holder), task, last, 2_000_000);
	}

	/// A block in which `n` rounds reach their Open deadline.
	#[benchmark]
	fn on_initialize(n: Linear<0, { T::MaxDeadlinesPerBlock::get() }>) {
		let owner: T::AccountId = whitelisted_caller();
		for i in 0..n {
			let task = new_task::<T>(&owner, 5);
			Pallet::<T>::start_round(RawOrigin::Signed(owner.clone()).into(), task).expect("start");
			for j in 0..2 {
				let m = member::<T>(i * 2 + j);
				let k = j as u8 + 1;
				Pallet::<T>::join(RawOrigin::Signed(m).into(), task, 0, [k; 32], [k + 100; 32]).expect("join");
			}
		}
		let now = frame_system::Pallet::<T>::block_number();
		let deadline = now + 10u32.into();
		#[block]
		{
			Pallet::<T>::on_initialize(deadline);
		}
	}

	/// Pruning a due task with `n` entries in each round-data map (`n`
	/// round members and `n` reveals, `min(n, MaxRounds)` rounds), all in
	/// one step.
	#[benchmark]
	fn prune(n: Linear<0, { T::MaxPrunePerBlock::get() }>) {
		let owner: T::AccountId = whitelisted_caller();
		let task = new_task::<T>(&owner, 2);
		let state = RoundState::start(params(2), 0).expect("valid params");
		for r in 0..n.min(T::MaxRounds::get()) {
			Rounds::<T>::insert(task, r, RoundInfo { state, seed: None, result: None });
		}
		let first = member::<T>(0);
		for i in 0..n {
			let m = member::<T>(i);
			let record = RoundMember {
				status: MemberStatus::Revealed,
				channel_key: [1; 32],
				masking_key: [2; 32],
				shares: Some([3; 32]),
				masked: Some([4; 32]),
			};
			RoundMembers::<T>::insert((task, 0, m.clone()), record);
			let share: BoundedVec<u8, T::MaxShareLen> =
				vec![7; T::MaxShareLen::get() as usize].try_into().expect("fits");
			Reveals::<T>::insert((task, 0, first.clone(), m), (ShareKind::SelfMask, share));
		}
		Pallet::<T>::finish_task(RawOrigin::Signed(owner).into(), task).expect("finish");
		let due = frame_system::Pallet::<T>::block_number() + T::Retention::get();
		#[block]
		{
			Pallet::<T>::prune_step(due);
		}
		assert_eq!(PruneHead::<T>::get(), PruneTail::<T>::get(), "pruned in one step");
		assert!(!Rounds::<T>::contains_key(task, 0));
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
