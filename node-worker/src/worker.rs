//! The worker's engine: its requesters' tasks and its part in other
//! requesters' rounds, each on a thread of its own.
//!
//! Every task submitted to this worker's API gets a requester thread that
//! drives it, writing its progress to the state database as it happens
//! and its result the moment it exists. A router thread hands each peer
//! message for this holder's member role to the thread of the task it
//! belongs to, starting one at the task's first announcement; that thread
//! joins the task's rounds, runs its maps (bounded across tasks by
//! [`MapSlots`]) and ends when its rounds have gone quiet. So a ledger
//! call waiting for finality, or a map that runs for minutes, holds up only
//! its own task. Threads wake on peer messages, on each new finalized
//! block of a chain, and at least ten times a second to follow the ledger.

use std::{
	sync::{
		atomic::{AtomicBool, AtomicUsize, Ordering},
		Arc, Mutex,
	},
	thread::JoinHandle,
	time::{Duration, Instant},
};

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use delta_coordinator::types::Call;
use delta_engine::{
	AccountId, Encoding, GraphChoice, MemberDriver, Message, Outcome, RequesterDriver, TaskId, TaskPlan,
};
use delta_primitives::{limits, round::PhaseTimeouts, task::TaskKind};
use rand_core::{OsRng, RngCore};
use serde::Deserialize;

use crate::{
	consent::Consent,
	datasets::{Datasets, SharedDatasets},
	executor::{MapSlots, SandboxedMember, SandboxedRequester},
	ledger::{Backend, EngineLedger},
	pool::RunnerPool,
	state::State,
	transport::{Mailbox, MemberTaskEndpoint, PeerNet, RequesterEndpoint},
};

/// Largest task package accepted, in bytes.
pub const MAX_PACKAGE_BYTES: usize = 8 << 20;

/// A requester's submission, as the API receives it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
	/// The package (`delta.package_task(...).to_bytes()`), base64.
	pub package: String,
	/// Members to invite (SS58); default: every registered member.
	#[serde(default)]
	pub members: Option<Vec<String>>,
	/// Least members per round; default: the threshold.
	#[serde(default)]
	pub min_members: Option<u32>,
	/// Secret-sharing threshold; default: a majority, at least 2.
	#[serde(default)]
	pub threshold: Option<u32>,
	/// Seconds each round phase may take; default 30.
	#[serde(default)]
	pub phase_timeout_s: Option<u64>,
	/// Seconds the Compute phase may take, which holds every member's
	/// `map`: a task whose map runs long declares it here; default
	/// `phase_timeout_s`.
	#[serde(default)]
	pub compute_timeout_s: Option<u64>,
	/// Bits of the fixed-point ring the sums are taken in (32, 64 or
	/// 128); default 64. With the default, a step whose outputs all
	/// declare tight bounds is still summed in the 32-bit ring
	/// (`tensor::step_encoding`).
	#[serde(default)]
	pub ring_bits: Option<u32>,
	/// Fractional bits of float outputs that declare no bound; default 24.
	#[serde(default)]
	pub fractional_bits: Option<u32>,
}

/// The task's fixed-point encoding from a submission's `ring_bits` and
/// `fractional_bits`, checked for `max_members` summands.
fn submitted_encoding(req: &SubmitRequest, max_members: u32) -> Result<Encoding, SubmitError> {
	let default = Encoding::default();
	let ring = match req.ring_bits {
		None => default.ring,
		Some(32) => delta_engine::Ring::Bits32,
		Some(64) => delta_engine::Ring::Bits64,
		Some(128) => delta_engine::Ring::Bits128,
		Some(other) => return Err(SubmitError::Invalid(format!("ring_bits must be 32, 64 or 128, not {other}"))),
	};
	let fractional_bits = req.fractional_bits.unwrap_or(default.fractional_bits);
	let encoding = Encoding { ring, fractional_bits };
	encoding.check(max_members).map_err(|_| {
		SubmitError::Invalid(format!(
			"fractional_bits {fractional_bits} leaves no room for {max_members} members' sums in the {}-bit ring",
			ring.bits()
		))
	})?;
	Ok(encoding)
}

/// Why a submission is refused before anything reaches the ledger.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
	/// The request itself is malformed.
	#[error("{0}")]
	Invalid(String),
	/// The package was refused.
	#[error("{0}")]
	Package(String),
	/// The member list cannot be used.
	#[error("{0}")]
	Members(String),
	/// The ledger or the state database failed.
	#[error("{0}")]
	Unavailable(String),
}

