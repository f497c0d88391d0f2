//! The round state machine, shared by `pallet-delta-task` and the coordinator.
//!
//! A round runs one step of a task and moves through
//! [`Phase::Open`] → [`Phase::ShareKeys`] → [`Phase::Compute`] →
//! [`Phase::Unmask`] → [`Phase::Done`], or ends in [`Phase::Failed`].
//! A phase ends the moment its quorum is met (everyone who could act has
//! acted) or when its deadline passes; there are no fixed waits.
//!
//! The state here is counts and a phase, not member sets: a ledger keeps
//! each member's [`MemberStatus`] in its own storage (a storage map on chain,
//! a table in the coordinator) and asks [`RoundState::apply`] whether an
//! action is allowed and what it changes. The functions never panic and
//! change nothing when they refuse.
//!
//! Time is whatever the ledger counts in (blocks on chain, milliseconds in
//! the coordinator); deadlines are absolute in that unit.

/// Largest number of members one round may have. Bounds per-round storage
/// and the work of the aggregator.
pub const MAX_ROUND_MEMBERS: u32 = 1_000;

/// The phases of a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(
	feature = "codec",
	derive(codec::Encode, codec::Decode, codec::DecodeWithMemTracking, codec::MaxEncodedLen, scale_info::TypeInfo)
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Phase {
	/// Members that accept the task join with their two public keys.
	Open,
	/// The member set is fixed; members distribute encrypted shares and
	/// commit to them.
	ShareKeys,
	/// Members that committed shares compute, mask and commit their result.
	Compute,
	/// Members reveal, for each neighbour, the share that unmasks the sum.
	Unmask,
	/// Reveals are closed; the requester aggregates and records the result.
	Done,
	/// The round cannot complete; see [`FailureReason`].
	Failed(FailureReason),
}

/// Why a round failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(
	feature = "codec",
	derive(codec::Encode, codec::Decode, codec::DecodeWithMemTracking, codec::MaxEncodedLen, scale_info::TypeInfo)
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum FailureReason {
	/// Fewer than `min_members` joined before the Open deadline.
	NotEnoughMembers,
	/// Fewer than `threshold` members committed shares in time.
	TooFewShared,
	/// Fewer than `threshold` members committed a masked result in time.
	TooFewMasked,
	/// Fewer than `threshold` members revealed in time, so the sum cannot be
	/// unmasked.
	TooFewRevealed,
	/// The requester cancelled the round.
	Cancelled,
}

/// How far one member has come in a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(
	feature = "codec",
	derive(codec::Encode, codec::Decode, codec::DecodeWithMemTracking, codec::MaxEncodedLen, scale_info::TypeInfo)
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MemberStatus {
	/// Joined with public keys.
	Joined,
	/// Committed its encrypted shares.
	Shared,
	/// Committed its masked result.
	Masked,
	/// Revealed its unmasking shares.
	Revealed,
}

/// The parameters of a round, fixed when it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
	feature = "codec",
	derive(codec::Encode, codec::Decode, codec::DecodeWithMemTracking, codec::MaxEncodedLen, scale_info::TypeInfo)
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RoundParams {
	/// The round fails if fewer join.
	pub min_members: u32,
	/// Joining closes as soon as this many have joined.
	pub max_members: u32,
	/// Secret-sharing threshold: the sum is recoverable while at least this
	/// many members remain.
	pub threshold: u32,
	/// How long each phase may last, in ledger time units.
	pub timeouts: PhaseTimeouts,
}

/// Phase lengths, in ledger time units (blocks or milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
	feature = "codec",
	derive(codec::Encode, codec::Decode, codec::DecodeWithMemTracking, codec::MaxEncodedLen, scale_info::TypeInfo)
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PhaseTimeouts {
	/// Open: time for members to join.
	pub open: u64,
	/// ShareKeys: time to distribute and commit shares.
	pub share_keys: u64,
	/// Compute: time to compute and commit masked results.
	pub compute: u64,
	/// Unmask: time to reveal.
	pub unmask: u64,
}

