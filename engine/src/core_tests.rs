//! Unit tests of the two protocol cores, driven by hand: every ledger
//! record, call result and clock reading is made up here, and the
//! assertions are on typed outputs (calls, messages, events), never on log
//! text.

use std::time::{Duration, Instant};

use delta_ledger_api::{AccountId, Call, Event, RoundInfo, RoundMember, StoredEvent, TaskInfo, H256};
use delta_primitives::{
	round::{FailureReason, MemberStatus, Phase, PhaseTimeouts, RoundParams, RoundState},
	task::TaskKind,
};
use rand_core::SeedableRng;

use crate::{
	io::{package_commitment, Announcement, Encoding, Message, StepSpec},
	EngineError, FailureKind, GraphChoice, LeftRound, MemberCore, MemberWork, Outcome, OutputSpec, Read, RequesterCore,
	TaskEvent, TaskPlan,
};

const OWNER: AccountId = AccountId([0xa0; 32]);
const PACKAGE: &[u8] = b"package bytes";

fn member(i: u8) -> AccountId {
	AccountId([i; 32])
}

fn step() -> StepSpec {
	StepSpec {
		dataset: "patients".into(),
		body: b"mean".to_vec(),
		outputs: vec![OutputSpec::floats("sum", 2)],
		privacy: None,
	}
}

fn plan(invited: usize) -> TaskPlan {
	TaskPlan {
		package: PACKAGE.to_vec(),
		first: step(),
		max_rounds: 2,
		kind: TaskKind::Statistics,
		min_members: 2,
		max_members: invited as u32,
		threshold: 2,
		timeouts: PhaseTimeouts { open: 1_000, share_keys: 1_000, compute: 1_000, unmask: 1_000 },
		encoding: Encoding::default(),
		graph: GraphChoice::default(),
		invited: (1..=invited as u8).map(member).collect(),
	}
}

fn created(task: u64) -> Vec<StoredEvent> {
	vec![StoredEvent { seq: 1, at: 0, event: Event::TaskCreated { task, owner: OWNER, package: H256([0; 32]) } }]
}

fn round_record(phase: Phase, members: &[(AccountId, MemberStatus)]) -> RoundInfo {
	let params = RoundParams { min_members: 2, max_members: 3, threshold: 2, timeouts: plan(3).timeouts };
	let mut state = RoundState::start(params, 0).unwrap();
	state.phase = phase;
	RoundInfo {
		state,
		seed: None,
		result: None,
		members: members
			.iter()
			.map(|(account, status)| RoundMember {
				account: *account,
				status: *status,
				channel_key: H256([1; 32]),
				masking_key: H256([2; 32]),
				shares: None,
				masked: None,
			})
			.collect(),
	}
}

fn events(core: &mut RequesterCore) -> Vec<TaskEvent> {
	std::iter::from_fn(|| core.poll_event()).collect()
}

/// A requester core past task creation and the first `StartRound`, with
/// its announcements drained.
fn started(invited: usize) -> RequesterCore {
	let mut core = RequesterCore::new(plan(invited));
	let create = core.poll_call().unwrap();
	core.handle_call(create.id, Ok(created(7)));
	let start = core.poll_call().unwrap();
	core.handle_call(start.id, Ok(Vec::new()));
	while core.poll_transmit().is_some() {}
	core
}

