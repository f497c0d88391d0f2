//! One conformance suite for Delta's two ledgers.
//!
//! `pallet-delta-task` (on chain) and the coordinator (off chain) must
//! accept and refuse the same calls (and `pallet-delta-identity` and the
//! coordinator's registry the same registrations: [`identity`]), in the same phases, with the same
//! error names, and move rounds the same way on quorum and on deadline.
//! Each ledger implements the small [`TaskLedger`] trait over its own
//! storage (a mock runtime, an SQLite database) and runs [`SCENARIOS`].
//! [`ops`] and [`trace`] drive random call sequences, so two ledgers can be
//! compared step by step.
//!
//! [`coordinator::CoordinatorLedger`] is the coordinator's adapter; the
//! pallet's adapter lives in its tests, over the mock runtime.
//!
//! Time is counted in ledger units (blocks on chain, milliseconds in the
//! coordinator); both start at 1, and [`TaskLedger::advance`] lets time pass
//! and runs whatever deadlines and pruning fall due.

#![deny(missing_docs)]

pub mod coordinator;
pub mod identity;

use delta_primitives::{
	round::{FailureReason, MemberStatus, Phase, PhaseTimeouts, RoundParams, RoundState, ShareKind},
	task::TaskStatus,
};
use proptest::prelude::*;

/// A participant in the suite: a small number that each ledger maps to one
/// of its accounts. Participants are not network members until
/// [`TaskLedger::register`] is called for them.
pub type Who = u8;

/// What a call did: `Ok` or the name of the refusal (the pallet's `Error`
/// variant name, the coordinator's error name; both spell the names of
/// [`delta_primitives::task::TaskError`]).
pub type Outcome = Result<(), &'static str>;

/// A ledger's limits, which the scenarios probe at their edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
	/// Most datasets one task may name.
	pub max_datasets: u32,
	/// Longest dataset name, in bytes.
	pub max_dataset_name_len: u32,
	/// Most rounds one task may run.
	pub max_rounds: u32,
	/// Most shares one reveal call may carry.
	pub max_reveals_per_call: u32,
	/// Longest revealed share, in bytes.
	pub max_share_len: u32,
	/// Units a finished task's round data is kept.
	pub retention: u64,
}

/// A round as the suite compares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundView {
	/// Phase, deadline and counts.
	pub state: RoundState,
	/// Whether the neighbour-graph seed has been fixed. Its value differs by
	/// ledger (a block hash, the coordinator's randomness).
	pub seed_fixed: bool,
	/// The result commitment, once recorded.
	pub result: Option<[u8; 32]>,
}

/// The calls and reads of a task ledger, in the suite's terms.
pub trait TaskLedger {
	/// The ledger's limits.
	fn limits(&mut self) -> Limits;
	/// Makes `who` a registered network member.
	fn register(&mut self, who: Who);
	/// Creates a task owned by `owner`; returns its id.
	fn create_task(
		&mut self,
		owner: Who,
		datasets: Vec<Vec<u8>>,
		rounds: u32,
		params: RoundParams,
	) -> Result<u64, &'static str>;
	/// Opens the task's next round.
	fn start_round(&mut self, who: Who, task: u64) -> Outcome;
	/// Joins a round with two public keys.
	fn join(&mut self, who: Who, task: u64, round: u32, channel: [u8; 32], masking: [u8; 32]) -> Outcome;
	/// Commits encrypted shares.
	fn commit_shares(&mut self, who: Who, task: u64, round: u32, commitment: [u8; 32]) -> Outcome;
	/// Commits a masked input.
	fn commit_masked(&mut self, who: Who, task: u64, round: u32, commitment: [u8; 32]) -> Outcome;
	/// Reveals shares: (owner of the secret, kind, share).
	fn reveal(&mut self, who: Who, task: u64, round: u32, shares: Vec<(Who, ShareKind, Vec<u8>)>) -> Outcome;
	/// Records a round's result.
	fn finish_round(&mut self, who: Who, task: u64, round: u32, result: [u8; 32]) -> Outcome;
	/// Finishes a task.
	fn finish_task(&mut self, who: Who, task: u64) -> Outcome;
	/// Cancels a task.
	fn cancel_task(&mut self, who: Who, task: u64) -> Outcome;
	/// Lets `units` of time pass, running deadlines and pruning on the way.
	fn advance(&mut self, units: u64);
	/// A round, if it exists (and is not pruned).
	fn round(&mut self, task: u64, round: u32) -> Option<RoundView>;
	/// A member's status in a round.
	fn member_status(&mut self, task: u64, round: u32, who: Who) -> Option<MemberStatus>;
	/// A revealed share: (revealer, owner) to kind and bytes.
	fn revealed(&mut self, task: u64, round: u32, revealer: Who, owner: Who) -> Option<(ShareKind, Vec<u8>)>;
	/// A task's status.
	fn task_status(&mut self, task: u64) -> Option<TaskStatus>;
	/// Records a holder's privacy charge (millionths of ε) against a task.
	fn charge_privacy(&mut self, holder: Who, task: u64, dataset: &str, epsilon: u64) -> Outcome;
	/// Millionths of ε the requester has spent on the holder's dataset.
	fn privacy_spent(&mut self, holder: Who, dataset: &str, requester: Who) -> u64;
}

