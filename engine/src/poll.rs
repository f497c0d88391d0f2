//! What the protocol cores ask of their host, and how the host answers.
//!
//! [`crate::RequesterCore`] and [`crate::MemberCore`] are state machines
//! in the shape of quinn-proto's connection: they never block, read no
//! clock, draw no randomness of their own and touch no I/O. A host feeds
//! them inputs (`handle_*`: what the ledger said, peer messages, results of
//! the task's code, the time) and drains their outputs (`poll_*`: ledger
//! reads and calls to make, messages to send, code to run, typed events,
//! the next timeout). Every request carries what the answer must name, so
//! a host may answer in any order and at any later time: one thread per
//! task (the worker), one loop for thousands of simulated members
//! (`delta-sim`), or an async runtime.
//!
//! [`crate::RequesterDriver`] and [`crate::MemberDriver`] are the blocking
//! host most callers want: they answer each request at once through the
//! traits of [`crate::io`].

use delta_ledger_api::{Call, TaskId};

/// Names one ledger call a core asked for, so that its result can be
/// handed back ([`crate::RequesterCore::handle_call`],
/// [`crate::MemberCore::handle_call`]) whenever it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub u64);

/// A ledger call a core wants made as its participant.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRequest {
	/// Hand the result back under this id.
	pub id: CallId,
	/// The call.
	pub call: Call,
}

/// A ledger read a core wants answered: the current record, which the
/// host hands back with `handle_task` or `handle_round`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Read {
	/// The task's record.
	Task(TaskId),
	/// A round's record with its members.
	Round {
		/// The task.
		task: TaskId,
		/// The round.
		round: u32,
	},
}

/// Hands out call ids in order; one per core.
#[derive(Debug, Default)]
pub(crate) struct CallIds(u64);

impl CallIds {
	pub(crate) fn next(&mut self) -> CallId {
		self.0 += 1;
		CallId(self.0)
	}
}
