//! Whose code this holder runs on its data.
//!
//! A package's manifest says what members run (`members_run`): `"plan"`
//! for a `delta.Analytics` task, whose steps the member's own SDK
//! evaluates without importing a line of the package; `"code"` (also when
//! absent) for anything else, whose `map` is the requester's Python. Code
//! is what could compute something other than it claims (contribute zeros
//! everywhere but at one member, return a member's rows), so a member runs
//! it only with the holder's consent: the requester is on the policy's
//! `code_requesters`, or the holder approved this very package
//! (`delta-worker approve <hash>`, kept in the state database). The check
//! runs before a runner is given the package, so unapproved code is never
//! even imported.

use std::sync::Arc;

use delta_engine::{AccountId, EngineError, TaskInfo};
use serde::Deserialize;

use crate::{datasets::Requesters, state::State};

/// What members run for a package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembersRun {
	/// An analytics plan, evaluated by the holder's SDK.
	Plan,
	/// The requester's code.
	Code,
}

/// Reads `members_run` from a package's manifest; anything but `"plan"`
/// is code. Bytes that are not a package are refused here too (the runner
/// would refuse them anyway), with the reason.
pub fn members_run(package: &[u8]) -> Result<MembersRun, String> {
	#[derive(Deserialize)]
	struct Package {
		manifest: Manifest,
	}
	#[derive(Deserialize)]
	struct Manifest {
		#[serde(default)]
		members_run: Option<String>,
	}
	let parsed: Package =
		serde_json::from_slice(package).map_err(|e| format!("the package is not a task package: {e}"))?;
	Ok(match parsed.manifest.members_run.as_deref() {
		Some("plan") => MembersRun::Plan,
		_ => MembersRun::Code,
	})
}

/// The holder's consent to requester code.
pub struct Consent {
	code_requesters: Requesters,
	state: Arc<State>,
}

impl Consent {
	/// Consent from the policy's `code_requesters` and the approvals in
	/// `state`.
	pub fn new(code_requesters: Requesters, state: Arc<State>) -> Self {
		Self { code_requesters, state }
	}

	/// Whether this member may run `package` for `task`; the refusal says
	/// why and what the holder would do to allow it.
	pub fn admit(&self, task: &TaskInfo, package: &[u8]) -> Result<MembersRun, EngineError> {
		let dataset = task.datasets.first().cloned().unwrap_or_default();
		let refuse = |reason: String| EngineError::Dataset { name: dataset.clone(), reason };
		let run = members_run(package).map_err(refuse)?;
		if run == MembersRun::Plan || self.admits_requester(&task.owner) {
			return Ok(run);
		}
		let hash = hex::encode(task.package.0);
		match self.state.approved(&hash) {
			Ok(true) => Ok(run),
			Ok(false) => Err(refuse(format!(
				"this holder runs a requester's code only with its consent: package {hash} is not approved here \
				 and requester {} is not among its code_requesters (a delta.Analytics task needs no consent)",
				task.owner
			))),
			Err(e) => {
				tracing::error!("cannot read the approvals: {e}");
				Err(refuse("this holder cannot read its approvals now".into()))
			},
		}
	}

	fn admits_requester(&self, owner: &AccountId) -> bool {
		match &self.code_requesters {
			Requesters::Open => true,
			Requesters::Only(allowed) => allowed.contains(owner),
		}
	}
}

/// A package commitment as the holder types it: 64 hex digits, with or
/// without `0x`, any case; returned in lower case.
pub fn parse_package_hash(text: &str) -> Result<String, String> {
	let digits = text.trim().trim_start_matches("0x").to_ascii_lowercase();
	if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
		return Err(format!(
			"{text:?} is not a package hash (64 hex digits, as the task's log and the ledger show it)"
		));
	}
	Ok(digits)
}

#[cfg(test)]
mod tests {
	use delta_coordinator::types::H256;
	use delta_primitives::{
		round::{PhaseTimeouts, RoundParams},
		task::{TaskKind, TaskStatus},
	};

	use super::*;

	const OWNER: AccountId = AccountId([7; 32]);

	fn task(package: [u8; 32]) -> TaskInfo {
		TaskInfo {
			id: 1,
			owner: OWNER,
			package: H256(package),
			kind: TaskKind::Statistics,
			datasets: vec!["patients".into()],
			rounds: 1,
			params: RoundParams {
				min_members: 2,
				max_members: 3,
				threshold: 2,
				timeouts: PhaseTimeouts { open: 1, share_keys: 1, compute: 1, unmask: 1 },
			},
			status: TaskStatus::Active,
			rounds_started: 0,
			created_at: 0,
		}
	}

	fn package(members_run: Option<&str>) -> Vec<u8> {
		let manifest = match members_run {
			Some(r) => serde_json::json!({"format": "delta-task/1", "members_run": r}),
			None => serde_json::json!({"format": "delta-task/1"}),
		};
		serde_json::to_vec(&serde_json::json!({"files": {}, "manifest": manifest})).unwrap()
	}

	fn consent(code: Requesters) -> (Consent, Arc<State>, tempfile::TempDir) {
		let dir = tempfile::tempdir().unwrap();
		let state = Arc::new(State::open(&dir.path().join("state.sqlite")).unwrap());
		(Consent::new(code, Arc::clone(&state)), state, dir)
	}

	#[test]
	fn code_without_consent_is_refused_naming_the_package_and_the_remedy() {
		let (c, _, _dir) = consent(Requesters::Only(Vec::new()));
		let e = c.admit(&task([0xab; 32]), &package(Some("code"))).unwrap_err();
		let text = e.public();
		assert!(text.contains(&"ab".repeat(32)) && text.contains("consent"), "{text}");
		// A package that says nothing is code too.
		assert!(c.admit(&task([0xab; 32]), &package(None)).is_err());
	}

	#[test]
	fn plans_need_no_consent() {
		let (c, _, _dir) = consent(Requesters::Only(Vec::new()));
		assert_eq!(c.admit(&task([1; 32]), &package(Some("plan"))).unwrap(), MembersRun::Plan);
	}

	#[test]
	fn an_approved_package_or_an_admitted_requester_runs_and_a_revoked_one_no_longer_does() {
		let (c, state, _dir) = consent(Requesters::Only(Vec::new()));
		let hash = "ab".repeat(32);
		state.approve(&hash, "").unwrap();
		assert_eq!(c.admit(&task([0xab; 32]), &package(Some("code"))).unwrap(), MembersRun::Code);
		assert!(c.admit(&task([0xcd; 32]), &package(Some("code"))).is_err(), "approval is per package");
		state.revoke(&hash).unwrap();
		assert!(c.admit(&task([0xab; 32]), &package(Some("code"))).is_err());

		let (open, _, _d2) = consent(Requesters::Only(vec![OWNER]));
		assert!(open.admit(&task([0xcd; 32]), &package(Some("code"))).is_ok());
		let (anyone, _, _d3) = consent(Requesters::Open);
		assert!(anyone.admit(&task([0xcd; 32]), &package(None)).is_ok());
	}

	#[test]
	fn bytes_that_are_not_a_package_are_refused() {
		let (c, _, _dir) = consent(Requesters::Open);
		assert!(c.admit(&task([1; 32]), b"not json").is_err());
	}

	#[test]
	fn package_hashes_are_read_as_people_type_them() {
		let h = "AB".repeat(32);
		assert_eq!(parse_package_hash(&format!("0x{h}")).unwrap(), "ab".repeat(32));
		assert!(parse_package_hash("abc").is_err());
		assert!(parse_package_hash(&"zz".repeat(32)).is_err());
	}
}
