use crate::{mock::*, Error, Event, Reveals, RoundMembers, Rounds, TaskKind, TaskStatus, Tasks};
use delta_primitives::round::{FailureReason, MemberStatus, Phase, PhaseTimeouts, RoundParams, ShareKind};
use frame_support::{assert_noop, assert_ok};

const OWNER: u64 = 1;
const OUTSIDER: u64 = 99;

fn params(min: u32, max: u32, threshold: u32) -> RoundParams {
	RoundParams {
		min_members: min,
		max_members: max,
		threshold,
		timeouts: PhaseTimeouts { open: 5, share_keys: 5, compute: 5, unmask: 5 },
	}
}

fn create(p: RoundParams) -> u64 {
	assert_ok!(DeltaTask::create_task(
		RuntimeOrigin::signed(OWNER),
		[7; 32],
		TaskKind::Statistics,
		vec![b"patients".to_vec()],
		2,
		p,
	));
	0
}

fn keys(who: u64) -> ([u8; 32], [u8; 32]) {
	([who as u8; 32], [who as u8 + 100; 32])
}

fn join(who: u64) -> sp_runtime::DispatchResult {
	let (c, m) = keys(who);
	DeltaTask::join(RuntimeOrigin::signed(who), 0, 0, c, m)
}

fn phase() -> Phase {
	Rounds::<Test>::get(0, 0).unwrap().state.phase
}

#[test]
fn a_whole_round_moves_on_quorum_and_records_the_result() {
	new_test_ext().execute_with(|| {
		let task = create(params(2, 3, 2));
		assert_ok!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), task));
		for who in [2, 3, 4] {
			assert_ok!(join(who));
		}
		assert_eq!(phase(), Phase::ShareKeys);
		let seed = Rounds::<Test>::get(0, 0).unwrap().seed;
		assert!(seed.is_some(), "the graph seed is fixed with the member set");
		for who in [2, 3, 4] {
			assert_ok!(DeltaTask::commit_shares(RuntimeOrigin::signed(who), 0, 0, [who as u8; 32]));
		}
		assert_eq!(phase(), Phase::Compute);
		for who in [2, 3, 4] {
			assert_ok!(DeltaTask::commit_masked(RuntimeOrigin::signed(who), 0, 0, [who as u8; 32]));
		}
		assert_eq!(phase(), Phase::Unmask);
		for who in [2, 3, 4] {
			let shares = [2u64, 3, 4].iter().map(|o| (*o, ShareKind::SelfMask, vec![*o as u8; 64])).collect();
			assert_ok!(DeltaTask::reveal(RuntimeOrigin::signed(who), 0, 0, shares));
		}
		assert_eq!(phase(), Phase::Done);
		assert_eq!(Reveals::<Test>::get((0, 0, 2u64, 3u64)).unwrap().0, ShareKind::SelfMask);
		assert_ok!(DeltaTask::finish_round(RuntimeOrigin::signed(OWNER), 0, 0, [9; 32]));
		System::assert_last_event(Event::RoundFinished { task: 0, round: 0, result: [9; 32] }.into());
		assert_ok!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), 0));
		assert_noop!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), 0), Error::<Test>::NoRoundsLeft);
	});
}

#[test]
fn deadlines_move_phases_without_anyone_calling() {
	new_test_ext().execute_with(|| {
		create(params(2, 5, 2));
		assert_ok!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), 0));
		assert_ok!(join(2));
		assert_ok!(join(3));
		assert_ok!(join(4));
		run_to(6);
		assert_eq!(phase(), Phase::ShareKeys);
		assert_ok!(DeltaTask::commit_shares(RuntimeOrigin::signed(2), 0, 0, [2; 32]));
		assert_ok!(DeltaTask::commit_shares(RuntimeOrigin::signed(3), 0, 0, [3; 32]));
		run_to(11);
		assert_eq!(phase(), Phase::Compute, "4 dropped; 2 >= threshold shared");
		assert_noop!(DeltaTask::commit_masked(RuntimeOrigin::signed(4), 0, 0, [4; 32]), Error::<Test>::DroppedOut);
		assert_ok!(DeltaTask::commit_masked(RuntimeOrigin::signed(2), 0, 0, [2; 32]));
		run_to(16);
		assert_eq!(phase(), Phase::Failed(FailureReason::TooFewMasked));
	});
}

#[test]
fn a_round_with_too_few_joiners_fails_at_its_deadline() {
	new_test_ext().execute_with(|| {
		create(params(3, 5, 2));
		assert_ok!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), 0));
		assert_ok!(join(2));
		run_to(6);
		assert_eq!(phase(), Phase::Failed(FailureReason::NotEnoughMembers));
		// The next round may start once this one is over.
		assert_ok!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), 0));
	});
}

