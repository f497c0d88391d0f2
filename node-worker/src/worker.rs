//! The worker's engine loop and its requesters' tasks.
//!
//! One thread runs the engine: the member driver (this holder's part in
//! other requesters' rounds) and a requester driver per task submitted to
//! this worker's API. It wakes on every peer message and at least ten
//! times a second to follow the ledger. Each requester task's progress goes
//! to the state database as it happens, and its result the moment it
//! exists.

use std::{
	path::PathBuf,
	sync::{
		atomic::{AtomicBool, Ordering},
		mpsc, Arc,
	},
	time::Duration,
};

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use delta_coordinator::types::Call;
use delta_engine::{AccountId, Encoding, GraphChoice, MemberDriver, Outcome, RequesterDriver, TaskPlan};
use delta_primitives::{round::PhaseTimeouts, task::TaskKind};
use rand_core::{OsRng, RngCore};
use serde::Deserialize;

use crate::{
	datasets::{Datasets, SharedDatasets},
	executor::{MemberExecutor, Python, RequesterExecutor},
	ledger::{Backend, EngineLedger},
	state::State,
	transport::{MemberEndpoint, PeerNet, RequesterEndpoint},
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

struct NewTask {
	id: String,
	driver: RequesterDriver,
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
	python: Arc<Python>,
	net: Arc<PeerNet>,
	folder: PathBuf,
	tasks: mpsc::Sender<NewTask>,
	stop: Arc<AtomicBool>,
}

/// Phase timeouts used when a submission names none.
pub const DEFAULT_PHASE_TIMEOUT_S: u64 = 30;

/// Longest phase a submission may ask for: a day, so that a typo cannot
/// park members in a round for years.
pub const MAX_PHASE_TIMEOUT_S: u64 = 86_400;

impl Worker {
	/// Starts the engine thread; returns the worker and the thread.
	pub fn start(
		state: Arc<State>,
		ledger: Arc<dyn Backend>,
		net: Arc<PeerNet>,
		python: Arc<Python>,
		datasets: Arc<Datasets>,
		folder: PathBuf,
		name: String,
	) -> (Arc<Self>, std::thread::JoinHandle<()>) {
		let (tasks, rx) = mpsc::channel();
		let stop = Arc::new(AtomicBool::new(false));
		let member_log: Arc<dyn Fn(delta_engine::TaskId, &str) + Send + Sync> =
			Arc::new(|task, line| tracing::info!(target: "task", "task {task}: {line}"));
		let member = MemberDriver::new(
			Box::new(EngineLedger(Arc::clone(&ledger))),
			Box::new(MemberEndpoint(Arc::clone(&net))),
			Box::new(MemberExecutor::new(
				Arc::clone(&python),
				Arc::clone(&datasets),
				folder.join("member"),
				member_log,
			)),
			Box::new(SharedDatasets(Arc::clone(&datasets))),
		);
		let requests = folder.join("requests");
		let thread = {
			let state = Arc::clone(&state);
			let net = Arc::clone(&net);
			let stop = Arc::clone(&stop);
			std::thread::Builder::new()
				.name("engine".into())
				.spawn(move || engine_loop(member, rx, state, net, stop, requests))
				.unwrap_or_else(|e| panic!("cannot start the engine thread: {e}"))
		};
		(Arc::new(Self { state, ledger, datasets, name, python, net, folder, tasks, stop }), thread)
	}

	/// Asks the engine thread to stop.
	pub fn stop(&self) {
		self.stop.store(true, Ordering::SeqCst);
		self.net.wake.notify();
	}

	/// Fails submissions a previous run left running: their secure
	/// aggregation secrets and the requester's task state died with it, so
	/// the task is cancelled on the ledger and the failure recorded.
	pub fn fail_interrupted(&self) -> rusqlite::Result<usize> {
		let interrupted = self.state.interrupted()?;
		for s in &interrupted {
			if let Some(task) = s.ledger_task {
				if let Err(e) = self.ledger.submit(Call::CancelTask { task }) {
					tracing::info!("task {task} could not be cancelled (it may have ended): {e}");
				}
			}
			let reason = "the worker stopped while the task was running; the task was cancelled on the ledger";
			self.state.log(&s.id, &format!("failed: {reason}"))?;
			self.state.fail(&s.id, reason)?;
		}
		Ok(interrupted.len())
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
		let phase = self.ledger.timeout_units(phase_s);
		let compute = self.ledger.timeout_units(compute_s);

		let mut raw = [0u8; 8];
		OsRng.fill_bytes(&mut raw);
		let id = hex::encode(raw);
		let folder = self.folder.join("requests").join(&id);
		let state = Arc::clone(&self.state);
		let log_id = id.clone();
		let log = Arc::new(move |line: &str| {
			let _ = state.log(&log_id, &format!("task output: {line}"));
		});
		let (executor, info) = RequesterExecutor::start(&self.python, &folder, &package, log)
			.map_err(|e| SubmitError::Package(e.to_string()))?;
		let kind = TaskKind::from_name(&info.kind).ok_or_else(|| {
			let known: Vec<&str> = TaskKind::ALL.iter().map(|(_, n)| *n).collect();
			SubmitError::Package(format!("unknown task kind {:?}: one of {}", info.kind, known.join(", ")))
		})?;
		let plan = TaskPlan {
			package: package.clone(),
			first: info.first.clone(),
			max_rounds: info.max_rounds,
			kind,
			min_members,
			max_members: n,
			threshold,
			timeouts: PhaseTimeouts { open: phase, share_keys: phase, compute, unmask: phase },
			encoding: Encoding::default(),
			graph: GraphChoice::default(),
			invited,
		};
		let db = |e: rusqlite::Error| SubmitError::Unavailable(format!("state database: {e}"));
		self.state.insert(&id, info.max_rounds).map_err(db)?;
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
		self.tasks
			.send(NewTask { id: id.clone(), driver })
			.map_err(|_| SubmitError::Unavailable("the engine has stopped".into()))?;
		self.net.wake.notify();
		Ok(id)
	}
}

struct Active {
	id: String,
	driver: RequesterDriver,
	logged: usize,
	recorded: (Option<u64>, u32),
}

fn engine_loop(
	mut member: MemberDriver,
	tasks: mpsc::Receiver<NewTask>,
	state: Arc<State>,
	net: Arc<PeerNet>,
	stop: Arc<AtomicBool>,
	requests: PathBuf,
) {
	let mut active: Vec<Active> = Vec::new();
	let mut member_failures = 0;
	while !stop.load(Ordering::SeqCst) {
		while let Ok(t) = tasks.try_recv() {
			active.push(Active { id: t.id, driver: t.driver, logged: 0, recorded: (None, 0) });
		}
		member.step();
		for (task, round, reason) in &member.failures[member_failures..] {
			tracing::info!("not taking part in task {task} round {round}: {reason}");
		}
		member_failures = member.failures.len();
		for a in &mut active {
			a.driver.step();
			for line in &a.driver.progress[a.logged..] {
				if let Err(e) = state.log(&a.id, line) {
					tracing::error!("state database: {e}");
				}
			}
			a.logged = a.driver.progress.len();
			let now = (a.driver.task(), a.driver.round());
			if now != a.recorded {
				if let Err(e) = state.progress(&a.id, now.0, now.1) {
					tracing::error!("state database: {e}");
				}
				a.recorded = now;
			}
			let recorded = match a.driver.outcome() {
				Outcome::Running => continue,
				Outcome::Done(result) => state.finish(&a.id, result),
				Outcome::Failed(reason) => state.fail(&a.id, reason),
			};
			if let Err(e) = recorded {
				tracing::error!("state database: cannot record the outcome of {}: {e}", a.id);
			}
		}
		active.retain(|a| {
			let running = a.driver.outcome() == &Outcome::Running;
			if !running {
				// Its process and its message queue end with the driver; its
				// package and scratch go too.
				let _ = std::fs::remove_dir_all(requests.join(&a.id));
			}
			running
		});
		net.wake.wait(Duration::from_millis(100));
	}
}
