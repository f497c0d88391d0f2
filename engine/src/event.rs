//! What happens in a task, as typed events: what the worker stores and
//! serves (`delta_events`), what a progress display or a web page shows,
//! and what tests assert, instead of matching log text. Each event's
//! `Display` is the line the task's log shows.

use delta_ledger_api::{AccountId, TaskId};
use serde::{Deserialize, Serialize};

use crate::EngineError;

/// Which message of a member the requester refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refused {
	/// Its encrypted shares.
	Shares,
	/// Its masked input.
	MaskedInput,
	/// Its unmasking shares.
	UnmaskShares,
}

/// Why a task failed, from a fixed vocabulary that programs can act on
/// (the event's `reason` says the rest, for people).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
	/// The ledger refused a call or was unreachable.
	Ledger,
	/// Secure aggregation failed.
	SecureAggregation,
	/// A round failed on the ledger (too few members in a phase, or
	/// cancelled).
	Round,
	/// Too few masked inputs came before the Compute deadline.
	ComputeDeadline,
	/// Members left until fewer than the threshold remained.
	Abandoned,
	/// The task's own code failed or returned something malformed.
	TaskCode,
	/// A dataset was missing or refused.
	Dataset,
	/// A message could not be encoded or decoded.
	Encoding,
	/// The task's plan cannot run (refused before it reached the ledger).
	Plan,
	/// The task stopped making progress (simulations).
	Stalled,
	/// The worker stopped while the task ran.
	Interrupted,
}

impl EngineError {
	/// The failure's kind, for [`TaskEvent::Failed`].
	pub fn kind(&self) -> FailureKind {
		match self {
			EngineError::Ledger { .. } => FailureKind::Ledger,
			EngineError::SecAgg(_) => FailureKind::SecureAggregation,
			EngineError::RoundFailed { .. } => FailureKind::Round,
			EngineError::ComputeDeadline { .. } | EngineError::MapPastDeadline { .. } => FailureKind::ComputeDeadline,
			EngineError::Abandoned { .. } => FailureKind::Abandoned,
			EngineError::Executor(_) | EngineError::TaskCode { .. } => FailureKind::TaskCode,
			EngineError::Dataset { .. } => FailureKind::Dataset,
			EngineError::Encoding(_) => FailureKind::Encoding,
			EngineError::Plan(_) | EngineError::PlanRefused(_) | EngineError::Privacy(_) => FailureKind::Plan,
			EngineError::Stalled(_) => FailureKind::Stalled,
		}
	}
}

/// One thing that happened in a task, seen from its requester.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TaskEvent {
	/// The task exists on the ledger.
	TaskCreated {
		/// Its id there.
		task: TaskId,
	},
	/// A round was started and announced to the invited members.
	RoundStarted {
		/// The round.
		round: u32,
		/// Bits of the ring its sums are taken in (32 when every output
		/// declares a tight bound, `tensor::step_encoding`), which sets
		/// the size of every masked message.
		#[serde(default)]
		ring_bits: u32,
		/// Elements the step's outputs hold together.
		#[serde(default)]
		elements: usize,
	},
	/// The ledger fixed the round's member set.
	MembersJoined {
		/// The round.
		round: u32,
		/// How many joined.
		members: usize,
		/// Neighbours of each member in the SecAgg+ graph (`members - 1`
		/// for the complete graph).
		degree: usize,
		/// Shares that rebuild a member's secret.
		share_threshold: usize,
	},
	/// An invited member will not take part, and says why.
	Declined {
		/// The round.
		round: u32,
		/// Who.
		member: AccountId,
		/// Its reason, at most 500 characters.
		reason: String,
	},
	/// A member's message failed its checks and does not count.
	Refused {
		/// The round.
		round: u32,
		/// Whose.
		member: AccountId,
		/// Which message.
		what: Refused,
		/// Why.
		reason: String,
	},
	/// The Compute phase ended with this many masked inputs accepted.
	MaskedInputs {
		/// The round.
		round: u32,
		/// How many.
		count: usize,
	},
	/// A member shared keys but sent no masked input and said nothing by
	/// the end of the Compute phase (crashed, cut off, or still mapping).
	Dropped {
		/// The round.
		round: u32,
		/// Who.
		member: AccountId,
	},
	/// The round's sum was unmasked.
	Unmasked {
		/// The round.
		round: u32,
		/// How many members' inputs it holds.
		members: usize,
	},
	/// The round's sum holds the members' differential-privacy noise.
	Noised {
		/// The round.
		round: u32,
		/// The noise's standard deviation in each value of the sum, with
		/// the contributors' noise in it.
		std: f64,
		/// The L2 norm each member's contribution was clipped to.
		clip: f64,
		/// The noise multiplier the step asked for.
		noise_multiplier: f64,
		/// ε the task has spent so far at `delta`, for the ledger's
		/// threshold of members (more contributors only add noise).
		epsilon: f64,
		/// The δ of `epsilon`.
		delta: f64,
	},
	/// The task finished with its result.
	Done,
	/// The task failed and was cancelled on the ledger.
	Failed {
		/// What kind of failure.
		kind: FailureKind,
		/// The whole reason.
		reason: String,
	},
}

