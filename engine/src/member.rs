//! The member side: a data holder's part in every round it is invited to.
//!
//! The member trusts the ledger, not the requester: it checks every
//! announcement against the task on the ledger, builds the roster from the
//! ledger's member list, and decides which share of each neighbour to
//! reveal from the ledger's statuses, so a requester cannot trick it into
//! revealing both shares of one peer.

use std::collections::BTreeMap;

use delta_ledger_api::{AccountId, Bytes, Call, RevealedShare, RoundInfo, TaskId, H256};
use delta_primitives::round::{MemberStatus, Phase, ShareKind};
use delta_secagg::{
	Config, GraphChoice, GraphGoals, Member, MemberId, Neighbourhood, Roster, RoundContext, ShareDelivery,
	UnmaskRequest,
};
use rand_core::CryptoRngCore;

use crate::{
	io::{commitment, package_commitment, Announcement, Datasets, Executor, Ledger, Message, Transport},
	roster, EngineError,
};

enum Stage {
	/// Joined; waiting for the member set to be fixed.
	Joined(Box<Member>),
	/// Shares sent and committed; waiting for the delivery.
	Shared(Box<Member>),
	/// Masked input sent and committed; waiting for Unmask.
	Masked(Box<Member>),
	/// Revealed, or out of the round.
	Over,
}

struct RoundWork {
	announcement: Announcement,
	owner: AccountId,
	stage: Stage,
	delivery: Option<ShareDelivery>,
	ids: BTreeMap<AccountId, MemberId>,
}

/// A member's driver: call [`MemberDriver::step`] whenever the ledger or
/// the transport may have something new.
pub struct MemberDriver {
	ledger: Box<dyn Ledger>,
	transport: Box<dyn Transport>,
	executor: Box<dyn Executor>,
	datasets: Box<dyn Datasets>,
	/// Where the member's secrets come from: the operating system's CSPRNG
	/// in production, a seeded generator in a reproducible simulation.
	rng: Box<dyn CryptoRngCore + Send>,
	rounds: BTreeMap<(TaskId, u32), RoundWork>,
	/// What went wrong in each round this member left early, for its logs.
	pub failures: Vec<(TaskId, u32, String)>,
}

impl MemberDriver {
	/// A member acting through these adapters, drawing its secrets from
	/// `rng` (the driver itself holds no source of randomness).
	pub fn new(
		ledger: Box<dyn Ledger>,
		transport: Box<dyn Transport>,
		executor: Box<dyn Executor>,
		datasets: Box<dyn Datasets>,
		rng: Box<dyn CryptoRngCore + Send>,
	) -> Self {
		Self { ledger, transport, executor, datasets, rng, rounds: BTreeMap::new(), failures: Vec::new() }
	}

	/// The member's account.
	pub fn account(&self) -> AccountId {
		self.ledger.account()
	}

	/// Whether every round this member joined is over (revealed, failed
	/// or left): a host may then let the driver go.
	pub fn is_idle(&self) -> bool {
		self.rounds.values().all(|w| matches!(w.stage, Stage::Over))
	}

	/// Handles new messages and ledger state. Problems with one round end
	/// this member's part in it (recorded in `failures`); they are never
	/// returned, since the requester and the other members go on.
	pub fn step(&mut self) {
		for (from, message) in self.transport.recv() {
			match message {
				Message::Announce(a) => {
					let key = (a.task, a.round);
					if self.rounds.contains_key(&key) {
						continue;
					}
					match self.accept(from, a) {
						Ok(()) => {},
						Err(Declined { reason, tell_sender }) => {
							tracing::info!("declined round {key:?}: {reason}");
							if tell_sender {
								// Best effort: the requester learns why, or sees a non-joiner.
								let _ = self.transport.send(
									from,
									Message::Decline { task: key.0, round: key.1, reason: reason.public() },
								);
							}
							self.failures.push((key.0, key.1, reason.to_string()));
						},
					}
				},
				Message::Delivery { task, round, body } => {
					if let Some(work) = self.rounds.get_mut(&(task, round)) {
						if work.owner == from && work.delivery.is_none() {
							work.delivery = Some(body);
						}
					}
				},
				// Only requesters receive these; a member ignores them.
				Message::ShareKeys { .. }
				| Message::Masked { .. }
				| Message::Unmask { .. }
				| Message::Decline { .. } => {},
			}
		}
		let keys: Vec<_> = self.rounds.keys().copied().collect();
		for key in keys {
			if let Err(e) = self.advance(key) {
				tracing::info!("left round {key:?}: {e}");
				self.failures.push((key.0, key.1, e.to_string()));
				if let Some(work) = self.rounds.get_mut(&key) {
					work.stage = Stage::Over;
					if !matches!(e, EngineError::RoundFailed { .. }) {
						// Best effort: the requester learns why this member left.
						let _ = self
							.transport
							.send(work.owner, Message::Decline { task: key.0, round: key.1, reason: e.public() });
					}
				}
			}
		}
	}

