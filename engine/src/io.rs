//! The narrow traits the engine is written against, and the messages
//! members and requesters exchange.
//!
//! A host (the worker, the SDK's local debug mode, a test) provides one
//! implementation of each: [`Ledger`] (chain, coordinator, or the
//! coordinator's rules in memory), [`Transport`] (libp2p, in memory),
//! [`MemberExecutor`] and [`RequesterExecutor`] (sandboxed Python, the
//! calling interpreter, a closure) and
//! [`Datasets`] (files under the holder's policy, frames in memory).

use delta_ledger_api::{AccountId, Call, RoundInfo, StoredEvent, TaskId, TaskInfo};
use delta_secagg::{GraphChoice, MaskedInput, Ring, ShareDelivery, ShareKeys, UnmaskResponse};
use serde::{Deserialize, Serialize};

use crate::{
	tensor::{OutputSpec, Values},
	EngineError,
};

/// One participant's view of the ledger; calls are made as that
/// participant (the implementation holds its key).
pub trait Ledger: Send {
	/// The participant's account.
	fn account(&self) -> AccountId;
	/// Submits a call; returns the events it recorded.
	fn submit(&mut self, call: Call) -> Result<Vec<StoredEvent>, EngineError>;
	/// A task.
	fn task(&self, id: TaskId) -> Result<Option<TaskInfo>, EngineError>;
	/// A round with its members.
	fn round(&self, task: TaskId, round: u32) -> Result<Option<RoundInfo>, EngineError>;
}

/// One participant's endpoint on the peer network. Messages are
/// authenticated by the transport: `recv` names the true sender.
pub trait Transport: Send {
	/// Sends `message` to `to`; delivery is not guaranteed (the protocol
	/// tolerates loss as a dropout).
	fn send(&mut self, to: AccountId, message: Message) -> Result<(), EngineError>;
	/// Everything received since the last call, with senders.
	fn recv(&mut self) -> Vec<(AccountId, Message)>;
}

/// Runs a task's code at a member: gets ready from the task's package,
/// then `map`s each step on the member's local data. Split from
/// [`RequesterExecutor`] so that neither side carries a method it cannot
/// run.
pub trait MemberExecutor: Send {
	/// Gets ready to run `task`'s code from its package, whose hash the
	/// caller has already checked against the ledger; a package the
	/// executor refuses (static check, malformed) declines the round.
	fn prepare(&mut self, task: &TaskInfo, package: &[u8]) -> Result<(), EngineError> {
		let _ = (task, package);
		Ok(())
	}
	/// The step's outputs on the member's dataset, one per declared output
	/// in `step.outputs` order, each of the declared type and size (the
	/// engine refuses anything else).
	fn map(&mut self, task: TaskId, step: &StepSpec) -> Result<Vec<Values>, EngineError>;
}

/// Runs a task's code at the requester: what follows each step, from the
/// step's sums. The host starts it from the package before the task is
/// created (the package names the task's kind and first step).
pub trait RequesterExecutor: Send {
	/// What follows a step, given the sums of its outputs over the members
	/// (float outputs summed as 64-bit floats, integers exactly) and how
	/// many members contributed.
	fn reduce(&mut self, step: &StepSpec, sums: &[Values], members: usize) -> Result<Next, EngineError>;
}

/// The holder's datasets, under its policy.
pub trait Datasets: Send {
	/// Checks that `name` exists and that the holder's policy allows
	/// `task` (its owner, rounds and member counts) to use it; returns its
	/// row count. The refusal's text reaches the requester.
	fn admit(&self, task: &TaskInfo, name: &str) -> Result<u64, EngineError>;
}

/// One step of a task: what every member computes on which dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepSpec {
	/// The dataset each member reads.
	pub dataset: String,
	/// Task-defined description of the step (e.g. which statistics, or the
	/// current model); opaque to the engine.
	#[serde(with = "delta_secagg::bytes")]
	pub body: Vec<u8>,
	/// The named, typed outputs, in vector order: declared before any
	/// member sees data.
	pub outputs: Vec<OutputSpec>,
	/// Differential privacy for the step's sum: each member clips its
	/// contribution and adds its share of the noise before masking
	/// (`delta_dp`). None: the sum is exact.
	pub privacy: Option<delta_dp::Privacy>,
}