#[test]
fn reveals_never_carry_both_kinds_for_one_member() {
	new_test_ext().execute_with(|| {
		create(params(2, 5, 2));
		assert_ok!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), 0));
		for who in [2, 3, 4] {
			assert_ok!(join(who));
		}
		run_to(6);
		for who in [2, 3, 4] {
			assert_ok!(DeltaTask::commit_shares(RuntimeOrigin::signed(who), 0, 0, [1; 32]));
		}
		// 4 drops out in Compute.
		for who in [2, 3] {
			assert_ok!(DeltaTask::commit_masked(RuntimeOrigin::signed(who), 0, 0, [1; 32]));
		}
		run_to(11);
		assert_eq!(phase(), Phase::Unmask);
		let before = RoundMembers::<Test>::get((0, 0, 2u64));
		// Self-mask share of the dropped member: refused.
		assert_noop!(
			DeltaTask::reveal(RuntimeOrigin::signed(2), 0, 0, vec![(4, ShareKind::SelfMask, vec![1; 64])]),
			Error::<Test>::WrongShareKind
		);
		// Mask-key share of a survivor: refused.
		assert_noop!(
			DeltaTask::reveal(RuntimeOrigin::signed(2), 0, 0, vec![(3, ShareKind::MaskKey, vec![1; 64])]),
			Error::<Test>::WrongShareKind
		);
		assert_noop!(
			DeltaTask::reveal(
				RuntimeOrigin::signed(2),
				0,
				0,
				vec![(4, ShareKind::MaskKey, vec![1; 64]), (4, ShareKind::MaskKey, vec![1; 64])]
			),
			Error::<Test>::DuplicateReveal
		);
		assert_noop!(
			DeltaTask::reveal(RuntimeOrigin::signed(2), 0, 0, vec![(4, ShareKind::MaskKey, vec![1; 200])]),
			Error::<Test>::RevealTooLarge
		);
		assert_noop!(
			DeltaTask::reveal(RuntimeOrigin::signed(2), 0, 0, vec![(15, ShareKind::MaskKey, vec![1; 64])]),
			Error::<Test>::RevealForUnknownMember
		);
		assert_eq!(RoundMembers::<Test>::get((0, 0, 2u64)), before);
		assert_ok!(DeltaTask::reveal(
			RuntimeOrigin::signed(2),
			0,
			0,
			vec![(3, ShareKind::SelfMask, vec![1; 64]), (4, ShareKind::MaskKey, vec![1; 64])]
		));
		assert_eq!(RoundMembers::<Test>::get((0, 0, 2u64)).unwrap().status, MemberStatus::Revealed);
		assert_noop!(
			DeltaTask::reveal(RuntimeOrigin::signed(2), 0, 0, vec![(4, ShareKind::MaskKey, vec![1; 64])]),
			Error::<Test>::AlreadyDone
		);
	});
}

#[test]
fn refusals_are_named_and_change_nothing() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			DeltaTask::create_task(
				RuntimeOrigin::signed(OWNER),
				[0; 32],
				TaskKind::Statistics,
				vec![],
				1,
				params(1, 3, 1)
			),
			Error::<Test>::TooFewMembers
		);
		assert_noop!(
			DeltaTask::create_task(
				RuntimeOrigin::signed(OWNER),
				[0; 32],
				TaskKind::Statistics,
				vec![],
				1,
				params(3, 5, 4)
			),
			Error::<Test>::BadThreshold
		);
		assert_noop!(
			DeltaTask::create_task(
				RuntimeOrigin::signed(OWNER),
				[0; 32],
				TaskKind::Statistics,
				vec![],
				0,
				params(2, 3, 2)
			),
			Error::<Test>::BadRoundCount
		);
		assert_noop!(
			DeltaTask::create_task(
				RuntimeOrigin::signed(OWNER),
				[0; 32],
				TaskKind::Statistics,
				vec![vec![b'x'; 17]],
				1,
				params(2, 3, 2)
			),
			Error::<Test>::BadDatasetName
		);
		assert_noop!(
			DeltaTask::create_task(
				RuntimeOrigin::signed(OWNER),
				[0; 32],
				TaskKind::Statistics,
				vec![b"a".to_vec(); 5],
				1,
				params(2, 3, 2)
			),
			Error::<Test>::TooManyDatasets
		);
		assert_noop!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), 0), Error::<Test>::UnknownTask);
		create(params(2, 3, 2));
		assert_noop!(DeltaTask::start_round(RuntimeOrigin::signed(2), 0), Error::<Test>::NotOwner);
		assert_noop!(join(2), Error::<Test>::UnknownRound);
		assert_ok!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), 0));
		assert_noop!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), 0), Error::<Test>::RoundInProgress);
		let (c, m) = keys(OUTSIDER);
		assert_noop!(DeltaTask::join(RuntimeOrigin::signed(OUTSIDER), 0, 0, c, m), Error::<Test>::NotRegistered);
		assert_noop!(DeltaTask::join(RuntimeOrigin::signed(2), 0, 0, [1; 32], [1; 32]), Error::<Test>::BadKeys);
		assert_ok!(join(2));
		assert_noop!(join(2), Error::<Test>::AlreadyJoined);
		assert_noop!(DeltaTask::commit_shares(RuntimeOrigin::signed(2), 0, 0, [0; 32]), Error::<Test>::WrongPhase);
		assert_noop!(DeltaTask::commit_shares(RuntimeOrigin::signed(5), 0, 0, [0; 32]), Error::<Test>::WrongPhase);
		assert_noop!(DeltaTask::finish_round(RuntimeOrigin::signed(OWNER), 0, 0, [0; 32]), Error::<Test>::WrongPhase);
		assert_noop!(DeltaTask::finish_task(RuntimeOrigin::signed(OWNER), 0), Error::<Test>::RoundInProgress);
	});
}

