//! # delta-ledger-api: the ledger's vocabulary
//!
//! What every Delta ledger speaks and every client reads, in one crate:
//! accounts, calls, events, task/round/member records and the limits
//! (`Limits`, from `delta_primitives::limits`, which the runtime's pallet
//! constants also use). The coordinator serves these types over its API,
//! the worker's chain adapter maps the pallets' calls and views to them,
//! and the engine is written against them alone, so no ledger's
//! implementation leaks into the protocol. The rules that check each call
//! live in `delta-primitives` (the round state machine, identity
//! validation), shared by the pallets and the coordinator.
//!
//! Accounts are sr25519 public keys, written in SS58 (as polkadot.js and
//! substrate-interface print them) and accepted in SS58 or `0x` hex. Byte
//! strings and 32-byte values are `0x` hex. Enums from `delta-primitives`
//! keep their Rust variant names (`"Open"`, `{"Failed": "Cancelled"}`).

mod ss58;

use delta_primitives::{
	round::{MemberStatus, RoundParams, RoundState, ShareKind},
	task::{TaskKind, TaskStatus},
};
use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};

/// A task's number, assigned in order of creation from 0.
pub type TaskId = u64;
/// A round's number within its task, from 0.
pub type RoundNo = u32;

/// An account: the 32-byte sr25519 public key that signs its calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub [u8; 32]);

impl AccountId {
	/// SS58 text with the generic prefix 42, as Substrate tools print it.
	pub fn to_ss58(&self) -> String {
		ss58::encode(&self.0)
	}

	/// Parses SS58 (any prefix) or `0x` followed by 64 hex digits.
	pub fn parse(text: &str) -> Result<Self, String> {
		if let Some(hex) = text.strip_prefix("0x") {
			let bytes = decode_hex(hex)?;
			let raw: [u8; 32] = bytes.try_into().map_err(|_| "an account is 32 bytes".to_string())?;
			return Ok(Self(raw));
		}
		ss58::decode(text).map(Self).map_err(|e| format!("not an SS58 account: {e}"))
	}
}

impl std::fmt::Display for AccountId {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.write_str(&self.to_ss58())
	}
}

impl Serialize for AccountId {
	fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
		s.serialize_str(&self.to_ss58())
	}
}

impl<'de> Deserialize<'de> for AccountId {
	fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
		let text = String::deserialize(d)?;
		Self::parse(&text).map_err(D::Error::custom)
	}
}

fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
	hex::decode(hex).map_err(|e| format!("bad hex: {e}"))
}

/// A byte string, `0x` hex in JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
	fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
		s.serialize_str(&format!("0x{}", hex::encode(&self.0)))
	}
}

impl<'de> Deserialize<'de> for Bytes {
	fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
		let text = String::deserialize(d)?;
		let hex = text.strip_prefix("0x").ok_or_else(|| D::Error::custom("hex must start with 0x"))?;
		decode_hex(hex).map(Bytes).map_err(D::Error::custom)
	}
}

/// A 32-byte value (key, commitment, seed), `0x` hex in JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct H256(pub [u8; 32]);

impl Serialize for H256 {
	fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
		Bytes(self.0.to_vec()).serialize(s)
	}
}

impl<'de> Deserialize<'de> for H256 {
	fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
		let bytes = Bytes::deserialize(d)?;
		bytes.0.try_into().map(H256).map_err(|_| D::Error::custom("expected 32 bytes"))
	}
}

/// One revealed share in a [`Call::Reveal`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealedShare {
	/// Whose secret the share belongs to.
	pub owner: AccountId,
	/// Which of the owner's secrets.
	pub kind: ShareKind,
	/// The share's bytes.
	pub share: Bytes,
}