/// Everything the API needs from the running worker.
pub struct Worker {
	/// The state database.
	pub state: Arc<State>,
	/// The ledger.
	pub ledger: Arc<dyn Backend>,
	/// The datasets.
	pub datasets: Arc<Datasets>,
	/// The worker's display name.
	pub name: String,
	pool: Arc<RunnerPool>,
	net: Arc<PeerNet>,
	stop: Arc<AtomicBool>,
	/// Requester tasks running now, bounded by [`MAX_RUNNING_TASKS`].
	running: Arc<AtomicUsize>,
	/// The threads of requester tasks, joined at stop.
	requesters: Arc<Mutex<Vec<JoinHandle<()>>>>,
	/// Where resumable tasks' checkpoints are kept, one file per
	/// submission, beside the state database.
	checkpoints: std::path::PathBuf,
}

/// What a resumable submission's plan holds that the ledger does not,
/// kept in the state database until the task ends, so that a restarted
/// worker can take the task over.
#[derive(serde::Serialize, Deserialize)]
struct SavedPlan {
	invited: Vec<String>,
	min_members: u32,
	max_members: u32,
	threshold: u32,
	/// Open, ShareKeys, Compute and Unmask, in ledger units.
	timeouts: [u64; 4],
	encoding: Encoding,
	graph: GraphChoice,
	max_rounds: u32,
}

impl SavedPlan {
	fn of(plan: &TaskPlan) -> Self {
		let t = plan.timeouts;
		Self {
			invited: plan.invited.iter().map(AccountId::to_ss58).collect(),
			min_members: plan.min_members,
			max_members: plan.max_members,
			threshold: plan.threshold,
			timeouts: [t.open, t.share_keys, t.compute, t.unmask],
			encoding: plan.encoding,
			graph: plan.graph,
			max_rounds: plan.max_rounds,
		}
	}

	fn plan(&self, package: Vec<u8>, first: delta_engine::StepSpec, kind: TaskKind) -> Result<TaskPlan, String> {
		let invited = self
			.invited
			.iter()
			.map(|m| AccountId::parse(m).map_err(|e| format!("the saved plan's member {m:?}: {e}")))
			.collect::<Result<Vec<_>, _>>()?;
		let [open, share_keys, compute, unmask] = self.timeouts;
		Ok(TaskPlan {
			package,
			first,
			max_rounds: self.max_rounds,
			kind,
			min_members: self.min_members,
			max_members: self.max_members,
			threshold: self.threshold,
			timeouts: PhaseTimeouts { open, share_keys, compute, unmask },
			encoding: self.encoding,
			graph: self.graph,
			invited,
		})
	}
}

/// Most tasks one worker runs as requester at once; a submission beyond
/// it is refused until one ends (each holds a process and a thread).
pub const MAX_RUNNING_TASKS: usize = 64;

/// Most tasks this holder takes part in as a member at once; an
/// announcement beyond it is declined, with the reason.
pub const MAX_MEMBER_TASKS: usize = 64;

/// How long a member task's thread (and its task process) stays after its
/// last round ended: a task's next round usually comes within seconds.
const MEMBER_IDLE: Duration = Duration::from_secs(120);

/// How often a thread looks at the ledger when no message wakes it.
const POLL: Duration = Duration::from_millis(100);

/// How often a task waiting to resume looks whether the round its
/// requester's stop interrupted is over.
const RESUME_POLL: Duration = Duration::from_millis(500);

/// Phase timeouts used when a submission names none.
pub const DEFAULT_PHASE_TIMEOUT_S: u64 = 30;

/// Longest phase a submission may ask for: a day, so that a typo cannot
/// park members in a round for years.
pub const MAX_PHASE_TIMEOUT_S: u64 = 86_400;

impl Worker {
	/// Prepares new snapshots of `names` (every dataset when empty), see
	/// [`crate::datasets::Datasets::refresh`], then starts idle task
	/// processes on them in place of those the old snapshots had.
	pub fn refresh_datasets(&self, names: &[String]) -> Vec<crate::datasets::Refreshed> {
		let done = self.datasets.refresh(names);
		self.pool.top_up();
		done
	}

