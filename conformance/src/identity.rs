//! The identity half of the suite: `pallet-delta-identity` and the
//! coordinator's member registry must accept and refuse the same
//! registrations, updates and departures, with the same error names, and
//! leave the same records.

use crate::{Outcome, Who};

/// A member's record as the suite compares it: display name, endpoint and
/// peer id, as bytes.
pub type Record = (Vec<u8>, Vec<u8>, Vec<u8>);

/// The calls and reads of a member registry, in the suite's terms. Names
/// are UTF-8 text (the coordinator's JSON cannot carry other bytes).
pub trait IdentityLedger {
	/// Registers `who`.
	fn register(&mut self, who: Who, name: &str, endpoint: &str, peer_id: &[u8]) -> Outcome;
	/// Changes the fields given.
	fn update(&mut self, who: Who, name: Option<&str>, endpoint: Option<&str>, peer_id: Option<&[u8]>) -> Outcome;
	/// `who` leaves the network.
	fn leave(&mut self, who: Who) -> Outcome;
	/// `who`'s record.
	fn member(&mut self, who: Who) -> Option<Record>;
	/// The member that registered `peer_id`.
	fn by_peer_id(&mut self, peer_id: &[u8]) -> Option<Who>;
}

/// A scenario of the identity suite.
pub type IdentityScenario = (&'static str, fn(&mut dyn IdentityLedger));

/// Every identity scenario both ledgers must pass.
pub const IDENTITY_SCENARIOS: &[IdentityScenario] = &[
	("a member registers, is read back, updates and leaves", lifecycle),
	("malformed records are refused by name and change nothing", malformed),
	("a peer id belongs to one member at a time", peer_ids),
];

/// Runs every identity scenario, each on a registry from `fresh`.
pub fn run_identity(mut fresh: impl FnMut() -> Box<dyn IdentityLedger>) {
	for (name, scenario) in IDENTITY_SCENARIOS {
		let mut ledger = fresh();
		let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(ledger.as_mut())));
		if let Err(e) = run {
			panic!("identity scenario {name:?} failed: {e:?}");
		}
	}
}

/// A well-formed binary libp2p peer id (identity multihash of 32 bytes),
/// distinct per `n`.
pub fn peer_id(n: u8) -> Vec<u8> {
	let mut id = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
	id.extend_from_slice(&[n; 32]);
	id
}

fn endpoint(n: u8) -> String {
	format!("/ip4/127.0.0.1/tcp/{}", 4000 + u16::from(n))
}

fn record(name: &str, n: u8) -> Record {
	(name.as_bytes().to_vec(), endpoint(n).into_bytes(), peer_id(n))
}

fn lifecycle(l: &mut dyn IdentityLedger) {
	assert_eq!(l.member(1), None);
	assert_eq!(l.register(1, "Clinic A", &endpoint(1), &peer_id(1)), Ok(()));
	assert_eq!(l.member(1), Some(record("Clinic A", 1)));
	assert_eq!(l.by_peer_id(&peer_id(1)), Some(1));
	assert_eq!(l.register(1, "Clinic A", &endpoint(1), &peer_id(1)), Err("AlreadyRegistered"));
	assert_eq!(l.update(1, Some("Clinic B"), None, None), Ok(()));
	assert_eq!(l.member(1), Some(record("Clinic B", 1)));
	assert_eq!(l.update(1, None, Some(&endpoint(9)), Some(&peer_id(9))), Ok(()));
	assert_eq!(l.member(1), Some(("Clinic B".as_bytes().to_vec(), endpoint(9).into_bytes(), peer_id(9))));
	// The old peer id is free again, the new one is taken.
	assert_eq!(l.by_peer_id(&peer_id(1)), None);
	assert_eq!(l.by_peer_id(&peer_id(9)), Some(1));
	assert_eq!(l.update(1, None, None, None), Err("NothingToUpdate"));
	assert_eq!(l.update(2, Some("Bank"), None, None), Err("NotRegistered"));
	assert_eq!(l.leave(1), Ok(()));
	assert_eq!(l.member(1), None);
	assert_eq!(l.by_peer_id(&peer_id(9)), None);
	assert_eq!(l.leave(1), Err("NotRegistered"));
	// Gone, it may register again.
	assert_eq!(l.register(1, "Clinic A", &endpoint(1), &peer_id(1)), Ok(()));
}

fn malformed(l: &mut dyn IdentityLedger) {
	let long_name = "n".repeat(65);
	let long_endpoint = format!("/dns4/{}.example/tcp/1", "a".repeat(250));
	let long_peer = vec![0x12; 65];
	let cases: [(&str, &str, &[u8], &str); 8] = [
		("", &endpoint(1), &peer_id(1), "DisplayNameEmpty"),
		("   ", &endpoint(1), &peer_id(1), "DisplayNameEmpty"),
		(&long_name, &endpoint(1), &peer_id(1), "DisplayNameTooLong"),
		("Clinic\nA", &endpoint(1), &peer_id(1), "DisplayNameInvalid"),
		("Clinic A", &long_endpoint, &peer_id(1), "EndpointTooLong"),
		("Clinic A", "not a multiaddr", &peer_id(1), "MalformedEndpoint"),
		("Clinic A", &endpoint(1), &long_peer, "PeerIdTooLong"),
		("Clinic A", &endpoint(1), &[1, 2, 3], "MalformedPeerId"),
	];
	for (name, endpoint, peer, refusal) in cases {
		assert_eq!(l.register(1, name, endpoint, peer), Err(refusal), "{name:?} {endpoint:?} {peer:?}");
		assert_eq!(l.member(1), None, "a refused registration changed nothing");
	}
	assert_eq!(l.register(1, "Clinic A", &endpoint(1), &peer_id(1)), Ok(()));
	assert_eq!(l.update(1, Some(""), None, None), Err("DisplayNameEmpty"));
	assert_eq!(l.update(1, None, Some("/ip4/1.2.3.4"), None), Err("MalformedEndpoint"));
	assert_eq!(l.member(1), Some(record("Clinic A", 1)), "a refused update changed nothing");
}

fn peer_ids(l: &mut dyn IdentityLedger) {
	assert_eq!(l.register(1, "Clinic A", &endpoint(1), &peer_id(1)), Ok(()));
	assert_eq!(l.register(2, "Bank", &endpoint(2), &peer_id(1)), Err("PeerIdInUse"));
	assert_eq!(l.register(2, "Bank", &endpoint(2), &peer_id(2)), Ok(()));
	assert_eq!(l.update(2, None, None, Some(&peer_id(1))), Err("PeerIdInUse"));
	assert_eq!(l.by_peer_id(&peer_id(2)), Some(2));
	assert_eq!(l.leave(1), Ok(()));
	assert_eq!(l.update(2, None, None, Some(&peer_id(1))), Ok(()));
	assert_eq!(l.by_peer_id(&peer_id(1)), Some(2));
	assert_eq!(l.by_peer_id(&peer_id(2)), None);
}
