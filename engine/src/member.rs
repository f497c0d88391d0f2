//! The member side: a data holder's part in every round it is invited to.
//!
//! The member trusts the ledger, not the requester: it checks every
//! announcement against the task on the ledger, builds the roster from the
//! ledger's member list, and decides which share of each neighbour to
//! reveal from the ledger's statuses, so a requester cannot trick it into
//! revealing both shares of one peer.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use delta_ledger_api::{AccountId, Bytes, Call, RevealedShare, RoundInfo, StoredEvent, TaskId, TaskInfo, H256};
use delta_primitives::round::{MemberStatus, Phase, ShareKind};
use delta_secagg::{
	Config, GraphChoice, GraphGoals, Member, MemberId, Neighbourhood, Roster, RoundContext, ShareDelivery,
	UnmaskRequest,
};
use rand_core::CryptoRngCore;

use crate::{
	event::FailureKind,
	io::{commitment, package_commitment, Announcement, Message, StepSpec},
	poll::{CallId, CallIds, CallRequest, Read},
	roster,
	tensor::Values,
	EngineError,
};

/// Where a member is in one round. The stages ending in `-ing` wait for
/// the host (a read, a call, the task's code); the others for the ledger
/// or the requester.
enum Stage {
	/// Announced; the task's record is asked for.
	CheckingTask,
	/// The task checks passed; the round's record is asked for.
	CheckingRound(Box<TaskInfo>),
	/// The holder's policy and the executor are looking at the task and
	/// its package (the round as read when it was open).
	Preparing(Box<RoundInfo>),
	/// The `Join` call is out.
	Joining(Box<Member>),
	/// Joined; waiting for the member set to be fixed.
	Joined(Box<Member>),
	/// Shares sent; the `CommitShares` call is out.
	Sharing(Box<Member>),
	/// Shares committed; waiting for the delivery and the Compute phase.
	Shared(Box<Member>),
	/// The task's `map` is running.
	Mapping(Box<Member>, ShareDelivery),
	/// The map returned; a fresh round record is asked for, to tell a map
	/// that outlasted the phase from one that did not.
	Mapped(Box<Member>, ShareDelivery, Vec<Values>),
	/// Masked input sent; the `CommitMasked` call is out.
	Masking(Box<Member>),
	/// Masked input committed; waiting for Unmask.
	Masked(Box<Member>),
	/// Unmasking shares sent; the `Reveal` call is out.
	Revealing,
	/// Revealed, or out of the round.
	Over,
}

struct RoundWork {
	announcement: Announcement,
	owner: AccountId,
	stage: Stage,
	delivery: Option<ShareDelivery>,
	ids: BTreeMap<AccountId, MemberId>,
	/// The map started when the member joined ([`MemberCore::map_early`]).
	early: EarlyMap,
}

/// Where a map started at joining stands, until the Compute phase takes
/// its outputs.
enum EarlyMap {
	/// None started: the map runs when the Compute phase comes.
	NotStarted,
	/// Running beside the key exchange.
	Running,
	/// Done before the Compute phase came.
	Done(Vec<Values>),
}

/// Work a member core asks its host to do with the task's code and the
/// holder's data.
#[derive(Clone, Debug, PartialEq)]
pub enum MemberWork {
	/// Check `dataset` against the holder's policy for `task` (the
	/// `Datasets` adapter), then get ready to run the task's package (the
	/// `MemberExecutor`); a refusal declines the round, and its text reaches the
	/// requester. The answer goes to [`MemberCore::handle_prepared`].
	Prepare {
		/// The task on the ledger (owner, rounds, member counts), which the
		/// policy sees.
		task: Box<TaskInfo>,
		/// The round.
		round: u32,
		/// The dataset the step reads.
		dataset: String,
		/// The task package, whose hash already matches the ledger's
		/// commitment.
		package: Vec<u8>,
	},
	/// Run the step's `map` on the holder's data; the outputs go to
	/// [`MemberCore::handle_mapped`]. It may take long: nothing else of
	/// the member waits for it.
	Map {
		/// The task.
		task: TaskId,
		/// The round.
		round: u32,
		/// What to compute.
		step: StepSpec,
	},
}

