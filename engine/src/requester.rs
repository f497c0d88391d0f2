//! The requester side: creates the task on the ledger, announces each
//! round, carries the members' secure-aggregation messages, unmasks the sum
//! and runs `reduce` on it.
//!
//! The requester only aggregates what the ledger vouches for: a member's
//! shares and masked input count only if the ledger holds that member's
//! commitment to exactly those bytes, and only members the ledger shows as
//! revealed are unmasked with.

use std::{
	collections::{BTreeMap, BTreeSet, VecDeque},
	sync::Arc,
	time::{Duration, Instant},
};

use delta_ledger_api::{AccountId, Call, Event, RoundInfo, StoredEvent, TaskId, H256};
use delta_primitives::{
	limits,
	round::{FailureReason, MemberStatus, Phase, PhaseTimeouts, RoundParams},
	task::TaskKind,
};
use delta_secagg::{Aggregator, GraphChoice, MaskedInput, MemberId, ShareKeys, UnmaskResponse};

use crate::{
	event::{Refused, TaskEvent},
	io::{commitment, package_commitment, Announcement, Encoding, Message, Next, StepSpec},
	member::{ledger_refusal, neighbourhood, secagg_config},
	poll::{CallId, CallIds, CallRequest},
	roster,
	tensor::{OutputSpec, Values},
	EngineError,
};

/// Everything a requester decides about a task before it starts.
#[derive(Clone, Debug)]
pub struct TaskPlan {
	/// The task package (its SHA-256 goes on the ledger; members receive
	/// the bytes with each announcement and check them against it).
	pub package: Vec<u8>,
	/// The first step.
	pub first: StepSpec,
	/// Most rounds (steps) the task may take.
	pub max_rounds: u32,
	/// What kind of computation it is, as its manifest says; recorded on
	/// the ledger.
	pub kind: TaskKind,
	/// Members per round: at least / at most.
	pub min_members: u32,
	/// See `min_members`.
	pub max_members: u32,
	/// Secret-sharing threshold.
	pub threshold: u32,
	/// Phase timeouts, in ledger units.
	pub timeouts: PhaseTimeouts,
	/// Fixed-point encoding of the outputs.
	pub encoding: Encoding,
	/// How the SecAgg+ neighbour graph is sized (sparse by default, the
	/// complete graph where the round is small).
	pub graph: GraphChoice,
	/// The members invited to every round.
	pub invited: Vec<AccountId>,
}

/// Where a task stands, for progress displays.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
	/// Still running.
	Running,
	/// Finished with this result.
	Done(Vec<u8>),
	/// Failed; the task is cancelled on the ledger.
	Failed(String),
}

/// Where the requester is in a round's secure aggregation, each stage
/// holding what it needs and nothing it cannot have yet.
#[derive(Default)]
enum Stage {
	/// Announced; waiting for the ledger to fix the member set.
	#[default]
	Announced,
	/// Collecting the members' encrypted shares.
	Sharing(Box<Aggregator>),
	/// Shares delivered; collecting masked inputs.
	Computing(Box<Aggregator>),
	/// Masked inputs of `contributors` members accepted; collecting
	/// unmasking shares.
	Unmasking {
		/// The aggregator, holding the masked sum.
		aggregator: Box<Aggregator>,
		/// Members whose input the sum holds.
		contributors: usize,
	},
}

#[derive(Default)]
struct RoundRun {
	/// Shared, not cloned, on each of the round's ledger reads: it holds
	/// the step's body (a model's weights).
	step: Option<Arc<Announcement>>,
	stage: Stage,
	ids: BTreeMap<AccountId, MemberId>,
	shares: BTreeMap<AccountId, ShareKeys>,
	masked: BTreeMap<AccountId, MaskedInput>,
	/// Members whose masked input was taken in (`take_masked`), and how
	/// many of those the sum holds.
	masked_taken: BTreeSet<AccountId>,
	masked_accepted: usize,
	unmask: BTreeMap<AccountId, UnmaskResponse>,
	declines: BTreeMap<AccountId, String>,
	/// Since when, and for how long at most, the core waits for messages
	/// whose commitments the ledger holds.
	waiting_since: Option<(Instant, Duration)>,
}

