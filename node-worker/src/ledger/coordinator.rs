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
	core::{
		client::{ClientT, Subscription, SubscriptionClientT},
		params::ArrayParams,
		ClientError,
	},
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

	fn watch(&self, changed: std::sync::Arc<dyn Fn() + Send + Sync>) {
		let url = self.url.clone();
		self.rt.spawn(async move {
			// A connection of its own, so that a stalled subscription never
			// holds up calls; after the coordinator goes away, connect again.
			loop {
				if let Ok((_client, events)) = subscribe(&url).await {
					follow(events, &*changed).await;
				}
				tokio::time::sleep(Duration::from_secs(1)).await;
			}
		});
	}
}

/// The coordinator's events from now on, on a connection of their own
/// (returned with them: the subscription lives as long as it does).
async fn subscribe(url: &str) -> Result<(WsClient, Subscription<serde_json::Value>), ClientError> {
	let client = WsClientBuilder::default().build(url).await?;
	let events =
		client.subscribe("coordinator_subscribeEvents", rpc_params![], "coordinator_unsubscribeEvents").await?;
	Ok((client, events))
}

/// Calls `changed` for every event that may move a task thread on, until
/// the subscription ends.
async fn follow(mut events: Subscription<serde_json::Value>, changed: &(dyn Fn() + Send + Sync)) {
	while let Some(Ok(event)) = events.next().await {
		if moves_rounds(&event) {
			changed();
		}
	}
}

/// Whether the coordinator event `event` (as JSON, so that a kind this
/// worker does not know still counts) may let a task thread act: a round
/// started, changed phase or ended, or a task ended. A member's own
/// calls (`Joined`, `SharesCommitted`, ...) move nothing by themselves:
/// the coordinator follows the one that completes a quorum with a
/// `PhaseChanged`, and waking every thread on each of them would cost
/// every thread a read per member.
fn moves_rounds(event: &serde_json::Value) -> bool {
	!matches!(
		event["event"].as_str(),
		Some(
			"Registered"
				| "Updated" | "Left"
				| "TaskCreated"
				| "Joined" | "SharesCommitted"
				| "MaskedCommitted"
				| "Revealed" | "PrivacyCharged"
		)
	)
}

#[cfg(test)]
mod tests {
	use std::sync::{
		atomic::{AtomicUsize, Ordering},
		Arc,
	};

	use delta_coordinator::{
		rpc::{serve, Service},
		types::{Bytes, Event, H256},
		Ledger, Limits,
	};
	use delta_primitives::round::{PhaseTimeouts, RoundParams};

	use super::*;

	#[test]
	fn a_started_round_wakes_the_watcher_and_registrations_and_new_tasks_do_not() {
		let rt = tokio::runtime::Runtime::new().unwrap();
		let service = Service::new(Ledger::in_memory(Limits::default()).unwrap());
		let (addr, server) = rt.block_on(serve(service, "127.0.0.1:0".parse().unwrap())).unwrap();
		let url = format!("ws://{addr}");
		let pair = |seed: &str| sr25519::Pair::from_string(seed, None).unwrap();
		let owner = CoordinatorLedger::connect(&url, pair("//Alice"), rt.handle().clone()).unwrap();
		let holder = CoordinatorLedger::connect(&url, pair("//Bob"), rt.handle().clone()).unwrap();
		// Subscribed before the calls, so that every one of them is seen.
		let (_client, events) = rt.block_on(subscribe(&url)).unwrap();

		let mut peer_id = vec![0x12, 0x20];
		peer_id.extend_from_slice(&[1; 32]);
		let register = Call::Register {
			display_name: "Hospital 1".into(),
			endpoint: "/ip4/127.0.0.1/tcp/4101".into(),
			peer_id: Bytes(peer_id),
		};
		holder.submit(register).unwrap();
		let t = 60_000;
		let params = RoundParams {
			min_members: 2,
			max_members: 3,
			threshold: 2,
			timeouts: PhaseTimeouts { open: t, share_keys: t, compute: t, unmask: t },
		};
		let create = Call::CreateTask {
			package: H256([7; 32]),
			kind: delta_primitives::task::TaskKind::Statistics,
			datasets: vec!["patients".into()],
			rounds: 1,
			params,
		};
		owner.submit(create).unwrap();
		let started = owner.submit(Call::StartRound { task: 0 }).unwrap();
		assert!(matches!(started[..], [StoredEvent { event: Event::RoundStarted { task: 0, round: 0, .. }, .. }]));

		// The coordinator stops: the subscription ends, having woken the
		// watcher for the round's start only.
		server.stop().unwrap();
		let woken = Arc::new(AtomicUsize::new(0));
		let counter = Arc::clone(&woken);
		rt.block_on(follow(events, &move || {
			counter.fetch_add(1, Ordering::SeqCst);
		}));
		assert_eq!(woken.load(Ordering::SeqCst), 1);
	}
}