/// A round this member left early, and why: for the holder's log.
#[derive(Clone, Debug, PartialEq)]
pub struct LeftRound {
	/// The task.
	pub task: TaskId,
	/// The round.
	pub round: u32,
	/// What kind of failure.
	pub kind: FailureKind,
	/// The whole reason (the holder's own; the requester is told only
	/// [`EngineError::public`]).
	pub reason: String,
}

/// The outputs a core has queued for its host.
#[derive(Default)]
struct Outbox {
	ids: CallIds,
	in_flight: BTreeMap<CallId, (TaskId, u32)>,
	calls: VecDeque<CallRequest>,
	reads: BTreeSet<Read>,
	transmits: VecDeque<(AccountId, Message)>,
	work: VecDeque<MemberWork>,
	left: VecDeque<LeftRound>,
}

impl Outbox {
	fn request(&mut self, key: (TaskId, u32), call: Call) {
		let id = self.ids.next();
		self.calls.push_back(CallRequest { id, call });
		self.in_flight.insert(id, key);
	}

	fn read_round(&mut self, key: (TaskId, u32)) {
		self.reads.insert(Read::Round { task: key.0, round: key.1 });
	}

	/// Forgets the calls of a round the member left.
	fn drop_calls(&mut self, key: (TaskId, u32)) {
		self.in_flight.retain(|_, k| *k != key);
		let in_flight = &self.in_flight;
		self.calls.retain(|c| in_flight.contains_key(&c.id));
	}
}

/// A member's side of every round it is invited to, as a state machine
/// that never blocks: feed it with the `handle_*` methods, drain it with
/// the `poll_*` methods (see [`crate::poll`]). Problems with one round end
/// this member's part in it ([`MemberCore::poll_event`]); the requester
/// and the other members go on. [`MemberDriver`](crate::MemberDriver) is
/// the blocking host over the traits of `io`.
pub struct MemberCore {
	account: AccountId,
	/// Where the member's secrets come from: the operating system's CSPRNG
	/// in production, a seeded generator in a reproducible simulation.
	rng: Box<dyn CryptoRngCore + Send>,
	/// The rounds in progress. A round that is over leaves this map at the
	/// core's next input, and its work with it (the step and its data,
	/// shares, keys): a long-lived member holds only what is under way.
	rounds: BTreeMap<(TaskId, u32), RoundWork>,
	/// The rounds that are over: announced again, they are ignored.
	finished: BTreeSet<(TaskId, u32)>,
	out: Outbox,
	/// Whether a round's map starts as soon as the member joins (its host
	/// runs maps beside the protocol), not at the Compute phase.
	map_early: bool,
}

impl MemberCore {
	/// The member `account`, drawing its secrets from `rng` (the core
	/// holds no source of randomness of its own).
	pub fn new(account: AccountId, rng: Box<dyn CryptoRngCore + Send>) -> Self {
		Self {
			account,
			rng,
			rounds: BTreeMap::new(),
			finished: BTreeSet::new(),
			out: Outbox::default(),
			map_early: false,
		}
	}

	/// Starts each round's map as soon as the member has joined, so that
	/// the holder's computation runs while keys are exchanged and the
	/// Compute phase only masks and sends. For a host that runs
	/// [`MemberWork::Map`] beside the protocol (the worker's own thread per
	/// map): a host that runs it inline would hold up its shares instead.
	/// Nothing leaves the member earlier: the outputs wait in the core
	/// until the Compute phase, and are masked then.
	pub fn map_early(&mut self, yes: bool) {
		self.map_early = yes;
	}

	/// The member's account.
	pub fn account(&self) -> AccountId {
		self.account
	}

	/// Whether every round this member joined is over (revealed, failed
	/// or left): a host may then let the core go.
	pub fn is_idle(&self) -> bool {
		self.rounds.values().all(|w| matches!(w.stage, Stage::Over))
	}

	/// How many rounds the core holds work for (tests: none once over).
	#[cfg(test)]
	pub(crate) fn rounds_held(&self) -> usize {
		self.rounds.len()
	}

