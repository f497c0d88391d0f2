//! # delta-fuzz: what the fuzz targets share
//!
//! Each target under `fuzz_targets/` feeds libFuzzer's bytes to one family
//! of decoders of untrusted bytes. Every target can also write its own seed
//! corpus: valid inputs made by *encoding* real values with the same code
//! the product uses, so the seeds follow the formats as they change. Run a
//! target's binary with `DELTA_FUZZ_SEEDS=<dir>` and it writes its seeds to
//! `<dir>/<target>/` and exits (`make fuzz` does so first); otherwise [`init`]
//! does nothing and libFuzzer runs as usual.

use std::path::Path;

/// The worker's runner-protocol decoders, compiled from the worker's own
/// source file (it depends on nothing else of the worker).
#[path = "../../node-worker/src/runner_wire.rs"]
pub mod runner_wire;

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use codec::Encode;
use delta_engine::{
	io::{canonical, Announcement},
	DType, Encoding, GraphChoice, GraphGoals, Message, OutputSpec, Ring, StepSpec,
};
use delta_ledger_api::{
	AccountId, Bytes, Call, Event, MemberInfo, RoundInfo, RoundMember, StoredEvent, TaskInfo, H256,
};
use delta_primitives::{
	round::{MemberStatus, Phase, PhaseTimeouts, RoundParams, RoundState},
	task::{TaskKind, TaskStatus},
};
use delta_secagg::{shamir::Share, EncryptedShare, MaskedInput, RingVector, ShareDelivery, ShareKeys, UnmaskResponse};

/// Called first by every target: writes the target's seeds and exits when
/// `DELTA_FUZZ_SEEDS` names a folder.
pub fn init(target: &str) {
	let Some(dir) = std::env::var_os("DELTA_FUZZ_SEEDS") else { return };
	let dir = Path::new(&dir).join(target);
	let written = std::fs::create_dir_all(&dir).and_then(|()| {
		for (name, bytes) in seeds(target) {
			std::fs::write(dir.join(name), bytes)?;
		}
		Ok(())
	});
	match written {
		Ok(()) => std::process::exit(0),
		Err(e) => {
			eprintln!("cannot write the seeds of {target} to {}: {e}", dir.display());
			std::process::exit(1)
		},
	}
}

/// The seeds of one target, by file name.
pub fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
	let named = |items: Vec<Vec<u8>>, stem: &str| {
		items.into_iter().enumerate().map(|(i, b)| (format!("seed-{stem}-{i}"), b)).collect::<Vec<_>>()
	};
	match target {
		"peer_message" => named(messages().iter().filter_map(|m| canonical(m).ok()).collect(), "message"),
		"runner_reply" => named(runner_replies(), "reply"),
		// Header (members, threshold, graph, corruption), then the tape.
		"protocol" => named(
			vec![
				vec![0, 0, 0, 0],
				vec![2, 1, 1, 0],
				[&[1, 0, 0, 0][..], &[130; 8]].concat(),
				[&[0, 1, 0, 0xe1][..], &[208, 0, 0, 1, 224, 4, 1, 2, 3, 4, 240, 0, 176, 9]].concat(),
				[&[2, 2, 1, 0xff][..], &[241, 0, 209, 7, 0, 0x80]].concat(),
				// The first run's finding (a masked input lost after its
				// commitment), also sim/tests/adversary.rs's regression test.
				vec![0, 0, 0, 0, 0x4c, 1, 0, 0xe1, 0, 1, 0xe0, 4, 0, 0xf0, 0x87, 0, 0x80, 0],
			],
			"schedule",
		),
		"zk_key" => named(vec![ZK_VK.to_vec(), ZK_VK_1.to_vec()], "vk"),
		"zk_proof" => named(vec![[ZK_PROOF, ZK_INPUTS].concat(), ZK_PROOF.to_vec()], "proof"),
		"zk_snarkjs" => named(snarkjs_documents(), "json"),
		"ledger_json" => named(ledger_documents(), "json"),
		"ledger_scale" => named(ledger_records(), "scale"),
		"identity" => named(identity_inputs(), "record"),
		_ => Vec::new(),
	}
}

