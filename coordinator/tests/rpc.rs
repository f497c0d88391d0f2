//! The coordinator over real WebSocket JSON-RPC: signed calls, refusals by
//! name, replay protection, the event subscription, and a restart on the
//! same database that loses nothing.

use delta_coordinator::{
	rpc::{serve, Receipt, Service},
	signing::{sign, SignedCall},
	types::*,
	Ledger, Limits,
};
use delta_primitives::round::{Phase, PhaseTimeouts, RoundParams};
use jsonrpsee::{
	core::client::{ClientT, Error as ClientError, Subscription, SubscriptionClientT},
	rpc_params,
	ws_client::{WsClient, WsClientBuilder},
};
use sp_core::{sr25519, Pair};
use std::{net::SocketAddr, path::Path};

fn pair(seed: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(seed, None).expect("dev seed")
}

fn account(p: &sr25519::Pair) -> AccountId {
	AccountId(p.public().0)
}

async fn start(db: &Path) -> (SocketAddr, jsonrpsee::server::ServerHandle, [u8; 32]) {
	let ledger = Ledger::open(db, Limits::default()).expect("open");
	let instance = ledger.instance();
	let (addr, handle) = serve(Service::new(ledger), "127.0.0.1:0".parse().unwrap()).await.expect("serve");
	(addr, handle, instance)
}

async fn client(addr: SocketAddr) -> WsClient {
	WsClientBuilder::default().build(format!("ws://{addr}")).await.expect("connect")
}

/// Signs with the signer's next nonce and submits.
async fn submit(c: &WsClient, instance: &[u8; 32], who: &sr25519::Pair, call: Call) -> Result<Receipt, String> {
	let nonce: u64 = c.request("coordinator_nextNonce", rpc_params![account(who).to_ss58()]).await.expect("nonce");
	let signed = sign(who, instance, nonce, &call);
	submit_signed(c, &signed).await
}

async fn submit_signed(c: &WsClient, signed: &SignedCall) -> Result<Receipt, String> {
	c.request("coordinator_submit", rpc_params![signed]).await.map_err(|e| match e {
		ClientError::Call(obj) => obj.message().to_string(),
		other => panic!("transport error: {other}"),
	})
}

fn register_call(i: u8) -> Call {
	let mut peer_id = vec![0x12, 0x20];
	peer_id.extend_from_slice(&[i; 32]);
	Call::Register {
		display_name: format!("Hospital {i}"),
		endpoint: format!("/ip4/127.0.0.1/tcp/{}", 4100 + u16::from(i)),
		peer_id: Bytes(peer_id),
	}
}