	/// Lets go of the rounds that are over; each input starts with it, so a
	/// round is forgotten at the input after the one that ended it.
	fn forget_finished(&mut self) {
		let over: Vec<_> =
			self.rounds.iter().filter(|(_, w)| matches!(w.stage, Stage::Over)).map(|(key, _)| *key).collect();
		for key in over {
			self.rounds.remove(&key);
			self.finished.insert(key);
		}
	}

	// ----- inputs -------------------------------------------------------

	/// The ledger may have moved on: the core asks again for the record of
	/// every round that waits on the ledger.
	pub fn handle_wake(&mut self) {
		self.forget_finished();
		for (key, work) in &self.rounds {
			if matches!(work.stage, Stage::Joined(_) | Stage::Shared(_) | Stage::Masked(_) | Stage::Mapped(..)) {
				self.out.read_round(*key);
			}
		}
	}

	/// A message from a peer, whose sender the transport authenticated.
	pub fn handle_message(&mut self, from: AccountId, message: Message) {
		self.forget_finished();
		match message {
			Message::Announce(a) => {
				let key = (a.task, a.round);
				if self.rounds.contains_key(&key) || self.finished.contains(&key) {
					return;
				}
				self.out.reads.insert(Read::Task(a.task));
				self.rounds.insert(
					key,
					RoundWork {
						announcement: a,
						owner: from,
						stage: Stage::CheckingTask,
						delivery: None,
						ids: BTreeMap::new(),
						early: EarlyMap::NotStarted,
					},
				);
			},
			Message::Delivery { task, round, body } => {
				if let Some(work) = self.rounds.get_mut(&(task, round)) {
					if work.owner == from && work.delivery.is_none() {
						work.delivery = Some(body);
						if matches!(work.stage, Stage::Shared(_)) {
							self.out.read_round((task, round));
						}
					}
				}
			},
			// Only requesters receive these; a member ignores them.
			Message::ShareKeys { .. } | Message::Masked { .. } | Message::Unmask { .. } | Message::Decline { .. } => {},
		}
	}

	/// The task record [`Read::Task`] asked for: every announcement of the
	/// task waiting for it is checked against it.
	pub fn handle_task(&mut self, task: TaskId, record: Result<Option<TaskInfo>, EngineError>) {
		self.forget_finished();
		let waiting: Vec<_> = self
			.rounds
			.iter()
			.filter(|(k, w)| k.0 == task && matches!(w.stage, Stage::CheckingTask))
			.map(|(k, _)| *k)
			.collect();
		for key in waiting {
			let Some(work) = self.rounds.get_mut(&key) else { continue };
			let checked = match &record {
				Ok(Some(info)) => check_task(work.owner, &work.announcement, info).map(|()| info.clone()),
				Ok(None) => Err(Declined::silent(ledger_refusal("announcement", "no such task"))),
				Err(e) => Err(Declined::silent(ledger_refusal("announcement", &e.to_string()))),
			};
			match checked {
				Ok(info) => {
					work.stage = Stage::CheckingRound(Box::new(info));
					self.out.read_round(key);
				},
				Err(declined) => self.decline(key, declined),
			}
		}
	}

	/// The round record [`Read::Round`] asked for.
	pub fn handle_round(&mut self, task: TaskId, round: u32, record: Result<Option<RoundInfo>, EngineError>) {
		self.forget_finished();
		let key = (task, round);
		let Some(work) = self.rounds.get_mut(&key) else { return };
		match std::mem::replace(&mut work.stage, Stage::Over) {
			Stage::CheckingRound(info) => {
				let open = match record {
					Ok(Some(r)) if r.state.phase == Phase::Open => Ok(r),
					Ok(Some(_)) => Err(ledger_refusal("announcement", "the round is not open")),
					Ok(None) => Err(ledger_refusal("announcement", "no such round")),
					Err(e) => Err(e),
				};
				match open {
					Ok(r) => {
						work.stage = Stage::Preparing(Box::new(r));
						self.out.work.push_back(MemberWork::Prepare {
							task: info,
							round,
							dataset: work.announcement.step.dataset.clone(),
							package: work.announcement.package.clone(),
						});
					},
					Err(e) => self.decline(key, Declined::tell(e)),
				}
			},
			stage @ (Stage::Joined(_) | Stage::Shared(_) | Stage::Masked(_) | Stage::Mapped(..)) => {
				let advanced = record
					.and_then(|r| r.ok_or_else(|| ledger_refusal("round", "the round is gone")))
					.and_then(|r| self.advance(key, stage, &r));
				match advanced {
					Ok(stage) => {
						if let Some(work) = self.rounds.get_mut(&key) {
							work.stage = stage;
						}
					},
					Err(e) => self.leave(key, e),
				}
			},
			// A read that crossed a call or the task's code: the next wake
			// reads again.
			other => work.stage = other,
		}
	}

