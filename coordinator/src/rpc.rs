//! The coordinator's WebSocket JSON-RPC API and its clock.
//!
//! Methods (all under `coordinator_`):
//! - `info()`: instance (what signatures bind to), current time, limits.
//! - `nextNonce(account)`: the nonce the account's next call must carry.
//! - `submit({signer, payload, signature})`: applies a signed call; returns
//!   the events it recorded.
//! - `task(id)`, `round(task, round)`, `member(account)`, `members()`,
//!   `accountByPeerId(0xpeer)`: reads, `null` when absent.
//! - `events(from, limit)`: the event log from position `from`.
//! - `subscribeEvents(from?)` / `unsubscribeEvents`: every event from
//!   position `from` (or from now) on, then live, in order, without gaps;
//!   notifications are `coordinator_event`.
//!
//! Refusals are JSON-RPC errors whose `message` is the refusal's name
//! (`"WrongPhase"`, `"BadSignature"`, ...) and whose `data` carries
//! `{"name", "detail"}`; codes: 1010 refused by the rules, 1001 bad
//! signature, 1002 bad nonce, 1003 payload too large, -32602 malformed,
//! -32603 storage failure.

use crate::{
	error::CallError,
	ledger::Ledger,
	signing::{verify, SignedCall},
	types::*,
};
use jsonrpsee::{
	server::{Server, ServerHandle},
	types::{ErrorObject, ErrorObjectOwned},
	PendingSubscriptionSink, RpcModule, SubscriptionMessage,
};
use std::{
	net::SocketAddr,
	sync::{Arc, Mutex, MutexGuard},
	time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::sync::{broadcast, Notify};

/// Milliseconds since the Unix epoch: the coordinator's clock.
pub fn now_ms() -> u64 {
	SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// What a submitted call recorded.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
	/// The events of the call, in order.
	pub events: Vec<StoredEvent>,
}

/// The ledger behind the API, with its event feed.
pub struct Service {
	ledger: Mutex<Ledger>,
	instance: [u8; 32],
	limits: Limits,
	feed: broadcast::Sender<StoredEvent>,
	wake: Notify,
}

/// Longest wait of the clock between two checks, so that a clock jump or a
/// missed wake-up costs at most this much delay.
const MAX_SLEEP: Duration = Duration::from_secs(1);

impl Service {
	/// Wraps a ledger.
	pub fn new(ledger: Ledger) -> Arc<Self> {
		let (feed, _) = broadcast::channel(4096);
		Arc::new(Self {
			instance: ledger.instance(),
			limits: ledger.limits(),
			ledger: Mutex::new(ledger),
			feed,
			wake: Notify::new(),
		})
	}

	fn ledger(&self) -> MutexGuard<'_, Ledger> {
		// A panic while holding the lock cannot leave the database half
		// written (transactions roll back), so a poisoned lock is usable.
		self.ledger.lock().unwrap_or_else(|e| e.into_inner())
	}

	/// The coordinator's instance id.
	pub fn instance(&self) -> [u8; 32] {
		self.instance
	}

	/// Verifies and applies a signed call at time `now`.
	pub fn submit(&self, signed: &SignedCall, now: u64) -> Result<Receipt, CallError> {
		let (who, payload) = verify(&self.instance, signed)?;
		let mut ledger = self.ledger();
		let result = ledger.apply(&who, Some(payload.nonce), &payload.call, now);
		let receipt = match result {
			Ok((ticked, events)) => {
				self.publish(&ticked);
				self.publish(&events);
				Ok(Receipt { events })
			},
			Err(e) => Err(e),
		};
		drop(ledger);
		self.wake.notify_one();
		receipt
	}

	/// Runs deadlines and pruning due at `now`.
	pub fn tick(&self, now: u64) -> Result<(), rusqlite::Error> {
		let ledger = &mut self.ledger();
		let events = ledger.tick(now)?;
		self.publish(&events);
		Ok(())
	}

	/// Called with the ledger locked, so the feed is in log order.
	fn publish(&self, events: &[StoredEvent]) {
		for e in events {
			// No subscribers is fine: the log keeps everything.
			let _ = self.feed.send(e.clone());
		}
	}

	/// Moves phases at their deadlines and prunes on time, forever: sleeps
	/// until the next deadline (or at most a second, or until a call
	/// changes the schedule).
	pub async fn run_clock(self: Arc<Self>) {
		loop {
			let now = now_ms();
			if let Err(e) = self.tick(now) {
				tracing::error!("deadline processing failed, retrying: {e}");
			}
			let next = self.ledger().next_wakeup().ok().flatten();
			let sleep = match next {
				Some(at) if at > now => Duration::from_millis(at - now).min(MAX_SLEEP),
				Some(_) => Duration::from_millis(1),
				None => MAX_SLEEP,
			};
			tokio::select! {
				_ = tokio::time::sleep(sleep) => {},
				_ = self.wake.notified() => {},
			}
		}
	}
}

fn rpc_error(e: CallError) -> ErrorObjectOwned {
	let code = match &e {
		CallError::Task(_) | CallError::Member(_) => 1010,
		CallError::BadSignature => 1001,
		CallError::BadNonce { .. } => 1002,
		CallError::PayloadTooLarge { .. } => 1003,
		CallError::Malformed(_) => -32602,
		CallError::Storage(_) => -32603,
	};
	if let CallError::Storage(inner) = &e {
		tracing::error!("storage failure: {inner}");
	}
	ErrorObject::owned(code, e.name(), Some(serde_json::json!({"name": e.name(), "detail": e.to_string()})))
}