#[test]
fn a_requester_creates_the_task_then_starts_and_announces_the_round_only_once_the_ledger_has_it() {
	let mut core = RequesterCore::new(plan(3));
	let create = core.poll_call().expect("the first output is the task's creation");
	assert!(matches!(&create.call, Call::CreateTask { kind: TaskKind::Statistics, rounds: 2, .. }));
	assert!(core.poll_call().is_none(), "one call at a time");
	assert!(core.poll_transmit().is_none() && core.poll_read().is_none());

	core.handle_call(create.id, Ok(created(7)));
	assert_eq!(core.task(), Some(7));
	let start = core.poll_call().unwrap();
	assert_eq!(start.call, Call::StartRound { task: 7 });
	assert!(core.poll_transmit().is_none(), "nothing is announced before the ledger opens the round");

	core.handle_call(start.id, Ok(Vec::new()));
	let sent: Vec<_> = std::iter::from_fn(|| core.poll_transmit()).collect();
	assert_eq!(sent.iter().map(|(to, _)| *to).collect::<Vec<_>>(), vec![member(1), member(2), member(3)]);
	assert!(sent.iter().all(|(_, m)| matches!(m, Message::Announce(a) if a.task == 7 && a.round == 0)));
	assert_eq!(
		events(&mut core),
		vec![TaskEvent::TaskCreated { task: 7 }, TaskEvent::RoundStarted { round: 0, ring_bits: 64, elements: 2 }]
	);
	assert_eq!(core.poll_read(), Some((7, 0)));
	assert_eq!(core.poll_read(), None, "one read per wake");
	core.handle_wake();
	assert_eq!(core.poll_read(), Some((7, 0)));
}

#[test]
fn a_resumed_requester_creates_nothing_and_starts_the_ledgers_next_round_with_its_step() {
	let mut resumed = step();
	resumed.body = b"round 2".to_vec();
	let mut core = RequesterCore::resume(plan(3), 7, 1, resumed);
	assert_eq!(core.task(), Some(7));
	let start = core.poll_call().expect("the first output starts the next round");
	assert_eq!(start.call, Call::StartRound { task: 7 });
	core.handle_call(start.id, Ok(Vec::new()));
	let sent: Vec<_> = std::iter::from_fn(|| core.poll_transmit()).collect();
	assert_eq!(sent.len(), 3);
	assert!(sent.iter().all(|(_, m)| matches!(m, Message::Announce(a) if a.round == 1 && a.step.body == b"round 2")));
	assert_eq!(events(&mut core), vec![TaskEvent::RoundStarted { round: 1, ring_bits: 64, elements: 2 }]);

	// A task whose declared rounds are all used cannot resume, and is cancelled.
	let mut core = RequesterCore::resume(plan(3), 7, 2, step());
	assert!(matches!(core.outcome(), Outcome::Failed(r) if r.contains("all 2 rounds")));
	assert_eq!(core.poll_call().unwrap().call, Call::CancelTask { task: 7 });
}

#[test]
fn a_refused_creation_fails_the_task_with_the_ledgers_reason_and_cancels_nothing() {
	let mut core = RequesterCore::new(plan(3));
	let create = core.poll_call().unwrap();
	core.handle_call(create.id, Err(EngineError::Ledger { call: "create_task", reason: "NotRegistered".into() }));
	assert!(matches!(core.outcome(), Outcome::Failed(r) if r.contains("NotRegistered")));
	assert!(matches!(events(&mut core).as_slice(), [TaskEvent::Failed { kind: FailureKind::Ledger, .. }]));
	assert!(core.poll_call().is_none(), "no task exists, so there is nothing to cancel");
}

#[test]
fn a_plan_too_wide_for_one_reveal_never_reaches_the_ledger() {
	let mut wide = plan(200);
	wide.graph = GraphChoice::Complete;
	let mut core = RequesterCore::new(wide);
	assert!(core.poll_call().is_none());
	assert!(matches!(events(&mut core).as_slice(), [TaskEvent::Failed { kind: FailureKind::Plan, .. }]));
}