fn round_params() -> RoundParams {
	// Long phases: the round moves only on quorum in this test.
	let t = 60_000;
	RoundParams {
		min_members: 2,
		max_members: 3,
		threshold: 2,
		timeouts: PhaseTimeouts { open: t, share_keys: t, compute: t, unmask: t },
	}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_round_over_websocket_with_events_and_a_restart() {
	let dir = tempfile::tempdir().unwrap();
	let db = dir.path().join("coordinator.sqlite");
	let (addr, handle, instance) = start(&db).await;
	let c = client(addr).await;
	let info: serde_json::Value = c.request("coordinator_info", rpc_params![]).await.unwrap();
	assert_eq!(info["instance"], format!("0x{}", hex::encode(instance)));

	let mut events: Subscription<StoredEvent> =
		c.subscribe("coordinator_subscribeEvents", rpc_params![1u64], "coordinator_unsubscribeEvents").await.unwrap();

	let owner = pair("//Alice");
	let members: Vec<_> = ["//Bob", "//Charlie", "//Dave"].iter().map(|s| pair(s)).collect();
	for (i, m) in members.iter().enumerate() {
		submit(&c, &instance, m, register_call(i as u8 + 1)).await.unwrap();
	}
	let listed: Vec<MemberInfo> = c.request("coordinator_members", rpc_params![]).await.unwrap();
	assert_eq!(listed.len(), 3);
	let by_peer: Option<AccountId> = c
		.request("coordinator_accountByPeerId", rpc_params![Bytes([&[0x12, 0x20][..], &[2; 32]].concat())])
		.await
		.unwrap();
	assert_eq!(by_peer, Some(account(&members[1])));

	let create = Call::CreateTask {
		package: H256([7; 32]),
		kind: delta_primitives::task::TaskKind::Statistics,
		datasets: vec!["patients".into()],
		rounds: 1,
		params: round_params(),
	};
	let receipt = submit(&c, &instance, &owner, create).await.unwrap();
	assert!(matches!(receipt.events[0].event, Event::TaskCreated { task: 0, .. }));
	submit(&c, &instance, &owner, Call::StartRound { task: 0 }).await.unwrap();

	// Bad input, each refused by name, nothing changed.
	let outsider = pair("//Eve");
	let keys = |i: u8| (H256([i; 32]), H256([i + 100; 32]));
	let (ck, mk) = keys(9);
	let join = Call::Join { task: 0, round: 0, channel_key: ck, masking_key: mk };
	assert_eq!(submit(&c, &instance, &outsider, join.clone()).await.unwrap_err(), "NotRegistered");
	assert_eq!(
		submit(&c, &instance, &members[0], Call::Join { task: 0, round: 0, channel_key: ck, masking_key: ck })
			.await
			.unwrap_err(),
		"BadKeys"
	);
	assert_eq!(submit(&c, &instance, &members[0], Call::StartRound { task: 0 }).await.unwrap_err(), "NotOwner");
	assert_eq!(submit(&c, &instance, &owner, Call::StartRound { task: 5 }).await.unwrap_err(), "UnknownTask");

	// Replays and forgeries.
	let nonce: u64 = c.request("coordinator_nextNonce", rpc_params![account(&members[0]).to_ss58()]).await.unwrap();
	let signed = sign(&members[0], &instance, nonce, &join);
	submit_signed(&c, &signed).await.unwrap();
	assert_eq!(submit_signed(&c, &signed).await.unwrap_err(), "BadNonce", "a replay is refused");
	let mut forged = sign(&members[1], &instance, nonce, &join);
	forged.signer = account(&members[2]).to_ss58();
	assert_eq!(submit_signed(&c, &forged).await.unwrap_err(), "BadSignature");
	let elsewhere = sign(&members[1], &[0; 32], 0, &join);
	assert_eq!(submit_signed(&c, &elsewhere).await.unwrap_err(), "BadSignature", "signed for another coordinator");
	let huge =
		SignedCall { signer: account(&members[1]).to_ss58(), payload: "x".repeat(70_000), signature: "0x00".into() };
	assert_eq!(submit_signed(&c, &huge).await.unwrap_err(), "PayloadTooLarge");
	let malformed: Result<Receipt, _> =
		c.request("coordinator_submit", rpc_params![serde_json::json!({"signer": 1})]).await;
	assert!(matches!(malformed, Err(ClientError::Call(e)) if e.message() == "Malformed"));

	for (i, m) in members.iter().enumerate().skip(1) {
		let (ck, mk) = keys(i as u8 + 1);
		submit(&c, &instance, m, Call::Join { task: 0, round: 0, channel_key: ck, masking_key: mk }).await.unwrap();
	}
	let round: RoundInfo = c.request("coordinator_round", rpc_params![0u64, 0u32]).await.unwrap();
	assert_eq!(round.state.phase, Phase::ShareKeys);
	assert!(round.seed.is_some());
	assert_eq!(
		round.members.iter().map(|m| m.account).collect::<Vec<_>>(),
		members.iter().map(account).collect::<Vec<_>>()
	);

	// The subscription saw everything, in order, without gaps.
	let log: Vec<StoredEvent> = c.request("coordinator_events", rpc_params![1u64, 1000u32]).await.unwrap();
	let last = log.last().map(|e| e.seq).unwrap();
	let mut seen: Vec<StoredEvent> = Vec::new();
	while seen.last().is_none_or(|e| e.seq < last) {
		seen.push(events.next().await.expect("open").expect("decodes"));
	}
	assert_eq!(seen, log, "the subscription and the log agree");
	assert!(seen.windows(2).all(|w| w[1].seq == w[0].seq + 1));
	assert!(seen.iter().any(|e| matches!(e.event, Event::SeedFixed { .. })));
	assert_eq!(seen.iter().filter(|e| matches!(e.event, Event::Joined { .. })).count(), 3);

	// Stop and restart on the same file: the round, the nonces and the
	// event log are all there.
	let nonce_before: u64 =
		c.request("coordinator_nextNonce", rpc_params![account(&members[0]).to_ss58()]).await.unwrap();
	drop(events);
	drop(c);
	handle.stop().unwrap();
	handle.stopped().await;
	let (addr, _handle, same_instance) = start(&db).await;
	assert_eq!(same_instance, instance, "the instance id persists, so signatures stay valid");
	let c = client(addr).await;
	let again: RoundInfo = c.request("coordinator_round", rpc_params![0u64, 0u32]).await.unwrap();
	assert_eq!(again, round);
	let nonce_after: u64 =
		c.request("coordinator_nextNonce", rpc_params![account(&members[0]).to_ss58()]).await.unwrap();
	assert_eq!(nonce_after, nonce_before);
	assert_eq!(submit_signed(&c, &signed).await.unwrap_err(), "BadNonce", "still no replay after a restart");
	let log: Vec<StoredEvent> = c.request("coordinator_events", rpc_params![1u64, 1000u32]).await.unwrap();
	assert_eq!(log.len() as u64, seen.last().map(|e| e.seq).unwrap());
	for m in &members {
		submit(&c, &instance, m, Call::CommitShares { task: 0, round: 0, commitment: H256([1; 32]) }).await.unwrap();
	}
	let round: RoundInfo = c.request("coordinator_round", rpc_params![0u64, 0u32]).await.unwrap();
	assert_eq!(round.state.phase, Phase::Compute);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_move_phases_without_any_call() {
	let dir = tempfile::tempdir().unwrap();
	let (addr, _handle, instance) = start(&dir.path().join("c.sqlite")).await;
	let c = client(addr).await;
	let owner = pair("//Alice");
	let mut p = round_params();
	p.timeouts.open = 300;
	let create = Call::CreateTask {
		package: H256([7; 32]),
		kind: delta_primitives::task::TaskKind::Statistics,
		datasets: vec![],
		rounds: 1,
		params: p,
	};
	submit(&c, &instance, &owner, create).await.unwrap();
	let mut events: Subscription<StoredEvent> =
		c.subscribe("coordinator_subscribeEvents", rpc_params![], "coordinator_unsubscribeEvents").await.unwrap();
	submit(&c, &instance, &owner, Call::StartRound { task: 0 }).await.unwrap();
	// Nobody joins: the clock fails the round at its Open deadline.
	let failed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
		loop {
			let e = events.next().await.expect("open").expect("decodes");
			if let Event::PhaseChanged { phase, .. } = e.event {
				return phase;
			}
		}
	})
	.await
	.expect("the deadline fires");
	assert_eq!(failed, Phase::Failed(delta_primitives::round::FailureReason::NotEnoughMembers));
}
