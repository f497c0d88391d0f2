//! Tasks as both ledgers see them, and the names of every refusal.
//!
//! The task pallet and the coordinator store tasks differently but must
//! refuse exactly the same calls for exactly the same reasons; the
//! conformance suite compares them by the names in [`TaskError`].

/// What kind of computation a task runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
	feature = "codec",
	derive(codec::Encode, codec::Decode, codec::DecodeWithMemTracking, codec::MaxEncodedLen, scale_info::TypeInfo)
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TaskKind {
	/// Federated statistics.
	Statistics,
	/// Horizontal federated learning.
	HorizontalLearning,
	/// Vertical federated learning.
	VerticalLearning,
}

impl TaskKind {
	/// Every kind, with the name a task package's manifest gives it.
	pub const ALL: [(TaskKind, &'static str); 3] = [
		(TaskKind::Statistics, "statistics"),
		(TaskKind::HorizontalLearning, "horizontal_learning"),
		(TaskKind::VerticalLearning, "vertical_learning"),
	];

	/// The kind a package's manifest names, if it is one.
	pub fn from_name(name: &str) -> Option<TaskKind> {
		Self::ALL.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
	}

	/// The manifest name of this kind.
	pub fn name(self) -> &'static str {
		Self::ALL.iter().find(|(k, _)| *k == self).map(|(_, n)| *n).unwrap_or("statistics")
	}
}

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
	feature = "codec",
	derive(codec::Encode, codec::Decode, codec::DecodeWithMemTracking, codec::MaxEncodedLen, scale_info::TypeInfo)
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TaskStatus {
	/// Rounds may start.
	Active,
	/// The owner finished it.
	Finished,
	/// The owner cancelled it.
	Cancelled,
}

/// Every reason a ledger refuses a task or round call. The task pallet's
/// `Error` has a variant of the same name for each (so clients see the same
/// names on chain and from the coordinator); `DeadlineSlotsFull` can only
/// happen on chain, where the work per block is bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskError {
	/// No task with this id.
	UnknownTask,
	/// No such round in this task.
	UnknownRound,
	/// Only the task's owner may do this.
	NotOwner,
	/// The task is finished or cancelled.
	TaskNotActive,
	/// Too many datasets.
	TooManyDatasets,
	/// A dataset name is empty or too long.
	BadDatasetName,
	/// `rounds` is zero or above the maximum.
	BadRoundCount,
	/// Round parameters: fewer than 2 members.
	TooFewMembers,
	/// Round parameters: `min_members` above `max_members`.
	MinAboveMax,
	/// Round parameters: too many members for one round.
	TooManyMembers,
	/// Round parameters: threshold below 2 or above `min_members`.
	BadThreshold,
	/// Round parameters: a phase timeout is zero.
	ZeroTimeout,
	/// The previous round is still running.
	RoundInProgress,
	/// All the task's rounds have been started.
	NoRoundsLeft,
	/// The caller is not a registered member of the network.
	NotRegistered,
	/// The action belongs to another phase.
	WrongPhase,
	/// The phase's deadline has passed.
	DeadlinePassed,
	/// The caller already joined this round.
	AlreadyJoined,
	/// The round has all the members it may have.
	RoundFull,
	/// The caller is not a member of this round.
	NotInRound,
	/// The caller dropped out of this round earlier.
	DroppedOut,
	/// The caller already did this in this round.
	AlreadyDone,
	/// The two public keys must be distinct and non-zero.
	BadKeys,
	/// Too many shares in one reveal, or a share too long.
	RevealTooLarge,
	/// A revealed share names an account that is not in the round or never
	/// shared.
	RevealForUnknownMember,
	/// A revealed share of the wrong kind for its owner.
	WrongShareKind,
	/// The same owner appears twice in one reveal.
	DuplicateReveal,
	/// Too many deadlines fall in the same block (chain only).
	DeadlineSlotsFull,
	/// A privacy charge of zero, above the largest one charge may be, or
	/// for a dataset the task does not read.
	BadCharge,
}