impl StepSpec {
	/// Elements in all outputs together (0 for outputs past the engine's
	/// bound, which [`crate::tensor::check_outputs`] refuses).
	pub fn vector_len(&self) -> usize {
		crate::tensor::check_outputs(&self.outputs).unwrap_or(0)
	}
}

/// What follows a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Next {
	/// Run another step.
	Step(StepSpec),
	/// The task's result.
	Done(Vec<u8>),
}

/// How members encode their outputs for secure summation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encoding {
	/// The ring of the masked vectors.
	pub ring: Ring,
	/// Fixed-point fractional bits.
	pub fractional_bits: u32,
}

impl Encoding {
	/// Refuses an encoding that cannot hold `max_summands` members' sums
	/// (too many fractional bits for the ring), before a task is planned
	/// with it.
	pub fn check(&self, max_summands: u32) -> Result<(), EngineError> {
		delta_secagg::FixedPoint::new(self.ring, self.fractional_bits, max_summands)?;
		Ok(())
	}
}

impl Default for Encoding {
	/// 64-bit ring with 24 fractional bits: values up to about 5.5e11 / n
	/// in magnitude, resolution 6e-8.
	fn default() -> Self {
		Self { ring: Ring::Bits64, fractional_bits: 24 }
	}
}

/// The requester's announcement of a round to the members it invites.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Announcement {
	/// The task on the ledger.
	pub task: TaskId,
	/// The round.
	pub round: u32,
	/// What to compute.
	pub step: StepSpec,
	/// How to encode it.
	pub encoding: Encoding,
	/// How the SecAgg+ neighbour graph is sized: both sides derive the
	/// degree and share threshold from it and the number of members once
	/// the ledger fixes them.
	pub graph: GraphChoice,
	/// The task package; members check its hash against the ledger's
	/// commitment before anything else.
	#[serde(with = "delta_secagg::bytes")]
	pub package: Vec<u8>,
}

/// Everything that travels between peers. No code and no pickles: data
/// only, decoded by serde into these types.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
	/// Requester to members: a round opens.
	Announce(Announcement),
	/// Member to requester: encrypted shares for the member's neighbours.
	ShareKeys { task: TaskId, round: u32, body: ShareKeys },
	/// Requester to member: the shares addressed to it.
	Delivery { task: TaskId, round: u32, body: ShareDelivery },
	/// Member to requester: its masked outputs.
	Masked { task: TaskId, round: u32, body: MaskedInput },
	/// Member to requester: its unmasking shares.
	Unmask { task: TaskId, round: u32, body: UnmaskResponse },
	/// Member to requester: it will not take part in this round, and why
	/// (its policy, a missing dataset, a package it refuses).
	Decline { task: TaskId, round: u32, reason: String },
}

impl Message {
	/// The task and round the message belongs to: what a host routes it
	/// by.
	pub fn round_key(&self) -> (TaskId, u32) {
		match self {
			Message::Announce(a) => (a.task, a.round),
			Message::ShareKeys { task, round, .. }
			| Message::Delivery { task, round, .. }
			| Message::Masked { task, round, .. }
			| Message::Unmask { task, round, .. }
			| Message::Decline { task, round, .. } => (*task, *round),
		}
	}
}

impl Message {
	/// A peer message from the bytes a peer sent: exactly one message, so
	/// that bytes appended after a valid message (which `postcard`'s
	/// `from_bytes` would ignore) make the whole message refused rather
	/// than carried along unread. Every host decodes with this.
	pub fn decode(bytes: &[u8]) -> Result<Self, EngineError> {
		let (message, rest) =
			postcard::take_from_bytes::<Self>(bytes).map_err(|e| EngineError::Encoding(e.to_string()))?;
		if !rest.is_empty() {
			return Err(EngineError::Encoding(format!("{} bytes after the message", rest.len())));
		}
		Ok(message)
	}
}