/// How long the requester waits, once the ledger holds a member's
/// commitment, for the message itself: the member sends it before it
/// commits, but the peer network may deliver it after the ledger call.
const MESSAGE_GRACE: Duration = Duration::from_secs(10);

/// The slowest transfer rate the grace for a large message allows for
/// (bytes per second): a 40 MB masked input (10M weights in the 32-bit
/// ring) gets 10 s + 40 s. Going on without a masked input the ledger
/// holds a commitment for fails the round for certain (members reveal
/// that member's self-mask shares), so waiting longer costs only time.
const SLOWEST_BYTES_PER_S: u64 = 1_000_000;

impl RoundRun {
	/// Whether to wait for messages still missing (within `grace`, on the
	/// host's clock `now`) before closing a phase.
	fn wait_for(&mut self, missing: bool, now: Instant, grace: Duration) -> bool {
		if !missing {
			self.waiting_since = None;
			return false;
		}
		let (since, grace) = *self.waiting_since.get_or_insert((now, grace));
		if now.saturating_duration_since(since) < grace {
			return true;
		}
		self.waiting_since = None;
		false
	}

	/// The grace for a member's masked input: `MESSAGE_GRACE` plus its
	/// transfer time at `SLOWEST_BYTES_PER_S`.
	fn masked_grace(&self) -> Duration {
		let bytes = self.step.as_ref().map_or(0, |a| {
			let elements: usize = a.step.outputs.iter().filter_map(OutputSpec::elements).sum();
			elements as u64 * u64::from(a.encoding.ring.bits() / 8)
		});
		MESSAGE_GRACE + Duration::from_secs(bytes / SLOWEST_BYTES_PER_S)
	}
}

/// The task's code a requester core wants run.
#[derive(Clone, Debug, PartialEq)]
pub enum RequesterWork {
	/// Run the task's `reduce` on a round's sums and hand what it returns
	/// to [`RequesterCore::handle_reduced`].
	Reduce {
		/// The step whose outputs were summed.
		step: StepSpec,
		/// The sums, one per declared output (floats as 64-bit floats,
		/// integers exactly).
		sums: Vec<Values>,
		/// How many members' inputs the sums hold.
		members: usize,
	},
}

/// What the requester's one ledger call in flight is for. Its calls are
/// made one at a time: each depends on the one before (a round starts
/// after the task exists, the next after the last is finished).
enum Awaiting {
	Create,
	StartRound(Announcement),
	FinishRound {
		next: Next,
		contributors: usize,
	},
	/// `FinishTask` after the result is out: best effort, like `Cancel`.
	Close,
	Cancel,
}

/// The requester's side of one task as a state machine that never
/// blocks: feed it with the `handle_*` methods, drain it with the `poll_*`
/// methods (see [`crate::poll`]). [`RequesterDriver`](crate::RequesterDriver)
/// is the blocking host over the traits of `io`.
pub struct RequesterCore {
	plan: TaskPlan,
	task: Option<TaskId>,
	round: u32,
	run: RoundRun,
	outcome: Outcome,
	ids: CallIds,
	in_flight: Option<(CallId, Awaiting)>,
	/// Whether the round's record should be read again: set by each wake
	/// and after each of the requester's own calls.
	stale: bool,
	/// A reduce is out: the commitment to its sums and how many members
	/// contributed, for the `FinishRound` call that follows it.
	pub(crate) reducing: Option<([u8; 32], usize)>,
	calls: VecDeque<CallRequest>,
	transmits: VecDeque<(AccountId, Message)>,
	work: VecDeque<RequesterWork>,
	events: VecDeque<TaskEvent>,
	/// The privacy the task's private steps have spent.
	privacy: delta_dp::Accountant,
}

