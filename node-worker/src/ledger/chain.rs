//! The chain ledger: a Delta Chain node over its RPC (subxt).
//!
//! Reads go through the runtime APIs `DeltaTaskApi` and
//! `DeltaIdentityApi` at the latest finalized block, decoded with the
//! pallets' own view types, so the worker never depends on the storage
//! layout. Calls are v4 signed extrinsics (the runtime's standard
//! extensions), signed and handed to the node's pool one at a time with
//! the node's pool-aware nonce (or the next one after this ledger's last
//! call, if higher); a call the pool refuses (a nonce that went stale
//! meanwhile, say) is signed again with a fresh nonce a few times, and
//! each call waits until its block is finalized (immediately on a dev
//! chain). A call the runtime refuses comes back with the pallet error's
//! name. Both the
//! connection and its metadata are rebuilt after the node restarts. Each
//! finalized block wakes the worker's task threads (`Backend::watch`).

use std::{sync::Mutex, time::Duration};

use codec::{Decode, Encode};
use delta_coordinator::types::{
	AccountId, Bytes, Call, Event, MemberInfo, RoundInfo, RoundMember, StoredEvent, TaskId, TaskInfo, H256,
};
use delta_engine::EngineError;
use delta_primitives::round::ShareKind;
use pallet_delta_task::runtime_api::{RoundView, TaskView};
use sp_core::{sr25519, Pair as _};
use subxt::{
	tx::Signer,
	utils::{AccountId32, MultiSignature, Static},
	OnlineClient, PolkadotConfig,
};
use tokio::runtime::Handle;

use super::{retry, Attempt, Backend};

type Client = OnlineClient<PolkadotConfig>;
type Rpc = subxt::rpcs::LegacyRpcMethods<subxt::config::RpcConfigFor<PolkadotConfig>>;

/// How many times a call the node's pool refused is signed again with a
/// freshly read nonce before the refusal is the answer.
const POOL_ATTEMPTS: u32 = 4;

/// How long one call may wait for finalization.
const FINALIZE_WITHIN: Duration = Duration::from_secs(120);

struct PairSigner(sr25519::Pair);

impl Signer<PolkadotConfig> for PairSigner {
	fn account_id(&self) -> AccountId32 {
		AccountId32(self.0.public().0)
	}

	fn sign(&self, payload: &[u8]) -> MultiSignature {
		MultiSignature::Sr25519(self.0.sign(payload).0)
	}
}

/// A connection to a Delta Chain node, as one account.
pub struct ChainLedger {
	url: String,
	signer: PairSigner,
	account: AccountId,
	block_ms: u64,
	client: Mutex<Option<(Client, Rpc)>>,
	/// The nonce of the next call, while calls this ledger handed to the
	/// node are still in its pool; `None`: read it from the chain.
	next_nonce: tokio::sync::Mutex<Option<u64>>,
	rt: Handle,
}

fn unavailable(call: &'static str, e: impl std::fmt::Display) -> EngineError {
	EngineError::Ledger { call, reason: format!("chain node unavailable: {e}") }
}

fn malformed(call: &'static str, e: impl std::fmt::Display) -> EngineError {
	EngineError::Ledger { call, reason: format!("unexpected answer from the runtime: {e}") }
}

impl ChainLedger {
	/// Connects to the node at `url` (retrying for a while); `block_ms`
	/// is the chain's block time, for converting timeouts to blocks.
	pub fn connect(url: &str, pair: sr25519::Pair, block_ms: u64, rt: Handle) -> Result<Self, EngineError> {
		let account = AccountId(pair.public().0);
		let ledger = Self {
			url: url.to_string(),
			signer: PairSigner(pair),
			account,
			block_ms: block_ms.max(1),
			client: Mutex::new(None),
			next_nonce: tokio::sync::Mutex::new(None),
			rt,
		};
		ledger.with_client("connect", |_| async { Ok(()) })?;
		Ok(ledger)
	}