fn storage_error(e: rusqlite::Error) -> ErrorObjectOwned {
	rpc_error(CallError::Storage(e))
}

fn invalid(e: impl std::fmt::Display) -> ErrorObjectOwned {
	rpc_error(CallError::Malformed(e.to_string()))
}

/// The JSON-RPC methods over `service`.
pub fn rpc_module(service: Arc<Service>) -> Result<RpcModule<Arc<Service>>, jsonrpsee::core::RegisterMethodError> {
	let mut m = RpcModule::new(service);
	m.register_method("coordinator_info", |_, s, _| {
		serde_json::json!({
			"instance": format!("0x{}", hex::encode(s.instance)),
			"now": now_ms(),
			"limits": s.limits,
			"signing_domain": String::from_utf8_lossy(crate::signing::SIGNING_DOMAIN),
		})
	})?;
	m.register_method("coordinator_nextNonce", |p, s, _| {
		let account: String = p.one().map_err(invalid)?;
		let account = AccountId::parse(&account).map_err(invalid)?;
		s.ledger().next_nonce(&account).map_err(storage_error)
	})?;
	m.register_blocking_method("coordinator_submit", |p, s, _| {
		let signed: SignedCall = p.one().map_err(invalid)?;
		s.submit(&signed, now_ms()).map_err(rpc_error)
	})?;
	m.register_method("coordinator_task", |p, s, _| {
		let id: TaskId = p.one().map_err(invalid)?;
		s.ledger().task(id).map_err(storage_error)
	})?;
	m.register_method("coordinator_round", |p, s, _| {
		let (task, round): (TaskId, RoundNo) = p.parse().map_err(invalid)?;
		s.ledger().round(task, round).map_err(storage_error)
	})?;
	m.register_method("coordinator_member", |p, s, _| {
		let account: String = p.one().map_err(invalid)?;
		let account = AccountId::parse(&account).map_err(invalid)?;
		s.ledger().member(&account).map_err(storage_error)
	})?;
	m.register_method("coordinator_members", |_, s, _| s.ledger().members().map_err(storage_error))?;
	// [holder, dataset, requester] -> millionths of ε spent.
	m.register_method("coordinator_privacySpent", |p, s, _| {
		let (holder, dataset, requester): (String, String, String) = p.parse().map_err(invalid)?;
		let holder = AccountId::parse(&holder).map_err(invalid)?;
		let requester = AccountId::parse(&requester).map_err(invalid)?;
		s.ledger().privacy_spent(&holder, &dataset, &requester).map_err(storage_error)
	})?;
	m.register_method("coordinator_accountByPeerId", |p, s, _| {
		let peer: Bytes = p.one().map_err(invalid)?;
		s.ledger().account_by_peer_id(&peer.0).map_err(storage_error)
	})?;
	m.register_method("coordinator_events", |p, s, _| {
		let (from, limit): (u64, u32) = p.parse().map_err(invalid)?;
		s.ledger().events_since(from, limit.min(10_000)).map_err(storage_error)
	})?;
	m.register_subscription(
		"coordinator_subscribeEvents",
		"coordinator_event",
		"coordinator_unsubscribeEvents",
		|p, pending, s, _| async move {
			let mut seq = p.sequence();
			let from: Option<u64> = match seq.optional_next() {
				Ok(v) => v,
				Err(e) => {
					pending.reject(invalid(e)).await;
					return Ok(());
				},
			};
			stream_events(pending, Arc::clone(&*s), from).await
		},
	)?;
	Ok(m)
}

async fn stream_events(
	pending: PendingSubscriptionSink,
	service: Arc<Service>,
	from: Option<u64>,
) -> jsonrpsee::core::SubscriptionResult {
	// Subscribe before reading the log, so nothing falls between the two.
	let mut live = service.feed.subscribe();
	let sink = pending.accept().await?;
	let mut next = match from {
		Some(f) => f.max(1),
		None => service.ledger().last_event_seq()? + 1,
	};
	loop {
		// Catch up from the log (at start, and whenever the live feed lagged).
		loop {
			let batch = service.ledger().events_since(next, 1_000)?;
			if batch.is_empty() {
				break;
			}
			for e in batch {
				next = e.seq + 1;
				sink.send(SubscriptionMessage::from_json(&e)?).await?;
			}
		}
		loop {
			tokio::select! {
				_ = sink.closed() => return Ok(()),
				received = live.recv() => match received {
					Ok(e) if e.seq >= next => {
						next = e.seq + 1;
						sink.send(SubscriptionMessage::from_json(&e)?).await?;
					},
					Ok(_) => {},
					Err(broadcast::error::RecvError::Lagged(_)) => break,
					Err(broadcast::error::RecvError::Closed) => return Ok(()),
				},
			}
		}
	}
}

/// Serves `service` on `addr` (port 0 picks one); returns the bound address
/// and the handle that stops the server. Also starts the clock.
pub async fn serve(service: Arc<Service>, addr: SocketAddr) -> anyhow::Result<(SocketAddr, ServerHandle)> {
	let server = Server::builder()
		// A payload of MAX_PAYLOAD_BYTES, hex-escaped in JSON, with room.
		.max_request_body_size(4 * crate::signing::MAX_PAYLOAD_BYTES as u32)
		.max_response_body_size(16 * 1024 * 1024)
		.max_connections(1_000)
		.build(addr)
		.await?;
	let bound = server.local_addr()?;
	let handle = server.start(rpc_module(service.clone())?);
	tokio::spawn(service.run_clock());
	Ok((bound, handle))
}
