//! Why the coordinator refuses a call.
//!
//! Every refusal has a name. Task and round refusals carry the names of
//! [`TaskError`], the same as the task pallet's errors; registry refusals
//! carry the identity pallet's error names. A client handles a refusal the
//! same way whichever ledger it talks to.

use delta_primitives::task::TaskError;

/// Why a member-registry call is refused (the identity pallet's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MemberError {
	/// The account is already a member.
	#[error("the account is already a member")]
	AlreadyRegistered,
	/// The account is not a member.
	#[error("the account is not a member")]
	NotRegistered,
	/// The display name is empty.
	#[error("the display name is empty")]
	DisplayNameEmpty,
	/// The display name is too long.
	#[error("the display name is longer than 64 bytes")]
	DisplayNameTooLong,
	/// The display name holds control characters.
	#[error("the display name holds control characters")]
	DisplayNameInvalid,
	/// The endpoint is too long.
	#[error("the endpoint is longer than 256 bytes")]
	EndpointTooLong,
	/// The endpoint is not a dialable multiaddr.
	#[error("the endpoint is not a dialable multiaddr")]
	MalformedEndpoint,
	/// The peer id is too long.
	#[error("the peer id is longer than 64 bytes")]
	PeerIdTooLong,
	/// The peer id is not a libp2p peer id.
	#[error("the peer id is not a binary libp2p peer id")]
	MalformedPeerId,
	/// Another member has this peer id.
	#[error("another member has this peer id")]
	PeerIdInUse,
	/// The registry is full.
	#[error("the registry has its maximum number of members")]
	TooManyMembers,
	/// An update that changes nothing.
	#[error("the update names no field to change")]
	NothingToUpdate,
}

impl MemberError {
	/// The variant's name.
	pub fn name(&self) -> &'static str {
		match self {
			Self::AlreadyRegistered => "AlreadyRegistered",
			Self::NotRegistered => "NotRegistered",
			Self::DisplayNameEmpty => "DisplayNameEmpty",
			Self::DisplayNameTooLong => "DisplayNameTooLong",
			Self::DisplayNameInvalid => "DisplayNameInvalid",
			Self::EndpointTooLong => "EndpointTooLong",
			Self::MalformedEndpoint => "MalformedEndpoint",
			Self::PeerIdTooLong => "PeerIdTooLong",
			Self::MalformedPeerId => "MalformedPeerId",
			Self::PeerIdInUse => "PeerIdInUse",
			Self::TooManyMembers => "TooManyMembers",
			Self::NothingToUpdate => "NothingToUpdate",
		}
	}
}

/// Why a submitted call is refused. Nothing changes on any refusal; a call
/// refused by the task or registry rules still uses up its nonce, as a
/// failed extrinsic does on chain, so it cannot be replayed later.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
	/// The task and round rules refused the call.
	#[error("refused: {}", .0.name())]
	Task(TaskError),
	/// The member registry refused the call.
	#[error("refused: {0}")]
	Member(MemberError),
	/// The signature does not verify for this signer, payload and
	/// coordinator.
	#[error("the signature does not verify for this signer, payload and coordinator")]
	BadSignature,
	/// The nonce is not the signer's next nonce: a replay, or a call sent
	/// out of order.
	#[error("nonce {got} is not the signer's next nonce {expected}")]
	BadNonce {
		/// The signer's next nonce.
		expected: u64,
		/// The nonce in the call.
		got: u64,
	},
	/// The payload is larger than the coordinator accepts.
	#[error("payload of {size} bytes exceeds the limit of {limit}")]
	PayloadTooLarge {
		/// The payload's size.
		size: usize,
		/// The limit.
		limit: usize,
	},
	/// The request is not well formed.
	#[error("malformed request: {0}")]
	Malformed(String),
	/// The database failed; the call did not take effect.
	#[error("storage failure: {0}")]
	Storage(#[from] rusqlite::Error),
}

impl CallError {
	/// The refusal's name, which clients match on.
	pub fn name(&self) -> &'static str {
		match self {
			Self::Task(e) => e.name(),
			Self::Member(e) => e.name(),
			Self::BadSignature => "BadSignature",
			Self::BadNonce { .. } => "BadNonce",
			Self::PayloadTooLarge { .. } => "PayloadTooLarge",
			Self::Malformed(_) => "Malformed",
			Self::Storage(_) => "Storage",
		}
	}
}

impl From<TaskError> for CallError {
	fn from(e: TaskError) -> Self {
		Self::Task(e)
	}
}

impl From<MemberError> for CallError {
	fn from(e: MemberError) -> Self {
		Self::Member(e)
	}
}

impl From<serde_json::Error> for CallError {
	fn from(e: serde_json::Error) -> Self {
		Self::Malformed(e.to_string())
	}
}
