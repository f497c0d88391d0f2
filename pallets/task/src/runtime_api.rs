//! The runtime API through which clients read tasks and rounds without
//! knowing the storage layout.

use alloc::vec::Vec;
use codec::{Codec, Decode, Encode};
use delta_primitives::round::{RoundParams, RoundState};
use scale_info::TypeInfo;

use crate::{Commitment, RoundMember, RoundNo, TaskId, TaskKind, TaskStatus};

/// A task as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct TaskView<AccountId> {
	/// Who created it.
	pub owner: AccountId,
	/// Hash of the task package.
	pub package: Commitment,
	/// What it computes.
	pub kind: TaskKind,
	/// Dataset names.
	pub datasets: Vec<Vec<u8>>,
	/// Rounds it may run.
	pub rounds: u32,
	/// Round parameters.
	pub params: RoundParams,
	/// Status.
	pub status: TaskStatus,
	/// Rounds started so far.
	pub rounds_started: u32,
}

/// A round as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct RoundView<AccountId> {
	/// Phase, deadline (block) and counts.
	pub state: RoundState,
	/// Neighbour-graph seed, once fixed.
	pub seed: Option<[u8; 32]>,
	/// Result commitment, once recorded.
	pub result: Option<Commitment>,
	/// The members with their keys, status and commitments.
	pub members: Vec<(AccountId, RoundMember)>,
}

sp_api::decl_runtime_apis! {
	/// Read access to tasks and rounds.
	pub trait DeltaTaskApi<AccountId> where AccountId: Codec {
		/// One task.
		fn task(task: TaskId) -> Option<TaskView<AccountId>>;
		/// One round with its members.
		fn round(task: TaskId, round: RoundNo) -> Option<RoundView<AccountId>>;
		/// Privacy `requester` has spent on `holder`'s `dataset`, in
		/// millionths of ε.
		fn privacy_spent(holder: AccountId, dataset: Vec<u8>, requester: AccountId) -> u64;
	}
}
