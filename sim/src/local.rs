//! In-process adapters: the coordinator's ledger rules on an in-memory
//! database with a clock the host moves, and an in-memory network.
//!
//! These are not mocks of the rules: [`LocalLedger`] is
//! `delta_coordinator::Ledger`, the same code the coordinator service runs,
//! so local debug runs the real round state machine. [`LocalNetwork`]
//! encodes and decodes every message as the real transport does, so size
//! and format problems show up locally too.

use std::{
	collections::BTreeMap,
	sync::{Arc, Mutex, MutexGuard},
};

use delta_coordinator::{
	types::{AccountId, Call, RoundInfo, StoredEvent, TaskId, TaskInfo},
	CallError, Limits,
};

use delta_engine::{
	io::{canonical, Ledger, Message, Transport},
	EngineError,
};

use crate::adversary::{Adversary, Delivery};

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
	m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Shared {
	ledger: delta_coordinator::Ledger,
	now: u64,
}

/// The coordinator's rules in memory, shared by every local participant.
#[derive(Clone)]
pub struct LocalLedger {
	shared: Arc<Mutex<Shared>>,
}

impl LocalLedger {
	/// A fresh ledger at time 1 (milliseconds).
	pub fn new() -> Result<Self, EngineError> {
		let ledger = delta_coordinator::Ledger::in_memory(Limits::default())
			.map_err(|e| EngineError::Ledger { call: "open", reason: e.to_string() })?;
		Ok(Self { shared: Arc::new(Mutex::new(Shared { ledger, now: 1 })) })
	}

	fn lock(&self) -> MutexGuard<'_, Shared> {
		self.shared.lock().unwrap_or_else(|e| e.into_inner())
	}

	/// The ledger as seen by `who`, for its driver.
	pub fn participant(&self, who: AccountId) -> Box<dyn Ledger> {
		Box::new(Participant { ledger: self.clone(), who })
	}

	/// Registers `who` as a network member (local runs have no identity
	/// step of their own).
	pub fn register(&self, who: AccountId, index: u32) -> Result<(), EngineError> {
		let mut peer_id = vec![0x12, 0x20];
		peer_id.extend_from_slice(&who.0);
		let call = Call::Register {
			display_name: format!("member {index}"),
			endpoint: format!("/ip4/127.0.0.1/tcp/{}", 20_000 + index % 40_000),
			peer_id: delta_coordinator::types::Bytes(peer_id),
		};
		let mut shared = self.lock();
		let now = shared.now;
		shared.ledger.apply(&who, None, &call, now).map(|_| ()).map_err(|e| refusal("register", e))
	}

	/// Lets `ms` milliseconds pass, running deadlines.
	pub fn advance(&self, ms: u64) -> Result<(), EngineError> {
		let mut shared = self.lock();
		shared.now += ms;
		let now = shared.now;
		shared.ledger.tick(now).map(|_| ()).map_err(|e| EngineError::Ledger { call: "tick", reason: e.to_string() })
	}

	/// The ledger's clock.
	pub fn now(&self) -> u64 {
		self.lock().now
	}

	/// A round as the ledger holds it.
	pub fn round(&self, task: TaskId, round: u32) -> Result<Option<RoundInfo>, EngineError> {
		self.lock().ledger.round(task, round).map_err(|e| EngineError::Ledger { call: "round", reason: e.to_string() })
	}
}

fn refusal(call: &'static str, e: CallError) -> EngineError {
	EngineError::Ledger { call, reason: e.name().to_string() }
}

struct Participant {
	ledger: LocalLedger,
	who: AccountId,
}

impl Ledger for Participant {
	fn account(&self) -> AccountId {
		self.who
	}

	fn submit(&mut self, call: Call) -> Result<Vec<StoredEvent>, EngineError> {
		let name = call.name();
		let mut shared = self.ledger.lock();
		let now = shared.now;
		shared.ledger.apply(&self.who, None, &call, now).map(|(_, events)| events).map_err(|e| refusal(name, e))
	}

	fn task(&self, id: TaskId) -> Result<Option<TaskInfo>, EngineError> {
		self.ledger.lock().ledger.task(id).map_err(|e| EngineError::Ledger { call: "task", reason: e.to_string() })
	}

	fn round(&self, task: TaskId, round: u32) -> Result<Option<RoundInfo>, EngineError> {
		self.ledger.round(task, round)
	}
}

/// Largest message the local network carries, as the real transport will
/// bound it: a masked vector of 16M 64-bit elements.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;

