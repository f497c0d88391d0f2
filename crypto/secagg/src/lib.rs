//! # delta-secagg: secure aggregation for Delta
//!
//! SecAgg+ (Bell et al., CCS 2020) with the original SecAgg (Bonawitz et
//! al., CCS 2017) as its complete-graph case: a requester's aggregator
//! learns the sum of the members' vectors and nothing else about any one
//! member's vector, as long as fewer than `threshold` members collude with it,
//! and the sum is exact for any dropout pattern that leaves enough members
//! in every neighbourhood.
//!
//! The crate is sans-I/O: [`Member`] and [`Aggregator`] are state machines
//! that take messages (and a cryptographic RNG) and return messages. They
//! open no sockets, read no clock and spawn nothing; timeouts are the
//! caller's decision, expressed by closing a phase ([`Aggregator`]'s
//! `close_*` methods). The protocol engine drives them over real transports.
//!
//! ## The protocol
//! 1. **Advertise keys**: each member sends two X25519 public keys
//!    ([`AdvertiseKeys`]); the aggregator answers with the [`Roster`].
//! 2. **Share keys**: each member derives its neighbours from the round's
//!    public seed ([`NeighbourGraph`]), Shamir-shares its self-mask seed and
//!    its masking secret key among them, and sends each neighbour its shares
//!    encrypted with ChaCha20-Poly1305 under a key from X25519 + HKDF, with
//!    (task, round, sender, receiver) as associated data ([`ShareKeys`]).
//! 3. **Masked input**: each member adds to its encoded vector its self mask
//!    and, for each neighbour that shared, a pairwise mask (added if its id
//!    is lower, subtracted otherwise), all expanded by AES-CTR ([`MaskedInput`]).
//! 4. **Unmask**: for each neighbour, a survivor reveals the share of the
//!    self-mask seed if that neighbour's input arrived, or of its masking key
//!    if it dropped out, never both ([`UnmaskResponse`]); the aggregator
//!    reconstructs, removes the masks and returns the sum.
//!
//! Numbers enter the ring through [`FixedPoint`], which refuses values that
//! could make the sum wrap.

#![deny(missing_docs)]
#![deny(unsafe_code)]

mod aggregator;
pub mod bytes;
pub mod encoder;
mod error;
pub mod graph;
pub mod keys;
mod member;
pub mod messages;
pub mod params;
pub mod prg;
pub mod ring;
pub mod shamir;
pub mod testkit;
#[cfg(target_arch = "x86_64")]
mod vaes;

pub use aggregator::Aggregator;
pub use encoder::FixedPoint;
pub use error::Error;
pub use graph::NeighbourGraph;
pub use member::Member;
pub use messages::*;
pub use params::{GraphChoice, GraphGoals, Neighbourhood};
pub use ring::{element_bytes, Ring, RingVector};

use serde::{Deserialize, Serialize};

/// A member's number within a round, assigned by the ledger.
pub type MemberId = u32;

/// What binds every key and ciphertext to one round of one task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundContext {
	/// The task's id as the ledger knows it.
	pub task_id: Vec<u8>,
	/// The round number within the task.
	pub round: u64,
}

/// Everything both sides must agree on before a round starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
	/// The task and round.
	pub context: RoundContext,
	/// Shares needed to reconstruct any one member's secrets.
	pub threshold: usize,
	/// Neighbours per member (`k`); `k >= n - 1` gives the complete graph.
	pub degree: usize,
	/// Elements per input vector.
	pub vector_len: usize,
	/// The ring of the input vectors.
	pub ring: Ring,
	/// Public randomness the neighbour graph is derived from.
	pub graph_seed: [u8; 32],
}

impl Config {
	/// Checks that `n` members can run this configuration: every
	/// neighbourhood (a member and its neighbours) must hold at least
	/// `threshold` members.
	pub fn check_members(&self, n: usize) -> Result<(), Error> {
		let neighbourhood = if self.degree + 1 >= n { n } else { 2 * self.degree.div_ceil(2) + 1 };
		if self.threshold == 0 || self.threshold > neighbourhood {
			return Err(Error::BadConfig { threshold: self.threshold, neighbourhood });
		}
		Ok(())
	}
}

/// The plaintext inside an [`EncryptedShare`]: the two shares.
pub(crate) const SHARE_PLAINTEXT_LEN: usize = 4 + 4 + 64 + 64;