impl std::fmt::Display for TaskEvent {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			TaskEvent::TaskCreated { task } => write!(f, "task {task} created"),
			TaskEvent::RoundStarted { round, ring_bits, elements } => {
				let plural = if *elements == 1 { "" } else { "s" };
				write!(f, "round {round} started: {elements} element{plural} summed in the {ring_bits}-bit ring")
			},
			TaskEvent::MembersJoined { round, members, degree, share_threshold } => {
				if *degree + 1 >= *members {
					write!(f, "round {round}: {members} members joined (complete graph)")
				} else {
					write!(
						f,
						"round {round}: {members} members joined ({degree} neighbours each, {share_threshold} shares rebuild a secret)"
					)
				}
			},
			TaskEvent::Declined { round, member, reason } => write!(f, "round {round}: {member} declined: {reason}"),
			TaskEvent::Refused { round, member, what, reason } => {
				let what = match what {
					Refused::Shares => "shares",
					Refused::MaskedInput => "masked input",
					Refused::UnmaskShares => "unmask shares",
				};
				write!(f, "round {round}: {what} of {member} refused: {reason}")
			},
			TaskEvent::MaskedInputs { round, count } => write!(f, "round {round}: {count} masked inputs"),
			TaskEvent::Dropped { round, member } => {
				write!(f, "round {round}: {member} dropped: no masked input by the end of the Compute phase")
			},
			TaskEvent::Unmasked { round, members } => write!(f, "round {round}: sum of {members} members unmasked"),
			TaskEvent::Noised { round, std, clip, noise_multiplier, epsilon, delta } => write!(
				f,
				"round {round}: noised for differential privacy (σ = {std:.4} per value, clip {clip}, noise multiplier {noise_multiplier}): ε = {epsilon:.3} at δ = {delta:e} so far"
			),
			TaskEvent::Done => write!(f, "done"),
			TaskEvent::Failed { reason, .. } => write!(f, "failed: {reason}"),
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn events_serialise_tagged_with_accounts_in_ss58() {
		let member = AccountId([7; 32]);
		let event = TaskEvent::Dropped { round: 2, member };
		let json = serde_json::to_value(&event).unwrap();
		assert_eq!(json["event"], "dropped");
		assert_eq!(json["round"], 2);
		assert_eq!(json["member"], member.to_ss58());
		assert_eq!(serde_json::from_value::<TaskEvent>(json).unwrap(), event);
		let failed = TaskEvent::Failed { kind: FailureKind::ComputeDeadline, reason: "late".into() };
		assert_eq!(serde_json::to_value(&failed).unwrap()["kind"], "compute_deadline");
	}

	#[test]
	fn log_lines_read_as_before() {
		let joined = TaskEvent::MembersJoined { round: 0, members: 3, degree: 2, share_threshold: 2 };
		assert_eq!(joined.to_string(), "round 0: 3 members joined (complete graph)");
		let sparse = TaskEvent::MembersJoined { round: 1, members: 100, degree: 32, share_threshold: 11 };
		assert_eq!(sparse.to_string(), "round 1: 100 members joined (32 neighbours each, 11 shares rebuild a secret)");
		assert_eq!(TaskEvent::Done.to_string(), "done");
	}

	#[test]
	fn every_failure_has_a_kind() {
		assert_eq!(EngineError::MapPastDeadline { round: 0 }.kind(), FailureKind::ComputeDeadline);
		assert_eq!(EngineError::Executor("x".into()).kind(), FailureKind::TaskCode);
		assert_eq!(EngineError::Ledger { call: "join", reason: "WrongPhase".into() }.kind(), FailureKind::Ledger);
	}
}