impl RequesterCore {
	/// A running requester of `plan` at ledger round `round` with nothing
	/// asked or queued yet: what `new` and `resume` start from.
	fn idle(plan: TaskPlan, task: Option<TaskId>, round: u32) -> Self {
		Self {
			plan,
			task,
			round,
			run: RoundRun::default(),
			outcome: Outcome::Running,
			ids: CallIds::default(),
			privacy: delta_dp::Accountant::new(),
			in_flight: None,
			stale: false,
			reducing: None,
			calls: VecDeque::new(),
			transmits: VecDeque::new(),
			work: VecDeque::new(),
			events: VecDeque::new(),
		}
	}

	/// A requester that will run `plan`; its first output is the call that
	/// creates the task (or, for a plan no ledger could run, a `Failed`
	/// event and nothing on the ledger).
	pub fn new(plan: TaskPlan) -> Self {
		let mut core = Self::idle(plan, None, 0);
		match core.create_call() {
			Ok(call) => core.request(call, Awaiting::Create),
			Err(e) => core.fail(e),
		}
		core
	}

	/// A requester that takes over a task already on the ledger, whose
	/// previous requester stopped: its first output is the call that
	/// starts ledger round `round` (the task's `rounds_started`; the round
	/// before must be over) with `step`, the step the task's code resumed
	/// at. The rounds before count against the privacy reported: when
	/// `step` is private, each of them is taken to have spent what `step`
	/// spends (a resumed learning task repeats one step shape), the lost
	/// ones included, since their members noised and sent an update.
	pub fn resume(plan: TaskPlan, task: TaskId, round: u32, step: StepSpec) -> Self {
		let mut core = Self::idle(plan, Some(task), round);
		if round >= core.plan.max_rounds {
			core.fail(EngineError::Executor(format!(
				"the task has used all {} rounds it declared; it cannot resume",
				core.plan.max_rounds
			)));
			return core;
		}
		if let Some(privacy) = &step.privacy {
			let encoding =
				crate::tensor::step_encoding(&step.outputs, &core.plan.encoding, core.plan.max_members, true);
			match crate::tensor::private_lattice(
				&step.outputs,
				privacy,
				&encoding,
				core.plan.threshold,
				core.plan.max_members,
			) {
				Ok(lattice) => {
					let mechanism = lattice.mechanism();
					core.privacy.compose(|a| mechanism.rdp(a), round);
				},
				Err(e) => {
					core.fail(e);
					return core;
				},
			}
		}
		if let Err(e) = core.begin_round(task, step) {
			core.fail(e);
		}
		core
	}

	/// The task's id on the ledger, once created.
	pub fn task(&self) -> Option<TaskId> {
		self.task
	}

	/// The round in progress (or the last one).
	pub fn round(&self) -> u32 {
		self.round
	}

	/// Where the task stands.
	pub fn outcome(&self) -> &Outcome {
		&self.outcome
	}

	// ----- inputs -------------------------------------------------------

	/// The ledger may have moved on (a new block, the host's poll
	/// interval): the core will ask for the round's record again.
	pub fn handle_wake(&mut self) {
		self.stale = true;
	}

	/// A message from a peer, whose sender the transport authenticated.
	/// Only messages for the round in progress count, the first of each
	/// kind per member; the rest are dropped.
	pub fn handle_message(&mut self, from: AccountId, message: Message) {
		let Some(task) = self.task else { return };
		if self.outcome != Outcome::Running {
			return;
		}
		let current = |t: TaskId, r: u32| t == task && r == self.round;
		match message {
			Message::ShareKeys { task: t, round: r, body } if current(t, r) => {
				self.run.shares.entry(from).or_insert(body);
			},
			Message::Masked { task: t, round: r, body } if current(t, r) && !self.run.masked_taken.contains(&from) => {
				self.run.masked.entry(from).or_insert(body);
			},
			Message::Unmask { task: t, round: r, body } if current(t, r) => {
				self.run.unmask.entry(from).or_insert(body);
			},
			Message::Decline { task: t, round: r, reason } if current(t, r) => {
				// Only invited members' reasons are worth reporting; cap the text.
				if self.plan.invited.contains(&from) && !self.run.declines.contains_key(&from) {
					let reason: String = reason.chars().take(500).collect();
					self.events.push_back(TaskEvent::Declined {
						round: self.round,
						member: from,
						reason: reason.clone(),
					});
					self.run.declines.insert(from, reason);
				}
			},
			_ => {},
		}
	}

