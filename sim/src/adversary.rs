//! A hostile network and hostile participants for the simulation, driven
//! by a tape of bytes, so that property tests and the `protocol` fuzz
//! target search the same space: every byte string is a valid schedule.
//!
//! The model is the one the worker's transport gives: channels are
//! authenticated (libp2p Noise, a peer id registered on the ledger), so a
//! message's sender is never forged and an honest participant's bytes are
//! never altered. The network may drop, duplicate and delay any message.
//! A *corrupt* participant (any member, or the requester) may send
//! anything under its own name: its messages altered, replaced by other
//! bytes, or earlier messages it saw sent again to someone else.

use std::collections::BTreeSet;

use delta_engine::AccountId;

/// A message on the wire: sender, receiver, bytes.
pub type Delivery = (AccountId, AccountId, Vec<u8>);

/// What the network does with the messages it carries.
///
/// Contract: a delivery's sender is the original sender, or a participant
/// the adversary controls. [`crate::local::LocalNetwork`] checks it.
pub trait Adversary: Send {
	/// `from` sends `bytes` to `to`: what is delivered now (nothing: it is
	/// dropped or held).
	fn carry(&mut self, from: AccountId, to: AccountId, bytes: Vec<u8>) -> Vec<Delivery>;

	/// One step of simulated time passed: what is delivered now (held
	/// messages that are due).
	fn tick(&mut self) -> Vec<Delivery>;

	/// Whether `who` is under the adversary's control.
	fn controls(&self, who: &AccountId) -> bool;
}

/// Most earlier messages a corrupt participant can replay.
const REMEMBERED: usize = 32;
/// Most steps a message is held back.
const MOST_DELAY: u32 = 64;

/// An adversary that reads each decision from a tape of bytes; once the
/// tape is used up, every message goes through unchanged.
///
/// Per message, one byte decides: below 128 deliver; 128-159 drop;
/// 160-175 deliver twice; 176-207 hold for 1-64 steps (the next byte);
/// from 208, only for a corrupt sender (otherwise deliver): 208-223 flip
/// one byte (position and mask from the next three bytes), 224-239 replace
/// the message by the next up-to-255 bytes of the tape, 240-255 deliver it
/// and also send a remembered message to the same receiver.
pub struct Tape {
	tape: Vec<u8>,
	at: usize,
	corrupt: BTreeSet<AccountId>,
	held: Vec<(u32, Delivery)>,
	now: u32,
	seen: Vec<Vec<u8>>,
}

impl Tape {
	/// An adversary reading `tape`, in control of `corrupt`.
	pub fn new(tape: Vec<u8>, corrupt: impl IntoIterator<Item = AccountId>) -> Self {
		Self { tape, at: 0, corrupt: corrupt.into_iter().collect(), held: Vec::new(), now: 0, seen: Vec::new() }
	}

	fn next(&mut self) -> Option<u8> {
		let b = self.tape.get(self.at).copied();
		self.at += usize::from(b.is_some());
		b
	}

	fn remember(&mut self, bytes: &[u8]) {
		if self.seen.len() == REMEMBERED {
			self.seen.remove(0);
		}
		self.seen.push(bytes.to_vec());
	}
}

impl Adversary for Tape {
	fn carry(&mut self, from: AccountId, to: AccountId, bytes: Vec<u8>) -> Vec<Delivery> {
		let corrupt = self.corrupt.contains(&from);
		let op = self.next().unwrap_or(0);
		let out = match op {
			0..=127 => vec![(from, to, bytes.clone())],
			128..=159 => Vec::new(),
			160..=175 => vec![(from, to, bytes.clone()), (from, to, bytes.clone())],
			176..=207 => {
				let delay = 1 + u32::from(self.next().unwrap_or(0)) % MOST_DELAY;
				self.held.push((self.now + delay, (from, to, bytes.clone())));
				Vec::new()
			},
			_ if !corrupt => vec![(from, to, bytes.clone())],
			208..=223 => {
				let position = usize::from(u16::from_le_bytes([self.next().unwrap_or(0), self.next().unwrap_or(0)]));
				let mask = self.next().unwrap_or(0) | 1;
				let mut altered = bytes.clone();
				if !altered.is_empty() {
					let i = position % altered.len();
					altered[i] ^= mask;
				}
				vec![(from, to, altered)]
			},
			224..=239 => {
				let len = usize::from(self.next().unwrap_or(0));
				let replaced: Vec<u8> = (0..len).map_while(|_| self.next()).collect();
				vec![(from, to, replaced)]
			},
			240..=255 => {
				let mut out = vec![(from, to, bytes.clone())];
				if !self.seen.is_empty() {
					let pick = usize::from(self.next().unwrap_or(0)) % self.seen.len();
					out.push((from, to, self.seen[pick].clone()));
				}
				out
			},
		};
		self.remember(&bytes);
		out
	}

