//! Why a task or a member's part in it fails.

use delta_primitives::round::FailureReason;

/// An engine failure. Each names what went wrong and where; none is a
/// panic, and a failure of one member never stops the others.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
	/// The ledger refused a call (by the refusal's name) or failed.
	#[error("the ledger refused {call}: {reason}")]
	Ledger {
		/// The call.
		call: &'static str,
		/// The refusal's name or the failure.
		reason: String,
	},
	/// The secure-aggregation protocol failed.
	#[error("secure aggregation failed: {0}")]
	SecAgg(#[from] delta_secagg::Error),
	/// The round failed on the ledger (too few members in some phase, or
	/// cancelled).
	#[error("round {round} failed: {reason:?}")]
	RoundFailed {
		/// The round.
		round: u32,
		/// Why, as the ledger recorded it.
		reason: FailureReason,
	},
	/// The task's code failed or returned something malformed.
	#[error("the task's code failed: {0}")]
	Executor(String),
	/// A dataset is missing or refused by the holder's policy.
	#[error("dataset {name}: {reason}")]
	Dataset {
		/// The dataset's name.
		name: String,
		/// Why it cannot be used.
		reason: String,
	},
	/// A message could not be encoded or decoded.
	#[error("message encoding: {0}")]
	Encoding(String),
	/// The task did not finish within the step limit of a simulation.
	#[error("the task made no progress for {0} steps")]
	Stalled(u64),
}