/// The canonical bytes of a value (postcard), which commitments hash:
/// sized first, then written into one buffer of that size (a growing
/// buffer copied a masked model's 8 MB several times over).
pub fn canonical<T: Serialize>(value: &T) -> Result<Vec<u8>, EngineError> {
	let size = postcard::serialize_with_flavor(value, Counting(0)).map_err(encoding)?;
	let bytes = postcard::serialize_with_flavor(value, Filling(Vec::with_capacity(size))).map_err(encoding)?;
	Ok(bytes)
}

fn encoding(e: postcard::Error) -> EngineError {
	EngineError::Encoding(e.to_string())
}

/// Counts the bytes of a serialisation.
struct Counting(usize);

impl postcard::ser_flavors::Flavor for Counting {
	type Output = usize;
	fn try_push(&mut self, _: u8) -> postcard::Result<()> {
		self.0 += 1;
		Ok(())
	}
	fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
		self.0 += data.len();
		Ok(())
	}
	fn finalize(self) -> postcard::Result<usize> {
		Ok(self.0)
	}
}

/// Appends a serialisation to a buffer, a slice at a time.
struct Filling(Vec<u8>);

impl postcard::ser_flavors::Flavor for Filling {
	type Output = Vec<u8>;
	fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
		self.0.push(byte);
		Ok(())
	}
	fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
		self.0.extend_from_slice(data);
		Ok(())
	}
	fn finalize(self) -> postcard::Result<Vec<u8>> {
		Ok(self.0)
	}
}

/// Hashes a serialisation as it is written. Small pieces (a derived
/// vector's elements arrive one by one: a sum of 1M floats is 1M pieces
/// of 8 bytes) are gathered into `pending` and hashed a block at a time,
/// since each hasher update costs far more than copying 8 bytes; that
/// took the commitment to a sum of 1M floats from 16 ms to 2.7. The
/// digest is BLAKE3 of the bytes in order, whatever their grouping.
struct Digesting {
	hasher: blake3::Hasher,
	pending: Vec<u8>,
}

/// How many small pieces' bytes are gathered before they are hashed.
const PENDING_BYTES: usize = 64 << 10;

/// A written piece at least this long (a vector's elements) is hashed on
/// every core: BLAKE3's tree splits it into chunks that hash apart, with
/// the same digest. Below it, threads cost more than they save.
const PARALLEL_HASH_BYTES: usize = 1 << 20;

impl Digesting {
	fn new() -> Self {
		Self { hasher: blake3::Hasher::new(), pending: Vec::with_capacity(PENDING_BYTES) }
	}

	fn flush(&mut self) {
		self.hasher.update(&self.pending);
		self.pending.clear();
	}
}

impl postcard::ser_flavors::Flavor for Digesting {
	type Output = [u8; 32];
	fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
		self.try_extend(&[byte])
	}
	fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
		if self.pending.len() + data.len() > PENDING_BYTES {
			self.flush();
		}
		if data.len() >= PARALLEL_HASH_BYTES {
			self.hasher.update_rayon(data);
		} else if data.len() >= PENDING_BYTES {
			self.hasher.update(data);
		} else {
			self.pending.extend_from_slice(data);
		}
		Ok(())
	}
	fn finalize(mut self) -> postcard::Result<[u8; 32]> {
		self.flush();
		Ok(*self.hasher.finalize().as_bytes())
	}
}

/// A task package's commitment on the ledger: SHA-256 of its bytes.
pub fn package_commitment(package: &[u8]) -> [u8; 32] {
	use sha2::Digest;
	sha2::Sha256::digest(package).into()
}

