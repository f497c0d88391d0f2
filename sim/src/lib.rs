//! # delta-sim: whole tasks in one process
//!
//! A requester and simulated members, driven by `delta-engine`'s drivers,
//! on the local ledger and network ([`local`]), with dropouts at chosen
//! points. Deterministic in everything but the cryptographic randomness,
//! which never changes a sum. The SDK's local debug mode, the engine's
//! protocol tests and its round benchmarks run this. It lives beside the
//! engine, not in it, because the local ledger is the coordinator's rules:
//! the engine itself depends only on the ledger vocabulary
//! (`delta-ledger-api`).

pub mod adversary;
pub mod fixtures;
pub mod local;

use std::sync::Arc;

use delta_primitives::{
	round::{MemberStatus, PhaseTimeouts},
	task::TaskKind,
};

use delta_engine::{
	io::{Datasets, Encoding, Ledger, MemberExecutor, RequesterExecutor, StepSpec},
	AccountId, EngineError, GraphChoice, MemberDriver, Outcome, RequesterDriver, TaskEvent, TaskId, TaskPlan, Values,
};

use rand_chacha::rand_core::SeedableRng;

use crate::{
	adversary::Adversary,
	local::{LocalLedger, LocalNetwork},
};

/// Where a simulated member stops taking part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropPoint {
	/// Never joins.
	BeforeJoin,
	/// Joins, never shares keys.
	BeforeShares,
	/// Shares keys, never sends its masked input.
	BeforeMasked,
	/// Sends its masked input, never reveals.
	BeforeReveal,
	/// Takes part, but its `map` runs past the Compute phase's deadline
	/// (the ledger's clock moves on while it runs), as a member with a
	/// slow machine or a heavy task does.
	LateMap,
}

/// A member executor whose `map` lets the ledger's clock pass the Compute
/// deadline, from its `from`-th map (one map per round) on.
struct LateExecutor {
	inner: Box<dyn MemberExecutor>,
	ledger: LocalLedger,
	from: u32,
	maps: u32,
	late_by_ms: u64,
}

impl MemberExecutor for LateExecutor {
	fn prepare(&mut self, task: &delta_engine::TaskInfo, package: &[u8]) -> Result<(), EngineError> {
		self.inner.prepare(task, package)
	}

	fn map(&mut self, task: delta_engine::TaskId, step: &StepSpec) -> Result<Vec<Values>, EngineError> {
		let values = self.inner.map(task, step)?;
		if self.maps >= self.from {
			self.ledger.advance(self.late_by_ms)?;
		}
		self.maps += 1;
		Ok(values)
	}
}

/// One simulated member.
pub struct SimMember {
	/// Runs the task's `map` on this member's data.
	pub executor: Box<dyn MemberExecutor>,
	/// This member's datasets and policy.
	pub datasets: Box<dyn Datasets>,
	/// From which round, and where, the member drops out.
	pub drop_at: Option<(u32, DropPoint)>,
}

/// What a simulated task did.
#[derive(Debug)]
pub struct Report {
	/// The requester's outcome.
	pub outcome: Outcome,
	/// Rounds run.
	pub rounds: u32,
	/// What happened, as the requester saw it.
	pub events: Vec<TaskEvent>,
	/// The same as log lines.
	pub progress: Vec<String>,
	/// Each member's failures (declined or left rounds), by member index.
	pub member_failures: Vec<Vec<String>>,
	/// Bytes carried by the network.
	pub bytes: u64,
	/// SHA-256 over every message carried, in order: the same settings
	/// and seed give the same digest (on the complete graph, whose shape
	/// does not depend on the ledger's own randomness). `None` unless
	/// [`SimSettings::digest_traffic`].
	pub traffic: Option<[u8; 32]>,
	/// Simulated milliseconds the task took on the ledger's clock.
	pub ledger_ms: u64,
	/// Wall time spent inside the requester's steps (its protocol work
	/// and its `reduce`), on the host's clock.
	pub requester_time: std::time::Duration,
	/// Wall time spent inside each member's steps (protocol work and
	/// `map`), by member index.
	pub member_time: Vec<std::time::Duration>,
	/// Of `requester_time`, the part spent in ledger calls and reads: the
	/// in-memory ledger's SQL, which a real host pays at its chain or
	/// coordinator instead.
	pub requester_ledger_time: std::time::Duration,
	/// Of each `member_time`, the part spent in ledger calls and reads.
	pub member_ledger_time: Vec<std::time::Duration>,
}

