//! The peer network over real libp2p on loopback: a registered member's
//! message arrives with its account as the sender; messages from peers the
//! ledger does not know, oversized messages and garbage are dropped. The
//! ledger is replaced at its narrow trait by a fixed member directory.

use std::{sync::Arc, time::Duration};

use delta_coordinator::types::{AccountId, Bytes, Call, MemberInfo, RoundInfo, StoredEvent, TaskId, TaskInfo};
use delta_engine::{io::Announcement, Encoding, EngineError, Message, StepSpec, Transport};
use delta_worker::{
	ledger::Backend,
	transport::{MemberEndpoint, PeerNet},
};

/// The ledger as a fixed list of registered members.
struct Directory {
	me: AccountId,
	members: Vec<MemberInfo>,
}

impl Backend for Directory {
	fn account(&self) -> AccountId {
		self.me
	}
	fn submit(&self, _: Call) -> Result<Vec<StoredEvent>, EngineError> {
		Err(EngineError::Ledger { call: "submit", reason: "read-only directory".into() })
	}
	fn task(&self, _: TaskId) -> Result<Option<TaskInfo>, EngineError> {
		Ok(None)
	}
	fn round(&self, _: TaskId, _: u32) -> Result<Option<RoundInfo>, EngineError> {
		Ok(None)
	}
	fn members(&self) -> Result<Vec<MemberInfo>, EngineError> {
		Ok(self.members.clone())
	}
	fn member(&self, who: &AccountId) -> Result<Option<MemberInfo>, EngineError> {
		Ok(self.members.iter().find(|m| m.account == *who).cloned())
	}
	fn privacy_spent(&self, _: &AccountId, _: &str, _: &AccountId) -> Result<u64, EngineError> {
		Ok(0)
	}
	fn timeout_units(&self, seconds: u64) -> u64 {
		seconds
	}
}

fn member(account: AccountId, peer: &libp2p::identity::Keypair, endpoint: &str) -> MemberInfo {
	MemberInfo {
		account,
		display_name: "m".into(),
		endpoint: endpoint.into(),
		peer_id: Bytes(peer.public().to_peer_id().to_bytes()),
		registered_at: 0,
		updated_at: 0,
	}
}

fn announcement(package_bytes: usize) -> Message {
	Message::Announce(Announcement {
		task: 7,
		round: 0,
		step: StepSpec {
			dataset: "d".into(),
			body: b"step".to_vec(),
			outputs: vec![delta_engine::OutputSpec::floats("x", 1)],
			privacy: None,
		},
		encoding: Encoding::default(),
		graph: delta_engine::GraphChoice::Complete,
		package: vec![1; package_bytes],
	})
}

fn receive(endpoint: &mut MemberEndpoint, within: Duration) -> Vec<(AccountId, Message)> {
	let deadline = std::time::Instant::now() + within;
	loop {
		let got = endpoint.recv();
		if !got.is_empty() || std::time::Instant::now() > deadline {
			return got;
		}
		std::thread::sleep(Duration::from_millis(20));
	}
}

/// Starts a receiver that knows `known` (besides itself) and allows
/// messages of at most `max` bytes; returns it with its dialable address.
async fn receiver(
	me: AccountId,
	key: libp2p::identity::Keypair,
	known: Vec<MemberInfo>,
	max: u64,
) -> (Arc<PeerNet>, String) {
	let directory = Arc::new(Directory { me, members: known });
	let (net, addr) = PeerNet::start(key, "/ip4/127.0.0.1/tcp/0".parse().unwrap(), max, directory).await.unwrap();
	(net, addr.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_members_are_heard_and_everything_else_is_dropped() {
	let alice = AccountId([1; 32]);
	let bob = AccountId([2; 32]);
	let mallory = AccountId([3; 32]);
	let alice_key = libp2p::identity::Keypair::generate_ed25519();
	let bob_key = libp2p::identity::Keypair::generate_ed25519();
	let mallory_key = libp2p::identity::Keypair::generate_ed25519();

	// Bob knows Alice (registered; he never dials her, so her endpoint does not
	// matter here) but not Mallory; he accepts up to 64 KiB.
	let alice_record = member(alice, &alice_key, "/ip4/127.0.0.1/tcp/1");
	let (bob_net, bob_addr) = receiver(bob, bob_key.clone(), vec![alice_record], 64 << 10).await;
	let bob_record = member(bob, &bob_key, &bob_addr);

	// Alice and Mallory both know where Bob is.
	let (alice_net, _) = receiver(alice, alice_key, vec![bob_record.clone()], 64 << 10).await;
	let (mallory_net, _) = receiver(mallory, mallory_key, vec![bob_record], 64 << 10).await;

	let mut bob_inbox = MemberEndpoint(Arc::clone(&bob_net));
	let mut alice_out = MemberEndpoint(alice_net);
	let mut mallory_out = MemberEndpoint(mallory_net);

	tokio::task::spawn_blocking(move || {
		// A registered member: delivered, with its account as the sender.
		alice_out.send(bob, announcement(100)).unwrap();
		let got = receive(&mut bob_inbox, Duration::from_secs(10));
		assert_eq!(got.len(), 1);
		assert_eq!(got[0].0, alice);
		assert_eq!(got[0].1, announcement(100));

		// A peer the ledger does not know: dropped.
		mallory_out.send(bob, announcement(100)).unwrap();
		assert!(receive(&mut bob_inbox, Duration::from_secs(2)).is_empty(), "an unknown peer was heard");

		// Larger than Bob's limit, even from a member: refused.
		alice_out.send(bob, announcement(100 << 10)).unwrap();
		assert!(receive(&mut bob_inbox, Duration::from_secs(2)).is_empty(), "an oversized message arrived");

		// Still connected and working afterwards.
		alice_out.send(bob, announcement(10)).unwrap();
		let got = receive(&mut bob_inbox, Duration::from_secs(10));
		assert_eq!(got.len(), 1, "the member's next message did not arrive");

		// Sending to someone who is not registered fails by name.
		let err = alice_out.send(mallory, announcement(1)).unwrap_err();
		assert!(err.to_string().contains("not a registered member"), "{err}");
	})
	.await
	.unwrap();
}