	/// Starts the engine's router thread; returns the worker and the
	/// thread, which ends (after every task thread) once
	/// [`Worker::stop`] is called.
	pub fn start(
		state: Arc<State>,
		ledger: Arc<dyn Backend>,
		net: Arc<PeerNet>,
		pool: Arc<RunnerPool>,
		datasets: Arc<Datasets>,
		name: String,
		checkpoints: std::path::PathBuf,
	) -> (Arc<Self>, JoinHandle<()>) {
		let stop = Arc::new(AtomicBool::new(false));
		let requesters: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
		let members = MemberRole {
			ledger: Arc::clone(&ledger),
			net: Arc::clone(&net),
			pool: Arc::clone(&pool),
			consent: Arc::new(Consent::new(datasets.policy().code_requesters.clone(), Arc::clone(&state))),
			datasets: Arc::clone(&datasets),
			slots: Arc::new(MapSlots::per_core()),
			stop: Arc::clone(&stop),
		};
		let thread = {
			let requesters = Arc::clone(&requesters);
			std::thread::Builder::new()
				.name("engine".into())
				.spawn(move || {
					members.route();
					let threads =
						std::mem::take(&mut *requesters.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
					for t in threads {
						let _ = t.join();
					}
				})
				.unwrap_or_else(|e| panic!("cannot start the engine thread: {e}"))
		};
		let worker = Self {
			state,
			ledger,
			datasets,
			name,
			pool,
			net,
			stop,
			running: Arc::new(AtomicUsize::new(0)),
			requesters,
			checkpoints,
		};
		(Arc::new(worker), thread)
	}

	/// How many task processes have started and wait for a task.
	pub fn idle_runners(&self) -> usize {
		self.pool.ready()
	}

	/// Asks the engine's threads to stop.
	pub fn stop(&self) {
		self.stop.store(true, Ordering::SeqCst);
		self.net.wake.notify();
	}

	/// Takes over or fails the submissions a previous run left running.
	/// A resumable one (a learning task, which keeps a checkpoint after
	/// every round) goes on from its last checkpoint on a thread of its
	/// own, once the round the stop interrupted is over on the ledger. The
	/// rest fail: their round's secure-aggregation secrets and the task
	/// object died with the last run, so the task is cancelled on the
	/// ledger and the failure recorded. Returns (resumed, failed).
	pub fn resume_interrupted(self: &Arc<Self>) -> rusqlite::Result<(usize, usize)> {
		let (mut resumed, mut failed) = (0, 0);
		for s in self.state.interrupted()? {
			if let (Some(task), Some((package, saved))) = (s.ledger_task, self.state.saved_plan(&s.id)?) {
				match (serde_json::from_str::<SavedPlan>(&saved), RunningSlot::take(&self.running)) {
					(Ok(saved), Some(slot)) => {
						self.state.log(
							&s.id,
							"the worker restarted: the task resumes once its interrupted round is over on the ledger",
						)?;
						let worker = Arc::clone(self);
						let id = s.id.clone();
						let thread = std::thread::Builder::new()
							.name(format!("task-{id}"))
							.spawn(move || worker.resume(id, task, package, saved, slot));
						match thread {
							Ok(thread) => {
								self.requesters.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(thread);
								resumed += 1;
								continue;
							},
							Err(e) => tracing::error!("cannot start the thread to resume {}: {e}", s.id),
						}
					},
					(Err(e), _) => tracing::error!("the saved plan of {} is unreadable: {e}", s.id),
					(_, None) => tracing::warn!("{} cannot resume: {MAX_RUNNING_TASKS} tasks run already", s.id),
				}
			}
			self.fail_stopped(&s.id, s.ledger_task, "the worker stopped while the task was running")?;
			failed += 1;
		}
		Ok((resumed, failed))
	}

	/// Records a stopped task's failure and cancels it on the ledger.
	fn fail_stopped(&self, id: &str, task: Option<TaskId>, why: &str) -> rusqlite::Result<()> {
		if let Some(task) = task {
			if let Err(e) = self.ledger.submit(Call::CancelTask { task }) {
				tracing::info!("task {task} could not be cancelled (it may have ended): {e}");
			}
		}
		let reason = format!("{why}; the task was cancelled on the ledger");
		let event =
			delta_engine::TaskEvent::Failed { kind: delta_engine::FailureKind::Interrupted, reason: reason.clone() };
		self.state.event(id, &event)?;
		self.state.fail(id, &reason)?;
		let _ = std::fs::remove_file(self.checkpoint_path(id));
		Ok(())
	}

	fn checkpoint_path(&self, id: &str) -> std::path::PathBuf {
		self.checkpoints.join(format!("{id}.checkpoint"))
	}

	/// A resumed task's thread: waits until the ledger's last round of
	/// the task is over, starts a runner from the checkpoint and drives
	/// the task on from the ledger's next round.
	fn resume(self: Arc<Self>, id: String, task: TaskId, package: Vec<u8>, saved: SavedPlan, slot: RunningSlot) {
		let driver = match self.resumed_driver(&id, task, package, &saved) {
			Ok(driver) => driver,
			// Stopped again before it could resume: still running, for the
			// next start to take over.
			Err(_) if self.stop.load(Ordering::SeqCst) => return,
			Err(why) => {
				let why = format!("the worker restarted and the task could not resume: {why}");
				if let Err(e) = self.fail_stopped(&id, Some(task), &why) {
					tracing::error!("state database: {e}");
				}
				return;
			},
		};
		RequesterTask {
			checkpoint: Some(self.checkpoint_path(&id)),
			id,
			driver,
			state: Arc::clone(&self.state),
			net: Arc::clone(&self.net),
			stop: Arc::clone(&self.stop),
			_slot: slot,
		}
		.run();
	}

	fn resumed_driver(
		&self,
		id: &str,
		task: TaskId,
		package: Vec<u8>,
		saved: &SavedPlan,
	) -> Result<RequesterDriver, String> {
		let commitment = delta_engine::io::package_commitment(&package);
		let rounds_started = loop {
			if self.stop.load(Ordering::SeqCst) {
				return Err("the worker stopped again".into());
			}
			let info = self.ledger.task(task).map_err(|e| e.to_string())?.ok_or("the task is gone from the ledger")?;
			if info.status != delta_primitives::task::TaskStatus::Active {
				return Err(format!("the ledger shows the task as {:?}", info.status));
			}
			if info.package.0 != commitment {
				return Err("the ledger's package commitment differs from the saved package".into());
			}
			let over = match info.rounds_started.checked_sub(1) {
				None => true,
				Some(last) => {
					self.ledger.round(task, last).map_err(|e| e.to_string())?.is_none_or(|r| r.state.is_over())
				},
			};
			if over {
				break info.rounds_started;
			}
			// The interrupted round ends at its phase deadline at the latest.
			std::thread::sleep(RESUME_POLL);
		};
		let path = self.checkpoint_path(id);
		let checkpoint = path.exists().then_some(path.as_path());
		let state = Arc::clone(&self.state);
		let log_id = id.to_string();
		let log = Arc::new(move |line: &str| {
			let _ = state.log(&log_id, &format!("task output: {line}"));
		});
		let (mut executor, info) = SandboxedRequester::resume(&self.pool, &package, log, checkpoint, rounds_started)
			.map_err(|e| e.to_string())?;
		let kind = planned_kind(&info).map_err(|e| e.to_string())?;
		executor.keep_checkpoints(path.clone());
		let plan = saved.plan(package, info.first.clone(), kind)?;
		let from = match checkpoint {
			Some(_) => "its last checkpoint",
			None => "its start (no round had finished)",
		};
		let _ = self.state.log(
			id,
			&format!(
				"resumed from {from}: ledger round {rounds_started} runs next ({} of {} declared rounds used)",
				rounds_started, saved.max_rounds
			),
		);
		Ok(RequesterDriver::resume(
			Box::new(EngineLedger(Arc::clone(&self.ledger))),
			Box::new(RequesterEndpoint::new(Arc::clone(&self.net))),
			Box::new(executor),
			plan,
			task,
			rounds_started,
			info.first,
		))
	}

	/// Checks a submission, starts its requester process, plans the task
	/// and hands it to the engine; returns its id.
	pub fn submit(&self, req: SubmitRequest) -> Result<String, SubmitError> {
		let package = B64
			.decode(req.package.as_bytes())
			.map_err(|e| SubmitError::Invalid(format!("package: not base64 ({e})")))?;
		if package.len() > MAX_PACKAGE_BYTES {
			return Err(SubmitError::Invalid(format!(
				"package: {} bytes, more than the limit of {MAX_PACKAGE_BYTES}",
				package.len()
			)));
		}
		let invited: Vec<AccountId> = match &req.members {
			Some(list) => {
				let mut out = Vec::new();
				for m in list {
					let account =
						AccountId::parse(m).map_err(|e| SubmitError::Members(format!("member {m:?}: {e}")))?;
					if self.ledger.member(&account).map_err(|e| SubmitError::Unavailable(e.to_string()))?.is_none() {
						return Err(SubmitError::Members(format!("{m} is not a registered member")));
					}
					if !out.contains(&account) {
						out.push(account);
					}
				}
				out
			},
			None => self
				.ledger
				.members()
				.map_err(|e| SubmitError::Unavailable(e.to_string()))?
				.into_iter()
				.map(|m| m.account)
				.collect(),
		};
		let n = invited.len() as u32;
		if n > limits::MAX_ROUND_MEMBERS {
			return Err(SubmitError::Members(format!(
				"{n} members are invited; a round may have at most {}",
				limits::MAX_ROUND_MEMBERS
			)));
		}
		if n < 2 {
			return Err(SubmitError::Members(format!(
				"a federated task needs at least 2 members; {n} {} invited",
				if n == 1 { "is" } else { "are" }
			)));
		}
		let threshold = req.threshold.unwrap_or((n / 2 + 1).max(2));
		let min_members = req.min_members.unwrap_or(threshold);
		if threshold < 2 || threshold > n || min_members < threshold || min_members > n {
			return Err(SubmitError::Invalid(format!(
				"need 2 <= threshold ({threshold}) <= min_members ({min_members}) <= invited members ({n})"
			)));
		}
		let phase_s = req.phase_timeout_s.unwrap_or(DEFAULT_PHASE_TIMEOUT_S);
		let compute_s = req.compute_timeout_s.unwrap_or(phase_s);
		for (name, value) in [("phase_timeout_s", phase_s), ("compute_timeout_s", compute_s)] {
			if value == 0 || value > MAX_PHASE_TIMEOUT_S {
				return Err(SubmitError::Invalid(format!(
					"{name} must be between 1 and {MAX_PHASE_TIMEOUT_S} seconds, not {value}"
				)));
			}
		}
		let encoding = submitted_encoding(&req, n)?;
		let phase = self.ledger.timeout_units(phase_s);
		let compute = self.ledger.timeout_units(compute_s);
		let slot = RunningSlot::take(&self.running).ok_or_else(|| {
			SubmitError::Unavailable(format!(
				"{MAX_RUNNING_TASKS} tasks are already running on this worker; submit again when one has ended"
			))
		})?;

		let mut raw = [0u8; 8];
		OsRng.fill_bytes(&mut raw);
		let id = hex::encode(raw);
		let state = Arc::clone(&self.state);
		let log_id = id.clone();
		let log = Arc::new(move |line: &str| {
			let _ = state.log(&log_id, &format!("task output: {line}"));
		});
		let started = SandboxedRequester::start(&self.pool, &package, log)
			.map_err(|e| SubmitError::Package(e.to_string()))
			.and_then(|(executor, info)| planned_kind(&info).map(|kind| (executor, kind, info)));
		let (mut executor, kind, info) = match started {
			Ok(v) => v,
			// Nothing of a refused package stays behind: its runner and
			// the runner's folder are gone.
			Err(e) => return Err(e),
		};
		let plan = TaskPlan {
			package: package.clone(),
			first: info.first.clone(),
			max_rounds: info.max_rounds,
			kind,
			min_members,
			max_members: n,
			threshold,
			timeouts: PhaseTimeouts { open: phase, share_keys: phase, compute, unmask: phase },
			encoding,
			graph: GraphChoice::default(),
			invited,
		};
		let db = |e: rusqlite::Error| SubmitError::Unavailable(format!("state database: {e}"));
		self.state.insert(&id, info.max_rounds).map_err(db)?;
		let checkpoint = if info.resumable {
			let saved = serde_json::to_string(&SavedPlan::of(&plan))
				.map_err(|e| SubmitError::Unavailable(format!("the plan cannot be saved: {e}")))?;
			self.state.save_plan(&id, &package, &saved).map_err(db)?;
			std::fs::create_dir_all(&self.checkpoints)
				.map_err(|e| SubmitError::Unavailable(format!("{}: {e}", self.checkpoints.display())))?;
			let path = self.checkpoint_path(&id);
			executor.keep_checkpoints(path.clone());
			Some(path)
		} else {
			None
		};
		self.state
			.log(
				&id,
				&format!(
					"submitted: {} package {}, dataset {}, {n} members invited, threshold {threshold}, at least {min_members} per round",
					kind.name(),
					hex::encode(delta_engine::io::package_commitment(&package)),
					info.dataset
				),
			)
			.map_err(db)?;
		let endpoint = RequesterEndpoint::new(Arc::clone(&self.net));
		let driver = RequesterDriver::new(
			Box::new(EngineLedger(Arc::clone(&self.ledger))),
			Box::new(endpoint),
			Box::new(executor),
			plan,
		);
		let task = RequesterTask {
			id: id.clone(),
			checkpoint,
			driver,
			state: Arc::clone(&self.state),
			net: Arc::clone(&self.net),
			stop: Arc::clone(&self.stop),
			_slot: slot,
		};
		let thread = std::thread::Builder::new()
			.name(format!("task-{id}"))
			.spawn(move || task.run())
			.map_err(|e| SubmitError::Unavailable(format!("cannot start the task's thread: {e}")))?;
		let mut threads = self.requesters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
		threads.retain(|t| !t.is_finished());
		threads.push(thread);
		Ok(id)
	}
}

/// The kind of a package the runner accepted, once its declared rounds are
/// within the ledgers' limit; the refusal says what to change.
fn planned_kind(info: &crate::executor::PackageInfo) -> Result<TaskKind, SubmitError> {
	if info.max_rounds == 0 || info.max_rounds > limits::MAX_ROUNDS {
		return Err(SubmitError::Package(format!(
			"the task declares {} rounds; a task may run 1 to {}",
			info.max_rounds,
			limits::MAX_ROUNDS
		)));
	}
	TaskKind::from_name(&info.kind).ok_or_else(|| {
		let known: Vec<&str> = TaskKind::ALL.iter().map(|(_, n)| *n).collect();
		SubmitError::Package(format!("unknown task kind {:?}: one of {}", info.kind, known.join(", ")))
	})
}

/// A place among the [`MAX_RUNNING_TASKS`], given back when dropped.
struct RunningSlot(Arc<AtomicUsize>);

impl RunningSlot {
	fn take(running: &Arc<AtomicUsize>) -> Option<Self> {
		running
			.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < MAX_RUNNING_TASKS).then_some(n + 1))
			.ok()
			.map(|_| Self(Arc::clone(running)))
	}
}