	/// The record of the round [`RequesterCore::poll_read`] asked for, read
	/// at the host's time `now` (the core reads no clock: a simulation
	/// passes its own). A record of another round is ignored.
	pub fn handle_round(
		&mut self,
		now: Instant,
		task: TaskId,
		round: u32,
		record: Result<Option<RoundInfo>, EngineError>,
	) {
		if self.outcome != Outcome::Running || self.task != Some(task) || self.round != round {
			return;
		}
		if self.in_flight.is_some() || self.reducing.is_some() {
			// Read before the call or the reduce that is still out: a new
			// read follows it.
			return;
		}
		if let Err(e) = record.and_then(|r| self.on_round(now, r)) {
			self.fail(e);
		}
	}

	/// The result of the ledger call `id` (an id the core no longer waits
	/// for is ignored). A refusal fails the task, except for the
	/// cancellation of a task that failed already.
	pub fn handle_call(&mut self, id: CallId, result: Result<Vec<StoredEvent>, EngineError>) {
		let Some((expected, why)) = self.in_flight.take() else { return };
		if expected != id {
			self.in_flight = Some((expected, why));
			return;
		}
		if matches!(why, Awaiting::Cancel | Awaiting::Close) {
			// Best effort: the round may already have failed or the task
			// ended; the outcome stands either way.
			if let (Awaiting::Close, Err(e)) = (&why, &result) {
				tracing::warn!("the task's result stands, but closing it on the ledger failed: {e}");
			}
			return;
		}
		self.stale = true;
		if let Err(e) = result.and_then(|events| self.on_call(why, &events)) {
			self.fail(e);
		}
	}

	/// What the task's `reduce` returned for the [`RequesterWork::Reduce`]
	/// the core asked for.
	pub fn handle_reduced(&mut self, next: Result<Next, EngineError>) {
		let Some((sums, contributors)) = self.reducing.take() else { return };
		if self.outcome != Outcome::Running {
			return;
		}
		match (next, self.task) {
			(Ok(next), Some(task)) => self.request(
				Call::FinishRound { task, round: self.round, result: H256(sums) },
				Awaiting::FinishRound { next, contributors },
			),
			(Err(e), _) => self.fail(e),
			(Ok(_), None) => self.fail(ledger_refusal("finish", "no task")),
		}
	}

	// ----- outputs ------------------------------------------------------

	/// The next ledger call to make; its result goes to
	/// [`RequesterCore::handle_call`]. At most one is out at a time.
	pub fn poll_call(&mut self) -> Option<CallRequest> {
		self.calls.pop_front()
	}

	/// The round whose record the core wants, `(task, round)`; the answer
	/// goes to [`RequesterCore::handle_round`].
	pub fn poll_read(&mut self) -> Option<(TaskId, u32)> {
		let ready = self.stale
			&& self.outcome == Outcome::Running
			&& self.in_flight.is_none()
			&& self.reducing.is_none()
			&& self.run.step.is_some();
		let task = self.task.filter(|_| ready)?;
		self.stale = false;
		Some((task, self.round))
	}

	/// The next message to send. Delivery is best effort: a message that
	/// cannot be sent is a member that drops out.
	pub fn poll_transmit(&mut self) -> Option<(AccountId, Message)> {
		self.transmits.pop_front()
	}

	/// The next piece of the task's code to run.
	pub fn poll_work(&mut self) -> Option<RequesterWork> {
		self.work.pop_front()
	}

	/// The next thing that happened, in order.
	pub fn poll_event(&mut self) -> Option<TaskEvent> {
		self.events.pop_front()
	}

	/// When the core wants to look again even if nothing arrives: the end
	/// of the grace period for messages whose commitments the ledger
	/// already holds. The host wakes it then (`handle_wake`).
	pub fn poll_timeout(&self) -> Option<Instant> {
		if self.outcome != Outcome::Running {
			return None;
		}
		self.run.waiting_since.map(|(since, grace)| since + grace)
	}

	// ----- the protocol -------------------------------------------------

