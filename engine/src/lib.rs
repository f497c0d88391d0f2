//! # delta-engine: Delta's task protocol, host-independent
//!
//! A task runs as rounds; in each round the requester announces a step,
//! invited members join on the ledger, secure-aggregate their `map`
//! outputs with SecAgg+ (`delta-secagg`), and the requester unmasks the
//! sum and runs `reduce`, which yields the result or the next step.
//!
//! The protocol itself is two state machines that never block, in the
//! shape of quinn-proto's connection ([`poll`]): [`RequesterCore`] and
//! [`MemberCore`] take inputs (`handle_*`: ledger records and call
//! results, peer messages, what the task's code returned, the time) and
//! give outputs (`poll_*`: reads and calls for the ledger, messages,
//! work for the task's code, typed events, the next timeout). They read no
//! clock and draw no randomness of their own. [`RequesterDriver`] and
//! [`MemberDriver`] drive them through narrow traits ([`io`]):
//! [`Ledger`], [`Transport`], [`MemberExecutor`] or [`RequesterExecutor`],
//! [`Datasets`]. The worker, the
//! coordinator mode and the SDK's local debug mode are this same code with
//! different adapters, so a protocol bug is fixed once. The engine speaks the
//! ledger's vocabulary (`delta-ledger-api`) and depends on no ledger;
//! `delta-sim` holds the in-process adapters (the coordinator's rules in
//! memory, an in-memory network that still serialises every message) and
//! runs whole tasks with simulated members and dropouts.
//!
//! Who trusts what: members trust the ledger (task ownership, the member
//! set, the graph seed, who survived), never the requester's word; the
//! requester aggregates only messages whose commitments the ledger holds.

mod blocking;
#[cfg(test)]
mod core_tests;
pub mod error;
pub mod event;
pub mod io;
mod member;
pub mod poll;
mod requester;
pub mod tensor;

use std::collections::BTreeMap;

use delta_ledger_api::RoundInfo;
use delta_secagg::{AdvertiseKeys, MemberId};

pub use blocking::{MemberDriver, RequesterDriver};
pub use delta_dp::Privacy;
pub use delta_ledger_api::{AccountId, TaskId, TaskInfo};
pub use delta_secagg::{GraphChoice, GraphGoals, Ring};
pub use error::EngineError;
pub use event::{FailureKind, Refused, TaskEvent};
pub use io::{Datasets, Encoding, Ledger, MemberExecutor, Message, Next, RequesterExecutor, StepSpec, Transport};
pub use member::{LeftRound, MemberCore, MemberWork};
pub use poll::{CallId, CallRequest, Read};
pub use requester::{Outcome, RequesterCore, RequesterWork, TaskPlan};
pub use tensor::{DType, OutputSpec, Values};

/// The round's member set as both sides number it: sorted by account, ids
/// from 0, with the keys each member joined with.
pub(crate) fn roster(round: &RoundInfo) -> (BTreeMap<AccountId, MemberId>, Vec<AdvertiseKeys>) {
	let mut members: Vec<_> = round.members.iter().collect();
	members.sort_by_key(|m| m.account);
	let mut ids = BTreeMap::new();
	let mut adverts = Vec::with_capacity(members.len());
	for (i, m) in members.into_iter().enumerate() {
		let id = i as MemberId;
		ids.insert(m.account, id);
		adverts.push(AdvertiseKeys { member: id, channel_key: m.channel_key.0, masking_key: m.masking_key.0 });
	}
	(ids, adverts)
}