	/// What the holder's policy and the executor said of the task
	/// ([`MemberWork::Prepare`]): on `Ok` the member joins.
	pub fn handle_prepared(&mut self, task: TaskId, round: u32, result: Result<(), EngineError>) {
		self.forget_finished();
		let key = (task, round);
		let Some(work) = self.rounds.get_mut(&key) else { return };
		let Stage::Preparing(record) = std::mem::replace(&mut work.stage, Stage::Over) else {
			return;
		};
		if let Err(e) = result {
			self.decline(key, Declined::tell(e));
			return;
		}
		// A step whose declared outputs are malformed is declined before
		// joining, whenever its map would run.
		if let Err(e) = crate::tensor::check_outputs(&work.announcement.step.outputs) {
			self.decline(key, Declined::tell(e));
			return;
		}
		let config = secagg_config(&work.announcement, &record, [0; 32]);
		let (member, advert) = Member::new(config, 0, &mut self.rng);
		work.stage = Stage::Joining(Box::new(member));
		self.out.request(
			key,
			Call::Join { task, round, channel_key: H256(advert.channel_key), masking_key: H256(advert.masking_key) },
		);
		if self.map_early {
			work.early = EarlyMap::Running;
			self.out.work.push_back(MemberWork::Map { task, round, step: work.announcement.step.clone() });
		}
	}

	/// The step's outputs from the task's `map` ([`MemberWork::Map`]).
	pub fn handle_mapped(&mut self, task: TaskId, round: u32, values: Result<Vec<Values>, EngineError>) {
		self.forget_finished();
		let key = (task, round);
		let Some(work) = self.rounds.get_mut(&key) else { return };
		match std::mem::replace(&mut work.stage, Stage::Over) {
			Stage::Mapping(member, delivery) => match values {
				Ok(values) => {
					work.stage = Stage::Mapped(member, delivery, values);
					self.out.read_round(key);
				},
				Err(e) => self.leave(key, e),
			},
			Stage::Over => {},
			// An early map that ended before the Compute phase: its outputs
			// wait for it (a failure ends the member's part at once).
			stage if matches!(work.early, EarlyMap::Running) => match values {
				Ok(values) => {
					work.early = EarlyMap::Done(values);
					work.stage = stage;
				},
				Err(e) => self.leave(key, e),
			},
			stage => work.stage = stage,
		}
	}

	/// The result of the ledger call `id` (one the core no longer waits
	/// for is ignored). A refused join declines the round; any other
	/// refusal leaves it.
	pub fn handle_call(&mut self, id: CallId, result: Result<Vec<StoredEvent>, EngineError>) {
		self.forget_finished();
		let Some(key) = self.out.in_flight.remove(&id) else { return };
		let Some(work) = self.rounds.get_mut(&key) else { return };
		let stage = std::mem::replace(&mut work.stage, Stage::Over);
		let result = result.map(|_| ());
		match (stage, result) {
			(Stage::Joining(m), Ok(())) => work.stage = Stage::Joined(m),
			(Stage::Sharing(m), Ok(())) => {
				// The holder's log says when its keys are with the round: from
				// here on, a member that stops is a dropout whose masks the
				// others' reveals cancel.
				tracing::info!("task {} round {}: keys shared", key.0, key.1);
				work.stage = Stage::Shared(m);
			},
			(Stage::Masking(m), Ok(())) => work.stage = Stage::Masked(m),
			(Stage::Revealing, Ok(())) => return,
			(Stage::Joining(_), Err(e)) => return self.decline(key, Declined::tell(e)),
			(Stage::Sharing(_) | Stage::Masking(_) | Stage::Revealing, Err(e)) => return self.leave(key, e),
			(other, _) => {
				work.stage = other;
				return;
			},
		}
		// The call may have moved the round on (the last join fixes the
		// member set): look at once.
		self.out.read_round(key);
	}