	fn request(&mut self, call: Call, why: Awaiting) {
		let id = self.ids.next();
		self.calls.push_back(CallRequest { id, call });
		self.in_flight = Some((id, why));
	}

	/// Ends the task: a `Failed` event naming the declines seen, and the
	/// task cancelled on the ledger if it exists.
	fn fail(&mut self, e: EngineError) {
		let mut reason = e.to_string();
		if !self.run.declines.is_empty() {
			let declines: Vec<String> =
				self.run.declines.iter().map(|(who, why)| format!("{who} declined: {why}")).collect();
			reason = format!("{reason} ({})", declines.join("; "));
		}
		self.events.push_back(TaskEvent::Failed { kind: e.kind(), reason: reason.clone() });
		self.work.clear();
		self.reducing = None;
		self.in_flight = None;
		if let Some(task) = self.task {
			self.request(Call::CancelTask { task }, Awaiting::Cancel);
		}
		self.outcome = Outcome::Failed(reason);
	}

	fn on_call(&mut self, why: Awaiting, events: &[StoredEvent]) -> Result<(), EngineError> {
		match why {
			Awaiting::Create => {
				let task = events
					.iter()
					.find_map(|e| match e.event {
						Event::TaskCreated { task, .. } => Some(task),
						_ => None,
					})
					.ok_or_else(|| ledger_refusal("create_task", "no TaskCreated event"))?;
				self.task = Some(task);
				self.events.push_back(TaskEvent::TaskCreated { task });
				self.begin_round(task, self.plan.first.clone())
			},
			Awaiting::StartRound(announcement) => {
				for member in &self.plan.invited {
					self.transmits.push_back((*member, Message::Announce(announcement.clone())));
				}
				self.events.push_back(TaskEvent::RoundStarted {
					round: self.round,
					ring_bits: announcement.encoding.ring.bits(),
					elements: announcement.step.outputs.iter().filter_map(OutputSpec::elements).sum(),
				});
				self.run = RoundRun { step: Some(Arc::new(announcement)), ..RoundRun::default() };
				Ok(())
			},
			Awaiting::FinishRound { next, contributors } => {
				self.events.push_back(TaskEvent::Unmasked { round: self.round, members: contributors });
				let task = self.task.ok_or_else(|| ledger_refusal("finish_round", "no task"))?;
				match next {
					Next::Step(step) => {
						if self.round + 1 >= self.plan.max_rounds {
							return Err(EngineError::Executor(format!(
								"the task asks for more than the {} rounds it declared",
								self.plan.max_rounds
							)));
						}
						self.round += 1;
						self.begin_round(task, step)
					},
					Next::Done(result) => {
						// The last round's commitment is on the ledger: the
						// result is the requester's now. Closing the task
						// there (`FinishTask`) follows without holding the
						// result back; the host makes that call after it has
						// recorded the outcome (`RequesterDriver::close`).
						self.events.push_back(TaskEvent::Done);
						self.outcome = Outcome::Done(result);
						self.request(Call::FinishTask { task }, Awaiting::Close);
						Ok(())
					},
				}
			},
			Awaiting::Close | Awaiting::Cancel => Ok(()),
		}
	}

