//! Who is who on the peer network: each registered member's account, libp2p
//! peer id and address, from the ledger's member records.
//!
//! One read of every member refreshes both directions (account to address
//! for sending, peer to account for naming a message's sender), so a round
//! announced to ten members costs at most one ledger read instead of ten,
//! each a round trip that the announcements waited for. Records are taken for
//! [`DIRECTORY_TTL`]: members move and leave, and a removed member's peer
//! must stop being heard soon. A name the directory does not know makes it
//! read again at once, unless it has just read (a sender that is not a
//! member must not make the worker read the ledger per message).

use std::{
	collections::HashMap,
	sync::{Arc, Mutex, PoisonError},
	time::{Duration, Instant},
};

use delta_engine::{AccountId, EngineError};
use libp2p::{Multiaddr, PeerId};

use crate::ledger::Backend;

/// How long member records are used before the ledger is read again.
pub const DIRECTORY_TTL: Duration = Duration::from_secs(10);

/// After a read, how long an unknown name is answered from it rather than
/// by reading again.
const MISS_AFTER: Duration = Duration::from_secs(1);

/// Where a member listens, or why its record cannot be dialled.
type Address = Result<(PeerId, Multiaddr), String>;

#[derive(Default)]
struct Records {
	by_account: HashMap<AccountId, Address>,
	by_peer: HashMap<PeerId, AccountId>,
	read_at: Option<Instant>,
}

/// The member directory, shared by the sending and the receiving side.
pub struct Directory {
	ledger: Arc<dyn Backend>,
	records: Mutex<Records>,
	/// Held while reading, so that concurrent misses make one read.
	reading: Mutex<()>,
}

/// A member record's peer id and endpoint as libp2p dials them.
pub fn dial_target(endpoint: &str, peer_id: &[u8]) -> Result<(PeerId, Multiaddr), String> {
	let peer = PeerId::from_bytes(peer_id).map_err(|e| format!("peer id: {e}"))?;
	let addr: Multiaddr = endpoint.parse().map_err(|e| format!("endpoint {endpoint:?}: {e}"))?;
	Ok((peer, addr))
}

impl Directory {
	/// An empty directory over `ledger`; the first lookup reads it.
	pub fn new(ledger: Arc<dyn Backend>) -> Self {
		Self { ledger, records: Mutex::default(), reading: Mutex::new(()) }
	}

	/// Where to send to `to`: its peer id and address.
	pub fn address(&self, to: &AccountId) -> Result<(PeerId, Multiaddr), EngineError> {
		let found = self.lookup(|r| r.by_account.get(to).cloned())?;
		match found {
			Some(Ok(target)) => Ok(target),
			Some(Err(reason)) => Err(EngineError::Ledger { call: "send", reason }),
			None => Err(EngineError::Ledger { call: "send", reason: format!("{to} is not a registered member") }),
		}
	}

	/// The member whose worker is `peer`, if any.
	pub fn account(&self, peer: &PeerId) -> Result<Option<AccountId>, EngineError> {
		self.lookup(|r| r.by_peer.get(peer).copied())
	}

	/// `peer`'s member from records younger than the TTL, without reading
	/// the ledger: what the swarm's task can answer inline.
	pub fn known_account(&self, peer: &PeerId) -> Option<AccountId> {
		let records = self.records();
		records.read_at.filter(|at| at.elapsed() < DIRECTORY_TTL)?;
		records.by_peer.get(peer).copied()
	}

	/// `find` on records younger than the TTL; on a miss, on records read
	/// again (unless they were read within `MISS_AFTER`).
	fn lookup<T>(&self, find: impl Fn(&Records) -> Option<T>) -> Result<Option<T>, EngineError> {
		let fresh = |r: &Records, within: Duration| r.read_at.is_some_and(|at| at.elapsed() < within);
		{
			let records = self.records();
			if fresh(&records, DIRECTORY_TTL) {
				if let Some(found) = find(&records) {
					return Ok(Some(found));
				}
				if fresh(&records, MISS_AFTER) {
					return Ok(None);
				}
			}
		}
		let _reading = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
		// Another caller may have read while this one waited.
		{
			let records = self.records();
			if fresh(&records, MISS_AFTER) {
				return Ok(find(&records));
			}
		}
		let members = self.ledger.members()?;
		let mut read = Records { read_at: Some(Instant::now()), ..Records::default() };
		for m in members {
			let target = dial_target(&m.endpoint, &m.peer_id.0);
			if let Ok((peer, _)) = &target {
				read.by_peer.insert(*peer, m.account);
			}
			read.by_account.insert(m.account, target);
		}
		let found = find(&read);
		*self.records() = read;
		Ok(found)
	}

	fn records(&self) -> std::sync::MutexGuard<'_, Records> {
		self.records.lock().unwrap_or_else(PoisonError::into_inner)
	}
}