/// A participant's ledger whose calls are timed, so that a report can
/// split a party's time into protocol work and ledger access.
struct TimedLedger {
	inner: Box<dyn Ledger>,
	spent: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl TimedLedger {
	fn wrap(inner: Box<dyn Ledger>) -> (Box<dyn Ledger>, std::sync::Arc<std::sync::atomic::AtomicU64>) {
		let spent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
		(Box::new(Self { inner, spent: std::sync::Arc::clone(&spent) }), spent)
	}
}

/// Runs `f`, adding its wall time to `spent`.
fn timed<T>(spent: &std::sync::atomic::AtomicU64, f: impl FnOnce() -> T) -> T {
	let started = std::time::Instant::now();
	let out = f();
	let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
	spent.fetch_add(nanos, std::sync::atomic::Ordering::Relaxed);
	out
}

impl Ledger for TimedLedger {
	fn account(&self) -> AccountId {
		self.inner.account()
	}

	fn submit(
		&mut self,
		call: delta_coordinator::types::Call,
	) -> Result<Vec<delta_coordinator::types::StoredEvent>, EngineError> {
		timed(&self.spent, || self.inner.submit(call))
	}

	fn task(&self, id: TaskId) -> Result<Option<delta_engine::TaskInfo>, EngineError> {
		timed(&self.spent, || self.inner.task(id))
	}

