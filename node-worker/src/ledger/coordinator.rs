//! The coordinator ledger: signed calls over WebSocket JSON-RPC
//! (`delta-coordinator`'s API), one at a time with the nonce read just
//! before signing, reconnecting when the coordinator restarts.

use std::{sync::Mutex, time::Duration};

use delta_coordinator::{
	signing::sign,
	types::{AccountId, Call, MemberInfo, RoundInfo, StoredEvent, TaskId, TaskInfo},
};
use delta_engine::EngineError;
use jsonrpsee::{
	core::{client::ClientT, params::ArrayParams, ClientError},
	rpc_params,
	ws_client::{WsClient, WsClientBuilder},
};
use serde::de::DeserializeOwned;
use sp_core::{sr25519, Pair as _};
use tokio::runtime::Handle;

use super::{retry, Attempt, Backend};

/// A connection to a coordinator, as one account.
pub struct CoordinatorLedger {
	url: String,
	pair: sr25519::Pair,
	account: AccountId,
	instance: Mutex<Option<[u8; 32]>>,
	client: Mutex<Option<std::sync::Arc<WsClient>>>,
	submit_lock: Mutex<()>,
	rt: Handle,
}

fn unavailable(call: &'static str, e: impl std::fmt::Display) -> EngineError {
	EngineError::Ledger { call, reason: format!("coordinator unavailable: {e}") }
}

impl CoordinatorLedger {
	/// Connects to the coordinator at `url` (retrying for a while).
	pub fn connect(url: &str, pair: sr25519::Pair, rt: Handle) -> Result<Self, EngineError> {
		let account = AccountId(pair.public().0);
		let ledger = Self {
			url: url.to_string(),
			pair,
			account,
			instance: Mutex::new(None),
			client: Mutex::new(None),
			submit_lock: Mutex::new(()),
			rt,
		};
		ledger.instance()?;
		Ok(ledger)
	}

	fn client(&self) -> Result<std::sync::Arc<WsClient>, ClientError> {
		let mut slot = self.client.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
		if let Some(c) = slot.as_ref() {
			if c.is_connected() {
				return Ok(std::sync::Arc::clone(c));
			}
		}
		let url = self.url.clone();
		let client = self.rt.block_on(async move {
			WsClientBuilder::default()
				.request_timeout(Duration::from_secs(60))
				.max_request_size(8 << 20)
				.build(&url)
				.await
		})?;
		let client = std::sync::Arc::new(client);
		*slot = Some(std::sync::Arc::clone(&client));
		Ok(client)
	}

	/// A read-only request, retried across reconnections for a while.
	fn query<R: DeserializeOwned + Send + 'static>(
		&self,
		what: &'static str,
		method: &'static str,
		params: ArrayParams,
	) -> Result<R, EngineError> {
		retry(
			what,
			&format!("coordinator {}", self.url),
			|| {
				let c = self.client().map_err(|e| Attempt::Unreachable(e.to_string()))?;
				let params = params.clone();
				match self.rt.block_on(async move { c.request::<R, _>(method, params).await }) {
					Ok(v) => Ok(v),
					Err(ClientError::Call(e)) => {
						Err(Attempt::Refused(EngineError::Ledger { call: what, reason: e.message().to_string() }))
					},
					Err(e) => Err(Attempt::Unreachable(e.to_string())),
				}
			},
			|| *self.client.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None,
		)
	}

	fn instance(&self) -> Result<[u8; 32], EngineError> {
		if let Some(i) = *self.instance.lock().unwrap_or_else(std::sync::PoisonError::into_inner) {
			return Ok(i);
		}
		let info: serde_json::Value = self.query("info", "coordinator_info", rpc_params![])?;
		let instance = info["instance"]
			.as_str()
			.and_then(|h| h.strip_prefix("0x"))
			.and_then(|h| hex::decode(h).ok())
			.and_then(|b| <[u8; 32]>::try_from(b).ok())
			.ok_or_else(|| unavailable("info", "no instance id"))?;
		*self.instance.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(instance);
		Ok(instance)
	}
}

#[derive(serde::Deserialize)]
struct Receipt {
	events: Vec<StoredEvent>,
}

impl Backend for CoordinatorLedger {
	fn account(&self) -> AccountId {
		self.account
	}

	fn submit(&self, call: Call) -> Result<Vec<StoredEvent>, EngineError> {
		let name = call.name();
		let _one_at_a_time = self.submit_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
		let instance = self.instance()?;
		let nonce: u64 = self.query(name, "coordinator_nextNonce", rpc_params![self.account.to_ss58()])?;
		let signed = sign(&self.pair, &instance, nonce, &call);
		// Not retried: a call sent before a connection failed may have been
		// applied, and its nonce makes a resend a refusal anyway.
		let client = self.client().map_err(|e| unavailable(name, e))?;
		let receipt: Result<Receipt, ClientError> =
			self.rt.block_on(async move { client.request("coordinator_submit", rpc_params![signed]).await });
		match receipt {
			Ok(r) => Ok(r.events),
			Err(ClientError::Call(e)) => Err(EngineError::Ledger { call: name, reason: e.message().to_string() }),
			Err(e) => {
				*self.client.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
				Err(unavailable(name, e))
			},
		}
	}

	fn task(&self, id: TaskId) -> Result<Option<TaskInfo>, EngineError> {
		self.query("task", "coordinator_task", rpc_params![id])
	}

	fn round(&self, task: TaskId, round: u32) -> Result<Option<RoundInfo>, EngineError> {
		self.query("round", "coordinator_round", rpc_params![task, round])
	}

	fn members(&self) -> Result<Vec<MemberInfo>, EngineError> {
		self.query("members", "coordinator_members", rpc_params![])
	}

	fn member(&self, who: &AccountId) -> Result<Option<MemberInfo>, EngineError> {
		self.query("member", "coordinator_member", rpc_params![who.to_ss58()])
	}

	fn privacy_spent(&self, holder: &AccountId, dataset: &str, requester: &AccountId) -> Result<u64, EngineError> {
		self.query(
			"privacy_spent",
			"coordinator_privacySpent",
			rpc_params![holder.to_ss58(), dataset, requester.to_ss58()],
		)
	}

	fn timeout_units(&self, seconds: u64) -> u64 {
		seconds.saturating_mul(1000)
	}
}