	fn slot(&self) -> std::sync::MutexGuard<'_, Option<(Client, Rpc)>> {
		self.client.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
	}

	fn connection(&self) -> Result<(Client, Rpc), String> {
		if let Some(c) = self.slot().as_ref() {
			return Ok(c.clone());
		}
		let url = self.url.clone();
		let connection = self.rt.block_on(async move { connect_legacy_with_rpc(&url).await })?;
		*self.slot() = Some(connection.clone());
		Ok(connection)
	}

	fn client(&self) -> Result<Client, String> {
		self.connection().map(|(client, _)| client)
	}

	/// Runs a read against a client, reconnecting for a while if the node
	/// is away.
	fn with_client<R, F, Fut>(&self, what: &'static str, f: F) -> Result<R, EngineError>
	where
		F: Fn(Client) -> Fut,
		Fut: std::future::Future<Output = Result<R, String>>,
	{
		retry(
			what,
			&format!("chain node {}", self.url),
			|| self.client().and_then(|c| self.rt.block_on(f(c))).map_err(Attempt::Unreachable),
			|| *self.slot() = None,
		)
	}

	/// Calls a runtime API at the latest finalized block.
	fn runtime_api<R: Decode>(
		&self,
		what: &'static str,
		function: &'static str,
		args: Vec<u8>,
	) -> Result<R, EngineError> {
		let bytes = self.with_client(what, |c| {
			let args = args.clone();
			async move {
				let at = c.at_current_block().await.map_err(|e| e.to_string())?;
				at.runtime_apis().call_raw(function, Some(&args)).await.map_err(|e| e.to_string())
			}
		})?;
		R::decode(&mut &bytes[..]).map_err(|e| malformed(what, e))
	}

	fn submit_payload<P: subxt::tx::Payload + Send + Sync>(
		&self,
		name: &'static str,
		payload: P,
	) -> Result<Vec<StoredEvent>, EngineError> {
		let (client, rpc) = self.connection().map_err(|e| unavailable(name, e))?;
		let signer = &self.signer;
		let next_nonce = &self.next_nonce;
		let block_ms = self.block_ms;
		let outcome = self.rt.block_on(async move {
			// Only signing and handing the call to the node's pool are done
			// one at a time, so that nonces follow each other; the wait for
			// finality (seconds on a real network) is not, so the engine's
			// tasks submit concurrently. The nonce is the node's own count
			// (`system_accountNextIndex`: its best block plus what its pool
			// holds from this account) or the one tracked here, whichever
			// is higher: the best block can be ahead of the finalized one
			// and the pool can hold calls a block does not have yet.
			let mut attempt = 0;
			let progress = loop {
				attempt += 1;
				let mut next = next_nonce.lock().await;
				let tx = client.tx().await.map_err(|e| Failure::Unavailable(e.to_string()))?;
				let on_node = rpc
					.system_account_next_index(&signer.account_id())
					.await
					.map_err(|e| Failure::Unavailable(e.to_string()))?;
				let nonce = next.map_or(on_node, |n| n.max(on_node));
				let params = subxt::config::DefaultExtrinsicParamsBuilder::<PolkadotConfig>::new().nonce(nonce).build();
				let mut signable = tx
					.create_v4_signable(&payload, &signer.account_id(), params)
					.await
					.map_err(|e| Failure::Refused(e.to_string()))?;
				let submittable = signable.sign(signer).map_err(|e| Failure::Refused(e.to_string()))?;
				match submittable.submit_and_watch().await {
					Ok(progress) => {
						*next = Some(nonce + 1);
						break progress;
					},
					Err(e) => {
						// The pool refused it, so it is not in the pool and
						// signing it again is safe. A stale or duplicate
						// nonce (a block sealed between the read and the
						// submission) is among the reasons: read the nonce
						// again, a block later.
						*next = None;
						drop(next);
						tracing::warn!(call = name, attempt, "the node's pool refused the call: {e}");
						if attempt >= POOL_ATTEMPTS {
							return Err(Failure::Refused(e.to_string()));
						}
						tokio::time::sleep(Duration::from_millis(block_ms.clamp(50, 2_000))).await;
					},
				}
			};
			let events = match tokio::time::timeout(FINALIZE_WITHIN, progress.wait_for_finalized_success()).await {
				Ok(Ok(events)) => events,
				Ok(Err(e @ subxt::error::TransactionFinalizedSuccessError::SuccessError(_))) => {
					// In a block but refused by the runtime: its nonce is used.
					return Err(Failure::Refused(e.to_string()));
				},
				Ok(Err(e)) => {
					// Dropped, invalid, or the status stream broke (the node
					// restarted and its pool is gone): the nonce may be free
					// again, so read it from the chain next time; a nonce
					// kept past this stood the next call in the pool's
					// future queue until it was dropped.
					*next_nonce.lock().await = None;
					return Err(Failure::Refused(e.to_string()));
				},
				Err(_) => {
					*next_nonce.lock().await = None;
					return Err(Failure::Unavailable("not finalized in time".into()));
				},
			};
			let mut out = Vec::new();
			for ev in events.iter() {
				let ev = ev.map_err(|e| Failure::Unavailable(e.to_string()))?;
				if ev.pallet_name() == "DeltaTask" && ev.event_name() == "TaskCreated" {
					let (task, owner, package) = <(u64, [u8; 32], [u8; 32])>::decode(&mut ev.field_bytes())
						.map_err(|e| Failure::Unavailable(e.to_string()))?;
					out.push(StoredEvent {
						seq: 0,
						at: 0,
						event: Event::TaskCreated { task, owner: AccountId(owner), package: H256(package) },
					});
				}
			}
			Ok::<_, Failure>(out)
		});
		match outcome {
			Ok(events) => Ok(events),
			Err(Failure::Refused(reason)) => Err(EngineError::Ledger { call: name, reason: refusal_name(&reason) }),
			Err(Failure::Unavailable(reason)) => {
				*self.slot() = None;
				Err(unavailable(name, reason))
			},
		}
	}
}