/// BLAKE3 of a value's canonical bytes: what goes on the ledger as a
/// commitment to a peer message (shares, a masked input, a result). Every
/// member and the requester hash each masked input once a round, so the
/// hash runs over model-sized vectors: BLAKE3 rather than SHA-256 (which
/// took a tenth of `delta.debug`'s round on a 1M-weight model). Package
/// commitments stay SHA-256 (`package_commitment`), as tools check them.
pub fn commitment<T: Serialize>(value: &T) -> Result<[u8; 32], EngineError> {
	postcard::serialize_with_flavor(value, Digesting::new()).map_err(encoding)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn byte_strings_keep_postcards_wire_format() {
		#[derive(Serialize, Deserialize, PartialEq, Debug)]
		struct Derived {
			body: Vec<u8>,
		}
		#[derive(Serialize, Deserialize, PartialEq, Debug)]
		struct Fast {
			#[serde(with = "delta_secagg::bytes")]
			body: Vec<u8>,
		}
		let body: Vec<u8> = (0..=255).collect();
		let bytes = canonical(&Fast { body: body.clone() }).unwrap();
		assert_eq!(bytes, canonical(&Derived { body: body.clone() }).unwrap());
		assert_eq!(postcard::from_bytes::<Fast>(&bytes).unwrap(), Fast { body });
	}

	#[test]
	fn canonical_bytes_and_commitments_are_postcards_for_every_ring() {
		use delta_secagg::RingVector;
		for vector in [
			RingVector::U32(vec![1, u32::MAX, 7]),
			RingVector::U64((0..1000).map(|i: u64| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).collect()),
			// Past PARALLEL_HASH_BYTES: hashed on every core, same digest.
			RingVector::U64((0..300_000).map(|i: u64| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).collect()),
			RingVector::U128(vec![u128::MAX - 5, 1 << 100]),
			RingVector::U64(vec![]),
		] {
			let want = postcard::to_allocvec(&(7u32, &vector, "tail")).unwrap();
			assert_eq!(canonical(&(7u32, &vector, "tail")).unwrap(), want);
			let digest: [u8; 32] = *blake3::hash(&want).as_bytes();
			assert_eq!(commitment(&(7u32, &vector, "tail")).unwrap(), digest);
			// Little-endian elements, whatever the host.
			let (_, back, _): (u32, RingVector, String) = postcard::from_bytes(&want).unwrap();
			assert_eq!(back, vector);
		}
		let bytes = canonical(&RingVector::U32(vec![258])).unwrap();
		assert_eq!(&bytes[bytes.len() - 4..], &[2, 1, 0, 0]);
		// Read from the borrowed bytes: a ragged byte string is refused.
		let ragged =
			postcard::to_allocvec(&(delta_secagg::Ring::Bits64, delta_secagg::bytes::Bytes(&[1, 2, 3]))).unwrap();
		assert!(postcard::from_bytes::<RingVector>(&ragged).is_err());
		let whole =
			postcard::to_allocvec(&(delta_secagg::Ring::Bits32, delta_secagg::bytes::Bytes(&[1, 0, 0, 0]))).unwrap();
		assert_eq!(postcard::from_bytes::<RingVector>(&whole).unwrap(), RingVector::U32(vec![1]));
	}

	#[test]
	fn a_commitment_hashes_small_pieces_and_large_ones_in_their_order() {
		use crate::tensor::Values;
		use delta_secagg::RingVector;
		// Derived vectors write an element at a time (gathered before
		// hashing), a ring vector one large piece (hashed on every core),
		// here between small ones and past the gathering buffer's size.
		let sums = vec![
			Values::F64((0..200_000).map(|i| f64::from(i) * 0.25 - 7.0).collect()),
			Values::I64(vec![3, -1, i64::MAX]),
			Values::F32((0..5000).map(|i| i as f32).collect()),
		];
		let large = RingVector::U64((0..200_000).map(|i: u64| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).collect());
		let value = (sums, 9u8, large, "tail", Values::F64(vec![]));
		let bytes = postcard::to_allocvec(&value).unwrap();
		assert_eq!(canonical(&value).unwrap(), bytes);
		assert_eq!(commitment(&value).unwrap(), *blake3::hash(&bytes).as_bytes());
		assert_ne!(commitment(&(1u8, 2u8)).unwrap(), commitment(&(2u8, 1u8)).unwrap());
	}

	#[test]
	fn a_peer_message_is_exactly_one_message() {
		let message = Message::Decline { task: 4, round: 1, reason: "policy".into() };
		let bytes = canonical(&message).unwrap();
		assert_eq!(Message::decode(&bytes).unwrap(), message);
		let mut padded = bytes.clone();
		padded.extend_from_slice(b"hidden");
		let e = Message::decode(&padded).unwrap_err();
		assert!(e.to_string().contains("6 bytes after the message"), "{e}");
		assert!(Message::decode(&bytes[..bytes.len() - 1]).is_err());
		assert!(Message::decode(&[]).is_err());
	}
}
