//! The blocking host: drives a protocol core by answering each of its
//! requests at once through the traits of [`crate::io`].
//!
//! This is what the worker (one thread per task) and `delta-sim` (one loop
//! over every participant) use. A member's maps may run on threads of
//! their own ([`MemberDriver::map_in_background`], as the worker does), so
//! that the task's code runs while the driver goes on with the key
//! exchange; everything else is answered at once, in order.

use std::{
	collections::VecDeque,
	sync::{mpsc, Arc},
	time::Instant,
};

use delta_ledger_api::TaskId;

use crate::{
	io::{Datasets, Ledger, MemberExecutor, Message, RequesterExecutor, Transport},
	member::{MemberCore, MemberWork},
	poll::Read,
	requester::{Outcome, RequesterCore, RequesterWork, TaskPlan},
	tensor::Values,
	EngineError, TaskEvent,
};

/// A requester's blocking driver for one task: call
/// [`RequesterDriver::step`] until [`RequesterDriver::outcome`] is no
/// longer running.
pub struct RequesterDriver {
	ledger: Box<dyn Ledger>,
	transport: Box<dyn Transport>,
	executor: Box<dyn RequesterExecutor>,
	core: RequesterCore,
	/// What happened, in order: for progress displays, logs and the
	/// worker's `delta_events`. A host reads from where it last stopped.
	pub events: Vec<TaskEvent>,
}

impl RequesterDriver {
	/// A requester that will run `plan` through these adapters.
	pub fn new(
		ledger: Box<dyn Ledger>,
		transport: Box<dyn Transport>,
		executor: Box<dyn RequesterExecutor>,
		plan: TaskPlan,
	) -> Self {
		Self { ledger, transport, executor, core: RequesterCore::new(plan), events: Vec::new() }
	}

	/// A requester that takes over `task`, already on the ledger, at
	/// ledger round `round` with `step` (see [`RequesterCore::resume`]).
	pub fn resume(
		ledger: Box<dyn Ledger>,
		transport: Box<dyn Transport>,
		executor: Box<dyn RequesterExecutor>,
		plan: TaskPlan,
		task: TaskId,
		round: u32,
		step: crate::io::StepSpec,
	) -> Self {
		let core = RequesterCore::resume(plan, task, round, step);
		Self { ledger, transport, executor, core, events: Vec::new() }
	}

	/// The task's id on the ledger, once created.
	pub fn task(&self) -> Option<TaskId> {
		self.core.task()
	}

	/// The round in progress (or the last one).
	pub fn round(&self) -> u32 {
		self.core.round()
	}

	/// Where the task stands.
	pub fn outcome(&self) -> &Outcome {
		self.core.outcome()
	}

	/// When the driver wants a step even if nothing arrives.
	pub fn next_timeout(&self) -> Option<Instant> {
		self.core.poll_timeout()
	}

	/// Makes whatever progress the ledger and the inbox allow, at the
	/// host's time `now`. A failure ends the task and the outcome says
	/// why; [`RequesterDriver::close`] then cancels it on the ledger.
	pub fn step(&mut self, now: Instant) {
		for (from, message) in self.transport.recv() {
			self.core.handle_message(from, message);
		}
		self.core.handle_wake();
		loop {
			let mut busy = false;
			while let Some((to, message)) = self.core.poll_transmit() {
				busy = true;
				if let Err(e) = self.transport.send(to, message) {
					// The member will not take part; the round goes on without it.
					tracing::info!("could not reach {to}: {e}");
				}
			}
			// Once the outcome is known, the calls that close the task wait
			// for `close`, so that the host can hand the outcome on first.
			while self.core.outcome() == &Outcome::Running {
				let Some(request) = self.core.poll_call() else { break };
				busy = true;
				let result = self.ledger.submit(request.call);
				self.core.handle_call(request.id, result);
			}
			while let Some((task, round)) = self.core.poll_read() {
				busy = true;
				let record = self.ledger.round(task, round);
				self.core.handle_round(now, task, round, record);
			}
			while let Some(work) = self.core.poll_work() {
				busy = true;
				match work {
					RequesterWork::Reduce { step, sums, members } => {
						let next = self.executor.reduce(&step, &sums, members);
						self.core.handle_reduced(next);
					},
				}
			}
			if !busy {
				break;
			}
		}
		while let Some(event) = self.core.poll_event() {
			self.events.push(event);
		}
	}

	/// Once the outcome is no longer running: makes the ledger calls that
	/// close the task (`FinishTask` after a result, `CancelTask` after a
	/// failure). They are best effort: the outcome stands whatever the
	/// ledger says, and a failure is logged.
	pub fn close(&mut self) {
		while let Some(request) = self.core.poll_call() {
			let result = self.ledger.submit(request.call);
			self.core.handle_call(request.id, result);
		}
		while let Some(event) = self.core.poll_event() {
			self.events.push(event);
		}
	}
}

/// A map that ended on its own thread.
struct Mapped {
	executor: Box<dyn MemberExecutor>,
	task: TaskId,
	round: u32,
	values: Result<Vec<Values>, EngineError>,
}

/// Maps on threads of their own: where they report, and whom to wake.
struct Background {
	wake: Arc<dyn Fn() + Send + Sync>,
	done: mpsc::Sender<Mapped>,
	finished: mpsc::Receiver<Mapped>,
}