#[test]
fn too_few_masked_inputs_fail_the_task_naming_the_late_member_and_cancel_it() {
	let mut core = started(3);
	events(&mut core);
	let (task, round) = core.poll_read().unwrap();
	let record = round_record(
		Phase::Failed(FailureReason::TooFewMasked),
		&[(member(1), MemberStatus::Masked), (member(2), MemberStatus::Shared), (member(3), MemberStatus::Masked)],
	);
	core.handle_round(Instant::now(), task, round, Ok(Some(record)));
	let failed = events(&mut core);
	let [TaskEvent::Failed { kind: FailureKind::ComputeDeadline, reason }] = failed.as_slice() else {
		panic!("{failed:?}");
	};
	assert!(reason.contains(&member(2).to_string()) && !reason.contains(&member(1).to_string()));
	let cancel = core.poll_call().unwrap();
	assert_eq!(cancel.call, Call::CancelTask { task: 7 });
	// The cancellation's own refusal changes nothing.
	core.handle_call(cancel.id, Err(EngineError::Ledger { call: "cancel_task", reason: "TaskEnded".into() }));
	assert!(matches!(core.outcome(), Outcome::Failed(_)));
	assert!(events(&mut core).is_empty());
	core.handle_wake();
	assert_eq!(core.poll_read(), None, "a failed task reads nothing more");
}

#[test]
fn declines_below_the_threshold_abandon_the_round_at_once_with_the_reasons() {
	let mut core = started(3);
	core.handle_message(member(1), Message::Decline { task: 7, round: 0, reason: "no such dataset".into() });
	core.handle_message(member(2), Message::Decline { task: 7, round: 0, reason: "policy".into() });
	// A stranger's decline and one for another round do not count.
	core.handle_message(member(9), Message::Decline { task: 7, round: 0, reason: "noise".into() });
	core.handle_message(member(3), Message::Decline { task: 7, round: 1, reason: "later".into() });
	let declined = events(&mut core);
	assert_eq!(declined.len(), 4, "{declined:?}");
	assert!(matches!(&declined[2], TaskEvent::Declined { member: m, .. } if *m == member(1)));
	let (task, round) = core.poll_read().unwrap();
	let joined =
		[(member(1), MemberStatus::Joined), (member(2), MemberStatus::Joined), (member(3), MemberStatus::Joined)];
	core.handle_round(Instant::now(), task, round, Ok(Some(round_record(Phase::ShareKeys, &joined))));
	let failed = events(&mut core);
	let [TaskEvent::Failed { kind: FailureKind::Abandoned, reason }] = failed.as_slice() else { panic!("{failed:?}") };
	assert!(reason.contains("no such dataset") && reason.contains("policy") && !reason.contains("noise"));
}

#[test]
fn a_record_of_another_round_or_one_read_before_a_call_returned_is_ignored() {
	let mut core = started(3);
	events(&mut core);
	let failed = round_record(Phase::Failed(FailureReason::NotEnoughMembers), &[]);
	core.handle_round(Instant::now(), 7, 5, Ok(Some(failed.clone())));
	core.handle_round(Instant::now(), 8, 0, Ok(Some(failed)));
	assert_eq!(core.outcome(), &Outcome::Running);
	assert!(events(&mut core).is_empty());
	// A result for a call the core never made is ignored too.
	core.handle_call(crate::CallId(999), Err(EngineError::Plan("x".into())));
	assert_eq!(core.outcome(), &Outcome::Running);
}

#[test]
fn the_grace_for_a_committed_message_runs_on_the_hosts_clock() {
	let mut core = started(3);
	events(&mut core);
	let mut record = round_record(
		Phase::Compute,
		&[(member(1), MemberStatus::Shared), (member(2), MemberStatus::Shared), (member(3), MemberStatus::Shared)],
	);
	record.seed = Some(H256([3; 32]));
	for m in &mut record.members {
		m.shares = Some(H256([4; 32]));
	}
	let t0 = Instant::now();
	let (task, round) = core.poll_read().unwrap();
	core.handle_round(t0, task, round, Ok(Some(record.clone())));
	// Keys were accepted (the roster); the shares themselves never came.
	assert!(matches!(events(&mut core).as_slice(), [TaskEvent::MembersJoined { members: 3, .. }]));
	assert_eq!(core.poll_timeout(), Some(t0 + Duration::from_secs(10)));
	assert!(core.poll_transmit().is_none(), "no deliveries while the grace runs");
	core.handle_wake();
	let (task, round) = core.poll_read().unwrap();
	core.handle_round(t0 + Duration::from_secs(10), task, round, Ok(Some(record)));
	// Without any member's shares nobody can be served: secure aggregation
	// itself says so, and the task fails by kind.
	assert!(core.poll_timeout().is_none());
	let after = events(&mut core);
	assert!(matches!(after.last(), Some(TaskEvent::Failed { kind: FailureKind::SecureAggregation, .. })), "{after:?}");
}