/// The dataset-commitment fixture: a key with 6 public inputs, a proof and
/// its inputs (`crypto/zk/fixtures`).
pub const ZK_VK: &[u8] = include_bytes!("../../crypto/zk/fixtures/dataset_5x2.vk");
/// The proof of [`ZK_VK`]'s fixture.
pub const ZK_PROOF: &[u8] = include_bytes!("../../crypto/zk/fixtures/dataset_5x2.proof");
/// The public inputs of [`ZK_VK`]'s fixture.
pub const ZK_INPUTS: &[u8] = include_bytes!("../../crypto/zk/fixtures/dataset_5x2.inputs");
const ZK_VK_1: &[u8] = include_bytes!("../../crypto/zk/fixtures/inputs_1.vk");

fn step() -> StepSpec {
	StepSpec {
		dataset: "patients".into(),
		body: br#"{"columns":["age"]}"#.to_vec(),
		outputs: vec![
			OutputSpec::new("sum", DType::F64, vec![2]),
			OutputSpec::new("w", DType::F32, vec![2, 3]).bounded(4.0),
			OutputSpec::new("n", DType::I64, vec![]),
		],
		privacy: None,
	}
}

fn messages() -> Vec<Message> {
	let announce = |graph, ring| {
		Message::Announce(Announcement {
			task: 3,
			round: 1,
			step: step(),
			encoding: Encoding { ring, fractional_bits: 24 },
			graph,
			package: br#"{"files":{},"manifest":{}}"#.to_vec(),
		})
	};
	let share = |holder| Share { holder, values: [[7; 32], [9; 32]] };
	vec![
		announce(GraphChoice::SparseDefault, Ring::Bits64),
		announce(GraphChoice::Complete, Ring::Bits32),
		announce(GraphChoice::Sparse(GraphGoals { security_bits: 64, ..GraphGoals::default() }), Ring::Bits128),
		Message::ShareKeys {
			task: 3,
			round: 1,
			body: ShareKeys { member: 0, shares: vec![EncryptedShare { from: 0, to: 1, ciphertext: vec![5; 96] }] },
		},
		Message::Delivery {
			task: 3,
			round: 1,
			body: ShareDelivery { to: 1, shares: vec![EncryptedShare { from: 0, to: 1, ciphertext: vec![5; 96] }] },
		},
		Message::Masked { task: 3, round: 1, body: MaskedInput { member: 2, vector: RingVector::U64(vec![1, 2, 3]) } },
		Message::Masked {
			task: 3,
			round: 1,
			body: MaskedInput { member: 2, vector: RingVector::U128(vec![u128::MAX]) },
		},
		Message::Unmask {
			task: 3,
			round: 1,
			body: UnmaskResponse {
				member: 1,
				self_mask_shares: vec![(0, share(1))],
				mask_key_shares: vec![(2, share(1))],
			},
		},
		Message::Decline { task: 3, round: 1, reason: "the holder's policy needs 10 rows".into() },
	]
}

fn runner_replies() -> Vec<Vec<u8>> {
	let step = step();
	let values = [0u8; 2 * 8 + 6 * 4 + 8];
	let message = |json: serde_json::Value, attach: &[&[u8]]| {
		let mut request = runner_wire::Request::new(json);
		for (i, bytes) in attach.iter().enumerate() {
			let field = if i == 0 { "values" } else { "extra" };
			request.json[field] = request.attach(bytes);
		}
		let mut out = Vec::new();
		request.write_to(&mut out).expect("writing to memory cannot fail");
		out
	};
	let mut stepped = runner_wire::Request::new(serde_json::json!({"ok": true}));
	stepped.json["step"] = runner_wire::step_json(&step, &mut stepped);
	let mut with_step = Vec::new();
	stepped.write_to(&mut with_step).expect("writing to memory cannot fail");
	let mut out = vec![
		message(serde_json::json!({"ok": true, "protocol": 5}), &[]),
		message(serde_json::json!({"ok": true, "dataset": "patients", "max_rounds": 3, "kind": "statistics"}), &[]),
		with_step,
		message(serde_json::json!({"ok": true}), &[&values]),
		message(serde_json::json!({"ok": true, "values": B64.encode(values)}), &[]),
		message(serde_json::json!({"ok": true, "done": {"mean": [1.5, 2.0]}}), &[]),
		message(serde_json::json!({"ok": false, "kind": "policy", "error": "too few rows"}), &[]),
	];
	// A whole conversation, as the worker reads it from one stream.
	out.push(out.concat());
	out
}