/// A member's blocking driver: call [`MemberDriver::step`] whenever the
/// ledger or the transport may have something new.
pub struct MemberDriver {
	ledger: Box<dyn Ledger>,
	transport: Box<dyn Transport>,
	/// None while a map has it on its own thread.
	executor: Option<Box<dyn MemberExecutor>>,
	datasets: Box<dyn Datasets>,
	core: MemberCore,
	/// Work waiting for the executor to come back from a map.
	waiting: VecDeque<MemberWork>,
	background: Option<Background>,
	/// What went wrong in each round this member left early, for its logs.
	pub failures: Vec<(TaskId, u32, String)>,
}

impl MemberDriver {
	/// A member acting through these adapters, drawing its secrets from
	/// `rng` (the driver itself holds no source of randomness).
	pub fn new(
		ledger: Box<dyn Ledger>,
		transport: Box<dyn Transport>,
		executor: Box<dyn MemberExecutor>,
		datasets: Box<dyn Datasets>,
		rng: Box<dyn rand_core::CryptoRngCore + Send>,
	) -> Self {
		let core = MemberCore::new(ledger.account(), rng);
		Self {
			ledger,
			transport,
			executor: Some(executor),
			datasets,
			core,
			waiting: VecDeque::new(),
			background: None,
			failures: Vec::new(),
		}
	}

	/// Runs each map on a thread of its own, started as soon as the member
	/// joins a round ([`MemberCore::map_early`]), and calls `wake` when one
	/// ends so that the host steps the driver again. The key exchange then
	/// goes on while the task's code runs, instead of waiting for it.
	pub fn map_in_background(mut self, wake: Arc<dyn Fn() + Send + Sync>) -> Self {
		let (done, finished) = mpsc::channel();
		self.core.map_early(true);
		self.background = Some(Background { wake, done, finished });
		self
	}

	/// The member's account.
	pub fn account(&self) -> delta_ledger_api::AccountId {
		self.core.account()
	}

	/// Whether every round this member joined is over (revealed, failed
	/// or left): a host may then let the driver go.
	pub fn is_idle(&self) -> bool {
		self.core.is_idle()
	}

	/// Handles new messages and ledger state. Problems with one round end
	/// this member's part in it (recorded in `failures`); they are never
	/// returned, since the requester and the other members go on.
	pub fn step(&mut self) {
		for (from, message) in self.transport.recv() {
			self.core.handle_message(from, message);
		}
		self.core.handle_wake();
		loop {
			let mut busy = false;
			if let Some(background) = &self.background {
				while let Ok(ended) = background.finished.try_recv() {
					busy = true;
					self.executor = Some(ended.executor);
					self.core.handle_mapped(ended.task, ended.round, ended.values);
				}
			}
			while let Some((to, message)) = self.core.poll_transmit() {
				busy = true;
				let (task, round) = message.round_key();
				let decline = matches!(message, Message::Decline { .. });
				if let Err(e) = self.transport.send(to, message) {
					if !decline {
						self.core.handle_unsent(task, round, e);
					}
				}
			}
			while let Some(request) = self.core.poll_call() {
				busy = true;
				let result = self.ledger.submit(request.call);
				self.core.handle_call(request.id, result);
			}
			while let Some(read) = self.core.poll_read() {
				busy = true;
				match read {
					Read::Task(task) => {
						let record = self.ledger.task(task);
						self.core.handle_task(task, record);
					},
					Read::Round { task, round } => {
						let record = self.ledger.round(task, round);
						self.core.handle_round(task, round, record);
					},
				}
			}
			while let Some(work) = self.core.poll_work() {
				busy = true;
				self.waiting.push_back(work);
			}
			while let Some(mut executor) = self.executor.take() {
				let Some(work) = self.waiting.pop_front() else {
					self.executor = Some(executor);
					break;
				};
				match work {
					MemberWork::Prepare { task, round, dataset, package } => {
						let result =
							self.datasets.admit(&task, &dataset).and_then(|_rows| executor.prepare(&task, &package));
						self.executor = Some(executor);
						self.core.handle_prepared(task.id, round, result);
					},
					MemberWork::Map { task, round, step } => match &self.background {
						Some(background) => {
							let (done, wake) = (background.done.clone(), Arc::clone(&background.wake));
							// The executor travels with the map and comes back
							// with its outputs; work that needs it waits. It is
							// handed over once the thread exists, so a thread
							// that cannot start does not take it along.
							let (hand_over, take) = mpsc::channel::<Box<dyn MemberExecutor>>();
							let spawned = std::thread::Builder::new().name(format!("map-{task}")).spawn(move || {
								let Ok(mut executor) = take.recv() else { return };
								// A map that panics fails its round, not every later
								// one: the executor still comes back.
								let values = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
									executor.map(task, &step)
								}))
								.unwrap_or_else(|_| Err(EngineError::Executor("the map panicked".into())));
								// A driver that is gone no longer wants them.
								let _ = done.send(Mapped { executor, task, round, values });
								wake();
							});
							match spawned {
								Ok(_) => {
									if let Err(mpsc::SendError(executor)) = hand_over.send(executor) {
										self.executor = Some(executor);
										let e = EngineError::Executor("the map's thread ended before the map".into());
										self.core.handle_mapped(task, round, Err(e));
									}
								},
								Err(e) => {
									self.executor = Some(executor);
									let e = EngineError::Executor(format!("cannot start a thread for the map: {e}"));
									self.core.handle_mapped(task, round, Err(e));
								},
							}
						},
						None => {
							let values = executor.map(task, &step);
							self.executor = Some(executor);
							self.core.handle_mapped(task, round, values);
						},
					},
				}
			}
			if !busy {
				break;
			}
		}
		while let Some(left) = self.core.poll_event() {
			self.failures.push((left.task, left.round, left.reason));
		}
	}
}
