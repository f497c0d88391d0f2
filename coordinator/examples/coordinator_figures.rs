//! Figures for the coordinator on this machine:
//! - transitions per second applied directly to the ledger (SQLite file,
//!   WAL, synchronous=FULL) and over WebSocket JSON-RPC with signatures;
//! - the ledger overhead of one whole round (join, shares, masked, reveal,
//!   finish) with 10 and 100 members, members submitting concurrently.
//!
//! Run: `cargo run --release -p delta-coordinator --example coordinator_figures`
//! (the debug build works too, slower).

use delta_coordinator::{
	rpc::{serve, Receipt, Service},
	signing::sign,
	types::*,
	Ledger, Limits,
};
use delta_primitives::round::{Phase, PhaseTimeouts, RoundParams, ShareKind};
use jsonrpsee::{
	core::client::ClientT,
	rpc_params,
	ws_client::{WsClient, WsClientBuilder},
};
use sp_core::{sr25519, Pair};
use std::{sync::Arc, time::Instant};

fn params(n: u32) -> RoundParams {
	let t = 600_000;
	RoundParams {
		min_members: 2,
		max_members: n,
		threshold: 2,
		timeouts: PhaseTimeouts { open: t, share_keys: t, compute: t, unmask: t },
	}
}

fn register(i: u32) -> Call {
	let mut peer_id = vec![0x12, 0x20];
	peer_id.extend_from_slice(&[0u8; 28]);
	peer_id.extend_from_slice(&i.to_le_bytes());
	Call::Register {
		display_name: format!("member {i}"),
		endpoint: format!("/ip4/127.0.0.1/tcp/{}", 10_000 + i % 50_000),
		peer_id: Bytes(peer_id),
	}
}

fn create(n: u32, rounds: u32) -> Call {
	Call::CreateTask {
		package: H256([7; 32]),
		kind: delta_primitives::task::TaskKind::Statistics,
		datasets: vec!["d".into()],
		rounds,
		params: params(n),
	}
}

/// Direct ledger transitions: many 2-member rounds, every call a transition.
fn direct(dir: &std::path::Path) {
	let mut ledger = Ledger::open(&dir.join("direct.sqlite"), Limits::default()).expect("open");
	let owner = AccountId([200; 32]);
	let members: Vec<AccountId> = (0..2u8).map(|i| AccountId([i + 1; 32])).collect();
	for (i, m) in members.iter().enumerate() {
		ledger.apply(m, None, &register(i as u32), 1).expect("register");
	}
	let rounds = 200u64;
	ledger.apply(&owner, None, &create(2, 1_000), 1).expect("create");
	let start = Instant::now();
	let mut calls = 0u64;
	for r in 0..rounds as u32 {
		let mut go = |who: &AccountId, call: Call| {
			ledger.apply(who, None, &call, 2).expect("accepted");
			calls += 1;
		};
		go(&owner, Call::StartRound { task: 0 });
		for (i, m) in members.iter().enumerate() {
			let k = i as u8 + 1;
			go(m, Call::Join { task: 0, round: r, channel_key: H256([k; 32]), masking_key: H256([k + 50; 32]) });
		}
		for m in &members {
			go(m, Call::CommitShares { task: 0, round: r, commitment: H256([1; 32]) });
		}
		for m in &members {
			go(m, Call::CommitMasked { task: 0, round: r, commitment: H256([2; 32]) });
		}
		for m in &members {
			let shares = members
				.iter()
				.map(|o| RevealedShare { owner: *o, kind: ShareKind::SelfMask, share: Bytes(vec![9; 64]) })
				.collect();
			go(m, Call::Reveal { task: 0, round: r, shares });
		}
		go(&owner, Call::FinishRound { task: 0, round: r, result: H256([3; 32]) });
	}
	let secs = start.elapsed().as_secs_f64();
	println!(
		"direct ledger (SQLite, synchronous=FULL): {calls} transitions in {secs:.2} s = {:.0}/s",
		calls as f64 / secs
	);
}

async fn client(url: &str) -> WsClient {
	WsClientBuilder::default().build(url).await.expect("connect")
}

struct Member {
	pair: sr25519::Pair,
	client: WsClient,
	nonce: u64,
}