#[test]
fn a_reduce_is_asked_for_and_its_result_finishes_the_round() {
	// Drive the requester to a reduce by hand is the simulation's job;
	// here, a reduce that fails ends the task by kind, and a late answer
	// after that is ignored.
	let mut core = started(3);
	core.reducing = Some(([0; 32], 3));
	core.handle_reduced(Err(EngineError::Executor("boom".into())));
	assert!(matches!(events(&mut core).last(), Some(TaskEvent::Failed { kind: FailureKind::TaskCode, .. })));
	core.handle_reduced(Ok(crate::Next::Done(Vec::new())));
	assert!(matches!(core.outcome(), Outcome::Failed(_)));
	assert_eq!(core.poll_call().map(|c| c.call), Some(Call::CancelTask { task: 7 }));
	assert!(core.poll_work().is_none());
}

#[test]
fn the_result_is_out_once_the_last_round_is_finished_and_closing_the_task_follows() {
	let mut core = started(3);
	events(&mut core);
	core.reducing = Some(([5; 32], 3));
	core.handle_reduced(Ok(crate::Next::Done(b"answer".to_vec())));
	let finish = core.poll_call().unwrap();
	assert_eq!(finish.call, Call::FinishRound { task: 7, round: 0, result: H256([5; 32]) });
	assert_eq!(core.outcome(), &Outcome::Running, "no result before its round is finished on the ledger");

	core.handle_call(finish.id, Ok(Vec::new()));
	assert_eq!(core.outcome(), &Outcome::Done(b"answer".to_vec()));
	assert_eq!(events(&mut core), vec![TaskEvent::Unmasked { round: 0, members: 3 }, TaskEvent::Done]);
	let close = core.poll_call().expect("the task is closed on the ledger after the result");
	assert_eq!(close.call, Call::FinishTask { task: 7 });
	core.handle_call(close.id, Err(EngineError::Ledger { call: "finish_task", reason: "unavailable".into() }));
	assert_eq!(core.outcome(), &Outcome::Done(b"answer".to_vec()), "a failed close leaves the result standing");
	assert!(core.poll_call().is_none() && events(&mut core).is_empty());
}

// ----- the member core ------------------------------------------------------

fn task_record(owner: AccountId) -> TaskInfo {
	TaskInfo {
		id: 7,
		owner,
		package: H256(package_commitment(PACKAGE)),
		kind: TaskKind::Statistics,
		datasets: vec!["patients".into()],
		rounds: 2,
		params: RoundParams { min_members: 2, max_members: 3, threshold: 2, timeouts: plan(3).timeouts },
		status: delta_primitives::task::TaskStatus::Active,
		rounds_started: 1,
		created_at: 0,
	}
}

fn announcement(package: &[u8]) -> Message {
	Message::Announce(Announcement {
		task: 7,
		round: 0,
		step: step(),
		encoding: Encoding::default(),
		graph: GraphChoice::default(),
		package: package.to_vec(),
	})
}

fn member_core(seed: u64) -> MemberCore {
	MemberCore::new(member(1), Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)))
}

fn left(core: &mut MemberCore) -> Vec<LeftRound> {
	std::iter::from_fn(|| core.poll_event()).collect()
}