/// A client on the node's legacy RPC methods (`state_call`,
/// `author_submitAndWatchExtrinsic`, `chain_subscribeFinalizedHeads`).
/// subxt's default backend prefers the `chainHead_v1` methods, where every
/// read is an operation answered through the follow subscription and a
/// submission's finality is found by fetching block bodies: measured here,
/// about 50-90 ms a read and 450-550 ms a call on a dev chain sealing
/// within 250 ms, against about 240 ms for the same call through the legacy
/// methods. The worker only reads at the latest finalized block and waits
/// for its own submissions, which is what the legacy methods do directly.
async fn connect_legacy(url: &str) -> Result<Client, String> {
	connect_legacy_with_rpc(url).await.map(|(client, _)| client)
}

/// [`connect_legacy`], and the legacy methods on the same connection for
/// what subxt's client does not ask (the pool-aware nonce).
async fn connect_legacy_with_rpc(url: &str) -> Result<(Client, Rpc), String> {
	let rpc = subxt::rpcs::RpcClient::from_insecure_url(url).await.map_err(|e| e.to_string())?;
	let methods = Rpc::new(rpc.clone());
	let backend = subxt::backend::LegacyBackend::builder().build(rpc);
	let client = Client::from_backend(std::sync::Arc::new(backend)).await.map_err(|e| e.to_string())?;
	Ok((client, methods))
}

enum Failure {
	Refused(String),
	Unavailable(String),
}

/// The pallet error's name out of subxt's description of a failed call
/// (e.g. "... DeltaTask::WrongPhase ..." -> "WrongPhase"), or the whole text.
fn refusal_name(text: &str) -> String {
	for pallet in ["DeltaTask", "DeltaIdentity", "ZkVerify"] {
		if let Some(at) = text.find(&format!("{pallet}::")) {
			let rest = &text[at + pallet.len() + 2..];
			let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
			if !name.is_empty() {
				return name;
			}
		}
	}
	text.to_string()
}

/// A `DeltaTask` call with SCALE-encoded arguments.
fn task<A>(call: &'static str, args: A) -> subxt::tx::DynamicPayload<A> {
	subxt::tx::dynamic("DeltaTask", call, args)
}

fn text(bytes: Vec<u8>) -> String {
	String::from_utf8_lossy(&bytes).into_owned()
}

fn member_info(account: [u8; 32], m: pallet_delta_identity::MemberInfo<u32>) -> MemberInfo {
	MemberInfo {
		account: AccountId(account),
		display_name: text(m.display_name.into_inner()),
		endpoint: text(m.endpoint.into_inner()),
		peer_id: Bytes(m.peer_id.into_inner()),
		registered_at: u64::from(m.registered_at),
		updated_at: u64::from(m.updated_at),
	}
}

impl Backend for ChainLedger {
	fn account(&self) -> AccountId {
		self.account
	}

	fn watch(&self, changed: std::sync::Arc<dyn Fn() + Send + Sync>) {
		let url = self.url.clone();
		self.rt.spawn(async move {
			// A connection of its own, so that a stalled subscription never
			// holds up calls; after the node goes away, connect again.
			loop {
				if let Ok(client) = connect_legacy(&url).await {
					if let Ok(mut blocks) = client.stream_blocks().await {
						while let Some(Ok(_)) = blocks.next().await {
							changed();
						}
					}
				}
				tokio::time::sleep(Duration::from_secs(1)).await;
			}
		});
	}