/// Why round parameters are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamsError {
	/// `min_members` is below 2: a sum over one member reveals that member.
	TooFewMembers,
	/// `min_members` exceeds `max_members`.
	MinAboveMax,
	/// `max_members` exceeds [`MAX_ROUND_MEMBERS`].
	TooManyMembers,
	/// `threshold` is below 2 or above `min_members`, so either one member's
	/// shares unmask a peer or the round can never reach its threshold.
	BadThreshold,
	/// A phase timeout is zero.
	ZeroTimeout,
}

impl RoundParams {
	/// Checks the parameters; a ledger calls this before starting a round.
	pub fn validate(&self) -> Result<(), ParamsError> {
		if self.min_members < 2 {
			return Err(ParamsError::TooFewMembers);
		}
		if self.min_members > self.max_members {
			return Err(ParamsError::MinAboveMax);
		}
		if self.max_members > MAX_ROUND_MEMBERS {
			return Err(ParamsError::TooManyMembers);
		}
		if self.threshold < 2 || self.threshold > self.min_members {
			return Err(ParamsError::BadThreshold);
		}
		let t = &self.timeouts;
		if t.open == 0 || t.share_keys == 0 || t.compute == 0 || t.unmask == 0 {
			return Err(ParamsError::ZeroTimeout);
		}
		Ok(())
	}

	fn timeout_of(&self, phase: Phase) -> u64 {
		match phase {
			Phase::Open => self.timeouts.open,
			Phase::ShareKeys => self.timeouts.share_keys,
			Phase::Compute => self.timeouts.compute,
			Phase::Unmask => self.timeouts.unmask,
			Phase::Done | Phase::Failed(_) => 0,
		}
	}
}

/// What a member (or the clock) does to a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
	/// Join with public keys (phase Open).
	Join,
	/// Commit encrypted shares (phase ShareKeys).
	CommitShares,
	/// Commit a masked result (phase Compute).
	CommitMasked,
	/// Reveal unmasking shares (phase Unmask).
	Reveal,
}

/// Why an action is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundError {
	/// The action belongs to another phase.
	WrongPhase {
		/// The phase the round is in.
		current: Phase,
	},
	/// The phase's deadline has passed; the ledger should call
	/// [`RoundState::tick`].
	DeadlinePassed,
	/// The member already joined.
	AlreadyJoined,
	/// The round already has `max_members` members.
	RoundFull,
	/// The caller is not a member of the round (or was not selected).
	NotAMember,
	/// The member skipped a step (e.g. commits a result without having
	/// committed shares) and is out of the round.
	DroppedOut,
	/// The member already did this.
	AlreadyDone,
}

/// A change of phase, for the ledger to record and announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseChange {
	/// The new phase.
	pub phase: Phase,
	/// When it ends (0 for Done and Failed).
	pub deadline: u64,
}

/// The state of one round: its phase, deadline and how many members reached
/// each status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
	feature = "codec",
	derive(codec::Encode, codec::Decode, codec::DecodeWithMemTracking, codec::MaxEncodedLen, scale_info::TypeInfo)
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RoundState {
	/// The parameters the round started with.
	pub params: RoundParams,
	/// Current phase.
	pub phase: Phase,
	/// When the current phase ends.
	pub deadline: u64,
	/// Members that joined (the member set once Open ends).
	pub joined: u32,
	/// Members that committed shares.
	pub shared: u32,
	/// Members that committed masked results.
	pub masked: u32,
	/// Members that revealed.
	pub revealed: u32,
}

impl RoundState {
	/// A new round, open for joining from `now`.
	pub fn start(params: RoundParams, now: u64) -> Result<Self, ParamsError> {
		params.validate()?;
		Ok(Self {
			params,
			phase: Phase::Open,
			deadline: now.saturating_add(params.timeouts.open),
			joined: 0,
			shared: 0,
			masked: 0,
			revealed: 0,
		})
	}