	fn tick(&mut self) -> Vec<Delivery> {
		self.now += 1;
		let now = self.now;
		let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held).into_iter().partition(|(at, _)| *at <= now);
		self.held = later;
		due.into_iter().map(|(_, d)| d).collect()
	}

	fn controls(&self, who: &AccountId) -> bool {
		self.corrupt.contains(who)
	}
}

/// What a hostile run ended with, once its properties held.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
	/// The task finished: the sum of the members it counted.
	Done {
		/// The final round's sum: bit `i` set for member `i`'s input.
		sum: i64,
		/// How many members the requester counted.
		members: u64,
	},
	/// The task failed (too many messages lost, a member refused what a
	/// corrupt participant sent, ...): allowed, never a hang or a panic.
	Failed(String),
}

/// A two-round task among 3-5 members under a schedule read from
/// `bytes`, checked for what must hold whatever the adversary does:
/// the run ends (the ledger's deadlines end every round) and, unless a
/// participant is corrupt, a result is an exact sum over at least the
/// threshold of members, each counted once (member `i` contributes
/// `2^i`, so the sum names who was counted).
///
/// `bytes[0]` sets the member count, `bytes[1]` the threshold, `bytes[2]`
/// the graph, `bytes[3]` the corrupt participants (from 192 up: its low
/// bits are members, bit 5 the requester); the rest is the [`Tape`].
/// This is what `sim/tests/adversary.rs` samples and the `protocol` fuzz
/// target explores.
pub fn scenario(bytes: &[u8]) -> Result<Verdict, String> {
	use delta_engine::{io::StepSpec, DType, GraphChoice, Next, Outcome, OutputSpec, RequesterExecutor, Values};

	use crate::{fixtures::HoldsAny, member_account, run_under, SimMember, SimSettings, REQUESTER};

	struct Bit(i64);
	impl delta_engine::MemberExecutor for Bit {
		fn map(&mut self, _: delta_engine::TaskId, _: &StepSpec) -> Result<Vec<Values>, delta_engine::EngineError> {
			Ok(vec![Values::I64(vec![self.0])])
		}
	}
	struct Twice;
	impl RequesterExecutor for Twice {
		fn reduce(
			&mut self,
			step: &StepSpec,
			sums: &[Values],
			members: usize,
		) -> Result<Next, delta_engine::EngineError> {
			let sum = match sums {
				[Values::I64(v)] if v.len() == 1 => v[0],
				other => return Err(delta_engine::EngineError::Executor(format!("unexpected sums {other:?}"))),
			};
			if step.body == b"first" {
				return Ok(Next::Step(StepSpec { body: b"second".to_vec(), ..step.clone() }));
			}
			let mut out = sum.to_le_bytes().to_vec();
			out.extend_from_slice(&(members as u64).to_le_bytes());
			Ok(Next::Done(out))
		}
	}

	let byte = |i: usize| bytes.get(i).copied().unwrap_or(0);
	let n = 3 + u32::from(byte(0)) % 3;
	let threshold = 2 + u32::from(byte(1)) % (n - 1);
	let graph = if byte(2) % 2 == 0 { GraphChoice::Complete } else { GraphChoice::default() };
	let mut corrupt = Vec::new();
	if byte(3) >= 192 {
		corrupt.extend((0..n).filter(|i| byte(3) & (1 << i) != 0).map(member_account));
		if byte(3) & 0x20 != 0 {
			corrupt.push(REQUESTER);
		}
	}
	let honest = corrupt.is_empty();
	let tape = Tape::new(bytes.get(4..).unwrap_or_default().to_vec(), corrupt);

	let step = StepSpec {
		dataset: "any".into(),
		body: b"first".to_vec(),
		outputs: vec![OutputSpec::new("bit", DType::I64, vec![])],
		privacy: None,
	};
	let mut settings = SimSettings::new(step, 2);
	settings.threshold = Some(threshold);
	settings.min_members = Some(threshold);
	settings.graph = graph;
	// A lost message costs the requester its grace period for messages
	// whose commitments the ledger holds (10 s, i.e. 10 000 steps of 1 ms)
	// before it goes on without them: two rounds of two such waits each,
	// and the phases, fit with room to spare.
	settings.max_steps = 60_000;
	let members = (0..n)
		.map(|i| SimMember { executor: Box::new(Bit(1 << i)), datasets: Box::new(HoldsAny), drop_at: None })
		.collect();
	let report = match run_under(Box::new(tape), settings, Box::new(Twice), members) {
		Ok(report) => report,
		Err(e) => return Err(format!("the run did not end: {e}")),
	};
	match report.outcome {
		Outcome::Done(out) => {
			let (sum, members) = match (out.get(..8), out.get(8..16)) {
				(Some(s), Some(m)) => (
					i64::from_le_bytes(s.try_into().map_err(|_| "short result")?),
					u64::from_le_bytes(m.try_into().map_err(|_| "short result")?),
				),
				_ => return Err(format!("a result of {} bytes", out.len())),
			};
			if members < u64::from(threshold) {
				return Err(format!("a result from {members} members, fewer than the threshold {threshold}"));
			}
			if honest && (sum < 0 || sum >= 1 << n || u64::from(sum.count_ones()) != members) {
				return Err(format!("sum {sum:#b} is not one input from each of {members} members"));
			}
			Ok(Verdict::Done { sum, members })
		},
		Outcome::Failed(reason) => Ok(Verdict::Failed(reason)),
		Outcome::Running => Err("the requester is still running".into()),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	const A: AccountId = AccountId([1; 32]);
	const B: AccountId = AccountId([2; 32]);

	#[test]
	fn an_honest_senders_bytes_are_never_altered_only_dropped_duplicated_or_delayed() {
		for op in 0..=255u8 {
			let mut tape = Tape::new(vec![op, 3, 0, 0xff, 4, 9, 9, 9, 9], []);
			let mut got = tape.carry(A, B, b"honest".to_vec());
			for _ in 0..MOST_DELAY {
				got.extend(tape.tick());
			}
			assert!(got.iter().all(|d| *d == (A, B, b"honest".to_vec())), "op {op}: {got:?}");
			let expected = match op {
				128..=159 => 0,
				160..=175 => 2,
				_ => 1,
			};
			assert_eq!(got.len(), expected, "op {op}");
		}
	}

	#[test]
	fn a_corrupt_sender_can_alter_replace_and_replay_under_its_own_name() {
		let mut flip = Tape::new(vec![208, 1, 0, 0x10], [A]);
		assert_eq!(flip.carry(A, B, vec![0, 0, 0]), vec![(A, B, vec![0, 0x11, 0])]);

		let mut replace = Tape::new(vec![224, 2, 7, 8, 9], [A]);
		assert_eq!(replace.carry(A, B, b"x".to_vec()), vec![(A, B, vec![7, 8])]);

		let mut replay = Tape::new(vec![0, 240, 0], [A]);
		replay.carry(B, A, b"from b".to_vec());
		assert_eq!(replay.carry(A, B, b"own".to_vec()), vec![(A, B, b"own".to_vec()), (A, B, b"from b".to_vec())]);
	}

	#[test]
	fn once_the_tape_is_used_up_everything_goes_through() {
		let mut tape = Tape::new(vec![130], [A]);
		assert!(tape.carry(A, B, b"1".to_vec()).is_empty());
		assert_eq!(tape.carry(A, B, b"2".to_vec()), vec![(A, B, b"2".to_vec())]);
	}
}
