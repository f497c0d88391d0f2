//! [`TaskLedger`] over the coordinator's [`Ledger`], with time counted in the
//! units the suite passes (one unit = one millisecond).

use crate::{Limits, Outcome, RoundView, TaskLedger, Who};
use delta_coordinator::{
	types::{AccountId, Bytes, Call, RevealedShare, H256},
	CallError, Ledger,
};
use delta_primitives::{
	round::{MemberStatus, RoundParams, ShareKind},
	task::{TaskKind, TaskStatus},
};

/// The coordinator's ledger in memory, at a clock the suite moves.
pub struct CoordinatorLedger {
	ledger: Ledger,
	now: u64,
}

impl CoordinatorLedger {
	/// A fresh in-memory ledger with the given limits, at time 1.
	pub fn new(limits: Limits) -> Self {
		let limits = delta_coordinator::Limits {
			max_datasets: limits.max_datasets,
			max_dataset_name_len: limits.max_dataset_name_len,
			max_rounds: limits.max_rounds,
			max_reveals_per_call: limits.max_reveals_per_call,
			max_share_len: limits.max_share_len,
			max_members: 1_024,
			retention_ms: limits.retention,
		};
		let ledger = Ledger::in_memory(limits).expect("an in-memory database opens");
		Self { ledger, now: 1 }
	}

	/// The coordinator account of participant `who`.
	pub fn account(who: Who) -> AccountId {
		let mut raw = [0xd7; 32];
		raw[0] = who;
		AccountId(raw)
	}

	fn call(&mut self, who: Who, call: Call) -> Outcome {
		self.ledger.apply(&Self::account(who), None, &call, self.now).map(|_| ()).map_err(|e| match e {
			CallError::Storage(e) => panic!("storage failure: {e}"),
			other => other.name(),
		})
	}
}

impl TaskLedger for CoordinatorLedger {
	fn limits(&mut self) -> Limits {
		let l = self.ledger.limits();
		Limits {
			max_datasets: l.max_datasets,
			max_dataset_name_len: l.max_dataset_name_len,
			max_rounds: l.max_rounds,
			max_reveals_per_call: l.max_reveals_per_call,
			max_share_len: l.max_share_len,
			retention: l.retention_ms,
		}
	}

	fn register(&mut self, who: Who) {
		let mut peer_id = vec![0x12, 0x20];
		peer_id.extend_from_slice(&[who; 32]);
		let call = Call::Register {
			display_name: format!("member {who}"),
			endpoint: format!("/ip4/127.0.0.1/tcp/{}", 4000 + u16::from(who)),
			peer_id: Bytes(peer_id),
		};
		match self.call(who, call) {
			Ok(()) | Err("AlreadyRegistered") => {},
			Err(e) => panic!("registering {who}: {e}"),
		}
	}