	/// A message of this member's could not be sent. A lost share or input
	/// would only make the member a silent dropout, so it leaves the round
	/// and says why instead.
	pub fn handle_unsent(&mut self, task: TaskId, round: u32, error: EngineError) {
		self.forget_finished();
		let key = (task, round);
		if self.rounds.get(&key).is_some_and(|w| !matches!(w.stage, Stage::Over)) {
			self.leave(key, error);
		}
	}

	// ----- outputs ------------------------------------------------------

	/// The next ledger call to make, as this member; its result goes to
	/// [`MemberCore::handle_call`].
	pub fn poll_call(&mut self) -> Option<CallRequest> {
		self.out.calls.pop_front()
	}

	/// The next ledger record the core wants read.
	pub fn poll_read(&mut self) -> Option<Read> {
		self.out.reads.pop_first()
	}

	/// The next message to send; a failure goes to
	/// [`MemberCore::handle_unsent`].
	pub fn poll_transmit(&mut self) -> Option<(AccountId, Message)> {
		self.out.transmits.pop_front()
	}

	/// The next piece of work for the holder's policy or the task's code.
	pub fn poll_work(&mut self) -> Option<MemberWork> {
		self.out.work.pop_front()
	}

	/// The next round this member left early, and why.
	pub fn poll_event(&mut self) -> Option<LeftRound> {
		self.out.left.pop_front()
	}

	// ----- the protocol -------------------------------------------------

	/// Declines a round before joining it; the requester is told why
	/// unless the announcement was not its to make.
	fn decline(&mut self, key: (TaskId, u32), declined: Declined) {
		let Declined { reason, tell_sender } = declined;
		tracing::info!("declined round {key:?}: {reason}");
		let Some(work) = self.rounds.get_mut(&key) else { return };
		work.stage = Stage::Over;
		if tell_sender {
			self.out
				.transmits
				.push_back((work.owner, Message::Decline { task: key.0, round: key.1, reason: reason.public() }));
		}
		self.out.drop_calls(key);
		self.out.left.push_back(LeftRound {
			task: key.0,
			round: key.1,
			kind: reason.kind(),
			reason: reason.to_string(),
		});
	}

	/// Leaves a round after joining it, telling the requester why (what it
	/// may know of it), unless the round itself failed.
	fn leave(&mut self, key: (TaskId, u32), e: EngineError) {
		tracing::info!("left round {key:?}: {e}");
		let Some(work) = self.rounds.get_mut(&key) else { return };
		work.stage = Stage::Over;
		if !matches!(e, EngineError::RoundFailed { .. }) {
			self.out
				.transmits
				.push_back((work.owner, Message::Decline { task: key.0, round: key.1, reason: e.public() }));
		}
		self.out.drop_calls(key);
		self.out.left.push_back(LeftRound { task: key.0, round: key.1, kind: e.kind(), reason: e.to_string() });
	}

