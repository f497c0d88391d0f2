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
	/// A step's differential privacy cannot be honoured (its parameters,
	/// or no lattice fits the ring). Public: the parameters are the
	/// requester's.
	#[error("{0}")]
	Privacy(#[from] delta_dp::DpError),
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
	/// The task's code failed at a member, in a known way (`kind`: e.g.
	/// "sandbox", "resources", "task"). Only the kind may be told to the
	/// requester: `detail` can quote the member's data (a task could put
	/// data into an exception message), so it stays in the member's log.
	#[error("the task's code failed ({kind}): {detail}")]
	TaskCode {
		/// What kind of failure, from a fixed vocabulary.
		kind: String,
		/// The full message, for the holder only.
		detail: String,
	},
	/// Members left the round (declined or failed) until fewer than the
	/// threshold remain: the round cannot succeed, so the requester stops
	/// at once instead of waiting for the deadline.
	#[error("round {round}: only {remaining} members can still take part, fewer than the threshold of {threshold}")]
	Abandoned {
		/// The round.
		round: u32,
		/// Members that joined and have not left.
		remaining: usize,
		/// The secret-sharing threshold.
		threshold: u32,
	},
	/// The round's Compute phase ended with fewer masked inputs than the
	/// threshold (the ledger's `TooFewMasked`); `late` are the members that
	/// had shared their keys but sent nothing and said nothing.
	#[error(
		"round {round} failed: TooFewMasked: no masked input before the Compute deadline from {} (a map that runs longer needs a longer compute_timeout_s)",
		if late.is_empty() { "any member still in the round".to_string() } else { late.join(", ") }
	)]
	ComputeDeadline {
		/// The round.
		round: u32,
		/// Members still computing or gone, by account.
		late: Vec<String>,
	},
	/// A member's `map` returned after the round's Compute phase had ended,
	/// so its input cannot count. The requester sees this reason: the
	/// remedy is a longer Compute phase for the task.
	#[error(
		"its map finished after round {round}'s Compute phase had ended; give the task a longer compute_timeout_s"
	)]
	MapPastDeadline {
		/// The round.
		round: u32,
	},
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
	/// The task's plan cannot run on any ledger (found before the task
	/// is created, so nothing reaches the ledger).
	#[error("the task cannot run as planned: {0}")]
	Plan(String),
	/// A member refused a step that is not a well-formed analytics plan
	/// (its SDK's `check_plan`). Public in full: the plan is the
	/// requester's, not the member's data.
	#[error("not a well-formed analytics plan: {0}")]
	PlanRefused(String),
	/// The task did not finish within the step limit of a simulation.
	#[error("the task made no progress for {0} steps")]
	Stalled(u64),
}

impl EngineError {
	/// A task runner's failure reply (its `kind` and message) as the
	/// engine reports it, one vocabulary for workers and `delta.debug`:
	/// a refused plan is public; for task code only the kind is told to
	/// the requester, `detail` stays with the holder.
	pub fn from_runner(kind: &str, message: &str, detail: String) -> Self {
		let kind = match kind {
			"plan" => return EngineError::PlanRefused(message.to_string()),
			"policy" => "refused by the task's own policy check",
			"sandbox" => "sandbox violation",
			"resources" => "resource limit",
			"protocol" => "protocol error",
			_ => "error in task code",
		};
		EngineError::TaskCode { kind: kind.to_string(), detail }
	}

	/// What a member may tell the requester about this failure: everything
	/// except what task code wrote, which could carry the member's data.
	pub fn public(&self) -> String {
		match self {
			EngineError::TaskCode { kind, .. } => format!("its task code failed ({kind}); details are in its own log"),
			EngineError::Executor(_) => "its task code failed; details are in its own log".to_string(),
			// The value itself is the member's data.
			EngineError::SecAgg(delta_secagg::Error::OutOfRange { index, max, .. }) => {
				format!("its output at index {index} is outside the encoding's range of ±{max}")
			},
			other => other.to_string(),
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn task_code_details_stay_private() {
		let e = EngineError::TaskCode { kind: "sandbox".into(), detail: "row 3 is 42.0".into() };
		assert!(e.to_string().contains("row 3"));
		assert!(!e.public().contains("row 3"));
		assert!(e.public().contains("sandbox"));
		assert!(!EngineError::Executor("secret 7".into()).public().contains("secret"));
		let d = EngineError::Dataset { name: "p".into(), reason: "too few rows".into() };
		assert_eq!(d.public(), d.to_string());
		let range = EngineError::SecAgg(delta_secagg::Error::OutOfRange { value: 1234.5, index: 2, max: 100.0 });
		assert!(!range.public().contains("1234"), "{}", range.public());
	}
}