impl Drop for RunningSlot {
	fn drop(&mut self) {
		self.0.fetch_sub(1, Ordering::SeqCst);
	}
}

/// One task this worker requested, driven on its own thread.
struct RequesterTask {
	id: String,
	/// The task's checkpoint file (resumable tasks), removed once the
	/// task's outcome is recorded.
	checkpoint: Option<std::path::PathBuf>,
	driver: RequesterDriver,
	state: Arc<State>,
	net: Arc<PeerNet>,
	stop: Arc<AtomicBool>,
	_slot: RunningSlot,
}

impl RequesterTask {
	fn run(mut self) {
		let mut seen = self.net.wake.now();
		let mut logged = 0;
		let mut recorded = (None, 0);
		while !self.stop.load(Ordering::SeqCst) {
			self.driver.step(Instant::now());
			for event in &self.driver.events[logged..] {
				if let Err(e) = self.state.event(&self.id, event) {
					tracing::error!("state database: {e}");
				}
			}
			logged = self.driver.events.len();
			let now = (self.driver.task(), self.driver.round());
			if now != recorded {
				if let Err(e) = self.state.progress(&self.id, now.0, now.1) {
					tracing::error!("state database: {e}");
				}
				recorded = now;
			}
			let outcome = match self.driver.outcome() {
				Outcome::Running => {
					self.net.wake.wait(&mut seen, POLL);
					continue;
				},
				Outcome::Done(result) => self.state.finish(&self.id, result),
				Outcome::Failed(reason) => self.state.fail(&self.id, reason),
			};
			if let Err(e) = outcome {
				tracing::error!("state database: cannot record the outcome of {}: {e}", self.id);
			} else if let Some(path) = &self.checkpoint {
				let _ = std::fs::remove_file(path);
			}
			// The outcome is the requester's now; closing the task on the
			// ledger (finished or cancelled) comes after, best effort.
			self.driver.close();
			break;
		}
		// A task stopped with the worker stays "running" in the state
		// database; the next start resumes it from its checkpoint, or
		// fails and cancels it. Its process and message queue end with the
		// driver, and its scratch folder goes.
		drop(self.driver);
	}
}