/// Every state-changing call, the same as the identity and task pallets'
/// calls, with the same arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case", deny_unknown_fields)]
pub enum Call {
	/// Become a network member (identity pallet `register`).
	Register {
		/// Shown to people choosing members.
		display_name: String,
		/// libp2p multiaddr where the worker listens.
		endpoint: String,
		/// Binary libp2p peer id.
		peer_id: Bytes,
	},
	/// Change any of name, endpoint, peer id (identity pallet `update`).
	UpdateMember {
		/// New display name.
		#[serde(default)]
		display_name: Option<String>,
		/// New endpoint.
		#[serde(default)]
		endpoint: Option<String>,
		/// New peer id.
		#[serde(default)]
		peer_id: Option<Bytes>,
	},
	/// Stop being a member.
	Leave,
	/// Create a task; the caller owns it.
	CreateTask {
		/// Hash of the task package.
		package: H256,
		/// What it computes.
		kind: TaskKind,
		/// The datasets it reads.
		datasets: Vec<String>,
		/// How many rounds it may run.
		rounds: u32,
		/// Round parameters; timeouts in milliseconds.
		params: RoundParams,
	},
	/// Open the task's next round.
	StartRound {
		/// The task.
		task: TaskId,
	},
	/// Join an open round with two X25519 public keys.
	Join {
		/// The task.
		task: TaskId,
		/// The round.
		round: RoundNo,
		/// Key of the member's share channel.
		channel_key: H256,
		/// Key of the member's pairwise masks.
		masking_key: H256,
	},
	/// Commit the encrypted shares the member distributed.
	CommitShares {
		/// The task.
		task: TaskId,
		/// The round.
		round: RoundNo,
		/// Hash of the shares.
		commitment: H256,
	},
	/// Commit the member's masked input.
	CommitMasked {
		/// The task.
		task: TaskId,
		/// The round.
		round: RoundNo,
		/// Hash of the masked input.
		commitment: H256,
	},
	/// Reveal unmasking shares, one per listed owner.
	Reveal {
		/// The task.
		task: TaskId,
		/// The round.
		round: RoundNo,
		/// The shares.
		shares: Vec<RevealedShare>,
	},
	/// Record a round's result.
	FinishRound {
		/// The task.
		task: TaskId,
		/// The round.
		round: RoundNo,
		/// Hash of the result.
		result: H256,
	},
	/// Finish the task.
	FinishTask {
		/// The task.
		task: TaskId,
	},
	/// Cancel the task and its running round.
	CancelTask {
		/// The task.
		task: TaskId,
	},
	/// Record privacy the caller (a data holder) gave the task's owner on
	/// one of its datasets, added to what that requester has spent there.
	ChargePrivacy {
		/// The task.
		task: TaskId,
		/// The holder's dataset, one the task declared.
		dataset: String,
		/// ε, in millionths.
		epsilon: u64,
	},
}

impl Call {
	/// The call's name, as its JSON form tags it (`"call": "join"`): one
	/// spelling for every ledger's errors and logs, so a refusal reads the
	/// same whichever ledger or host reports it.
	pub fn name(&self) -> &'static str {
		match self {
			Call::Register { .. } => "register",
			Call::UpdateMember { .. } => "update_member",
			Call::Leave => "leave",
			Call::CreateTask { .. } => "create_task",
			Call::StartRound { .. } => "start_round",
			Call::Join { .. } => "join",
			Call::CommitShares { .. } => "commit_shares",
			Call::CommitMasked { .. } => "commit_masked",
			Call::Reveal { .. } => "reveal",
			Call::FinishRound { .. } => "finish_round",
			Call::FinishTask { .. } => "finish_task",
			Call::CancelTask { .. } => "cancel_task",
			Call::ChargePrivacy { .. } => "charge_privacy",
		}
	}
}

/// What a signer signs: the call and the signer's next nonce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedPayload {
	/// Must equal the signer's next nonce (see `coordinator_nextNonce`).
	pub nonce: u64,
	/// The call.
	pub call: Call,
}