/// A scenario: a name and the check it runs against a fresh ledger.
pub type Scenario = (&'static str, fn(&mut dyn TaskLedger));

/// Every scenario both ledgers must pass.
pub const SCENARIOS: &[Scenario] = &[
	("a whole round moves on quorum and records its result", whole_round),
	("deadlines move phases and dropouts are handled", deadlines_and_dropouts),
	("a round without enough members fails and the next may start", not_enough_members),
	("bad parameters and tasks are refused by name", bad_tasks),
	("out-of-turn calls are refused and change nothing", out_of_turn),
	("reveals follow the one-kind-per-neighbour rule", reveal_rules),
	("cancelling fails the running round and closes the task", cancelling),
	("a finished task's round data is pruned after retention", pruning),
	("privacy charges add up per holder, dataset and requester", privacy_charges),
];

/// Runs every scenario, each on a ledger from `fresh`.
pub fn run_all(mut fresh: impl FnMut() -> Box<dyn TaskLedger>) {
	for (name, scenario) in SCENARIOS {
		let mut ledger = fresh();
		eprintln!("conformance: {name}");
		scenario(ledger.as_mut());
	}
}

/// Phase lengths used by the scenarios.
pub const TIMEOUT: u64 = 5;

/// Round parameters with every phase lasting [`TIMEOUT`].
pub fn params(min: u32, max: u32, threshold: u32) -> RoundParams {
	RoundParams {
		min_members: min,
		max_members: max,
		threshold,
		timeouts: PhaseTimeouts { open: TIMEOUT, share_keys: TIMEOUT, compute: TIMEOUT, unmask: TIMEOUT },
	}
}

/// Round parameters of the random sequences: phases long enough (20
/// units) that members usually act before the deadline.
fn random_params(min: u32, max: u32, threshold: u32) -> RoundParams {
	let t = 20;
	RoundParams {
		min_members: min,
		max_members: max,
		threshold,
		timeouts: PhaseTimeouts { open: t, share_keys: t, compute: t, unmask: t },
	}
}

/// The owner in every scenario; not a registered member.
pub const OWNER: Who = 0;

/// Distinct, non-zero keys for `who`.
pub fn keys(who: Who) -> ([u8; 32], [u8; 32]) {
	([who.wrapping_add(1); 32], [who.wrapping_add(101); 32])
}

fn phase(l: &mut dyn TaskLedger, task: u64, round: u32) -> Phase {
	l.round(task, round).expect("round exists").state.phase
}

fn task_with(l: &mut dyn TaskLedger, members: &[Who], rounds: u32, p: RoundParams) -> u64 {
	for &m in members {
		l.register(m);
	}
	let task = l.create_task(OWNER, vec![b"patients".to_vec()], rounds, p).expect("valid task");
	assert_eq!(l.start_round(OWNER, task), Ok(()));
	task
}

fn join_all(l: &mut dyn TaskLedger, task: u64, round: u32, members: &[Who]) {
	for &m in members {
		let (c, k) = keys(m);
		assert_eq!(l.join(m, task, round, c, k), Ok(()), "join of {m}");
	}
}

fn whole_round(l: &mut dyn TaskLedger) {
	let members = [1, 2, 3];
	let task = task_with(l, &members, 2, params(2, 3, 2));
	let open = l.round(task, 0).expect("round 0");
	assert_eq!((open.state.phase, open.state.deadline, open.seed_fixed), (Phase::Open, 1 + TIMEOUT, false));
	join_all(l, task, 0, &members);
	let view = l.round(task, 0).expect("round 0");
	assert_eq!(view.state.phase, Phase::ShareKeys, "joining closes when max have joined");
	assert!(view.seed_fixed, "the seed is fixed with the member set");
	for m in members {
		assert_eq!(l.commit_shares(m, task, 0, [m; 32]), Ok(()));
	}
	assert_eq!(phase(l, task, 0), Phase::Compute);
	for m in members {
		assert_eq!(l.commit_masked(m, task, 0, [m; 32]), Ok(()));
	}
	assert_eq!(phase(l, task, 0), Phase::Unmask);
	for m in members {
		let shares = members.iter().map(|&o| (o, ShareKind::SelfMask, vec![m, o])).collect();
		assert_eq!(l.reveal(m, task, 0, shares), Ok(()));
	}
	assert_eq!(phase(l, task, 0), Phase::Done);
	assert_eq!(l.revealed(task, 0, 2, 3), Some((ShareKind::SelfMask, vec![2, 3])));
	assert_eq!(l.member_status(task, 0, 1), Some(MemberStatus::Revealed));
	assert_eq!(l.finish_round(2, task, 0, [9; 32]), Err("NotOwner"));
	assert_eq!(l.finish_round(OWNER, task, 0, [9; 32]), Ok(()));
	assert_eq!(l.round(task, 0).expect("round 0").result, Some([9; 32]));
	assert_eq!(l.finish_round(OWNER, task, 0, [8; 32]), Err("WrongPhase"), "a result is recorded once");
	// The second round starts fresh; the first keeps its record.
	assert_eq!(l.start_round(OWNER, task), Ok(()));
	assert_eq!(phase(l, task, 1), Phase::Open);
	assert_eq!(l.member_status(task, 1, 1), None);
	// All rounds are started: that refusal comes before the running round's.
	assert_eq!(l.start_round(OWNER, task), Err("NoRoundsLeft"));
	assert_eq!(l.finish_task(OWNER, task), Err("RoundInProgress"));
	l.advance(TIMEOUT);
	assert_eq!(phase(l, task, 1), Phase::Failed(FailureReason::NotEnoughMembers));
	assert_eq!(l.start_round(OWNER, task), Err("NoRoundsLeft"));
	assert_eq!(l.finish_task(OWNER, task), Ok(()));
	assert_eq!(l.task_status(task), Some(TaskStatus::Finished));
	assert_eq!(l.finish_task(OWNER, task), Err("TaskNotActive"));
}

fn deadlines_and_dropouts(l: &mut dyn TaskLedger) {
	let members = [1, 2, 3, 4];
	let task = task_with(l, &members, 1, params(2, 10, 2));
	join_all(l, task, 0, &members);
	l.advance(TIMEOUT - 1);
	assert_eq!(phase(l, task, 0), Phase::Open, "nothing moves before the deadline");
	l.advance(1);
	let view = l.round(task, 0).expect("round 0");
	assert_eq!((view.state.phase, view.state.deadline), (Phase::ShareKeys, 1 + 2 * TIMEOUT));
	assert!(view.seed_fixed);
	let (c, k) = keys(5);
	l.register(5);
	assert_eq!(l.join(5, task, 0, c, k), Err("WrongPhase"), "the member set is fixed");
	for m in [1, 2, 3] {
		assert_eq!(l.commit_shares(m, task, 0, [m; 32]), Ok(()));
	}
	// 4 drops out before sharing.
	l.advance(TIMEOUT);
	assert_eq!(phase(l, task, 0), Phase::Compute);
	assert_eq!(l.commit_masked(4, task, 0, [4; 32]), Err("DroppedOut"));
	assert_eq!(l.commit_masked(1, task, 0, [1; 32]), Ok(()));
	assert_eq!(l.commit_masked(2, task, 0, [2; 32]), Ok(()));
	assert_eq!(l.commit_masked(1, task, 0, [1; 32]), Err("AlreadyDone"));
	// 3 drops out after sharing: its mask key may be revealed, not its
	// self-mask seed.
	l.advance(TIMEOUT);
	assert_eq!(phase(l, task, 0), Phase::Unmask);
	let alive = |o: Who| (o, ShareKind::SelfMask, vec![o]);
	assert_eq!(
		l.reveal(1, task, 0, vec![alive(1), alive(2), (3, ShareKind::SelfMask, vec![3])]),
		Err("WrongShareKind")
	);
	assert_eq!(
		l.reveal(1, task, 0, vec![alive(1), alive(2), (4, ShareKind::MaskKey, vec![4])]),
		Err("RevealForUnknownMember")
	);
	assert_eq!(l.reveal(1, task, 0, vec![alive(1), alive(2), (3, ShareKind::MaskKey, vec![3])]), Ok(()));
	assert_eq!(l.reveal(3, task, 0, vec![alive(1)]), Err("DroppedOut"));
	assert_eq!(l.revealed(task, 0, 1, 3), Some((ShareKind::MaskKey, vec![3])));
	// One reveal is below the threshold of 2: the round fails at the deadline.
	l.advance(TIMEOUT);
	assert_eq!(phase(l, task, 0), Phase::Failed(FailureReason::TooFewRevealed));
	let view = l.round(task, 0).expect("round 0").state;
	assert_eq!((view.joined, view.shared, view.masked, view.revealed), (4, 3, 2, 1));
}

fn not_enough_members(l: &mut dyn TaskLedger) {
	let task = task_with(l, &[1, 2, 3], 2, params(3, 5, 2));
	join_all(l, task, 0, &[1, 2]);
	assert_eq!(l.start_round(OWNER, task), Err("RoundInProgress"));
	l.advance(TIMEOUT);
	assert_eq!(phase(l, task, 0), Phase::Failed(FailureReason::NotEnoughMembers));
	assert!(!l.round(task, 0).expect("round 0").seed_fixed);
	assert_eq!(l.commit_shares(1, task, 0, [1; 32]), Err("WrongPhase"));
	assert_eq!(l.start_round(OWNER, task), Ok(()));
	assert_eq!(phase(l, task, 1), Phase::Open);
	// Too few commit shares: the round fails when ShareKeys ends.
	join_all(l, task, 1, &[1, 2, 3]);
	l.advance(TIMEOUT);
	assert_eq!(phase(l, task, 1), Phase::ShareKeys);
	assert_eq!(l.commit_shares(1, task, 1, [1; 32]), Ok(()));
	l.advance(TIMEOUT);
	assert_eq!(phase(l, task, 1), Phase::Failed(FailureReason::TooFewShared));
}

fn bad_tasks(l: &mut dyn TaskLedger) {
	let lim = l.limits();
	let ok = vec![b"d".to_vec()];
	let mut create =
		|datasets: Vec<Vec<u8>>, rounds: u32, p: RoundParams| l.create_task(OWNER, datasets, rounds, p).map(|_| ());
	assert_eq!(create(ok.clone(), 1, params(1, 3, 1)), Err("TooFewMembers"));
	assert_eq!(create(ok.clone(), 1, params(4, 3, 2)), Err("MinAboveMax"));
	assert_eq!(create(ok.clone(), 1, params(2, 1001, 2)), Err("TooManyMembers"));
	assert_eq!(create(ok.clone(), 1, params(3, 5, 4)), Err("BadThreshold"));
	let mut zero = params(2, 3, 2);
	zero.timeouts.unmask = 0;
	assert_eq!(create(ok.clone(), 1, zero), Err("ZeroTimeout"));
	assert_eq!(create(ok.clone(), 0, params(2, 3, 2)), Err("BadRoundCount"));
	assert_eq!(create(ok.clone(), lim.max_rounds + 1, params(2, 3, 2)), Err("BadRoundCount"));
	let too_many = vec![b"d".to_vec(); lim.max_datasets as usize + 1];
	assert_eq!(create(too_many, 1, params(2, 3, 2)), Err("TooManyDatasets"));
	assert_eq!(create(vec![Vec::new()], 1, params(2, 3, 2)), Err("BadDatasetName"));
	let long = vec![b'n'; lim.max_dataset_name_len as usize + 1];
	assert_eq!(create(vec![long], 1, params(2, 3, 2)), Err("BadDatasetName"));
	// Nothing was created: the first valid task gets id 0.
	let at_limit = vec![vec![b'n'; lim.max_dataset_name_len as usize]; lim.max_datasets as usize];
	assert_eq!(l.create_task(OWNER, at_limit, lim.max_rounds, params(2, 3, 2)), Ok(0));
	assert_eq!(l.start_round(OWNER, 7), Err("UnknownTask"));
	assert_eq!(l.start_round(1, 0), Err("NotOwner"));
	assert_eq!(l.finish_task(1, 0), Err("NotOwner"));
	assert_eq!(l.cancel_task(OWNER, 7), Err("UnknownTask"));
	assert_eq!(l.round(0, 0), None);
}

fn out_of_turn(l: &mut dyn TaskLedger) {
	let task = task_with(l, &[1, 2, 3], 1, params(2, 3, 2));
	let (c, k) = keys(1);
	assert_eq!(l.join(9, task, 0, c, k), Err("NotRegistered"));
	assert_eq!(l.join(1, task, 0, c, c), Err("BadKeys"));
	assert_eq!(l.join(1, task, 0, [0; 32], k), Err("BadKeys"));
	assert_eq!(l.join(1, task + 1, 0, c, k), Err("UnknownTask"));
	assert_eq!(l.join(1, task, 1, c, k), Err("UnknownRound"));
	assert_eq!(l.commit_shares(1, task, 0, [1; 32]), Err("WrongPhase"));
	let before = l.round(task, 0);
	assert_eq!(before.map(|r| r.state.joined), Some(0), "refusals change nothing");
	assert_eq!(l.join(1, task, 0, c, k), Ok(()));
	assert_eq!(l.join(1, task, 0, c, k), Err("AlreadyJoined"));
	join_all(l, task, 0, &[2, 3]);
	assert_eq!(phase(l, task, 0), Phase::ShareKeys);
	let before = l.round(task, 0);
	assert_eq!(l.commit_shares(9, task, 0, [1; 32]), Err("NotInRound"));
	assert_eq!(l.commit_masked(1, task, 0, [1; 32]), Err("WrongPhase"));
	assert_eq!(l.reveal(1, task, 0, Vec::new()), Err("WrongPhase"));
	assert_eq!(l.finish_round(OWNER, task, 0, [1; 32]), Err("WrongPhase"));
	assert_eq!(l.round(task, 0), before, "refusals change nothing");
	assert_eq!(l.commit_shares(1, task, 0, [1; 32]), Ok(()));
	assert_eq!(l.commit_shares(1, task, 0, [1; 32]), Err("AlreadyDone"));
	// A deadline that has passed moves the phase before the next call.
	l.advance(TIMEOUT);
	assert_eq!(l.commit_shares(2, task, 0, [2; 32]), Err("WrongPhase"));
	assert_eq!(phase(l, task, 0), Phase::Failed(FailureReason::TooFewShared));
}

fn reveal_rules(l: &mut dyn TaskLedger) {
	let lim = l.limits();
	let members = [1, 2, 3];
	let task = task_with(l, &members, 1, params(2, 3, 2));
	join_all(l, task, 0, &members);
	for m in members {
		assert_eq!(l.commit_shares(m, task, 0, [m; 32]), Ok(()));
	}
	for m in members {
		assert_eq!(l.commit_masked(m, task, 0, [m; 32]), Ok(()));
	}
	assert_eq!(phase(l, task, 0), Phase::Unmask);
	let before = l.round(task, 0);
	let share = |o: Who| (o, ShareKind::SelfMask, vec![o]);
	assert_eq!(l.reveal(1, task, 0, vec![share(2), share(2)]), Err("DuplicateReveal"));
	assert_eq!(l.reveal(1, task, 0, vec![(2, ShareKind::MaskKey, vec![2])]), Err("WrongShareKind"));
	assert_eq!(l.reveal(1, task, 0, vec![share(9)]), Err("RevealForUnknownMember"));
	let long = vec![(2, ShareKind::SelfMask, vec![0; lim.max_share_len as usize + 1])];
	assert_eq!(l.reveal(1, task, 0, long), Err("RevealTooLarge"));
	let many: Vec<_> = (0..=lim.max_reveals_per_call).map(|i| share(i as Who)).collect();
	assert_eq!(l.reveal(1, task, 0, many), Err("RevealTooLarge"));
	assert_eq!(l.reveal(9, task, 0, vec![share(2)]), Err("NotInRound"));
	assert_eq!(l.round(task, 0), before, "refusals change nothing");
	assert_eq!(l.revealed(task, 0, 1, 2), None);
	let longest = vec![(2, ShareKind::SelfMask, vec![5; lim.max_share_len as usize])];
	assert_eq!(l.reveal(1, task, 0, longest), Ok(()));
	assert_eq!(l.reveal(1, task, 0, vec![share(3)]), Err("AlreadyDone"));
	assert_eq!(l.revealed(task, 0, 1, 3), None);
	assert_eq!(l.reveal(2, task, 0, vec![share(1)]), Ok(()));
	assert_eq!(l.reveal(3, task, 0, Vec::new()), Ok(()));
	assert_eq!(phase(l, task, 0), Phase::Done);
}

fn cancelling(l: &mut dyn TaskLedger) {
	let task = task_with(l, &[1, 2], 3, params(2, 3, 2));
	join_all(l, task, 0, &[1, 2]);
	assert_eq!(l.cancel_task(1, task), Err("NotOwner"));
	assert_eq!(l.cancel_task(OWNER, task), Ok(()));
	assert_eq!(phase(l, task, 0), Phase::Failed(FailureReason::Cancelled));
	assert_eq!(l.task_status(task), Some(TaskStatus::Cancelled));
	let (c, k) = keys(3);
	l.register(3);
	assert_eq!(l.join(3, task, 0, c, k), Err("TaskNotActive"));
	assert_eq!(l.start_round(OWNER, task), Err("TaskNotActive"));
	assert_eq!(l.cancel_task(OWNER, task), Err("TaskNotActive"));
	assert_eq!(l.finish_task(OWNER, task), Err("TaskNotActive"));
	// A deadline that would have fallen does nothing to a cancelled round.
	l.advance(TIMEOUT);
	assert_eq!(phase(l, task, 0), Phase::Failed(FailureReason::Cancelled));
}

fn privacy_charges(l: &mut dyn TaskLedger) {
	let task = task_with(l, &[1, 2], 3, params(2, 3, 2));
	assert_eq!(l.privacy_spent(1, "patients", OWNER), 0);
	assert_eq!(l.charge_privacy(1, task, "patients", 2_419_102), Ok(()));
	assert_eq!(l.charge_privacy(1, task, "patients", 1_000_000), Ok(()));
	assert_eq!(l.charge_privacy(2, task, "patients", 5), Ok(()));
	// Per holder, and against the task's owner whoever charges.
	assert_eq!(l.privacy_spent(1, "patients", OWNER), 3_419_102);
	assert_eq!(l.privacy_spent(2, "patients", OWNER), 5);
	assert_eq!(l.privacy_spent(1, "patients", 2), 0);
	assert_eq!(l.privacy_spent(1, "other", OWNER), 0);
	// Refused by name, changing nothing.
	assert_eq!(l.charge_privacy(1, task, "patients", 0), Err("BadCharge"));
	assert_eq!(l.charge_privacy(1, task, "patients", 1_000_000_000_001), Err("BadCharge"));
	assert_eq!(l.charge_privacy(1, task, "other", 1), Err("BadCharge"));
	assert_eq!(l.charge_privacy(1, task + 99, "patients", 1), Err("UnknownTask"));
	assert_eq!(l.privacy_spent(1, "patients", OWNER), 3_419_102);
	// A closed task takes no more charges; the total outlives it.
	assert_eq!(l.cancel_task(OWNER, task), Ok(()));
	assert_eq!(l.charge_privacy(1, task, "patients", 1), Err("TaskNotActive"));
	let retention = l.limits().retention;
	l.advance(retention + 1);
	assert_eq!(l.privacy_spent(1, "patients", OWNER), 3_419_102);
}

fn pruning(l: &mut dyn TaskLedger) {
	let retention = l.limits().retention;
	let members = [1, 2];
	let task = task_with(l, &members, 1, params(2, 2, 2));
	join_all(l, task, 0, &members);
	for m in members {
		assert_eq!(l.commit_shares(m, task, 0, [m; 32]), Ok(()));
	}
	for m in members {
		assert_eq!(l.commit_masked(m, task, 0, [m; 32]), Ok(()));
	}
	for m in members {
		assert_eq!(
			l.reveal(m, task, 0, vec![(1, ShareKind::SelfMask, vec![1]), (2, ShareKind::SelfMask, vec![2])]),
			Ok(())
		);
	}
	assert_eq!(l.finish_round(OWNER, task, 0, [7; 32]), Ok(()));
	let other = l.create_task(OWNER, vec![b"d".to_vec()], 1, params(2, 2, 2)).expect("task");
	assert_eq!(l.start_round(OWNER, other), Ok(()));
	assert_eq!(l.finish_task(OWNER, task), Ok(()));
	l.advance(retention - 1);
	assert!(l.round(task, 0).is_some(), "kept during the retention period");
	assert_eq!(l.revealed(task, 0, 1, 2), Some((ShareKind::SelfMask, vec![2])));
	l.advance(1);
	assert_eq!(l.round(task, 0), None, "round data pruned after retention");
	assert_eq!(l.member_status(task, 0, 1), None);
	assert_eq!(l.revealed(task, 0, 1, 2), None);
	assert_eq!(l.task_status(task), Some(TaskStatus::Finished), "the task record stays");
	assert!(l.round(other, 0).is_some(), "unfinished tasks are not pruned");
}

/// One step of a random call sequence; fields are the call's arguments.
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub enum Op {
	/// Register a participant.
	Register(Who),
	/// Create a task with these round parameters and round count.
	Create { owner: Who, rounds: u32, min: u32, max: u32, threshold: u32 },
	/// Start the task's next round.
	Start { who: Who, task: u64 },
	/// Join the task's latest round (or `round` if given).
	Join { who: Who, task: u64, round: u32 },
	/// Commit shares.
	Shares { who: Who, task: u64, round: u32 },
	/// Commit a masked result.
	Masked { who: Who, task: u64, round: u32 },
	/// Reveal one share per listed owner, self-mask or mask-key.
	Reveal { who: Who, task: u64, round: u32, owners: Vec<(Who, bool)> },
	/// Record a result.
	FinishRound { who: Who, task: u64, round: u32 },
	/// Finish a task.
	FinishTask { who: Who, task: u64 },
	/// Cancel a task.
	Cancel { who: Who, task: u64 },
	/// Let time pass.
	Advance(u64),
}

/// A strategy for random call sequences. Each sequence registers
/// participants 1 to 4 (5 stays unregistered, 0 owns), creates two tasks,
/// and runs two rounds of each as a script with random gaps: a random subset
/// joins, a random subset of everyone shares, masks and reveals (for random
/// owners, sometimes with the wrong kind of share), time advances by random
/// amounts between phases (sometimes past deadlines), and up to `noise`
/// random calls (wrong callers, wrong phases, unknown tasks, cancellations)
/// are mixed in anywhere.
pub fn ops(noise: usize) -> impl Strategy<Value = Vec<Op>> {
	let scripts = (round_script(0, 0), round_script(1, 0), round_script(0, 1), round_script(1, 1));
	let noise_ops = proptest::collection::vec((any::<usize>(), noise_op()), 0..noise);
	(scripts, noise_ops).prop_map(|((a, b, c, d), noise)| {
		let mut all: Vec<Op> = (1..5).map(Op::Register).collect();
		for (task, max) in [(0, 3), (1, 4)] {
			all.push(Op::Create { owner: OWNER, rounds: 2, min: 2, max, threshold: 2 });
			all.push(Op::Start { who: OWNER, task });
		}
		all.extend(a);
		all.extend(b);
		all.push(Op::Start { who: OWNER, task: 0 });
		all.extend(c);
		all.push(Op::Start { who: OWNER, task: 1 });
		all.extend(d);
		all.push(Op::FinishTask { who: OWNER, task: 0 });
		for (at, op) in noise {
			let at = at % (all.len() + 1);
			all.insert(at, op);
		}
		all
	})
}

/// One round of `task` as members would run it, with random dropouts and
/// random time between phases.
fn round_script(task: u64, round: u32) -> impl Strategy<Value = Vec<Op>> {
	let who = || proptest::collection::vec(proptest::bool::weighted(0.8), 5);
	let owners = proptest::collection::vec(
		proptest::collection::vec((proptest::bool::weighted(0.5), proptest::bool::weighted(0.95)), 5),
		5,
	);
	(who(), who(), who(), who(), owners, proptest::collection::vec(0u64..26, 4)).prop_map(
		move |(joins, shares, masked, reveals, owners, gaps)| {
			let mut ops = Vec::new();
			let each = |flags: &[bool]| {
				flags.iter().enumerate().filter(|(_, f)| **f).map(|(i, _)| i as Who + 1).collect::<Vec<_>>()
			};
			ops.extend(each(&joins).into_iter().map(|who| Op::Join { who, task, round }));
			ops.push(Op::Advance(gaps[0]));
			ops.extend(each(&shares).into_iter().map(|who| Op::Shares { who, task, round }));
			ops.push(Op::Advance(gaps[1]));
			ops.extend(each(&masked).into_iter().map(|who| Op::Masked { who, task, round }));
			ops.push(Op::Advance(gaps[2]));
			// Revealers list the owners that (by the script) shared, mostly
			// with the right kind of share: self-mask for those that masked,
			// mask-key for those that dropped after sharing.
			let is = |flags: &[bool], o: usize| joins[o] && flags[o];
			for who in each(&reveals) {
				let list = owners[usize::from(who) - 1]
					.iter()
					.enumerate()
					.filter(|(o, (include, _))| *include && is(&shares, *o))
					.map(|(o, (_, right))| (o as Who + 1, is(&masked, o) == *right))
					.collect();
				ops.push(Op::Reveal { who, task, round, owners: list });
			}
			ops.push(Op::Advance(gaps[3]));
			ops.push(Op::FinishRound { who: OWNER, task, round });
			ops
		},
	)
}

fn noise_op() -> impl Strategy<Value = Op> {
	let who = 0u8..6;
	let task = 0u64..3;
	let round = 0u32..2;
	prop_oneof![
		who.clone().prop_map(Op::Register),
		(who.clone(), 1u32..3, 1u32..4, 2u32..5, 1u32..4).prop_map(|(owner, rounds, min, max, threshold)| Op::Create {
			owner,
			rounds,
			min,
			max,
			threshold
		}),
		(who.clone(), task.clone()).prop_map(|(who, task)| Op::Start { who, task }),
		(who.clone(), task.clone(), round.clone()).prop_map(|(who, task, round)| Op::Join { who, task, round }),
		(who.clone(), task.clone(), round.clone()).prop_map(|(who, task, round)| Op::Shares { who, task, round }),
		(who.clone(), task.clone(), round.clone()).prop_map(|(who, task, round)| Op::Masked { who, task, round }),
		(who.clone(), task.clone(), round.clone(), proptest::collection::vec((0u8..6, any::<bool>()), 0..3))
			.prop_map(|(who, task, round, owners)| Op::Reveal { who, task, round, owners }),
		(who.clone(), task.clone(), round.clone()).prop_map(|(who, task, round)| Op::FinishRound { who, task, round }),
		(who.clone(), task.clone()).prop_map(|(who, task)| Op::FinishTask { who, task }),
		(who, task).prop_map(|(who, task)| Op::Cancel { who, task }),
		(1u64..7).prop_map(Op::Advance),
	]
}

/// Applies `ops` to `ledger` and records, after each step, the call's
/// outcome and the state of every round and member the sequence can touch.
/// Two conforming ledgers give equal traces for every sequence.
pub fn trace(ledger: &mut dyn TaskLedger, ops: &[Op]) -> Vec<String> {
	let mut out = Vec::with_capacity(ops.len());
	for op in ops {
		let outcome: Result<String, &'static str> = match op.clone() {
			Op::Register(who) => {
				ledger.register(who);
				Ok(String::new())
			},
			Op::Create { owner, rounds, min, max, threshold } => ledger
				.create_task(owner, vec![b"d".to_vec()], rounds, random_params(min, max, threshold))
				.map(|id| id.to_string()),
			Op::Start { who, task } => ledger.start_round(who, task).map(|_| String::new()),
			Op::Join { who, task, round } => {
				let (c, k) = keys(who);
				ledger.join(who, task, round, c, k).map(|_| String::new())
			},
			Op::Shares { who, task, round } => ledger.commit_shares(who, task, round, [who; 32]).map(|_| String::new()),
			Op::Masked { who, task, round } => ledger.commit_masked(who, task, round, [who; 32]).map(|_| String::new()),
			Op::Reveal { who, task, round, owners } => {
				let shares = owners
					.into_iter()
					.map(|(o, alive)| (o, if alive { ShareKind::SelfMask } else { ShareKind::MaskKey }, vec![who, o]))
					.collect();
				ledger.reveal(who, task, round, shares).map(|_| String::new())
			},
			Op::FinishRound { who, task, round } => {
				ledger.finish_round(who, task, round, [3; 32]).map(|_| String::new())
			},
			Op::FinishTask { who, task } => ledger.finish_task(who, task).map(|_| String::new()),
			Op::Cancel { who, task } => ledger.cancel_task(who, task).map(|_| String::new()),
			Op::Advance(units) => {
				ledger.advance(units);
				Ok(String::new())
			},
		};
		let mut line = format!("{op:?} -> {outcome:?}");
		for task in 0..3u64 {
			line.push_str(&format!(" | t{task} {:?}", ledger.task_status(task)));
			for round in 0..2u32 {
				line.push_str(&format!(" r{round} {:?}", ledger.round(task, round)));
				for who in 0..6u8 {
					if let Some(s) = ledger.member_status(task, round, who) {
						line.push_str(&format!(" m{who}:{s:?}"));
					}
				}
			}
		}
		out.push(line);
	}
	out
}