	/// Whether the round has ended, successfully or not.
	pub fn is_over(&self) -> bool {
		matches!(self.phase, Phase::Done | Phase::Failed(_))
	}

	/// Applies `action` by a member whose current status is `status`
	/// (`None`: not in the round) at time `now`.
	///
	/// On success returns the member's new status and, if the action met the
	/// phase's quorum, the phase change. On error nothing changed.
	pub fn apply(
		&mut self,
		action: Action,
		status: Option<MemberStatus>,
		now: u64,
	) -> Result<(MemberStatus, Option<PhaseChange>), RoundError> {
		let (phase, required, next) = match action {
			Action::Join => (Phase::Open, None, MemberStatus::Joined),
			Action::CommitShares => (Phase::ShareKeys, Some(MemberStatus::Joined), MemberStatus::Shared),
			Action::CommitMasked => (Phase::Compute, Some(MemberStatus::Shared), MemberStatus::Masked),
			Action::Reveal => (Phase::Unmask, Some(MemberStatus::Masked), MemberStatus::Revealed),
		};
		if self.phase != phase {
			return Err(RoundError::WrongPhase { current: self.phase });
		}
		if now >= self.deadline {
			return Err(RoundError::DeadlinePassed);
		}
		match (required, status) {
			(None, Some(_)) => return Err(RoundError::AlreadyJoined),
			(None, None) if self.joined >= self.params.max_members => return Err(RoundError::RoundFull),
			(None, None) => {},
			(Some(_), None) => return Err(RoundError::NotAMember),
			(Some(required), Some(status)) if status == required => {},
			(Some(required), Some(status)) if status > required => return Err(RoundError::AlreadyDone),
			(Some(_), Some(_)) => return Err(RoundError::DroppedOut),
		}
		// Who can still act in this phase, and how many did.
		let (done, eligible) = match action {
			Action::Join => {
				self.joined += 1;
				(self.joined, self.params.max_members)
			},
			Action::CommitShares => {
				self.shared += 1;
				(self.shared, self.joined)
			},
			Action::CommitMasked => {
				self.masked += 1;
				(self.masked, self.shared)
			},
			Action::Reveal => {
				self.revealed += 1;
				(self.revealed, self.masked)
			},
		};
		let change = if done >= eligible { Some(self.advance(now)) } else { None };
		Ok((next, change))
	}

	/// Ends the current phase if its deadline has passed: on to the next
	/// phase if enough members acted, otherwise the round fails. Ledgers call
	/// this on every block or timer tick; it does nothing before a deadline.
	pub fn tick(&mut self, now: u64) -> Option<PhaseChange> {
		if self.is_over() || now < self.deadline {
			return None;
		}
		let p = &self.params;
		let failure = match self.phase {
			Phase::Open if self.joined < p.min_members => Some(FailureReason::NotEnoughMembers),
			Phase::ShareKeys if self.shared < p.threshold => Some(FailureReason::TooFewShared),
			Phase::Compute if self.masked < p.threshold => Some(FailureReason::TooFewMasked),
			Phase::Unmask if self.revealed < p.threshold => Some(FailureReason::TooFewRevealed),
			_ => None,
		};
		Some(match failure {
			Some(reason) => self.fail(reason),
			None => self.advance(now),
		})
	}

	/// Cancels the round (the requester's decision); refused once over.
	pub fn cancel(&mut self) -> Result<PhaseChange, RoundError> {
		if self.is_over() {
			return Err(RoundError::WrongPhase { current: self.phase });
		}
		Ok(self.fail(FailureReason::Cancelled))
	}

	fn fail(&mut self, reason: FailureReason) -> PhaseChange {
		self.phase = Phase::Failed(reason);
		self.deadline = 0;
		PhaseChange { phase: self.phase, deadline: 0 }
	}

