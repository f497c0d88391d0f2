"""A whole round of DeltaTask on a real `delta-chain --dev`, driven the way a
client would: two registered members join, commit, reveal; the owner records
the result. Non-members and wrong share kinds are refused by name."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from substrateinterface import Keypair, SubstrateInterface
from substrateinterface.base import ExtrinsicReceipt

from devnet import Node
from identity_client import assert_refused, connect, ed25519_peer_id, register, submit


@pytest.fixture(scope="module")
def chain() -> Iterator[SubstrateInterface]:
    with Node(["--dev"], name="task") as node:
        client = connect(node.ws_url)
        yield client
        client.close()


def call(
    chain: SubstrateInterface, who: Keypair, function: str, params: dict[str, Any]
) -> ExtrinsicReceipt:
    return submit(chain, who, function, params, module="DeltaTask")


refused = assert_refused


def ok(receipt: ExtrinsicReceipt) -> None:
    assert receipt.is_success, receipt.error_message


def phase(chain: SubstrateInterface) -> Any:
    return chain.query("DeltaTask", "Rounds", [0, 0]).value["state"]["phase"]


def hexb(data: bytes) -> str:
    return "0x" + data.hex()


def test_a_round_runs_to_its_result(chain: SubstrateInterface) -> None:
    owner = Keypair.create_from_uri("//Charlie")
    eve = Keypair.create_from_uri("//Eve")
    ferdie = Keypair.create_from_uri("//Ferdie")
    for i, who in enumerate([eve, ferdie]):
        peer = ed25519_peer_id(os.urandom(32))
        ok(register(chain, who, f"holder {i}", f"/ip4/127.0.0.1/tcp/{4100 + i}", peer))

    timeouts = {"open": 100, "share_keys": 100, "compute": 100, "unmask": 100}
    ok(
        call(
            chain,
            owner,
            "create_task",
            {
                "package": hexb(bytes(range(32))),
                "kind": "Statistics",
                "datasets": [hexb(b"patients")],
                "rounds": 1,
                "params": {
                    "min_members": 2,
                    "max_members": 2,
                    "threshold": 2,
                    "timeouts": timeouts,
                },
            },
        )
    )
    ok(call(chain, owner, "start_round", {"task": 0}))
    assert phase(chain) == "Open"

    refused(
        call(
            chain,
            owner,
            "join",
            {
                "task": 0,
                "round": 0,
                "channel_key": hexb(b"\1" * 32),
                "masking_key": hexb(b"\2" * 32),
            },
        ),
        "NotRegistered",
    )
    for i, who in enumerate([eve, ferdie]):
        keys = {"channel_key": hexb(bytes([i + 1]) * 32), "masking_key": hexb(bytes([i + 9]) * 32)}
        ok(call(chain, who, "join", {"task": 0, "round": 0, **keys}))
    assert phase(chain) == "ShareKeys"
    assert chain.query("DeltaTask", "Rounds", [0, 0]).value["seed"] is not None

    for who in [eve, ferdie]:
        ok(
            call(
                chain, who, "commit_shares", {"task": 0, "round": 0, "commitment": hexb(b"s" * 32)}
            )
        )
    assert phase(chain) == "Compute"
    for who in [eve, ferdie]:
        ok(
            call(
                chain, who, "commit_masked", {"task": 0, "round": 0, "commitment": hexb(b"m" * 32)}
            )
        )
    assert phase(chain) == "Unmask"

    refused(
        call(
            chain,
            eve,
            "reveal",
            {"task": 0, "round": 0, "shares": [(ferdie.ss58_address, "MaskKey", hexb(b"k" * 64))]},
        ),
        "WrongShareKind",
    )
    for who in [eve, ferdie]:
        shares = [(p.ss58_address, "SelfMask", hexb(b"x" * 64)) for p in [eve, ferdie]]
        ok(call(chain, who, "reveal", {"task": 0, "round": 0, "shares": shares}))
    assert phase(chain) == "Done"

    ok(call(chain, owner, "finish_round", {"task": 0, "round": 0, "result": hexb(b"r" * 32)}))
    ok(call(chain, owner, "finish_task", {"task": 0}))
    assert chain.query("DeltaTask", "Tasks", [0]).value["status"] == "Finished"