#[cfg(test)]
mod tests {
	use std::sync::atomic::{AtomicUsize, Ordering};

	use delta_coordinator::types::{Bytes, Call, MemberInfo, RoundInfo, StoredEvent, TaskInfo};
	use delta_engine::TaskId;

	use super::*;

	/// A ledger of members that counts its reads; members can be added.
	#[derive(Default)]
	struct Members {
		members: Mutex<Vec<MemberInfo>>,
		reads: AtomicUsize,
	}

	impl Backend for Members {
		fn account(&self) -> AccountId {
			AccountId([0; 32])
		}
		fn submit(&self, _: Call) -> Result<Vec<StoredEvent>, EngineError> {
			Err(EngineError::Ledger { call: "submit", reason: "read-only".into() })
		}
		fn task(&self, _: TaskId) -> Result<Option<TaskInfo>, EngineError> {
			Ok(None)
		}
		fn round(&self, _: TaskId, _: u32) -> Result<Option<RoundInfo>, EngineError> {
			Ok(None)
		}
		fn members(&self) -> Result<Vec<MemberInfo>, EngineError> {
			self.reads.fetch_add(1, Ordering::SeqCst);
			Ok(self.members.lock().unwrap().clone())
		}
		fn member(&self, _: &AccountId) -> Result<Option<MemberInfo>, EngineError> {
			panic!("the directory reads every member at once")
		}
		fn privacy_spent(&self, _: &AccountId, _: &str, _: &AccountId) -> Result<u64, EngineError> {
			Ok(0)
		}
		fn timeout_units(&self, seconds: u64) -> u64 {
			seconds
		}
	}

	fn record(i: u8, endpoint: &str) -> (MemberInfo, PeerId) {
		let peer = libp2p::identity::Keypair::generate_ed25519().public().to_peer_id();
		let info = MemberInfo {
			account: AccountId([i; 32]),
			display_name: format!("m{i}"),
			endpoint: endpoint.into(),
			peer_id: Bytes(peer.to_bytes()),
			registered_at: 0,
			updated_at: 0,
		};
		(info, peer)
	}

	#[test]
	fn ten_members_cost_one_read_in_both_directions() {
		let ledger = Arc::new(Members::default());
		let mut peers = Vec::new();
		for i in 1..=10 {
			let (info, peer) = record(i, &format!("/ip4/127.0.0.1/tcp/{}", 4000 + i as u16));
			ledger.members.lock().unwrap().push(info);
			peers.push(peer);
		}
		let directory = Directory::new(ledger.clone());
		for (i, peer) in (1..=10).zip(&peers) {
			let (to, addr) = directory.address(&AccountId([i; 32])).unwrap();
			assert_eq!((&to, addr.to_string()), (peer, format!("/ip4/127.0.0.1/tcp/{}", 4000 + i as u16)));
			assert_eq!(directory.account(peer).unwrap(), Some(AccountId([i; 32])));
			assert_eq!(directory.known_account(peer), Some(AccountId([i; 32])));
		}
		assert_eq!(ledger.reads.load(Ordering::SeqCst), 1);
	}

	#[test]
	fn strangers_are_unknown_without_a_read_per_message_and_a_new_member_is_found_after_a_moment() {
		let ledger = Arc::new(Members::default());
		let (known, _) = record(1, "/ip4/127.0.0.1/tcp/4001");
		ledger.members.lock().unwrap().push(known);
		let directory = Directory::new(ledger.clone());
		let stranger = libp2p::identity::Keypair::generate_ed25519().public().to_peer_id();
		assert_eq!(directory.known_account(&stranger), None, "nothing is known before a read");
		assert_eq!(ledger.reads.load(Ordering::SeqCst), 0, "and asking does not read");
		for _ in 0..50 {
			assert_eq!(directory.account(&stranger).unwrap(), None);
		}
		assert_eq!(ledger.reads.load(Ordering::SeqCst), 1, "a stranger's messages do not each read the ledger");
		let err = directory.address(&AccountId([9; 32])).unwrap_err();
		assert!(err.to_string().contains("is not a registered member"), "{err}");

		let (newcomer, peer) = record(2, "/ip4/127.0.0.1/tcp/4002");
		ledger.members.lock().unwrap().push(newcomer);
		std::thread::sleep(MISS_AFTER + Duration::from_millis(50));
		assert_eq!(directory.account(&peer).unwrap(), Some(AccountId([2; 32])));
		assert_eq!(ledger.reads.load(Ordering::SeqCst), 2);
	}

	#[test]
	fn a_record_that_cannot_be_dialled_says_why() {
		let ledger = Arc::new(Members::default());
		let (bad, _) = record(1, "not an address");
		ledger.members.lock().unwrap().push(bad);
		let err = Directory::new(ledger).address(&AccountId([1; 32])).unwrap_err();
		assert!(err.to_string().contains("endpoint \"not an address\""), "{err}");
	}
}