	/// What a joined member does with the round's record in `stage`: the
	/// stage it moves to, or why it leaves.
	fn advance(&mut self, key: (TaskId, u32), stage: Stage, round: &RoundInfo) -> Result<Stage, EngineError> {
		let me = self.account;
		let Some(work) = self.rounds.get_mut(&key) else { return Ok(Stage::Over) };
		if let Stage::Mapped(member, delivery, values) = stage {
			// The map may outlast the phase; say so rather than have the
			// commitment refused with a bare `WrongPhase`.
			if round.state.phase != Phase::Compute {
				return Err(EngineError::MapPastDeadline { round: key.1 });
			}
			let step = &work.announcement.step;
			// Typed and sized as declared, or refused: a member never sends
			// more than the step announced.
			let input = match &step.privacy {
				// The noise is this member's own: drawn here, from its own
				// randomness, on the lattice the ledger's threshold sets.
				Some(privacy) => {
					let lattice = crate::tensor::private_lattice(
						&step.outputs,
						privacy,
						&work.announcement.encoding,
						round.state.params.threshold,
						round.state.params.max_members,
					)?;
					let mut noise = delta_dp::NoiseRng::from_rng(&mut self.rng);
					crate::tensor::encode_private(
						&step.outputs,
						&values,
						privacy,
						&lattice,
						&work.announcement.encoding,
						&mut noise,
					)?
					.0
				},
				None => crate::tensor::encode(
					&step.outputs,
					&values,
					&work.announcement.encoding,
					round.state.params.max_members,
				)?,
			};
			let mut member = member;
			let masked = member.masked_input(&delivery, &input)?;
			let hash = commitment(&masked)?;
			self.out.transmits.push_back((work.owner, Message::Masked { task: key.0, round: key.1, body: masked }));
			self.out.request(key, Call::CommitMasked { task: key.0, round: key.1, commitment: H256(hash) });
			return Ok(Stage::Masking(member));
		}
		if let Phase::Failed(reason) = round.state.phase {
			return Err(EngineError::RoundFailed { round: key.1, reason });
		}
		let my_status = round.members.iter().find(|m| m.account == me).map(|m| m.status);
		Ok(match stage {
			Stage::Joined(mut member) if round.state.phase >= Phase::ShareKeys => {
				if round.state.phase != Phase::ShareKeys {
					return Err(ledger_refusal("share keys", "the share phase ended before this member acted"));
				}
				let (ids, roster) = roster(round);
				let id = *ids.get(&me).ok_or_else(|| ledger_refusal("share keys", "not in the member set"))?;
				let seed = round.seed.ok_or_else(|| ledger_refusal("share keys", "no graph seed"))?;
				member.bind(id, seed.0)?;
				member.set_neighbourhood(neighbourhood(&work.announcement, round))?;
				let shares = member.share_keys(&Roster { members: roster }, &mut self.rng)?;
				let hash = commitment(&shares)?;
				self.out
					.transmits
					.push_back((work.owner, Message::ShareKeys { task: key.0, round: key.1, body: shares }));
				self.out.request(key, Call::CommitShares { task: key.0, round: key.1, commitment: H256(hash) });
				work.ids = ids;
				Stage::Sharing(member)
			},
			Stage::Shared(member) if round.state.phase >= Phase::Compute => {
				if round.state.phase != Phase::Compute || my_status != Some(MemberStatus::Shared) {
					return Err(ledger_refusal("compute", "the compute phase ended before this member acted"));
				}
				let Some(delivery) = work.delivery.take() else {
					return Ok(Stage::Shared(member));
				};
				match std::mem::replace(&mut work.early, EarlyMap::NotStarted) {
					// Computed while keys were exchanged: mask it now.
					EarlyMap::Done(values) => return self.advance(key, Stage::Mapped(member, delivery, values), round),
					// Its outputs come to the Mapping stage.
					EarlyMap::Running => {},
					EarlyMap::NotStarted => {
						let step = work.announcement.step.clone();
						self.out.work.push_back(MemberWork::Map { task: key.0, round: key.1, step });
					},
				}
				Stage::Mapping(member, delivery)
			},
			Stage::Masked(mut member) if round.state.phase >= Phase::Unmask => {
				if round.state.phase != Phase::Unmask {
					return Err(ledger_refusal("unmask", "the unmask phase ended before this member acted"));
				}
				// Who survived is the ledger's word, not the requester's.
				let status = |s: MemberStatus| -> Vec<MemberId> {
					round
						.members
						.iter()
						.filter(|m| m.status == s)
						.filter_map(|m| work.ids.get(&m.account).copied())
						.collect()
				};
				let mut survivors = status(MemberStatus::Masked);
				survivors.extend(status(MemberStatus::Revealed));
				survivors.sort_unstable();
				let request = UnmaskRequest { survivors, dropped: status(MemberStatus::Shared) };
				let response = member.unmask(&request)?;
				let account_of: BTreeMap<MemberId, AccountId> = work.ids.iter().map(|(a, i)| (*i, *a)).collect();
				let mut shares = Vec::new();
				for (owner, share, kind) in response
					.self_mask_shares
					.iter()
					.map(|(o, s)| (o, s, ShareKind::SelfMask))
					.chain(response.mask_key_shares.iter().map(|(o, s)| (o, s, ShareKind::MaskKey)))
				{
					let owner =
						*account_of.get(owner).ok_or_else(|| ledger_refusal("unmask", "share for a stranger"))?;
					shares.push(RevealedShare { owner, kind, share: Bytes(crate::io::canonical(share)?) });
				}
				self.out
					.transmits
					.push_back((work.owner, Message::Unmask { task: key.0, round: key.1, body: response }));
				self.out.request(key, Call::Reveal { task: key.0, round: key.1, shares });
				Stage::Revealing
			},
			other => other,
		})
	}
}