/// Takes a member core from the announcement to its `Join` call.
fn to_join(core: &mut MemberCore) -> crate::CallRequest {
	core.handle_message(OWNER, announcement(PACKAGE));
	assert_eq!(core.poll_read(), Some(Read::Task(7)));
	core.handle_task(7, Ok(Some(task_record(OWNER))));
	assert_eq!(core.poll_read(), Some(Read::Round { task: 7, round: 0 }));
	core.handle_round(7, 0, Ok(Some(round_record(Phase::Open, &[]))));
	let Some(MemberWork::Prepare { task, round: 0, dataset, package }) = core.poll_work() else {
		panic!("the holder's policy and the executor see the task before it joins")
	};
	assert_eq!((task.id, dataset.as_str(), package.as_slice()), (7, "patients", PACKAGE));
	assert!(core.poll_call().is_none(), "no join before the policy said yes");
	core.handle_prepared(7, 0, Ok(()));
	core.poll_call().expect("the join")
}

#[test]
fn a_member_joins_only_after_the_ledger_the_policy_and_the_executor_agree() {
	let mut core = member_core(1);
	let join = to_join(&mut core);
	assert!(matches!(join.call, Call::Join { task: 7, round: 0, .. }));
	assert!(!core.is_idle());
	core.handle_call(join.id, Ok(Vec::new()));
	assert_eq!(core.poll_read(), Some(Read::Round { task: 7, round: 0 }), "it looks at once after joining");
	assert!(left(&mut core).is_empty());
}

#[test]
fn a_members_keys_come_from_the_injected_rng_alone() {
	let keys = |seed| match to_join(&mut member_core(seed)).call {
		Call::Join { channel_key, masking_key, .. } => (channel_key, masking_key),
		other => panic!("{other:?}"),
	};
	assert_eq!(keys(5), keys(5));
	assert_ne!(keys(5), keys(6));
}

#[test]
fn an_announcement_not_from_the_tasks_owner_is_declined_without_a_word() {
	let mut core = member_core(1);
	core.handle_message(member(9), announcement(PACKAGE));
	assert_eq!(core.poll_read(), Some(Read::Task(7)));
	core.handle_task(7, Ok(Some(task_record(OWNER))));
	assert!(core.poll_transmit().is_none(), "nobody to tell");
	assert!(matches!(left(&mut core).as_slice(), [LeftRound { task: 7, round: 0, kind: FailureKind::Ledger, .. }]));
	assert!(core.is_idle());
	// The same round announced again is not looked at twice.
	core.handle_message(OWNER, announcement(PACKAGE));
	assert_eq!(core.poll_read(), None);
}

#[test]
fn a_package_that_does_not_match_the_ledger_is_declined_and_the_requester_told() {
	let mut core = member_core(1);
	core.handle_message(OWNER, announcement(b"other bytes"));
	core.poll_read();
	core.handle_task(7, Ok(Some(task_record(OWNER))));
	let Some((to, Message::Decline { task: 7, round: 0, reason })) = core.poll_transmit() else { panic!() };
	assert_eq!(to, OWNER);
	assert!(reason.contains("does not match its commitment"), "{reason}");
	assert!(core.poll_work().is_none() && core.poll_call().is_none());
}

#[test]
fn a_policy_refusal_or_a_refused_join_declines_with_the_public_reason() {
	let mut core = member_core(1);
	core.handle_message(OWNER, announcement(PACKAGE));
	core.poll_read();
	core.handle_task(7, Ok(Some(task_record(OWNER))));
	core.poll_read();
	core.handle_round(7, 0, Ok(Some(round_record(Phase::Open, &[]))));
	core.poll_work();
	core.handle_prepared(
		7,
		0,
		Err(EngineError::TaskCode { kind: "static check".into(), detail: "row 3 is 42".into() }),
	);
	let Some((_, Message::Decline { reason, .. })) = core.poll_transmit() else { panic!() };
	assert!(reason.contains("static check") && !reason.contains("42"), "{reason}");
	assert!(matches!(left(&mut core).as_slice(), [LeftRound { kind: FailureKind::TaskCode, .. }]));

	let mut core = member_core(2);
	let join = to_join(&mut core);
	core.handle_call(join.id, Err(EngineError::Ledger { call: "join", reason: "WrongPhase".into() }));
	let Some((_, Message::Decline { reason, .. })) = core.poll_transmit() else { panic!() };
	assert!(reason.contains("WrongPhase"));
	assert!(core.is_idle());
}

