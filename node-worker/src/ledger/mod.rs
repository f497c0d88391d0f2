//! The worker's two ledgers behind one interface: a Delta Chain node
//! ([`chain`]) or a `delta-coordinator` ([`coordinator`]). Both sign as the
//! worker's account, hand calls to their server one at a time so nonces
//! never collide, wait for each call's outcome (on a chain, concurrently
//! with other calls), and reconnect when their server restarts.

pub mod chain;
pub mod coordinator;

use std::sync::Arc;

use delta_coordinator::types::{AccountId, Bytes, Call, MemberInfo, RoundInfo, StoredEvent, TaskId, TaskInfo};
use delta_engine::EngineError;

/// What the worker needs from a ledger. Calls block; they are made from
/// the engine's task threads (concurrently) or from blocking tasks, never
/// from async code.
pub trait Backend: Send + Sync {
	/// The worker's account.
	fn account(&self) -> AccountId;
	/// Submits `call`, waits for its outcome and returns its events.
	fn submit(&self, call: Call) -> Result<Vec<StoredEvent>, EngineError>;
	/// A task.
	fn task(&self, id: TaskId) -> Result<Option<TaskInfo>, EngineError>;
	/// A round with its members.
	fn round(&self, task: TaskId, round: u32) -> Result<Option<RoundInfo>, EngineError>;
	/// Every registered member.
	fn members(&self) -> Result<Vec<MemberInfo>, EngineError>;
	/// One member's record.
	fn member(&self, who: &AccountId) -> Result<Option<MemberInfo>, EngineError>;
	/// Millionths of ε `requester` has spent on `holder`'s `dataset`, as
	/// the ledger's privacy charges add up.
	fn privacy_spent(&self, holder: &AccountId, dataset: &str, requester: &AccountId) -> Result<u64, EngineError>;
	/// `seconds` in the ledger's time unit (ms or blocks), for timeouts.
	fn timeout_units(&self, seconds: u64) -> u64;
	/// Calls `changed` whenever the ledger's state may have moved on (a
	/// chain's new finalized block), for as long as the worker runs, so
	/// that the task threads look at once instead of at their next poll:
	/// on a chain, every member then sees a phase change together and
	/// their calls go into the same block. A ledger without notifications
	/// does nothing; its readers poll.
	fn watch(&self, changed: Arc<dyn Fn() + Send + Sync>) {
		let _ = changed;
	}
}

/// How long a read keeps trying while its server is unreachable.
const RECONNECT_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// Why one attempt at a read failed.
pub(crate) enum Attempt {
	/// The server answered with a refusal: final.
	Refused(EngineError),
	/// The server could not be reached: reconnect and try again.
	Unreachable(String),
}

/// Runs `attempt` until it succeeds or is refused, reconnecting (`reset`
/// drops the connection) while the server at `server` has been unreachable
/// for less than a minute; what the ledger then says is
/// `"<server> unavailable: ..."` for the call `what`.
pub(crate) fn retry<R>(
	what: &'static str,
	server: &str,
	mut attempt: impl FnMut() -> Result<R, Attempt>,
	reset: impl Fn(),
) -> Result<R, EngineError> {
	let started = std::time::Instant::now();
	loop {
		match attempt() {
			Ok(v) => return Ok(v),
			Err(Attempt::Refused(e)) => return Err(e),
			Err(Attempt::Unreachable(e)) if started.elapsed() < RECONNECT_FOR => {
				tracing::warn!("{server}: {e}; reconnecting");
				reset();
				std::thread::sleep(std::time::Duration::from_millis(500));
			},
			Err(Attempt::Unreachable(e)) => {
				return Err(EngineError::Ledger { call: what, reason: format!("{server} unavailable: {e}") })
			},
		}
	}
}

/// Registers the worker (or updates its record) so that peers find it at
/// `endpoint` and authenticate it by `peer_id`.
pub fn ensure_registered(
	ledger: &dyn Backend,
	name: &str,
	endpoint: &str,
	peer_id: &[u8],
) -> Result<&'static str, EngineError> {
	match ledger.member(&ledger.account())? {
		None => {
			ledger.submit(Call::Register {
				display_name: name.to_string(),
				endpoint: endpoint.to_string(),
				peer_id: Bytes(peer_id.to_vec()),
			})?;
			Ok("registered")
		},
		Some(m) if m.display_name == name && m.endpoint == endpoint && m.peer_id.0 == peer_id => {
			Ok("already registered")
		},
		Some(m) => {
			ledger.submit(Call::UpdateMember {
				display_name: (m.display_name != name).then(|| name.to_string()),
				endpoint: (m.endpoint != endpoint).then(|| endpoint.to_string()),
				peer_id: (m.peer_id.0 != peer_id).then(|| Bytes(peer_id.to_vec())),
			})?;
			Ok("updated its record")
		},
	}
}

/// The engine's ledger: a shared backend.
pub struct EngineLedger(pub Arc<dyn Backend>);

impl delta_engine::Ledger for EngineLedger {
	fn account(&self) -> AccountId {
		self.0.account()
	}

	fn submit(&mut self, call: Call) -> Result<Vec<StoredEvent>, EngineError> {
		let name = call.name();
		let started = std::time::Instant::now();
		let result = self.0.submit(call);
		tracing::debug!(target: "ledger", "{name} took {} ms (ok: {})", started.elapsed().as_millis(), result.is_ok());
		result
	}

	fn task(&self, id: TaskId) -> Result<Option<TaskInfo>, EngineError> {
		let started = std::time::Instant::now();
		let result = self.0.task(id);
		tracing::debug!(target: "ledger", "read task {id} took {} ms", started.elapsed().as_millis());
		result
	}

	fn round(&self, task: TaskId, round: u32) -> Result<Option<RoundInfo>, EngineError> {
		let started = std::time::Instant::now();
		let result = self.0.round(task, round);
		tracing::trace!(target: "ledger", "read round {task}/{round} took {} ms", started.elapsed().as_millis());
		result
	}
}