	fn advance(&mut self, now: u64) -> PhaseChange {
		let next = match self.phase {
			Phase::Open => Phase::ShareKeys,
			Phase::ShareKeys => Phase::Compute,
			Phase::Compute => Phase::Unmask,
			Phase::Unmask | Phase::Done => Phase::Done,
			Phase::Failed(reason) => Phase::Failed(reason),
		};
		// A phase whose quorum was met early may still fall short of the
		// threshold for the next one (e.g. everyone who shared was fewer
		// than the threshold); fail now rather than wait.
		let p = self.params;
		let short = match next {
			Phase::ShareKeys if self.joined < p.min_members => Some(FailureReason::NotEnoughMembers),
			Phase::Compute if self.shared < p.threshold => Some(FailureReason::TooFewShared),
			Phase::Unmask if self.masked < p.threshold => Some(FailureReason::TooFewMasked),
			Phase::Done if self.revealed < p.threshold => Some(FailureReason::TooFewRevealed),
			_ => None,
		};
		if let Some(reason) = short {
			return self.fail(reason);
		}
		self.phase = next;
		let timeout = p.timeout_of(next);
		self.deadline = if timeout == 0 { 0 } else { now.saturating_add(timeout) };
		PhaseChange { phase: next, deadline: self.deadline }
	}
}

/// Which share of a neighbour's secrets a member reveals in Unmask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
	feature = "codec",
	derive(codec::Encode, codec::Decode, codec::DecodeWithMemTracking, codec::MaxEncodedLen, scale_info::TypeInfo)
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ShareKind {
	/// The share of the neighbour's self-mask seed: revealed only for a
	/// neighbour whose masked result arrived.
	SelfMask,
	/// The share of the neighbour's masking key: revealed only for a
	/// neighbour that dropped out after sharing.
	MaskKey,
}

/// Why a reveal is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevealError {
	/// A self-mask share for a neighbour that dropped out, or a mask-key
	/// share for one that is alive: together with the other kind this would
	/// unmask that neighbour's individual input.
	WrongKindForNeighbour,
	/// The neighbour never committed shares, so there is nothing to reveal.
	NeighbourNotShared,
}

/// The one kind of share a member may reveal for a neighbour whose status
/// at the end of Compute is `neighbour`. Enforcing this on every reveal is
/// what guarantees that no member ever reveals both kinds for one peer.
pub fn allowed_share_kind(neighbour: MemberStatus) -> Result<ShareKind, RevealError> {
	match neighbour {
		MemberStatus::Joined => Err(RevealError::NeighbourNotShared),
		MemberStatus::Shared => Ok(ShareKind::MaskKey),
		MemberStatus::Masked | MemberStatus::Revealed => Ok(ShareKind::SelfMask),
	}
}