	fn round(&self, task: TaskId, round: u32) -> Result<Option<delta_coordinator::types::RoundInfo>, EngineError> {
		timed(&self.spent, || self.inner.round(task, round))
	}
}

fn nanos(spent: &std::sync::atomic::AtomicU64) -> std::time::Duration {
	std::time::Duration::from_nanos(spent.load(std::sync::atomic::Ordering::Relaxed))
}

/// Settings of a simulation beyond the members.
#[derive(Clone, Debug)]
pub struct SimSettings {
	/// The task's first step.
	pub first: StepSpec,
	/// Most rounds.
	pub max_rounds: u32,
	/// Secret-sharing threshold (`None`: a majority of the members, at
	/// least 2).
	pub threshold: Option<u32>,
	/// Members per round at least (`None`: the threshold).
	pub min_members: Option<u32>,
	/// Phase timeout in simulated ms.
	pub phase_ms: u64,
	/// Output encoding.
	pub encoding: Encoding,
	/// Most driver steps before giving up.
	pub max_steps: u64,
	/// The task package the members receive (any bytes: simulated members
	/// only check its hash).
	pub package: Vec<u8>,
	/// The task's kind, recorded on the ledger.
	pub kind: TaskKind,
	/// How the SecAgg+ neighbour graph is sized.
	pub graph: GraphChoice,
	/// Seeds the members' randomness (key pairs, shares), so that a run
	/// can be replayed exactly; production members use the OS's CSPRNG.
	pub seed: u64,
	/// Whether to keep [`Report::traffic`]: a SHA-256 pass over every
	/// message, which replay tests compare and `delta.debug` (a tenth of
	/// its time on a 1M-weight model) does without.
	pub digest_traffic: bool,
	/// Whether members run their maps on threads of their own from the
	/// moment they join, as the worker does
	/// ([`MemberDriver::map_in_background`]); off, a map runs inline at
	/// the Compute phase and the simulation is a fixed function of its
	/// seed. Give background maps long phases: the simulated clock moves
	/// on while a thread runs.
	pub background_maps: bool,
}

impl SimSettings {
	/// Defaults for a step: majority threshold, 50 ms phases, the default
	/// encoding.
	pub fn new(first: StepSpec, max_rounds: u32) -> Self {
		Self {
			first,
			max_rounds,
			threshold: None,
			min_members: None,
			phase_ms: 50,
			encoding: Encoding::default(),
			max_steps: 100_000,
			package: b"delta-sim".to_vec(),
			kind: TaskKind::Statistics,
			graph: GraphChoice::default(),
			seed: 0,
			digest_traffic: true,
			background_maps: false,
		}
	}
}

/// The requester's account in a simulation.
pub const REQUESTER: AccountId = AccountId([0xa0; 32]);

/// The account of the simulation's `i`-th member.
pub fn member_account(i: u32) -> AccountId {
	let mut raw = [0x5e; 32];
	raw[..4].copy_from_slice(&i.to_be_bytes());
	AccountId(raw)
}

/// Runs a task with `members` and the requester's `reduce` in
/// `requester`; returns when the task is done or failed.
pub fn run(
	settings: SimSettings,
	requester: Box<dyn RequesterExecutor>,
	members: Vec<SimMember>,
) -> Result<Report, EngineError> {
	run_on(LocalNetwork::new(), settings, requester, members)
}

/// [`run`] with every message passing through `adversary` (see
/// [`adversary`]): dropped, duplicated, delayed, or altered where it
/// controls the sender.
pub fn run_under(
	adversary: Box<dyn Adversary>,
	settings: SimSettings,
	requester: Box<dyn RequesterExecutor>,
	members: Vec<SimMember>,
) -> Result<Report, EngineError> {
	run_on(LocalNetwork::under(adversary), settings, requester, members)
}

fn run_on(
	network: LocalNetwork,
	settings: SimSettings,
	requester: Box<dyn RequesterExecutor>,
	members: Vec<SimMember>,
) -> Result<Report, EngineError> {
	if !settings.digest_traffic {
		network.stop_digesting();
	}
	let n = members.len() as u32;
	let ledger = LocalLedger::new()?;
	let owner = REQUESTER;
	let accounts: Vec<AccountId> = (0..n).map(member_account).collect();
	for (i, a) in accounts.iter().enumerate() {
		ledger.register(*a, i as u32)?;
	}
	let threshold = settings.threshold.unwrap_or((n / 2 + 1).max(2));
	let min_members = settings.min_members.unwrap_or(threshold);
	let t = settings.phase_ms;
	let plan = TaskPlan {
		package: settings.package.clone(),
		first: settings.first.clone(),
		max_rounds: settings.max_rounds,
		kind: settings.kind,
		min_members,
		max_members: n.max(2),
		threshold,
		timeouts: PhaseTimeouts { open: t, share_keys: t, compute: t, unmask: t },
		encoding: settings.encoding,
		graph: settings.graph,
		invited: accounts.clone(),
	};
	let (owner_ledger, requester_spent) = TimedLedger::wrap(ledger.participant(owner));
	let mut requester = RequesterDriver::new(owner_ledger, network.endpoint(owner), requester, plan);
	let mut member_spent = Vec::with_capacity(members.len());
	let mut drivers = Vec::with_capacity(members.len());
	let mut drops = Vec::with_capacity(members.len());
	for (i, (a, m)) in accounts.iter().zip(members).enumerate() {
		let executor: Box<dyn MemberExecutor> = match m.drop_at {
			Some((from, DropPoint::LateMap)) => Box::new(LateExecutor {
				inner: m.executor,
				ledger: ledger.clone(),
				from,
				maps: 0,
				late_by_ms: settings.phase_ms + 1,
			}),
			_ => m.executor,
		};
		let rng = rand_chacha::ChaCha20Rng::seed_from_u64(settings.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i as u64);
		let (member_ledger, spent) = TimedLedger::wrap(ledger.participant(*a));
		member_spent.push(spent);
		let driver = MemberDriver::new(member_ledger, network.endpoint(*a), executor, m.datasets, Box::new(rng));
		// The loop below steps every driver again at once: nobody to wake.
		drivers.push(if settings.background_maps { driver.map_in_background(Arc::new(|| {})) } else { driver });
		drops.push(m.drop_at.filter(|(_, point)| *point != DropPoint::LateMap));
	}
	let started = ledger.now();
	// The requester's clock is the ledger's simulated one.
	let epoch = std::time::Instant::now();
	let mut requester_time = std::time::Duration::ZERO;
	let mut member_time = vec![std::time::Duration::ZERO; drivers.len()];
	for _ in 0..settings.max_steps {
		let timer = std::time::Instant::now();
		requester.step(epoch + std::time::Duration::from_millis(ledger.now() - started));
		let over = requester.outcome() != &Outcome::Running;
		if over {
			requester.close();
		}
		requester_time += timer.elapsed();
		if over {
			break;
		}
		let current = match requester.task() {
			Some(task) => ledger.round(task, requester.round())?,
			None => None,
		};
		for (i, driver) in drivers.iter_mut().enumerate() {
			if let (Some((from_round, point)), Some(round)) = (drops[i], current.as_ref()) {
				if requester.round() >= from_round {
					let status = round.members.iter().find(|m| m.account == accounts[i]).map(|m| m.status);
					let stop = match point {
						DropPoint::BeforeJoin => true,
						DropPoint::BeforeShares => status.is_some_and(|s| s >= MemberStatus::Joined),
						DropPoint::BeforeMasked => status.is_some_and(|s| s >= MemberStatus::Shared),
						DropPoint::BeforeReveal => status.is_some_and(|s| s >= MemberStatus::Masked),
						DropPoint::LateMap => false,
					};
					if stop {
						// Drain its inbox so nothing piles up, and do nothing.
						continue;
					}
				}
			}
			let timer = std::time::Instant::now();
			driver.step();
			member_time[i] += timer.elapsed();
		}
		network.tick();
		ledger.advance(1)?;
	}
	if requester.outcome() == &Outcome::Running {
		return Err(EngineError::Stalled(settings.max_steps));
	}
	Ok(Report {
		outcome: requester.outcome().clone(),
		rounds: requester.round() + 1,
		events: requester.events.clone(),
		progress: requester.events.iter().map(ToString::to_string).collect(),
		member_failures: drivers
			.iter()
			.map(|d| d.failures.iter().map(|(t, r, e)| format!("task {t} round {r}: {e}")).collect())
			.collect(),
		bytes: network.bytes_carried(),
		traffic: network.traffic_digest(),
		ledger_ms: ledger.now() - started,
		requester_time,
		member_time,
		requester_ledger_time: nanos(&requester_spent),
		member_ledger_time: member_spent.iter().map(|s| nanos(s)).collect(),
	})
}