	fn on_round(&mut self, now: Instant, round: Option<RoundInfo>) -> Result<(), EngineError> {
		let task = self.task.ok_or_else(|| ledger_refusal("round", "no task"))?;
		let round = round.ok_or_else(|| ledger_refusal("round", "the round is gone"))?;
		if let Phase::Failed(reason) = round.state.phase {
			if reason == FailureReason::TooFewMasked {
				// Name who was still computing (or gone): the usual cause is
				// a map that runs longer than the Compute phase allows.
				let late: Vec<String> = round
					.members
					.iter()
					.filter(|m| m.status == MemberStatus::Shared && !self.run.declines.contains_key(&m.account))
					.map(|m| m.account.to_string())
					.collect();
				return Err(EngineError::ComputeDeadline { round: self.round, late });
			}
			return Err(EngineError::RoundFailed { round: self.round, reason });
		}
		if round.state.phase >= Phase::ShareKeys && round.state.phase < Phase::Done {
			let remaining = round.members.iter().filter(|m| !self.run.declines.contains_key(&m.account)).count();
			let threshold = round.state.params.threshold;
			if remaining < threshold as usize {
				return Err(EngineError::Abandoned { round: self.round, remaining, threshold });
			}
		}
		let announcement = self.run.step.clone().ok_or_else(|| ledger_refusal("round", "no announcement"))?;
		if round.state.phase >= Phase::ShareKeys && matches!(self.run.stage, Stage::Announced) {
			let seed = round.seed.ok_or_else(|| ledger_refusal("share keys", "no graph seed"))?;
			let mut aggregator = Aggregator::new(secagg_config(&announcement, &round, seed.0));
			let (ids, adverts) = roster(&round);
			for advert in adverts {
				aggregator.receive_advertise(advert)?;
			}
			aggregator.close_advertise()?;
			let n = ids.len();
			let hood = neighbourhood(&announcement, &round);
			let degree = if hood.is_complete(n) { n.saturating_sub(1) } else { hood.degree };
			self.events.push_back(TaskEvent::MembersJoined {
				round: self.round,
				members: n,
				degree,
				share_threshold: hood.threshold,
			});
			self.run.ids = ids;
			self.run.stage = Stage::Sharing(Box::new(aggregator));
		}
		if round.state.phase >= Phase::Compute && matches!(self.run.stage, Stage::Sharing(_)) {
			let missing = committed(&round, MemberStatus::Shared, |m| m.shares)
				.iter()
				.any(|(who, _)| !self.run.shares.contains_key(who));
			if self.run.wait_for(missing, now, MESSAGE_GRACE) {
				return Ok(());
			}
			let Stage::Sharing(aggregator) = &mut self.run.stage else {
				return Err(ledger_refusal("compute", "no aggregator"));
			};
			for m in committed(&round, MemberStatus::Shared, |m| m.shares) {
				if let Some(body) = self.run.shares.remove(&m.0) {
					if Some(body.member) == self.run.ids.get(&m.0).copied() && commitment(&body)? == m.1 {
						if let Err(e) = aggregator.receive_share_keys(body) {
							self.events.push_back(TaskEvent::Refused {
								round: self.round,
								member: m.0,
								what: Refused::Shares,
								reason: e.to_string(),
							});
						}
					}
				}
			}
			let deliveries = aggregator.close_share_keys()?;
			let account_of: BTreeMap<MemberId, AccountId> = self.run.ids.iter().map(|(a, i)| (*i, *a)).collect();
			for delivery in deliveries {
				if let Some(to) = account_of.get(&delivery.to) {
					self.transmits.push_back((*to, Message::Delivery { task, round: self.round, body: delivery }));
				}
			}
			self.run.stage = match std::mem::take(&mut self.run.stage) {
				Stage::Sharing(aggregator) => Stage::Computing(aggregator),
				other => other,
			};
		}
		if round.state.phase >= Phase::Compute && matches!(self.run.stage, Stage::Computing(_)) {
			// Masked inputs are taken in (checked against their commitments
			// and added to the sum) as the ledger shows them, while the
			// other members still compute, rather than all at the Unmask
			// phase, when only the requester has work left.
			self.take_masked(&round)?;
		}
		if round.state.phase >= Phase::Unmask && matches!(self.run.stage, Stage::Computing(_)) {
			let missing = committed(&round, MemberStatus::Masked, |m| m.masked)
				.iter()
				.any(|(who, _)| !self.run.masked.contains_key(who) && !self.run.masked_taken.contains(who));
			let grace = self.run.masked_grace();
			if self.run.wait_for(missing, now, grace) {
				return Ok(());
			}
			let Stage::Computing(aggregator) = &mut self.run.stage else {
				return Err(ledger_refusal("unmask", "no aggregator"));
			};
			let accepted = self.run.masked_accepted;
			aggregator.close_masked_input()?;
			self.events.push_back(TaskEvent::MaskedInputs { round: self.round, count: accepted });
			// Members that shared keys but sent nothing and said nothing:
			// crashed, cut off, or still computing at the deadline.
			for m in round.members.iter().filter(|m| m.status == MemberStatus::Shared) {
				if !self.run.declines.contains_key(&m.account) {
					self.events.push_back(TaskEvent::Dropped { round: self.round, member: m.account });
				}
			}
			self.run.stage = match std::mem::take(&mut self.run.stage) {
				Stage::Computing(aggregator) => Stage::Unmasking { aggregator, contributors: accepted },
				other => other,
			};
		}
		if round.state.phase == Phase::Done && round.result.is_none() {
			let missing = round
				.members
				.iter()
				.any(|m| m.status == MemberStatus::Revealed && !self.run.unmask.contains_key(&m.account));
			if self.run.wait_for(missing, now, MESSAGE_GRACE) {
				return Ok(());
			}
			let Stage::Unmasking { aggregator, contributors } = &mut self.run.stage else {
				return Err(ledger_refusal("finish", "no aggregator"));
			};
			let contributors = *contributors;
			for m in round.members.iter().filter(|m| m.status == MemberStatus::Revealed) {
				if let Some(body) = self.run.unmask.remove(&m.account) {
					if let Err(e) = aggregator.receive_unmask(body) {
						self.events.push_back(TaskEvent::Refused {
							round: self.round,
							member: m.account,
							what: Refused::UnmaskShares,
							reason: e.to_string(),
						});
					}
				}
			}
			let sum = aggregator.finish()?;
			let sums = match &announcement.step.privacy {
				Some(privacy) => {
					let lattice = crate::tensor::private_lattice(
						&announcement.step.outputs,
						privacy,
						&announcement.encoding,
						round.state.params.threshold,
						round.state.params.max_members,
					)?;
					let sums = crate::tensor::decode_private(&announcement.step.outputs, &sum, &lattice)?;
					self.privacy.compose_distributed(&lattice.mechanism());
					self.events.push_back(TaskEvent::Noised {
						round: self.round,
						std: lattice.sum_std(contributors as u32),
						clip: privacy.clip,
						noise_multiplier: privacy.noise_multiplier,
						epsilon: self.privacy.epsilon(privacy.delta),
						delta: privacy.delta,
					});
					sums
				},
				None => crate::tensor::decode(
					&announcement.step.outputs,
					&sum,
					&announcement.encoding,
					round.state.params.max_members,
				)?,
			};
			self.reducing = Some((commitment(&sums)?, contributors));
			self.work.push_back(RequesterWork::Reduce { step: announcement.step.clone(), sums, members: contributors });
		}
		Ok(())
	}