/// Checks one reveal against the rule of [`allowed_share_kind`].
pub fn check_reveal(neighbour: MemberStatus, kind: ShareKind) -> Result<(), RevealError> {
	if allowed_share_kind(neighbour)? == kind {
		Ok(())
	} else {
		Err(RevealError::WrongKindForNeighbour)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use alloc::vec::Vec;
	use proptest::prelude::*;

	fn params(min: u32, max: u32, threshold: u32) -> RoundParams {
		RoundParams {
			min_members: min,
			max_members: max,
			threshold,
			timeouts: PhaseTimeouts { open: 10, share_keys: 10, compute: 10, unmask: 10 },
		}
	}

	#[test]
	fn parameters_are_checked() {
		assert_eq!(params(1, 3, 1).validate(), Err(ParamsError::TooFewMembers));
		assert_eq!(params(4, 3, 2).validate(), Err(ParamsError::MinAboveMax));
		assert_eq!(params(2, 1001, 2).validate(), Err(ParamsError::TooManyMembers));
		assert_eq!(params(3, 5, 1).validate(), Err(ParamsError::BadThreshold));
		assert_eq!(params(3, 5, 4).validate(), Err(ParamsError::BadThreshold));
		let mut zero = params(3, 5, 2);
		zero.timeouts.compute = 0;
		assert_eq!(zero.validate(), Err(ParamsError::ZeroTimeout));
		assert_eq!(params(3, 5, 2).validate(), Ok(()));
	}

	#[test]
	fn a_full_round_moves_on_quorum_without_waiting() {
		let mut round = RoundState::start(params(2, 3, 2), 100).unwrap();
		assert_eq!((round.phase, round.deadline), (Phase::Open, 110));
		let mut status = [None; 3];
		for (i, s) in status.iter_mut().enumerate() {
			let (next, change) = round.apply(Action::Join, *s, 101).unwrap();
			*s = Some(next);
			assert_eq!(change.is_some(), i == 2, "joining closes when max have joined");
		}
		assert_eq!((round.phase, round.deadline), (Phase::ShareKeys, 111));
		for action in [Action::CommitShares, Action::CommitMasked, Action::Reveal] {
			for s in status.iter_mut() {
				let (next, _) = round.apply(action, *s, 105).unwrap();
				*s = Some(next);
			}
		}
		assert_eq!(round.phase, Phase::Done);
		assert_eq!((round.joined, round.shared, round.masked, round.revealed), (3, 3, 3, 3));
	}

	#[test]
	fn deadlines_advance_with_enough_members_and_fail_without() {
		let mut round = RoundState::start(params(2, 5, 2), 0).unwrap();
		round.apply(Action::Join, None, 1).unwrap();
		assert_eq!(round.tick(9), None, "nothing happens before the deadline");
		assert_eq!(
			round.tick(10),
			Some(PhaseChange { phase: Phase::Failed(FailureReason::NotEnoughMembers), deadline: 0 })
		);
		assert_eq!(round.tick(100), None, "a failed round stays failed");

		let mut round = RoundState::start(params(2, 5, 2), 0).unwrap();
		let a = round.apply(Action::Join, None, 1).unwrap().0;
		let b = round.apply(Action::Join, None, 2).unwrap().0;
		let c = round.apply(Action::Join, None, 3).unwrap().0;
		assert_eq!(round.tick(10), Some(PhaseChange { phase: Phase::ShareKeys, deadline: 20 }));
		let a = round.apply(Action::CommitShares, Some(a), 11).unwrap().0;
		let b = round.apply(Action::CommitShares, Some(b), 11).unwrap().0;
		// c drops out in ShareKeys: the phase ends at its deadline with 2 >= t.
		assert_eq!(round.tick(20), Some(PhaseChange { phase: Phase::Compute, deadline: 30 }));
		assert_eq!(round.apply(Action::CommitMasked, Some(c), 21), Err(RoundError::DroppedOut));
		round.apply(Action::CommitMasked, Some(a), 21).unwrap();
		assert_eq!(
			round.tick(30),
			Some(PhaseChange { phase: Phase::Failed(FailureReason::TooFewMasked), deadline: 0 })
		);
		let _ = b;
	}

	#[test]
	fn refusals_name_the_rule_and_change_nothing() {
		let mut round = RoundState::start(params(2, 2, 2), 0).unwrap();
		let a = round.apply(Action::Join, None, 1).unwrap().0;
		let before = round;
		assert_eq!(round.apply(Action::Join, Some(a), 2), Err(RoundError::AlreadyJoined));
		assert_eq!(round.apply(Action::CommitShares, Some(a), 2), Err(RoundError::WrongPhase { current: Phase::Open }));
		assert_eq!(round.apply(Action::Join, None, 10), Err(RoundError::DeadlinePassed));
		assert_eq!(round, before);
		let b = round.apply(Action::Join, None, 3).unwrap().0;
		assert_eq!(round.phase, Phase::ShareKeys);
		assert_eq!(round.apply(Action::Join, None, 3), Err(RoundError::WrongPhase { current: Phase::ShareKeys }));
		assert_eq!(round.apply(Action::CommitShares, None, 4), Err(RoundError::NotAMember));
		let a = round.apply(Action::CommitShares, Some(a), 4).unwrap().0;
		let before = round;
		assert_eq!(round.apply(Action::CommitShares, Some(a), 4), Err(RoundError::AlreadyDone));
		assert_eq!(round, before);
		let _ = b;
	}

	#[test]
	fn a_full_round_refuses_one_more_member() {
		// max = 2 closes Open; a round can only be full in Open if the
		// quorum check were skipped, so exercise it through the counts.
		let mut round = RoundState::start(params(2, 3, 2), 0).unwrap();
		round.joined = 3;
		assert_eq!(round.apply(Action::Join, None, 1), Err(RoundError::RoundFull));
	}

	#[test]
	fn reveals_never_both_kinds_for_one_neighbour() {
		use MemberStatus::*;
		assert_eq!(allowed_share_kind(Masked), Ok(ShareKind::SelfMask));
		assert_eq!(allowed_share_kind(Revealed), Ok(ShareKind::SelfMask));
		assert_eq!(allowed_share_kind(Shared), Ok(ShareKind::MaskKey));
		assert_eq!(allowed_share_kind(Joined), Err(RevealError::NeighbourNotShared));
		assert_eq!(check_reveal(Masked, ShareKind::MaskKey), Err(RevealError::WrongKindForNeighbour));
		assert_eq!(check_reveal(Shared, ShareKind::SelfMask), Err(RevealError::WrongKindForNeighbour));
		assert_eq!(check_reveal(Shared, ShareKind::MaskKey), Ok(()));
	}

	#[derive(Clone, Debug)]
	enum Event {
		Act(usize, Action),
		Tick(u64),
		Cancel,
	}

	fn event() -> impl Strategy<Value = Event> {
		prop_oneof![
			6 => (0usize..8, prop_oneof![
				Just(Action::Join),
				Just(Action::CommitShares),
				Just(Action::CommitMasked),
				Just(Action::Reveal),
			]).prop_map(|(m, a)| Event::Act(m, a)),
			3 => (1u64..8).prop_map(Event::Tick),
			1 => Just(Event::Cancel),
		]
	}

	proptest! {
		/// No sequence of actions, ticks and cancels reaches an inconsistent
		/// state, and every refusal leaves the state untouched.
		#[test]
		fn no_event_sequence_breaks_the_invariants(
			min in 2u32..5,
			extra in 0u32..4,
			t_below_min in 0u32..3,
			events in proptest::collection::vec(event(), 0..80),
		) {
			let max = min + extra;
			let threshold = (min - t_below_min.min(min - 2)).max(2);
			let mut round = RoundState::start(params(min, max, threshold), 0).unwrap();
			let mut status: Vec<Option<MemberStatus>> = vec![None; 8];
			let mut now = 0u64;
			for event in events {
				let before = round;
				match event {
					Event::Act(member, action) => match round.apply(action, status[member], now) {
						Ok((next, _)) => status[member] = Some(next),
						Err(_) => prop_assert_eq!(round, before),
					},
					Event::Tick(dt) => {
						now += dt;
						round.tick(now);
					},
					Event::Cancel => if round.cancel().is_err() {
						prop_assert_eq!(round, before);
					},
				}
				let count = |s: MemberStatus| status.iter().filter(|x| x.is_some_and(|x| x >= s)).count() as u32;
				prop_assert_eq!(round.joined, count(MemberStatus::Joined));
				prop_assert_eq!(round.shared, count(MemberStatus::Shared));
				prop_assert_eq!(round.masked, count(MemberStatus::Masked));
				prop_assert_eq!(round.revealed, count(MemberStatus::Revealed));
				prop_assert!(round.revealed <= round.masked);
				prop_assert!(round.masked <= round.shared);
				prop_assert!(round.shared <= round.joined);
				prop_assert!(round.joined <= max);
				match round.phase {
					Phase::ShareKeys => prop_assert!(round.joined >= min),
					Phase::Compute => prop_assert!(round.shared >= threshold),
					Phase::Unmask => prop_assert!(round.masked >= threshold),
					Phase::Done => prop_assert!(round.revealed >= threshold),
					_ => {},
				}
				if !round.is_over() {
					prop_assert!(round.deadline > 0);
				}
			}
		}
	}
}