/// Every change the coordinator records, the same as the pallets' events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum Event {
	/// A member registered.
	Registered { who: AccountId, peer_id: Bytes },
	/// A member changed its record.
	Updated { who: AccountId, peer_id: Bytes },
	/// A member left.
	Left { who: AccountId },
	/// A task was created.
	TaskCreated { task: TaskId, owner: AccountId, package: H256 },
	/// A round opened for joining.
	RoundStarted { task: TaskId, round: RoundNo, deadline: u64 },
	/// A member joined a round.
	Joined { task: TaskId, round: RoundNo, who: AccountId },
	/// A member committed its encrypted shares.
	SharesCommitted { task: TaskId, round: RoundNo, who: AccountId, commitment: H256 },
	/// A member committed its masked input.
	MaskedCommitted { task: TaskId, round: RoundNo, who: AccountId, commitment: H256 },
	/// A member revealed its unmasking shares.
	Revealed { task: TaskId, round: RoundNo, who: AccountId, shares: u32 },
	/// A round changed phase.
	PhaseChanged { task: TaskId, round: RoundNo, phase: delta_primitives::round::Phase, deadline: u64 },
	/// The member set is fixed and the neighbour-graph seed drawn.
	SeedFixed { task: TaskId, round: RoundNo, seed: H256 },
	/// The owner recorded a round's result.
	RoundFinished { task: TaskId, round: RoundNo, result: H256 },
	/// The owner finished the task.
	TaskFinished { task: TaskId },
	/// The owner cancelled the task.
	TaskCancelled { task: TaskId },
	/// The task's round data was removed after the retention period.
	TaskPruned { task: TaskId },
	/// A holder recorded privacy given to a task's owner on its dataset;
	/// `total` is what that requester has spent there now (millionths of ε).
	PrivacyCharged { task: TaskId, holder: AccountId, requester: AccountId, dataset: String, epsilon: u64, total: u64 },
}

/// An event with its place in the coordinator's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
	/// Position in the log, from 1, without gaps.
	pub seq: u64,
	/// Coordinator time (ms since the Unix epoch) when it happened.
	pub at: u64,
	/// The event.
	#[serde(flatten)]
	pub event: Event,
}

/// A network member's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
	/// The member's account.
	pub account: AccountId,
	/// Shown to people.
	pub display_name: String,
	/// Where its worker listens.
	pub endpoint: String,
	/// Its libp2p peer id.
	pub peer_id: Bytes,
	/// When it registered (ms).
	pub registered_at: u64,
	/// When it last changed (ms).
	pub updated_at: u64,
}

/// A task's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
	/// The task's id.
	pub id: TaskId,
	/// Who created it.
	pub owner: AccountId,
	/// Hash of its package.
	pub package: H256,
	/// What it computes.
	pub kind: TaskKind,
	/// The datasets it reads.
	pub datasets: Vec<String>,
	/// Rounds it may run.
	pub rounds: u32,
	/// Round parameters (timeouts in ms).
	pub params: RoundParams,
	/// Its status.
	pub status: TaskStatus,
	/// Rounds started so far.
	pub rounds_started: u32,
	/// When it was created (ms).
	pub created_at: u64,
}

/// A member's record in one round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundMember {
	/// The member.
	pub account: AccountId,
	/// How far it has come.
	pub status: MemberStatus,
	/// X25519 key of its share channel.
	pub channel_key: H256,
	/// X25519 key of its masks.
	pub masking_key: H256,
	/// Commitment of its encrypted shares.
	pub shares: Option<H256>,
	/// Commitment of its masked input.
	pub masked: Option<H256>,
}

/// A round with its members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundInfo {
	/// Phase, deadline (ms) and counts.
	pub state: RoundState,
	/// The neighbour-graph seed, once the member set is fixed.
	pub seed: Option<H256>,
	/// The result commitment, once recorded.
	pub result: Option<H256>,
	/// Members in order of joining.
	pub members: Vec<RoundMember>,
}

/// The coordinator's bounds, the same roles as the task and identity
/// pallets' constants. Defaults equal the Delta runtime's values, with time
/// in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
	/// Most datasets one task may name.
	pub max_datasets: u32,
	/// Longest dataset name, in bytes.
	pub max_dataset_name_len: u32,
	/// Most rounds one task may run.
	pub max_rounds: u32,
	/// Most shares one reveal may carry.
	pub max_reveals_per_call: u32,
	/// Longest revealed share, in bytes.
	pub max_share_len: u32,
	/// Most network members.
	pub max_members: u32,
	/// How long a finished task's round data is kept, in ms.
	pub retention_ms: u64,
}