	fn submit(&self, call: Call) -> Result<Vec<StoredEvent>, EngineError> {
		let name = call.name();
		match call {
			Call::Register { display_name, endpoint, peer_id } => self.submit_payload(
				name,
				subxt::tx::dynamic(
					"DeltaIdentity",
					"register",
					(Static(display_name.into_bytes()), Static(endpoint.into_bytes()), Static(peer_id.0)),
				),
			),
			Call::UpdateMember { display_name, endpoint, peer_id } => self.submit_payload(
				name,
				subxt::tx::dynamic(
					"DeltaIdentity",
					"update",
					(
						Static(display_name.map(String::into_bytes)),
						Static(endpoint.map(String::into_bytes)),
						Static(peer_id.map(|p| p.0)),
					),
				),
			),
			Call::Leave => self.submit_payload(name, subxt::tx::dynamic("DeltaIdentity", "leave", ())),
			Call::CreateTask { package, kind, datasets, rounds, params } => {
				let datasets: Vec<Vec<u8>> = datasets.into_iter().map(String::into_bytes).collect();
				self.submit_payload(
					name,
					task(
						"create_task",
						(Static(package.0), Static(kind), Static(datasets), Static(rounds), Static(params)),
					),
				)
			},
			Call::StartRound { task: t } => self.submit_payload(name, task("start_round", (Static(t),))),
			Call::Join { task: t, round, channel_key, masking_key } => self.submit_payload(
				name,
				task("join", (Static(t), Static(round), Static(channel_key.0), Static(masking_key.0))),
			),
			Call::CommitShares { task: t, round, commitment } => {
				self.submit_payload(name, task("commit_shares", (Static(t), Static(round), Static(commitment.0))))
			},
			Call::CommitMasked { task: t, round, commitment } => {
				self.submit_payload(name, task("commit_masked", (Static(t), Static(round), Static(commitment.0))))
			},
			Call::Reveal { task: t, round, shares } => {
				let shares: Vec<([u8; 32], ShareKind, Vec<u8>)> =
					shares.into_iter().map(|s| (s.owner.0, s.kind, s.share.0)).collect();
				self.submit_payload(name, task("reveal", (Static(t), Static(round), Static(shares))))
			},
			Call::FinishRound { task: t, round, result } => {
				self.submit_payload(name, task("finish_round", (Static(t), Static(round), Static(result.0))))
			},
			Call::FinishTask { task: t } => self.submit_payload(name, task("finish_task", (Static(t),))),
			Call::CancelTask { task: t } => self.submit_payload(name, task("cancel_task", (Static(t),))),
			Call::ChargePrivacy { task: t, dataset, epsilon } => self.submit_payload(
				name,
				task("charge_privacy", (Static(t), Static(dataset.into_bytes()), Static(epsilon))),
			),
		}
	}

	fn task(&self, id: TaskId) -> Result<Option<TaskInfo>, EngineError> {
		let view: Option<TaskView<[u8; 32]>> = self.runtime_api("task", "DeltaTaskApi_task", id.encode())?;
		Ok(view.map(|v| TaskInfo {
			id,
			owner: AccountId(v.owner),
			package: H256(v.package),
			kind: v.kind,
			datasets: v.datasets.into_iter().map(text).collect(),
			rounds: v.rounds,
			params: v.params,
			status: v.status,
			rounds_started: v.rounds_started,
			created_at: 0,
		}))
	}

	fn round(&self, task: TaskId, round: u32) -> Result<Option<RoundInfo>, EngineError> {
		let view: Option<RoundView<[u8; 32]>> =
			self.runtime_api("round", "DeltaTaskApi_round", (task, round).encode())?;
		Ok(view.map(|v| RoundInfo {
			state: v.state,
			seed: v.seed.map(H256),
			result: v.result.map(H256),
			members: v
				.members
				.into_iter()
				.map(|(account, m)| RoundMember {
					account: AccountId(account),
					status: m.status,
					channel_key: H256(m.channel_key),
					masking_key: H256(m.masking_key),
					shares: m.shares.map(H256),
					masked: m.masked.map(H256),
				})
				.collect(),
		}))
	}

	fn members(&self) -> Result<Vec<MemberInfo>, EngineError> {
		let all: Vec<([u8; 32], pallet_delta_identity::MemberInfo<u32>)> =
			self.runtime_api("members", "DeltaIdentityApi_members", Vec::new())?;
		Ok(all.into_iter().map(|(a, m)| member_info(a, m)).collect())
	}

	fn member(&self, who: &AccountId) -> Result<Option<MemberInfo>, EngineError> {
		let m: Option<pallet_delta_identity::MemberInfo<u32>> =
			self.runtime_api("member", "DeltaIdentityApi_member", who.0.encode())?;
		Ok(m.map(|m| member_info(who.0, m)))
	}

	fn privacy_spent(&self, holder: &AccountId, dataset: &str, requester: &AccountId) -> Result<u64, EngineError> {
		let args = (holder.0, dataset.as_bytes().to_vec(), requester.0).encode();
		self.runtime_api("privacy_spent", "DeltaTaskApi_privacy_spent", args)
	}

	fn timeout_units(&self, seconds: u64) -> u64 {
		seconds.saturating_mul(1000).div_ceil(self.block_ms).max(1)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn refusal_names_are_extracted() {
		assert_eq!(refusal_name("Module error: DeltaTask::WrongPhase: the round is not in ..."), "WrongPhase");
		assert_eq!(refusal_name("something else"), "something else");
	}
}