fn snarkjs_documents() -> Vec<Vec<u8>> {
	use delta_zk::{encoding::decode_inputs, snarkjs, Proof, VerifyingKey};
	let mut out = Vec::new();
	if let Ok(key) = VerifyingKey::from_bytes(ZK_VK) {
		out.push(snarkjs::verifying_key_to_json(&key).into_bytes());
	}
	if let Ok(proof) = Proof::from_bytes(ZK_PROOF) {
		out.push(snarkjs::proof_to_json(&proof).into_bytes());
	}
	if let Ok(inputs) = decode_inputs(ZK_INPUTS) {
		out.push(snarkjs::inputs_to_json(&inputs).into_bytes());
	}
	out
}

fn params() -> RoundParams {
	RoundParams {
		min_members: 2,
		max_members: 10,
		threshold: 2,
		timeouts: PhaseTimeouts { open: 10_000, share_keys: 10_000, compute: 30_000, unmask: 10_000 },
	}
}

fn round_state() -> RoundState {
	RoundState { params: params(), phase: Phase::ShareKeys, deadline: 99, joined: 3, shared: 1, masked: 0, revealed: 0 }
}

const ALICE: AccountId = AccountId([0xd4; 32]);

fn ledger_documents() -> Vec<Vec<u8>> {
	let task = TaskInfo {
		id: 3,
		owner: ALICE,
		package: H256([1; 32]),
		kind: TaskKind::Statistics,
		datasets: vec!["patients".into()],
		rounds: 2,
		params: params(),
		status: TaskStatus::Active,
		rounds_started: 1,
		created_at: 1_700_000_000_000,
	};
	let round = RoundInfo {
		state: round_state(),
		seed: Some(H256([2; 32])),
		result: None,
		members: vec![RoundMember {
			account: ALICE,
			status: MemberStatus::Shared,
			channel_key: H256([3; 32]),
			masking_key: H256([4; 32]),
			shares: Some(H256([5; 32])),
			masked: None,
		}],
	};
	let member = MemberInfo {
		account: ALICE,
		display_name: "St Mary's".into(),
		endpoint: "/ip4/127.0.0.1/tcp/4001".into(),
		peer_id: Bytes(vec![0, 36, 8, 1, 18, 32, 1, 2, 3]),
		registered_at: 1,
		updated_at: 2,
	};
	let event = StoredEvent { seq: 7, at: 1_700_000_000_000, event: Event::Joined { task: 3, round: 1, who: ALICE } };
	let call = Call::Join { task: 3, round: 1, channel_key: H256([3; 32]), masking_key: H256([4; 32]) };
	let mut out = Vec::new();
	let mut push = |v: serde_json::Result<Vec<u8>>| out.extend(v.ok());
	push(serde_json::to_vec(&task));
	push(serde_json::to_vec(&round));
	push(serde_json::to_vec(&member));
	push(serde_json::to_vec(&event));
	push(serde_json::to_vec(&call));
	push(serde_json::to_vec(&serde_json::json!({ "events": [event] })));
	// Accounts as people type them: SS58 (two prefixes) and hex.
	out.push(b"\"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY\"".to_vec());
	out.push(b"\"15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5\"".to_vec());
	out.push(format!("\"0x{}\"", "d4".repeat(32)).into_bytes());
	out
}