impl Member {
	async fn call(&mut self, instance: &[u8; 32], call: Call) -> usize {
		let signed = sign(&self.pair, instance, self.nonce, &call);
		self.nonce += 1;
		let size = signed.payload.len();
		let _: Receipt = self.client.request("coordinator_submit", rpc_params![signed]).await.expect("accepted");
		size
	}
}

/// One whole round with `n` members over WebSocket; members act
/// concurrently, each phase after the previous completed.
async fn round(url: &str, instance: [u8; 32], n: u32, neighbours: u32) {
	let mut owner = Member { pair: sr25519::Pair::from_seed(&[n as u8; 32]), client: client(url).await, nonce: 0 };
	let mut members = Vec::new();
	for i in 0..n {
		let mut seed = [2u8; 32];
		seed[..4].copy_from_slice(&i.to_le_bytes());
		seed[4] = n as u8;
		let mut m = Member { pair: sr25519::Pair::from_seed(&seed), client: client(url).await, nonce: 0 };
		m.call(&instance, register(i + 1_000 * n)).await;
		members.push(m);
	}
	let accounts: Vec<AccountId> = members.iter().map(|m| AccountId(m.pair.public().0)).collect();
	let task: TaskId = {
		let signed = sign(&owner.pair, &instance, owner.nonce, &create(n, 1));
		owner.nonce += 1;
		let r: Receipt = owner.client.request("coordinator_submit", rpc_params![signed]).await.expect("create");
		match r.events[0].event {
			Event::TaskCreated { task, .. } => task,
			_ => unreachable!("the first event of create_task is TaskCreated"),
		}
	};
	let instance = Arc::new(instance);
	let start = Instant::now();
	let mut bytes = owner.call(&instance, Call::StartRound { task }).await;
	let mut calls = 1usize;
	for phase in 0..4 {
		let mut handles = Vec::new();
		for (i, mut m) in members.drain(..).enumerate() {
			let instance = instance.clone();
			let accounts = accounts.clone();
			handles.push(tokio::spawn(async move {
				let k = (i % 200) as u8 + 1;
				let call = match phase {
					0 => Call::Join {
						task,
						round: 0,
						channel_key: H256([k; 32]),
						masking_key: H256([k.wrapping_add(7) | 1; 32]),
					},
					1 => Call::CommitShares { task, round: 0, commitment: H256([1; 32]) },
					2 => Call::CommitMasked { task, round: 0, commitment: H256([2; 32]) },
					_ => {
						let shares = (0..neighbours as usize)
							.map(|j| RevealedShare {
								owner: accounts[(i + j) % accounts.len()],
								kind: ShareKind::SelfMask,
								share: Bytes(vec![9; 64]),
							})
							.collect();
						Call::Reveal { task, round: 0, shares }
					},
				};
				let size = m.call(&instance, call).await;
				(m, size)
			}));
		}
		for h in handles {
			let (m, size) = h.await.expect("member task");
			bytes += size;
			calls += 1;
			members.push(m);
		}
	}
	let info: RoundInfo = owner.client.request("coordinator_round", rpc_params![task, 0u32]).await.expect("round");
	assert_eq!(info.state.phase, Phase::Done);
	bytes += owner.call(&instance, Call::FinishRound { task, round: 0, result: H256([3; 32]) }).await;
	calls += 1;
	let secs = start.elapsed().as_secs_f64();
	println!(
		"round with {n} members ({neighbours} reveals each): {calls} signed calls, {:.1} KiB signed payload, {:.0} ms start to result ({:.0} transitions/s)",
		bytes as f64 / 1024.0,
		secs * 1e3,
		calls as f64 / secs
	);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
	let dir = tempfile_dir();
	direct(&dir);
	let ledger = Ledger::open(&dir.join("rpc.sqlite"), Limits::default()).expect("open");
	let instance = ledger.instance();
	let (addr, _handle) = serve(Service::new(ledger), "127.0.0.1:0".parse().expect("addr")).await.expect("serve");
	let url = format!("ws://{addr}");
	round(&url, instance, 10, 10).await;
	round(&url, instance, 100, 12).await;
	let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
	let dir = std::env::temp_dir().join(format!("delta-coordinator-figures-{}", std::process::id()));
	std::fs::create_dir_all(&dir).expect("temp dir");
	dir
}