	fn create_task(
		&mut self,
		owner: Who,
		datasets: Vec<Vec<u8>>,
		rounds: u32,
		params: RoundParams,
	) -> Result<u64, &'static str> {
		let next = (0..).find(|id| matches!(self.ledger.task(*id), Ok(None))).unwrap_or(0);
		let datasets = datasets.into_iter().map(|d| String::from_utf8_lossy(&d).into_owned()).collect();
		let call = Call::CreateTask { package: H256([7; 32]), kind: TaskKind::Statistics, datasets, rounds, params };
		self.call(owner, call).map(|()| next)
	}

	fn start_round(&mut self, who: Who, task: u64) -> Outcome {
		self.call(who, Call::StartRound { task })
	}

	fn join(&mut self, who: Who, task: u64, round: u32, channel: [u8; 32], masking: [u8; 32]) -> Outcome {
		self.call(who, Call::Join { task, round, channel_key: H256(channel), masking_key: H256(masking) })
	}

	fn commit_shares(&mut self, who: Who, task: u64, round: u32, commitment: [u8; 32]) -> Outcome {
		self.call(who, Call::CommitShares { task, round, commitment: H256(commitment) })
	}

	fn commit_masked(&mut self, who: Who, task: u64, round: u32, commitment: [u8; 32]) -> Outcome {
		self.call(who, Call::CommitMasked { task, round, commitment: H256(commitment) })
	}

	fn reveal(&mut self, who: Who, task: u64, round: u32, shares: Vec<(Who, ShareKind, Vec<u8>)>) -> Outcome {
		let shares = shares
			.into_iter()
			.map(|(owner, kind, share)| RevealedShare { owner: Self::account(owner), kind, share: Bytes(share) })
			.collect();
		self.call(who, Call::Reveal { task, round, shares })
	}

	fn finish_round(&mut self, who: Who, task: u64, round: u32, result: [u8; 32]) -> Outcome {
		self.call(who, Call::FinishRound { task, round, result: H256(result) })
	}

	fn finish_task(&mut self, who: Who, task: u64) -> Outcome {
		self.call(who, Call::FinishTask { task })
	}

	fn cancel_task(&mut self, who: Who, task: u64) -> Outcome {
		self.call(who, Call::CancelTask { task })
	}

	fn advance(&mut self, units: u64) {
		self.now += units;
		self.ledger.tick(self.now).expect("tick");
	}

	fn round(&mut self, task: u64, round: u32) -> Option<RoundView> {
		self.ledger.round(task, round).expect("read").map(|r| RoundView {
			state: r.state,
			seed_fixed: r.seed.is_some(),
			result: r.result.map(|h| h.0),
		})
	}

	fn member_status(&mut self, task: u64, round: u32, who: Who) -> Option<MemberStatus> {
		self.ledger.member_status(task, round, &Self::account(who)).expect("read")
	}

	fn revealed(&mut self, task: u64, round: u32, revealer: Who, owner: Who) -> Option<(ShareKind, Vec<u8>)> {
		self.ledger.revealed(task, round, &Self::account(revealer), &Self::account(owner)).expect("read")
	}

	fn task_status(&mut self, task: u64) -> Option<TaskStatus> {
		self.ledger.task(task).expect("read").map(|t| t.status)
	}

	fn charge_privacy(&mut self, holder: Who, task: u64, dataset: &str, epsilon: u64) -> Outcome {
		self.call(holder, Call::ChargePrivacy { task, dataset: dataset.to_string(), epsilon })
	}

	fn privacy_spent(&mut self, holder: Who, dataset: &str, requester: Who) -> u64 {
		self.ledger.privacy_spent(&Self::account(holder), dataset, &Self::account(requester)).expect("read")
	}
}

impl crate::identity::IdentityLedger for CoordinatorLedger {
	fn register(&mut self, who: Who, name: &str, endpoint: &str, peer_id: &[u8]) -> Outcome {
		let call = Call::Register {
			display_name: name.to_string(),
			endpoint: endpoint.to_string(),
			peer_id: Bytes(peer_id.to_vec()),
		};
		self.call(who, call)
	}

	fn update(&mut self, who: Who, name: Option<&str>, endpoint: Option<&str>, peer_id: Option<&[u8]>) -> Outcome {
		let call = Call::UpdateMember {
			display_name: name.map(str::to_string),
			endpoint: endpoint.map(str::to_string),
			peer_id: peer_id.map(|p| Bytes(p.to_vec())),
		};
		self.call(who, call)
	}

	fn leave(&mut self, who: Who) -> Outcome {
		self.call(who, Call::Leave)
	}

	fn member(&mut self, who: Who) -> Option<crate::identity::Record> {
		let m = self.ledger.member(&Self::account(who)).expect("the database reads")?;
		Some((m.display_name.into_bytes(), m.endpoint.into_bytes(), m.peer_id.0))
	}

	fn by_peer_id(&mut self, peer_id: &[u8]) -> Option<Who> {
		self.ledger.account_by_peer_id(peer_id).expect("the database reads").map(|a| a.0[0])
	}
}
