//! The messages of the four phases. They are plain data with serde, so the
//! engine can carry them over any transport; every receiver validates them.

use serde::{Deserialize, Serialize};

use crate::{ring::RingVector, shamir::Share, MemberId};

/// Phase 1, member to aggregator: the member's two public keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvertiseKeys {
	/// The sender.
	pub member: MemberId,
	/// X25519 key for the share channel.
	pub channel_key: [u8; 32],
	/// X25519 key for pairwise masks.
	pub masking_key: [u8; 32],
}

/// Aggregator to all members: who takes part, with their keys (sorted by id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
	/// The members that advertised keys in time.
	pub members: Vec<AdvertiseKeys>,
}

/// A Shamir share pair (self-mask seed, masking key) encrypted for one
/// neighbour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedShare {
	/// The member whose secrets are shared.
	pub from: MemberId,
	/// The neighbour who will hold the shares.
	pub to: MemberId,
	/// ChaCha20-Poly1305 ciphertext bound to (task, round, from, to).
	pub ciphertext: Vec<u8>,
}

/// Phase 2, member to aggregator: one encrypted share per neighbour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareKeys {
	/// The sender.
	pub member: MemberId,
	/// One per neighbour.
	pub shares: Vec<EncryptedShare>,
}

/// Aggregator to one member: the shares its neighbours sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareDelivery {
	/// The receiver.
	pub to: MemberId,
	/// The shares addressed to it.
	pub shares: Vec<EncryptedShare>,
}

/// Phase 3, member to aggregator: the masked input vector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedInput {
	/// The sender.
	pub member: MemberId,
	/// Input plus self mask plus pairwise masks.
	pub vector: RingVector,
}

/// Aggregator to the survivors: who sent a masked input and who did not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmaskRequest {
	/// Members whose masked input arrived.
	pub survivors: Vec<MemberId>,
	/// Members that shared keys but sent no masked input.
	pub dropped: Vec<MemberId>,
}

/// Phase 4, member to aggregator: for each neighbour (and itself) exactly
/// one kind of share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmaskResponse {
	/// The sender.
	pub member: MemberId,
	/// Shares of surviving members' self-mask seeds, by owner.
	pub self_mask_shares: Vec<(MemberId, Share)>,
	/// Shares of dropped members' masking keys, by owner.
	pub mask_key_shares: Vec<(MemberId, Share)>,
}