	/// Checks and adds to the sum each masked input whose commitment the
	/// ledger holds and whose message has come, once per member: a body
	/// that differs from its commitment is dropped, as one the aggregator
	/// refuses is (that one reported), and copies sent later are ignored.
	fn take_masked(&mut self, round: &RoundInfo) -> Result<(), EngineError> {
		let Stage::Computing(aggregator) = &mut self.run.stage else {
			return Ok(());
		};
		for m in committed(round, MemberStatus::Masked, |m| m.masked) {
			if self.run.masked_taken.contains(&m.0) {
				continue;
			}
			let Some(body) = self.run.masked.remove(&m.0) else { continue };
			self.run.masked_taken.insert(m.0);
			if Some(body.member) == self.run.ids.get(&m.0).copied() && commitment(&body)? == m.1 {
				match aggregator.receive_masked_input(body) {
					Ok(()) => self.run.masked_accepted += 1,
					Err(e) => self.events.push_back(TaskEvent::Refused {
						round: self.round,
						member: m.0,
						what: Refused::MaskedInput,
						reason: e.to_string(),
					}),
				}
			}
		}
		Ok(())
	}

	/// The ledger call that creates the task, once the plan is one a
	/// ledger can run.
	fn create_call(&self) -> Result<Call, EngineError> {
		let p = &self.plan;
		// Each member reveals one share per neighbour in a single call, and
		// ledgers take at most MAX_REVEALS_PER_CALL shares a call: a graph
		// with more neighbours could never finish a round.
		let worst = delta_secagg::params::choose(p.max_members as usize, p.threshold as usize, p.graph);
		if worst.degree > limits::MAX_REVEALS_PER_CALL as usize {
			return Err(EngineError::Plan(format!(
				"with {} members each would have {} neighbours, and a member reveals at most {} shares; use the sparse graph (the default) or fewer members",
				p.max_members,
				worst.degree,
				limits::MAX_REVEALS_PER_CALL
			)));
		}
		let params = RoundParams {
			min_members: p.min_members,
			max_members: p.max_members,
			threshold: p.threshold,
			timeouts: p.timeouts,
		};
		Ok(Call::CreateTask {
			package: H256(package_commitment(&p.package)),
			kind: p.kind,
			datasets: vec![p.first.dataset.clone()],
			rounds: p.max_rounds,
			params,
		})
	}