impl Default for Limits {
	fn default() -> Self {
		use delta_primitives::limits;
		Self {
			max_datasets: limits::MAX_DATASETS,
			max_dataset_name_len: limits::MAX_DATASET_NAME_LEN,
			max_rounds: limits::MAX_ROUNDS,
			max_reveals_per_call: limits::MAX_REVEALS_PER_CALL,
			max_share_len: limits::MAX_SHARE_LEN,
			max_members: limits::MAX_MEMBERS,
			retention_ms: limits::RETENTION_MS,
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn calls_have_a_stable_json_form() {
		let call: Call = serde_json::from_str(
			r#"{"call":"join","task":3,"round":0,
			"channel_key":"0x0101010101010101010101010101010101010101010101010101010101010101",
			"masking_key":"0x0202020202020202020202020202020202020202020202020202020202020202"}"#,
		)
		.unwrap();
		assert_eq!(call, Call::Join { task: 3, round: 0, channel_key: H256([1; 32]), masking_key: H256([2; 32]) });
		let params = r#"{"min_members":2,"max_members":3,"threshold":2,
			"timeouts":{"open":1000,"share_keys":1000,"compute":1000,"unmask":1000}}"#;
		let create = format!(
			r#"{{"call":"create_task","package":"0x{}","kind":"Statistics","datasets":["d"],"rounds":1,"params":{params}}}"#,
			"07".repeat(32)
		);
		assert!(matches!(serde_json::from_str::<Call>(&create).unwrap(), Call::CreateTask { rounds: 1, .. }));
	}

	#[test]
	fn a_calls_name_is_its_json_tag() {
		use delta_primitives::round::PhaseTimeouts;
		let params = RoundParams {
			min_members: 2,
			max_members: 3,
			threshold: 2,
			timeouts: PhaseTimeouts { open: 1, share_keys: 1, compute: 1, unmask: 1 },
		};
		let (task, round, h) = (1, 0, H256([0; 32]));
		let calls = [
			Call::Register {
				display_name: "a".into(),
				endpoint: "/ip4/127.0.0.1/tcp/1".into(),
				peer_id: Bytes(vec![1]),
			},
			Call::UpdateMember { display_name: None, endpoint: None, peer_id: None },
			Call::Leave,
			Call::CreateTask { package: h, kind: TaskKind::Statistics, datasets: vec![], rounds: 1, params },
			Call::StartRound { task },
			Call::Join { task, round, channel_key: h, masking_key: h },
			Call::CommitShares { task, round, commitment: h },
			Call::CommitMasked { task, round, commitment: h },
			Call::Reveal { task, round, shares: vec![] },
			Call::FinishRound { task, round, result: h },
			Call::FinishTask { task },
			Call::CancelTask { task },
		];
		for call in &calls {
			let json = serde_json::to_value(call).unwrap();
			assert_eq!(json["call"], call.name(), "{call:?}");
		}
		let names: std::collections::BTreeSet<_> = calls.iter().map(Call::name).collect();
		assert_eq!(names.len(), calls.len(), "every call has a name of its own");
	}

	#[test]
	fn malformed_json_is_refused_with_a_reason() {
		let short_key = r#"{"call":"join","task":3,"round":0,"channel_key":"0x01","masking_key":"0x02"}"#;
		assert!(serde_json::from_str::<Call>(short_key).unwrap_err().to_string().contains("32 bytes"));
		let extra = r#"{"call":"start_round","task":1,"surprise":1}"#;
		assert!(serde_json::from_str::<Call>(extra).is_err());
		let unknown = r#"{"call":"mint"}"#;
		assert!(serde_json::from_str::<Call>(unknown).unwrap_err().to_string().contains("unknown variant"));
	}

	#[test]
	fn accounts_read_ss58_and_hex() {
		let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
		let account = AccountId::parse(alice).unwrap();
		assert_eq!(account.to_ss58(), alice);
		let hex = format!("0x{}", hex::encode(account.0));
		assert_eq!(AccountId::parse(&hex).unwrap(), account);
		assert!(AccountId::parse("5Grw").is_err());
		assert!(AccountId::parse("0x1234").is_err());
	}
}
