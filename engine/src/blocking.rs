//! The blocking host: drives a protocol core by answering each of its
//! requests at once through the traits of [`crate::io`].
//!
//! This is what the worker (one thread per task) and `delta-sim` (one loop
//! over every participant) use. A host that wants a ledger call, a map and
//! peer I/O in flight together drives the cores itself: nothing here is
//! needed for that.

use std::time::Instant;

use delta_ledger_api::TaskId;

use crate::{
	io::{Datasets, Ledger, MemberExecutor, Message, RequesterExecutor, Transport},
	member::{MemberCore, MemberWork},
	poll::Read,
	requester::{Outcome, RequesterCore, RequesterWork, TaskPlan},
	TaskEvent,
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

/// A member's blocking driver: call [`MemberDriver::step`] whenever the
/// ledger or the transport may have something new.
pub struct MemberDriver {
	ledger: Box<dyn Ledger>,
	transport: Box<dyn Transport>,
	executor: Box<dyn MemberExecutor>,
	datasets: Box<dyn Datasets>,
	core: MemberCore,
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
		Self { ledger, transport, executor, datasets, core, failures: Vec::new() }
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
				match work {
					MemberWork::Prepare { task, round, dataset, package } => {
						let result = self
							.datasets
							.admit(&task, &dataset)
							.and_then(|_rows| self.executor.prepare(&task, &package));
						self.core.handle_prepared(task.id, round, result);
					},
					MemberWork::Map { task, round, step } => {
						let values = self.executor.map(task, &step);
						self.core.handle_mapped(task, round, values);
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