/// This holder's member role: what the router needs to start a task's
/// member thread.
struct MemberRole {
	ledger: Arc<dyn Backend>,
	net: Arc<PeerNet>,
	pool: Arc<RunnerPool>,
	datasets: Arc<Datasets>,
	slots: Arc<MapSlots>,
	consent: Arc<Consent>,
	stop: Arc<AtomicBool>,
}

/// A member task's thread as the router sees it.
struct MemberThread {
	mailbox: Arc<Mailbox>,
	/// Since when the task's rounds have all been over (`None`: one runs).
	idle_since: Arc<Mutex<Option<Instant>>>,
	thread: JoinHandle<()>,
}

fn task_of(message: &Message) -> TaskId {
	match message {
		Message::Announce(a) => a.task,
		Message::ShareKeys { task, .. }
		| Message::Delivery { task, .. }
		| Message::Masked { task, .. }
		| Message::Unmask { task, .. }
		| Message::Decline { task, .. } => *task,
	}
}

impl MemberRole {
	/// Hands member messages to their tasks' threads until the worker
	/// stops, then waits for those threads.
	fn route(self) {
		let mut threads: std::collections::HashMap<TaskId, MemberThread> = std::collections::HashMap::new();
		let mut seen = self.net.wake.now();
		let mut ledger_seen = self.net.ledger_moved.now();
		while !self.stop.load(Ordering::SeqCst) {
			// The ledger moved on: the member threads look now, not at
			// their next poll (they wait on their mailboxes, not on it).
			let ledger_now = self.net.ledger_moved.now();
			if ledger_now != ledger_seen {
				ledger_seen = ledger_now;
				for t in threads.values() {
					t.mailbox.nudge();
				}
			}
			// Threads whose task has gone quiet end; a later announcement
			// starts a new one.
			threads.retain(|_, t| {
				let quiet = t
					.idle_since
					.lock()
					.unwrap_or_else(std::sync::PoisonError::into_inner)
					.is_some_and(|since| since.elapsed() > MEMBER_IDLE);
				if quiet {
					t.mailbox.close();
				}
				!quiet && !t.thread.is_finished()
			});
			for (from, message) in self.net.take_member_messages() {
				let task = task_of(&message);
				if let Some(t) = threads.get(&task) {
					*t.idle_since.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
					t.mailbox.push(from, message);
					continue;
				}
				let Message::Announce(a) = &message else {
					// A delivery for a round this holder is not in.
					continue;
				};
				if threads.len() >= MAX_MEMBER_TASKS {
					tracing::info!("declined task {task} round {}: {MAX_MEMBER_TASKS} tasks are running", a.round);
					let reason = format!("the holder is taking part in {MAX_MEMBER_TASKS} tasks already");
					let _ = self.net.send(from, Message::Decline { task, round: a.round, reason });
					continue;
				}
				match self.start_task(task) {
					Ok(t) => {
						t.mailbox.push(from, message);
						threads.insert(task, t);
					},
					Err(e) => tracing::error!("cannot start a thread for task {task}: {e}"),
				}
			}
			self.net.wake.wait(&mut seen, POLL);
		}
		for (_, t) in threads {
			t.mailbox.close();
			let _ = t.thread.join();
		}
	}

