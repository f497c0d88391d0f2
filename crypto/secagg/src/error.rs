//! Every way secure aggregation can refuse an input or fail a round.

use crate::{ring::Ring, MemberId};

/// Why a message, an input or a round was refused. Each variant names one
/// cause and carries what is needed to act on it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
	/// Configuration: the threshold cannot be met by the neighbourhoods.
	#[error("threshold {threshold} must be at least 1 and at most the neighbourhood size {neighbourhood}")]
	BadConfig {
		/// The threshold asked for.
		threshold: usize,
		/// Members per neighbourhood, the member included.
		neighbourhood: usize,
	},
	/// Secret sharing asked for an impossible threshold.
	#[error("threshold {threshold} is not between 1 and the {holders} share holders")]
	BadThreshold {
		/// The threshold asked for.
		threshold: usize,
		/// How many would hold shares.
		holders: usize,
	},
	/// Fewer shares than the threshold.
	#[error("{have} shares, {need} needed")]
	NotEnoughShares {
		/// Shares available.
		have: usize,
		/// Shares needed.
		need: usize,
	},
	/// Two shares with one holder.
	#[error("two shares from holder {holder}")]
	DuplicateShare {
		/// The holder.
		holder: MemberId,
	},
	/// A share value is not a canonical field element.
	#[error("share from holder {holder} is malformed")]
	MalformedShare {
		/// The holder.
		holder: MemberId,
	},
	/// Reconstructed shares do not agree: at least one is wrong.
	#[error("shares are inconsistent")]
	InconsistentShares,
	/// The shares of one member's secret do not agree or do not match its
	/// public key: some member sent a wrong share.
	#[error("shares of member {member}'s secret are inconsistent")]
	InconsistentSecret {
		/// Whose secret.
		member: MemberId,
	},
	/// A fixed-point encoding that leaves no room for values.
	#[error("no room for values in {ring:?} with {fractional_bits} fractional bits and {max_summands} summands")]
	BadEncoding {
		/// The ring.
		ring: Ring,
		/// Fractional bits asked for.
		fractional_bits: u32,
		/// Summands asked for.
		max_summands: u32,
	},
	/// An input value is outside what the encoding can sum without wrapping.
	#[error("value {value} at index {index} is outside ±{max}")]
	OutOfRange {
		/// Position in the input.
		index: usize,
		/// The value.
		value: f64,
		/// The largest magnitude allowed.
		max: f64,
	},
	/// A vector in another ring than the round's.
	#[error("vector in {got:?}, the round uses {expected:?}")]
	RingMismatch {
		/// The round's ring.
		expected: Ring,
		/// The vector's ring.
		got: Ring,
	},
	/// A vector of the wrong length.
	#[error("vector of length {got} from member {member}, the round uses {expected}")]
	WrongLength {
		/// Who sent it.
		member: MemberId,
		/// The round's length.
		expected: usize,
		/// The vector's length.
		got: usize,
	},
	/// A public key of low order, which would make a shared secret public.
	#[error("a public key of low order")]
	WeakPublicKey,
	/// A message from someone who is not a member of the round (or of the
	/// set allowed at this phase).
	#[error("member {member} is not part of this round at this phase")]
	UnknownMember {
		/// The sender.
		member: MemberId,
	},
	/// A second message of the same kind from one member: a replay.
	#[error("member {member} already sent this message")]
	Duplicate {
		/// The sender.
		member: MemberId,
	},
	/// A message that does not belong to the current phase.
	#[error("{message} is not expected in phase {phase}")]
	UnexpectedMessage {
		/// The message kind.
		message: &'static str,
		/// The current phase.
		phase: &'static str,
	},
	/// An encrypted share failed authentication (tampered, replayed from
	/// another round, or not from the claimed sender).
	#[error("share from member {from} failed authentication")]
	ShareAuthentication {
		/// The claimed sender.
		from: MemberId,
	},
	/// A share addressed to someone else, or between non-neighbours.
	#[error("share from {from} to {to} does not belong here")]
	Misrouted {
		/// Sender.
		from: MemberId,
		/// Receiver.
		to: MemberId,
	},
	/// A share bundle that misses a neighbour.
	#[error("member {from} sent no share for neighbour {to}")]
	MissingShare {
		/// Sender.
		from: MemberId,
		/// The neighbour left out.
		to: MemberId,
	},
	/// The roster or an unmask request contradicts itself or this member.
	#[error("invalid roster or request: {reason}")]
	InvalidRequest {
		/// What is wrong.
		reason: &'static str,
	},
	/// An unmask request after this member already answered one: answering
	/// two could reveal both kinds of share for one peer.
	#[error("this member already answered an unmask request")]
	AlreadyUnmasked,
	/// Too few members remain for someone's secrets to be recovered.
	#[error("member {member}'s secret needs {need} shares, only {have} members can give one")]
	TooFewSurvivors {
		/// Whose secret (or, for the whole round, the lowest member id).
		member: MemberId,
		/// Shares available.
		have: usize,
		/// Shares needed.
		need: usize,
	},
}