#[test]
fn an_early_map_starts_at_joining_and_its_outputs_wait_for_the_compute_phase() {
	// Inline hosts (the default) get the map at the Compute phase only.
	let mut core = member_core(1);
	to_join(&mut core);
	assert!(core.poll_work().is_none(), "no map before the Compute phase");

	let mut core = member_core(1);
	core.map_early(true);
	let join = to_join(&mut core);
	let Some(MemberWork::Map { task: 7, round: 0, step: mapped }) = core.poll_work() else {
		panic!("the map starts beside the join")
	};
	assert_eq!(mapped, step());
	core.handle_mapped(7, 0, Ok(vec![crate::Values::F64(vec![1.0, 2.0])]));
	assert!(core.poll_transmit().is_none(), "nothing leaves before the Compute phase");
	assert!(left(&mut core).is_empty());
	core.handle_call(join.id, Ok(Vec::new()));
	assert_eq!(core.poll_read(), Some(Read::Round { task: 7, round: 0 }));
	assert!(core.poll_work().is_none(), "one map a round");
	assert!(core.poll_transmit().is_none());
}

#[test]
fn an_early_map_that_fails_leaves_the_round_and_tells_the_requester() {
	let mut core = member_core(1);
	core.map_early(true);
	let join = to_join(&mut core);
	assert!(matches!(core.poll_work(), Some(MemberWork::Map { .. })));
	core.handle_mapped(7, 0, Err(EngineError::Executor("row 3 is 42".into())));
	let Some((to, Message::Decline { reason, .. })) = core.poll_transmit() else { panic!("the requester is told") };
	assert_eq!(to, OWNER);
	assert!(reason.contains("task code failed") && !reason.contains("42"), "{reason}");
	assert!(matches!(left(&mut core).as_slice(), [LeftRound { kind: FailureKind::TaskCode, .. }]));
	assert!(core.is_idle());
	// The join's answer comes after: the member stays out, and holds
	// nothing of the round.
	core.handle_call(join.id, Ok(Vec::new()));
	assert!(core.poll_read().is_none() && core.poll_transmit().is_none());
	assert_eq!(core.rounds_held(), 0);
}

#[test]
fn a_round_that_is_no_longer_open_is_declined() {
	let mut core = member_core(1);
	core.handle_message(OWNER, announcement(PACKAGE));
	core.poll_read();
	core.handle_task(7, Ok(Some(task_record(OWNER))));
	core.poll_read();
	core.handle_round(7, 0, Ok(Some(round_record(Phase::ShareKeys, &[]))));
	let Some((_, Message::Decline { reason, .. })) = core.poll_transmit() else { panic!() };
	assert!(reason.contains("not open"));
	assert!(core.poll_work().is_none());
}

#[test]
fn a_joined_member_whose_round_failed_leaves_quietly() {
	let mut core = member_core(1);
	let join = to_join(&mut core);
	core.handle_call(join.id, Ok(Vec::new()));
	let Some(Read::Round { task, round }) = core.poll_read() else { panic!() };
	core.handle_round(task, round, Ok(Some(round_record(Phase::Failed(FailureReason::NotEnoughMembers), &[]))));
	assert!(core.poll_transmit().is_none(), "the requester knows already");
	assert!(matches!(left(&mut core).as_slice(), [LeftRound { kind: FailureKind::Round, .. }]));
	assert!(core.is_idle());
	core.handle_wake();
	assert_eq!(core.poll_read(), None);
	// The round's work (its step and data, keys) is gone, and the same
	// round announced again is not taken up.
	assert_eq!(core.rounds_held(), 0);
	core.handle_message(OWNER, announcement(PACKAGE));
	assert_eq!(core.poll_read(), None);
	assert_eq!(core.rounds_held(), 0);
}