fn ledger_records() -> Vec<Vec<u8>> {
	let (task, round, member) = chain::examples();
	let mut out = vec![
		[vec![chain::TASK], Some(task).encode()].concat(),
		[vec![chain::ROUND], Some(round).encode()].concat(),
		[vec![chain::MEMBERS], vec![([0xd4u8; 32], member.clone())].encode()].concat(),
		[vec![chain::MEMBER], Some(member).encode()].concat(),
		[vec![chain::ACCOUNT], Some([0xd4u8; 32]).encode()].concat(),
		[vec![chain::TASK_CREATED], (3u64, [0xd4u8; 32], [1u8; 32]).encode()].concat(),
	];
	out.push(vec![chain::TASK, 0]);
	out
}

fn identity_inputs() -> Vec<Vec<u8>> {
	let peer_id = [0u8, 36, 8, 1, 18, 32].iter().copied().chain([7u8; 32]).collect::<Vec<_>>();
	let base58_peer = delta_primitives::base58::encode(&peer_id);
	vec![
		[b"e/ip4/127.0.0.1/tcp/4001".as_slice()].concat(),
		format!("e/dns/worker.example.org/tcp/4001/p2p/{base58_peer}").into_bytes(),
		b"e/ip6/::1/udp/9/quic-v1".to_vec(),
		[b"p".as_slice(), &peer_id].concat(),
		b"nSt Mary's".to_vec(),
	]
}

/// The chain's records as the worker's chain ledger decodes them (SCALE,
/// `node-worker/src/ledger/chain.rs`): the runtime API views of the task
/// and identity pallets and the `TaskCreated` event's fields.
///
/// The views are the pallets' types (`TaskView`, `RoundView`,
/// `MemberInfo`), which need `frame-support` to compile; their SCALE form
/// is that of a tuple of their fields in order, so they are restated here
/// as tuples of the same `delta-primitives` types and byte arrays. Keep
/// them in the pallets' field order.
pub mod chain {
	use super::*;

	/// First input byte: which record the rest is.
	pub const TASK: u8 = 0;
	/// `DeltaTaskApi_round`.
	pub const ROUND: u8 = 1;
	/// `DeltaIdentityApi_members`.
	pub const MEMBERS: u8 = 2;
	/// `DeltaIdentityApi_member`.
	pub const MEMBER: u8 = 3;
	/// `DeltaIdentityApi_account_by_peer_id`.
	pub const ACCOUNT: u8 = 4;
	/// The `DeltaTask::TaskCreated` event's fields.
	pub const TASK_CREATED: u8 = 5;

	/// `TaskView<[u8; 32]>`: owner, package, kind, datasets, rounds,
	/// params, status, rounds_started.
	pub type TaskView = ([u8; 32], [u8; 32], TaskKind, Vec<Vec<u8>>, u32, RoundParams, TaskStatus, u32);
	/// `RoundMember`: status, channel key, masking key, shares, masked.
	pub type RoundMember = (MemberStatus, [u8; 32], [u8; 32], Option<[u8; 32]>, Option<[u8; 32]>);
	/// `RoundView<[u8; 32]>`: state, seed, result, members.
	pub type RoundView = (RoundState, Option<[u8; 32]>, Option<[u8; 32]>, Vec<([u8; 32], RoundMember)>);
	/// `pallet_delta_identity::MemberInfo<u32>`: display name, endpoint,
	/// peer id (bounded byte strings: a compact length and the bytes),
	/// registered at, updated at.
	pub type MemberInfo = (Vec<u8>, Vec<u8>, Vec<u8>, u32, u32);

	/// One example of each record.
	pub fn examples() -> (TaskView, RoundView, MemberInfo) {
		let task =
			([0xd4; 32], [1; 32], TaskKind::Statistics, vec![b"patients".to_vec()], 2, params(), TaskStatus::Active, 1);
		let round = (
			round_state(),
			Some([2; 32]),
			None,
			vec![([0xd4; 32], (MemberStatus::Joined, [3; 32], [4; 32], None, None))],
		);
		let member = (b"St Mary's".to_vec(), b"/ip4/127.0.0.1/tcp/4001".to_vec(), vec![0, 36, 8, 1], 5, 6);
		(task, round, member)
	}
}