	/// Asks the ledger to start a round of `step`; the announcement goes
	/// out once the ledger has it.
	fn begin_round(&mut self, task: TaskId, step: StepSpec) -> Result<(), EngineError> {
		if step.dataset != self.plan.first.dataset {
			return Err(EngineError::Executor("every step must read the task's dataset".into()));
		}
		crate::tensor::check_outputs(&step.outputs)?;
		let encoding = crate::tensor::step_encoding(
			&step.outputs,
			&self.plan.encoding,
			self.plan.max_members,
			step.privacy.is_some(),
		);
		if let Some(privacy) = &step.privacy {
			// Parameters no lattice can honour fail here, before a round.
			crate::tensor::private_lattice(
				&step.outputs,
				privacy,
				&encoding,
				self.plan.threshold,
				self.plan.max_members,
			)?;
		}
		let announcement = Announcement {
			task,
			round: self.round,
			encoding,
			step,
			graph: self.plan.graph,
			package: self.plan.package.clone(),
		};
		self.run = RoundRun::default();
		self.request(Call::StartRound { task }, Awaiting::StartRound(announcement));
		Ok(())
	}
}

/// Members at or past `status`, with the commitment `field` picks.
fn committed(
	round: &RoundInfo,
	status: MemberStatus,
	field: impl Fn(&delta_ledger_api::RoundMember) -> Option<H256>,
) -> Vec<(AccountId, [u8; 32])> {
	round.members.iter().filter(|m| m.status >= status).filter_map(|m| field(m).map(|h| (m.account, h.0))).collect()
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{io::StepSpec, DType};

	fn run_of(elements: u32, ring: delta_secagg::Ring) -> RoundRun {
		let step = StepSpec {
			dataset: "d".into(),
			body: Vec::new(),
			outputs: vec![OutputSpec::new("w", DType::F32, vec![elements])],
			privacy: None,
		};
		let encoding = Encoding { ring, ..Encoding::default() };
		let announcement =
			Announcement { task: 1, round: 0, step, encoding, graph: GraphChoice::default(), package: Vec::new() };
		RoundRun { step: Some(Arc::new(announcement)), ..RoundRun::default() }
	}

	#[test]
	fn a_large_masked_input_gets_its_transfer_time_on_top_of_the_grace() {
		assert_eq!(run_of(10, delta_secagg::Ring::Bits64).masked_grace(), MESSAGE_GRACE);
		// 10M weights in the 32-bit ring: 40 MB, 40 s at the slowest rate.
		assert_eq!(run_of(10_000_000, delta_secagg::Ring::Bits32).masked_grace(), Duration::from_secs(50));
		assert_eq!(run_of(10_000_000, delta_secagg::Ring::Bits64).masked_grace(), Duration::from_secs(90));
	}

	#[test]
	fn the_wait_keeps_the_grace_it_started_with() {
		let mut run = RoundRun::default();
		let t0 = Instant::now();
		assert!(run.wait_for(true, t0, Duration::from_secs(50)));
		assert!(run.wait_for(true, t0 + Duration::from_secs(49), MESSAGE_GRACE), "the first grace holds");
		assert!(!run.wait_for(true, t0 + Duration::from_secs(50), MESSAGE_GRACE));
		assert!(!run.wait_for(false, t0, MESSAGE_GRACE), "nothing missing: no wait");
	}
}