	/// Checks an announcement against the ledger, the package commitment
	/// and the holder's policy, then joins.
	fn accept(&mut self, from: AccountId, a: Announcement) -> Result<(), Declined> {
		let task = self
			.ledger
			.task(a.task)
			.map_err(Declined::silent)?
			.ok_or_else(|| Declined::silent(ledger_refusal("announcement", "no such task")))?;
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
		if !task.datasets.iter().any(|d| *d == a.step.dataset) {
			return Err(Declined::tell(ledger_refusal(
				"announcement",
				"the step reads a dataset the task did not declare",
			)));
		}
		if let GraphChoice::Sparse(goals) = a.graph {
			// A requester may ask for a stronger graph, never a weaker one:
			// a sparse graph sized for little collusion would let a few
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
		self.datasets.admit(&task, &a.step.dataset).map_err(Declined::tell)?;
		let round = self
			.ledger
			.round(a.task, a.round)
			.map_err(Declined::tell)?
			.ok_or_else(|| Declined::tell(ledger_refusal("announcement", "no such round")))?;
		if round.state.phase != Phase::Open {
			return Err(Declined::tell(ledger_refusal("announcement", "the round is not open")));
		}
		self.executor.prepare(&task, &a.package).map_err(Declined::tell)?;
		let config = secagg_config(&a, &round, [0; 32]);
		let (member, advert) = Member::new(config, 0, &mut self.rng);
		self.ledger
			.submit(Call::Join {
				task: a.task,
				round: a.round,
				channel_key: H256(advert.channel_key),
				masking_key: H256(advert.masking_key),
			})
			.map_err(Declined::tell)?;
		self.rounds.insert(
			(a.task, a.round),
			RoundWork {
				announcement: a,
				owner: from,
				stage: Stage::Joined(Box::new(member)),
				delivery: None,
				ids: BTreeMap::new(),
			},
		);
		Ok(())
	}

	fn advance(&mut self, key: (TaskId, u32)) -> Result<(), EngineError> {
		let Some(work) = self.rounds.get_mut(&key) else { return Ok(()) };
		if matches!(work.stage, Stage::Over) {
			return Ok(());
		}
		let me = self.ledger.account();
		let round = self.ledger.round(key.0, key.1)?.ok_or_else(|| ledger_refusal("round", "the round is gone"))?;
		if let Phase::Failed(reason) = round.state.phase {
			work.stage = Stage::Over;
			return Err(EngineError::RoundFailed { round: key.1, reason });
		}
		let my_status = round.members.iter().find(|m| m.account == me).map(|m| m.status);
		let stage = std::mem::replace(&mut work.stage, Stage::Over);
		work.stage = match stage {
			Stage::Joined(mut member) if round.state.phase >= Phase::ShareKeys => {
				if round.state.phase != Phase::ShareKeys {
					return Err(ledger_refusal("share keys", "the share phase ended before this member acted"));
				}
				let (ids, roster) = roster(&round);
				let id = *ids.get(&me).ok_or_else(|| ledger_refusal("share keys", "not in the member set"))?;
				let seed = round.seed.ok_or_else(|| ledger_refusal("share keys", "no graph seed"))?;
				member.bind(id, seed.0)?;
				member.set_neighbourhood(neighbourhood(&work.announcement, &round))?;
				let shares = member.share_keys(&Roster { members: roster }, &mut self.rng)?;
				let hash = commitment(&shares)?;
				self.transport.send(work.owner, Message::ShareKeys { task: key.0, round: key.1, body: shares })?;
				self.ledger.submit(Call::CommitShares { task: key.0, round: key.1, commitment: H256(hash) })?;
				work.ids = ids;
				Stage::Shared(member)
			},
			Stage::Shared(mut member) if round.state.phase >= Phase::Compute => {
				if round.state.phase != Phase::Compute || my_status != Some(MemberStatus::Shared) {
					return Err(ledger_refusal("compute", "the compute phase ended before this member acted"));
				}
				let Some(delivery) = work.delivery.take() else {
					work.stage = Stage::Shared(member);
					return Ok(());
				};
				let step = &work.announcement.step;
				crate::tensor::check_outputs(&step.outputs)?;
				let values = self.executor.map(key.0, step)?;
				// The map may outlast the phase; say so rather than have the
				// commitment refused with a bare `WrongPhase`.
				let after = self.ledger.round(key.0, key.1)?;
				if after.as_ref().is_none_or(|r| r.state.phase != Phase::Compute) {
					return Err(EngineError::MapPastDeadline { round: key.1 });
				}
				// Typed and sized as declared, or refused: a member never
				// sends more than the step announced.
				let input = crate::tensor::encode(
					&step.outputs,
					&values,
					&work.announcement.encoding,
					round.state.params.max_members,
				)?;
				let masked = member.masked_input(&delivery, &input)?;
				let hash = commitment(&masked)?;
				self.transport.send(work.owner, Message::Masked { task: key.0, round: key.1, body: masked })?;
				self.ledger.submit(Call::CommitMasked { task: key.0, round: key.1, commitment: H256(hash) })?;
				Stage::Masked(member)
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
				self.transport.send(work.owner, Message::Unmask { task: key.0, round: key.1, body: response })?;
				self.ledger.submit(Call::Reveal { task: key.0, round: key.1, shares })?;
				Stage::Over
			},
			other => other,
		};
		Ok(())
	}
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