#[test]
fn a_late_join_is_refused_before_the_deadline_tick() {
	new_test_ext().execute_with(|| {
		create(params(2, 5, 2));
		assert_ok!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), 0));
		// Block 6 is the deadline; without on_initialize the join still sees it passed.
		System::set_block_number(6);
		assert_noop!(join(2), Error::<Test>::DeadlinePassed);
	});
}

#[test]
fn cancelling_ends_the_running_round_and_the_task() {
	new_test_ext().execute_with(|| {
		create(params(2, 5, 2));
		assert_ok!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), 0));
		assert_ok!(join(2));
		assert_noop!(DeltaTask::cancel_task(RuntimeOrigin::signed(2), 0), Error::<Test>::NotOwner);
		assert_ok!(DeltaTask::cancel_task(RuntimeOrigin::signed(OWNER), 0));
		assert_eq!(phase(), Phase::Failed(FailureReason::Cancelled));
		assert_eq!(Tasks::<Test>::get(0).unwrap().status, TaskStatus::Cancelled);
		assert_noop!(join(3), Error::<Test>::TaskNotActive);
		assert_noop!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), 0), Error::<Test>::TaskNotActive);
		System::assert_last_event(Event::TaskCancelled { task: 0 }.into());
	});
}

#[test]
fn deadline_slots_are_bounded() {
	new_test_ext().execute_with(|| {
		// MaxDeadlinesPerBlock = 4: a fifth round ending in the same block is refused.
		for _ in 0..5 {
			create(params(2, 3, 2));
		}
		for task in 0..4 {
			assert_ok!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), task));
		}
		assert_noop!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), 4), Error::<Test>::DeadlineSlotsFull);
	});
}

#[test]
fn pruning_a_large_task_is_spread_over_blocks_and_keeps_the_task() {
	let mut ext = new_test_ext();
	let members = [2, 3, 4, 5, 6];
	let finished_at = ext.execute_with(|| {
		let task = create(params(2, 5, 2));
		assert_ok!(DeltaTask::start_round(RuntimeOrigin::signed(OWNER), task));
		for who in members {
			assert_ok!(join(who));
		}
		for who in members {
			assert_ok!(DeltaTask::commit_shares(RuntimeOrigin::signed(who), 0, 0, [1; 32]));
		}
		for who in members {
			assert_ok!(DeltaTask::commit_masked(RuntimeOrigin::signed(who), 0, 0, [2; 32]));
		}
		for who in members {
			let shares = members.iter().map(|o| (*o, ShareKind::SelfMask, vec![who as u8])).collect();
			assert_ok!(DeltaTask::reveal(RuntimeOrigin::signed(who), 0, 0, shares));
		}
		assert_ok!(DeltaTask::finish_round(RuntimeOrigin::signed(OWNER), 0, 0, [9; 32]));
		assert_ok!(DeltaTask::finish_task(RuntimeOrigin::signed(OWNER), 0));
		assert_eq!(Reveals::<Test>::iter_prefix((0u64,)).count(), 25);
		System::block_number()
	});
	// As on a real chain, each block's writes reach the database before the
	// next block; the per-block limit applies to what is in the database.
	let mut remaining = Vec::new();
	for block in finished_at + 1..=finished_at + 14 {
		ext.commit_all().unwrap();
		ext.execute_with(|| {
			run_to(block);
			remaining.push(Reveals::<Test>::iter_prefix((0u64,)).count());
		});
	}
	// Kept for 10 blocks, then 25 reveals at 8 per block over four blocks.
	assert_eq!(remaining, vec![25, 25, 25, 25, 25, 25, 25, 25, 25, 17, 9, 1, 0, 0]);
	ext.execute_with(|| {
		assert_eq!(RoundMembers::<Test>::iter_prefix((0u64,)).count(), 0);
		assert!(Rounds::<Test>::get(0, 0).is_none());
		let pruned: Vec<_> = System::events()
			.into_iter()
			.filter(|r| r.event == RuntimeEvent::DeltaTask(Event::TaskPruned { task: 0 }))
			.collect();
		assert_eq!(pruned.len(), 1, "one event when the task's data is gone");
		assert_eq!(Tasks::<Test>::get(0).map(|t| t.status), Some(TaskStatus::Finished));
		assert_eq!(crate::PruneHead::<Test>::get(), crate::PruneTail::<Test>::get(), "the queue is empty");
	});
}