	fn start_task(&self, task: TaskId) -> std::io::Result<MemberThread> {
		let mailbox = Arc::new(Mailbox::default());
		let idle_since = Arc::new(Mutex::new(None));
		let log: crate::executor::LogSink = Arc::new(move |line| tracing::info!(target: "task", "task {task}: {line}"));
		let executor = SandboxedMember::new(
			Arc::clone(&self.pool),
			Arc::clone(&self.slots),
			Arc::clone(&self.consent),
			Arc::clone(&self.datasets),
			Arc::clone(&self.ledger),
			log,
		);
		// The task's code runs on a thread of its own while this one goes on
		// with the key exchange; its end wakes this thread.
		let nudged = Arc::clone(&mailbox);
		let mut driver = MemberDriver::new(
			Box::new(EngineLedger(Arc::clone(&self.ledger))),
			Box::new(MemberTaskEndpoint { net: Arc::clone(&self.net), mailbox: Arc::clone(&mailbox) }),
			Box::new(executor),
			Box::new(SharedDatasets(Arc::clone(&self.datasets))),
			Box::new(rand_core::OsRng),
		)
		.map_in_background(Arc::new(move || nudged.nudge()));
		let thread = {
			let mailbox = Arc::clone(&mailbox);
			let idle_since = Arc::clone(&idle_since);
			let stop = Arc::clone(&self.stop);
			let pool = Arc::clone(&self.pool);
			std::thread::Builder::new().name(format!("member-{task}")).spawn(move || {
				let mut reported = 0;
				while !stop.load(Ordering::SeqCst) {
					driver.step();
					for (task, round, reason) in &driver.failures[reported..] {
						tracing::info!("not taking part in task {task} round {round}: {reason}");
					}
					reported = driver.failures.len();
					let idle = driver.is_idle();
					{
						let mut since = idle_since.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
						match (idle, *since) {
							(true, None) => {
								// The round is over here: the runner it
								// took is replaced now, not during a round.
								pool.top_up();
								*since = Some(Instant::now());
							},
							(false, Some(_)) => *since = None,
							_ => {},
						}
					}
					if idle && mailbox.is_closed() {
						break;
					}
					mailbox.wait(POLL);
				}
			})?
		};
		Ok(MemberThread { mailbox, idle_since, thread })
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_saved_plan_gives_back_the_plan_a_resumed_task_runs() {
		let step = delta_engine::StepSpec {
			dataset: "patients".into(),
			body: b"round 3".to_vec(),
			outputs: vec![delta_engine::OutputSpec::floats("update/w", 4)],
			privacy: None,
		};
		let plan = TaskPlan {
			package: b"package".to_vec(),
			first: step.clone(),
			max_rounds: 8,
			kind: TaskKind::HorizontalLearning,
			min_members: 2,
			max_members: 3,
			threshold: 2,
			timeouts: PhaseTimeouts { open: 10, share_keys: 11, compute: 30, unmask: 12 },
			encoding: Encoding { ring: delta_engine::Ring::Bits32, fractional_bits: 12 },
			graph: GraphChoice::default(),
			invited: vec![AccountId([1; 32]), AccountId([2; 32]), AccountId([3; 32])],
		};
		let text = serde_json::to_string(&SavedPlan::of(&plan)).unwrap();
		let saved: SavedPlan = serde_json::from_str(&text).unwrap();
		let back = saved.plan(plan.package.clone(), step, TaskKind::HorizontalLearning).unwrap();
		assert_eq!(format!("{back:?}"), format!("{plan:?}"));
		let broken = text.replace(&AccountId([2; 32]).to_ss58(), "nobody");
		let saved: SavedPlan = serde_json::from_str(&broken).unwrap();
		let err = saved.plan(plan.package.clone(), plan.first.clone(), plan.kind).unwrap_err();
		assert!(err.contains("\"nobody\""), "{err}");
	}

	#[test]
	fn running_tasks_are_bounded_and_a_finished_one_frees_its_place() {
		let running = Arc::new(AtomicUsize::new(0));
		let mut held: Vec<RunningSlot> = (0..MAX_RUNNING_TASKS).map(|_| RunningSlot::take(&running).unwrap()).collect();
		assert!(RunningSlot::take(&running).is_none(), "one past the bound is refused");
		held.pop();
		assert!(RunningSlot::take(&running).is_some());
	}

	#[test]
	fn member_messages_are_routed_by_their_task() {
		use delta_engine::{Encoding, GraphChoice, Message, OutputSpec, StepSpec};
		let announce = Message::Announce(delta_engine::io::Announcement {
			task: 7,
			round: 0,
			step: StepSpec {
				dataset: "d".into(),
				body: Vec::new(),
				outputs: vec![OutputSpec::floats("x", 1)],
				privacy: None,
			},
			encoding: Encoding::default(),
			graph: GraphChoice::default(),
			package: Vec::new(),
		});
		assert_eq!(task_of(&announce), 7);
		assert_eq!(task_of(&Message::Decline { task: 9, round: 1, reason: String::new() }), 9);
	}
}
