"""`delta-chain --dev` as a client sees it: blocks on demand and on a timer,
instant finality, standard metadata, and the DeltaIdentity pallet through
Python's substrate-interface, unchanged."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from substrateinterface import Keypair

from devnet import Node
from identity_client import (
    base58,
    connect,
    ed25519_peer_id,
    metadata_versions,
    register,
    runtime_api_members,
    scale_bytes,
    submit,
)


@pytest.fixture(scope="module")
def dev_node() -> Iterator[Node]:
    with Node(["--dev", "--empty-block-interval", "1000"], name="dev") as node:
        yield node


def test_empty_blocks_keep_coming_and_are_final_at_once(dev_node: Node) -> None:
    start = dev_node.best_number()
    dev_node.wait_until(lambda: dev_node.best_number() >= start + 2, 30, "empty blocks")
    best = dev_node.best_number()
    dev_node.wait_until(
        lambda: dev_node.finalized_number() >= best, 10, "finality of the best block"
    )


def test_engine_create_block_seals_on_request(dev_node: Node) -> None:
    before = dev_node.best_number()
    created = dev_node.rpc("engine_createBlock", [True, True, None])
    assert created["hash"].startswith("0x")
    header = dev_node.rpc("chain_getHeader", [created["hash"]])
    assert int(header["number"], 16) > before


def test_metadata_v14_to_v16_is_served(dev_node: Node) -> None:
    chain = connect(dev_node.ws_url)
    assert {14, 15, 16} <= set(metadata_versions(chain))
    assert chain.get_metadata_call_function("DeltaIdentity", "register") is not None


def test_register_read_back_update_and_leave(dev_node: Node) -> None:
    chain = connect(dev_node.ws_url)
    alice = Keypair.create_from_uri("//Alice")
    peer_id = ed25519_peer_id(bytes(range(32)))
    endpoint = f"/ip4/127.0.0.1/tcp/4001/p2p/{base58(peer_id)}"

    receipt = register(chain, alice, "Charité Hospital", endpoint, peer_id)
    assert receipt.is_success, receipt.error_message
    events = [(e.value["module_id"], e.value["event_id"]) for e in receipt.triggered_events]
    assert ("DeltaIdentity", "Registered") in events

    stored = chain.query("DeltaIdentity", "Members", [alice.ss58_address]).value
    assert scale_bytes(stored["peer_id"]) == peer_id
    owner = chain.query("DeltaIdentity", "AccountByPeerId", ["0x" + peer_id.hex()]).value
    assert owner == alice.ss58_address

    members = {m.account: m for m in runtime_api_members(chain)}
    mine = members[alice.public_key]
    assert mine.display_name == "Charité Hospital"
    assert mine.endpoint == endpoint
    assert mine.peer_id == peer_id
    assert mine.registered_at == mine.updated_at > 0

    receipt = submit(
        chain,
        alice,
        "update",
        {
            "display_name": None,
            "endpoint": "0x" + b"/dns4/h.example/tcp/443/wss".hex(),
            "peer_id": None,
        },
    )
    assert receipt.is_success, receipt.error_message
    mine = {m.account: m for m in runtime_api_members(chain)}[alice.public_key]
    assert mine.endpoint == "/dns4/h.example/tcp/443/wss"
    assert mine.display_name == "Charité Hospital"
    assert mine.updated_at > mine.registered_at

    receipt = submit(chain, alice, "leave", {})
    assert receipt.is_success, receipt.error_message
    assert alice.public_key not in {m.account for m in runtime_api_members(chain)}
    assert chain.query("DeltaIdentity", "AccountByPeerId", ["0x" + peer_id.hex()]).value is None


def test_refusals_are_named_and_change_nothing(dev_node: Node) -> None:
    chain = connect(dev_node.ws_url)
    bob = Keypair.create_from_uri("//Bob")
    charlie = Keypair.create_from_uri("//Charlie")
    bob_peer = ed25519_peer_id(bytes([2] * 32))
    ok = register(chain, bob, "Bank B", "/ip4/127.0.0.1/tcp/4002", bob_peer)
    assert ok.is_success, ok.error_message
    before = runtime_api_members(chain)

    cases = [
        (
            bob,
            "Bank B again",
            "/ip4/127.0.0.1/tcp/4002",
            ed25519_peer_id(bytes([3] * 32)),
            "AlreadyRegistered",
        ),
        (charlie, "Impostor", "/ip4/127.0.0.1/tcp/4003", bob_peer, "PeerIdInUse"),
        (charlie, "Clinic C", "/ip4/127.0.0.1/tcp/4003", b"not a peer id", "MalformedPeerId"),
        (
            charlie,
            "Clinic C",
            "127.0.0.1:4003",
            ed25519_peer_id(bytes([3] * 32)),
            "MalformedEndpoint",
        ),
        (
            charlie,
            "",
            "/ip4/127.0.0.1/tcp/4003",
            ed25519_peer_id(bytes([3] * 32)),
            "DisplayNameEmpty",
        ),
        (
            charlie,
            "x" * 65,
            "/ip4/127.0.0.1/tcp/4003",
            ed25519_peer_id(bytes([3] * 32)),
            "DisplayNameTooLong",
        ),
    ]
    for who, name, endpoint, peer, error in cases:
        receipt = register(chain, who, name, endpoint, peer)
        assert not receipt.is_success
        assert receipt.error_message["name"] == error, receipt.error_message
    assert runtime_api_members(chain) == before

    receipt = submit(chain, charlie, "leave", {})
    assert not receipt.is_success
    assert receipt.error_message["name"] == "NotRegistered"


def test_node_stops_cleanly_on_sigint() -> None:
    node = Node(["--dev"], name="dev-stop")
    node.start()
    node.wait_until(lambda: node.best_number() >= 0, 10, "RPC")
    assert node.stop() == 0, "".join(node.log[-20:])
    assert not os.path.exists(node.base_path)


def test_polkadot_js_works_unchanged(dev_node: Node) -> None:
    """@polkadot/api with no custom types: sign and submit a DeltaIdentity
    call, read the member back through storage and the runtime API."""
    script = Path(__file__).resolve().parent / "js" / "identity.mjs"
    peer_id = ed25519_peer_id(bytes([4] * 32))
    result = subprocess.run(
        ["node", str(script), dev_node.ws_url, "0x" + peer_id.hex()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["outcome"]["ok"], seen["outcome"]
    assert "deltaIdentity.Registered" in seen["outcome"]["events"]
    assert seen["stored"]["peerId"] == "0x" + peer_id.hex()
    listed = {entry[0]: entry[1] for entry in seen["listed"]}
    assert listed[seen["address"]]["endpoint"] == "0x" + b"/ip4/127.0.0.1/tcp/4004".hex()
    assert {14, 15, 16} <= set(seen["metadataVersions"])