type Mailboxes = BTreeMap<AccountId, Vec<(AccountId, Vec<u8>)>>;

/// An in-memory network: one mailbox per account.
#[derive(Clone, Default)]
pub struct LocalNetwork {
	mailboxes: Arc<Mutex<Mailboxes>>,
	/// What stands between senders and mailboxes, if anything.
	adversary: Arc<Mutex<Option<Box<dyn Adversary>>>>,
	/// Bytes carried so far, for reports.
	carried: Arc<Mutex<u64>>,
	/// SHA-256 over every message carried (sender, receiver, bytes), in
	/// order: two runs that exchanged exactly the same messages agree.
	/// `None` once [`LocalNetwork::stop_digesting`].
	traffic: Arc<Mutex<Option<sha2::Sha256>>>,
}

impl LocalNetwork {
	/// An empty network that digests its traffic.
	pub fn new() -> Self {
		let network = Self::default();
		*lock(&network.traffic) = Some(sha2::Sha256::default());
		network
	}

	/// Stops digesting traffic: [`LocalNetwork::traffic_digest`] is `None`
	/// from now on.
	pub fn stop_digesting(&self) {
		*lock(&self.traffic) = None;
	}

	/// A network that passes every message through `adversary`.
	///
	/// Sending panics if the adversary delivers a message in the name of a
	/// participant it does not control: the real transport authenticates
	/// senders, so such an adversary would test nothing real.
	pub fn under(adversary: Box<dyn Adversary>) -> Self {
		let network = Self::new();
		*lock(&network.adversary) = Some(adversary);
		network
	}

	/// One step of simulated time: messages the adversary held back and
	/// that are due now reach their mailboxes.
	pub fn tick(&self) {
		let due = match lock(&self.adversary).as_mut() {
			Some(adversary) => adversary.tick(),
			None => return,
		};
		self.post(due);
	}

	/// Puts deliveries into mailboxes.
	fn post(&self, deliveries: Vec<Delivery>) {
		let mut mailboxes = lock(&self.mailboxes);
		for (from, to, bytes) in deliveries {
			mailboxes.entry(to).or_default().push((from, bytes));
		}
	}

	/// `who`'s endpoint.
	pub fn endpoint(&self, who: AccountId) -> Box<dyn Transport> {
		Box::new(Endpoint { network: self.clone(), who })
	}

	/// Bytes carried so far.
	pub fn bytes_carried(&self) -> u64 {
		*self.carried.lock().unwrap_or_else(|e| e.into_inner())
	}

	/// The digest of everything carried so far, if it is kept.
	pub fn traffic_digest(&self) -> Option<[u8; 32]> {
		use sha2::Digest;
		lock(&self.traffic).clone().map(|d| d.finalize().into())
	}
}

struct Endpoint {
	network: LocalNetwork,
	who: AccountId,
}

impl Transport for Endpoint {
	fn send(&mut self, to: AccountId, message: Message) -> Result<(), EngineError> {
		let bytes = canonical(&message)?;
		if bytes.len() > MAX_MESSAGE_BYTES {
			return Err(EngineError::Encoding(format!("a message of {} bytes exceeds the limit", bytes.len())));
		}
		*self.network.carried.lock().unwrap_or_else(|e| e.into_inner()) += bytes.len() as u64;
		if let Some(traffic) = lock(&self.network.traffic).as_mut() {
			use sha2::Digest;
			traffic.update(self.who.0);
			traffic.update(to.0);
			traffic.update((bytes.len() as u64).to_le_bytes());
			traffic.update(&bytes);
		}
		let deliveries = match lock(&self.network.adversary).as_mut() {
			Some(adversary) => {
				let out = adversary.carry(self.who, to, bytes);
				// A broken adversary, not a protocol finding: fail loudly.
				let forged = out.iter().find(|(f, ..)| *f != self.who && !adversary.controls(f));
				assert!(forged.is_none(), "the adversary forged a message from an account it does not control");
				out
			},
			None => vec![(self.who, to, bytes)],
		};
		self.network.post(deliveries);
		Ok(())
	}

	fn recv(&mut self) -> Vec<(AccountId, Message)> {
		let inbox =
			self.network.mailboxes.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.who).unwrap_or_default();
		inbox
			.into_iter()
			.filter_map(|(from, bytes)| match Message::decode(&bytes) {
				Ok(m) => Some((from, m)),
				Err(e) => {
					tracing::warn!("dropped an undecodable message from {from}: {e}");
					None
				},
			})
			.collect()
	}
}