/// Checks an announcement against its task on the ledger: sent by the
/// task's owner, with the committed package, reading a declared dataset,
/// on a neighbour graph at least as strong as the holder's floor.
fn check_task(from: AccountId, a: &Announcement, task: &TaskInfo) -> Result<(), Declined> {
	if task.owner != from {
		// Not from the task's owner: nobody to tell.
		return Err(Declined::silent(ledger_refusal("announcement", "the sender does not own the task")));
	}
	if package_commitment(&a.package) != task.package.0 {
		return Err(Declined::tell(ledger_refusal(
			"announcement",
			"the task package does not match its commitment on the ledger",
		)));
	}
	if !task.datasets.contains(&a.step.dataset) {
		return Err(Declined::tell(ledger_refusal(
			"announcement",
			"the step reads a dataset the task did not declare",
		)));
	}
	if let GraphChoice::Sparse(goals) = a.graph {
		// A requester may ask for a stronger graph, never a weaker one: a
		// sparse graph sized for little collusion would let a few
		// colluders rebuild this member's secrets.
		let floor = GraphGoals::default();
		if !goals.at_least(&floor) {
			return Err(Declined::tell(ledger_refusal(
				"announcement",
				&format!(
					"the neighbour graph is sized for {} security bits and {:.0}% colluding members; this holder needs at least {} and {:.0}%",
					goals.security_bits,
					goals.corrupt * 100.0,
					floor.security_bits,
					floor.corrupt * 100.0
				),
			)));
		}
	}
	Ok(())
}

/// The secagg configuration both sides derive from the announcement and
/// the ledger's round.
pub(crate) fn secagg_config(a: &Announcement, round: &RoundInfo, seed: [u8; 32]) -> Config {
	let mut task_id = b"delta/".to_vec();
	task_id.extend_from_slice(&a.task.to_le_bytes());
	let hood = neighbourhood(a, round);
	Config {
		context: RoundContext { task_id, round: u64::from(a.round) },
		threshold: hood.threshold,
		degree: hood.degree,
		vector_len: a.step.vector_len(),
		ring: a.encoding.ring,
		graph_seed: seed,
	}
}

/// The SecAgg+ degree and share threshold for the round's members as the
/// ledger holds them (meaningful once the member set is fixed).
pub(crate) fn neighbourhood(a: &Announcement, round: &RoundInfo) -> Neighbourhood {
	delta_secagg::params::choose(round.members.len(), round.state.params.threshold as usize, a.graph)
}

/// Why a member does not join a round, and whether the sender should be
/// told (not when the sender does not own the task).
struct Declined {
	reason: EngineError,
	tell_sender: bool,
}

impl Declined {
	fn tell(reason: EngineError) -> Self {
		Self { reason, tell_sender: true }
	}

	fn silent(reason: EngineError) -> Self {
		Self { reason, tell_sender: false }
	}
}

pub(crate) fn ledger_refusal(call: &'static str, reason: &str) -> EngineError {
	EngineError::Ledger { call, reason: reason.to_string() }
}