impl TaskError {
	/// The variant's name, as the pallet's metadata and the coordinator's
	/// JSON-RPC errors spell it.
	pub fn name(&self) -> &'static str {
		match self {
			Self::UnknownTask => "UnknownTask",
			Self::UnknownRound => "UnknownRound",
			Self::NotOwner => "NotOwner",
			Self::TaskNotActive => "TaskNotActive",
			Self::TooManyDatasets => "TooManyDatasets",
			Self::BadDatasetName => "BadDatasetName",
			Self::BadRoundCount => "BadRoundCount",
			Self::TooFewMembers => "TooFewMembers",
			Self::MinAboveMax => "MinAboveMax",
			Self::TooManyMembers => "TooManyMembers",
			Self::BadThreshold => "BadThreshold",
			Self::ZeroTimeout => "ZeroTimeout",
			Self::RoundInProgress => "RoundInProgress",
			Self::NoRoundsLeft => "NoRoundsLeft",
			Self::NotRegistered => "NotRegistered",
			Self::WrongPhase => "WrongPhase",
			Self::DeadlinePassed => "DeadlinePassed",
			Self::AlreadyJoined => "AlreadyJoined",
			Self::RoundFull => "RoundFull",
			Self::NotInRound => "NotInRound",
			Self::DroppedOut => "DroppedOut",
			Self::AlreadyDone => "AlreadyDone",
			Self::BadKeys => "BadKeys",
			Self::RevealTooLarge => "RevealTooLarge",
			Self::RevealForUnknownMember => "RevealForUnknownMember",
			Self::WrongShareKind => "WrongShareKind",
			Self::DuplicateReveal => "DuplicateReveal",
			Self::DeadlineSlotsFull => "DeadlineSlotsFull",
			Self::BadCharge => "BadCharge",
		}
	}
}

impl From<crate::round::ParamsError> for TaskError {
	fn from(e: crate::round::ParamsError) -> Self {
		use crate::round::ParamsError as P;
		match e {
			P::TooFewMembers => Self::TooFewMembers,
			P::MinAboveMax => Self::MinAboveMax,
			P::TooManyMembers => Self::TooManyMembers,
			P::BadThreshold => Self::BadThreshold,
			P::ZeroTimeout => Self::ZeroTimeout,
		}
	}
}

impl From<crate::round::RoundError> for TaskError {
	fn from(e: crate::round::RoundError) -> Self {
		use crate::round::RoundError as R;
		match e {
			R::WrongPhase { .. } => Self::WrongPhase,
			R::DeadlinePassed => Self::DeadlinePassed,
			R::AlreadyJoined => Self::AlreadyJoined,
			R::RoundFull => Self::RoundFull,
			R::NotAMember => Self::NotInRound,
			R::DroppedOut => Self::DroppedOut,
			R::AlreadyDone => Self::AlreadyDone,
		}
	}
}

impl From<crate::round::RevealError> for TaskError {
	fn from(e: crate::round::RevealError) -> Self {
		use crate::round::RevealError as R;
		match e {
			R::WrongKindForNeighbour => Self::WrongShareKind,
			R::NeighbourNotShared => Self::RevealForUnknownMember,
		}
	}
}

/// Largest privacy charge one call may record, in millionths of ε (a
/// million ε: far past any meaningful guarantee, but bounded so totals
/// cannot overflow in any realistic history).
pub const MAX_PRIVACY_CHARGE: u64 = 1_000_000_000_000;

/// Checks a holder's privacy charge against a task: a positive amount of
/// millionths of ε, at most [`MAX_PRIVACY_CHARGE`], for one of the
/// datasets the task declared (`declared`). The task must exist and be
/// active; the ledger checks that first. The holder is the caller and the
/// requester the task's owner, so nobody charges another's budget.
pub fn check_privacy_charge(micro_epsilon: u64, declared: bool) -> Result<(), TaskError> {
	if micro_epsilon == 0 || micro_epsilon > MAX_PRIVACY_CHARGE || !declared {
		return Err(TaskError::BadCharge);
	}
	Ok(())
}

/// Checks the two X25519 keys a member joins with: distinct and non-zero,
/// so that neither channel nor masks degenerate.
pub fn check_join_keys(channel_key: &[u8; 32], masking_key: &[u8; 32]) -> Result<(), TaskError> {
	if channel_key != masking_key && channel_key != &[0; 32] && masking_key != &[0; 32] {
		Ok(())
	} else {
		Err(TaskError::BadKeys)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn join_keys_must_differ_and_be_non_zero() {
		assert_eq!(check_join_keys(&[1; 32], &[2; 32]), Ok(()));
		assert_eq!(check_join_keys(&[1; 32], &[1; 32]), Err(TaskError::BadKeys));
		assert_eq!(check_join_keys(&[0; 32], &[2; 32]), Err(TaskError::BadKeys));
		assert_eq!(check_join_keys(&[1; 32], &[0; 32]), Err(TaskError::BadKeys));
	}

	#[test]
	fn names_are_the_variant_names() {
		assert_eq!(TaskError::NotInRound.name(), "NotInRound");
		assert_eq!(TaskError::from(crate::round::RoundError::NotAMember), TaskError::NotInRound);
		assert_eq!(format!("{:?}", TaskError::DeadlineSlotsFull), TaskError::DeadlineSlotsFull.name());
	}
}
