"""ZkVerify on a real `delta-chain --dev`: Groth16 proofs verified natively
through the host function, keys registered with a deposit, dataset
commitments stored, and every bad input refused by name with nothing
recorded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from substrateinterface import Keypair, SubstrateInterface
from substrateinterface.base import ExtrinsicReceipt

from devnet import Node
from identity_client import assert_refused, connect, submit

FIXTURES = Path(__file__).resolve().parents[2] / "crypto" / "zk" / "fixtures"


def fixture(name: str) -> tuple[bytes, bytes, bytes]:
    return tuple((FIXTURES / f"{name}.{ext}").read_bytes() for ext in ("vk", "proof", "inputs"))  # type: ignore[return-value]


def hexb(data: bytes) -> str:
    return "0x" + data.hex()


@pytest.fixture(scope="module")
def chain() -> Iterator[SubstrateInterface]:
    with Node(["--dev"], name="zk") as node:
        client = connect(node.ws_url)
        yield client
        client.close()


def call(
    chain: SubstrateInterface, who: Keypair, function: str, params: dict[str, Any]
) -> ExtrinsicReceipt:
    return submit(chain, who, function, params, module="ZkVerify")


refused = assert_refused


def attestations(chain: SubstrateInterface) -> int:
    return int(chain.query("ZkVerify", "NextAttestation").value)


def test_genesis_keys_verify_a_sum_proof_and_refuse_a_lie(chain: SubstrateInterface) -> None:
    key, proof, inputs = fixture("sum_5x2_col1")
    key_hash = hashlib.sha256(key).digest()
    info = chain.query("ZkVerify", "Keys", [hexb(key_hash)]).value
    assert info["kind"] == "ContributionSum" and info["inputs"] == 2 and info["owner"] is None
    bob = Keypair.create_from_uri("//Bob")
    lie = bytearray(inputs)
    lie[40] ^= 1
    params = {"key": hexb(key_hash), "proof": hexb(proof), "statement": (3, 0)}
    refused(call(chain, bob, "verify", {**params, "inputs": hexb(bytes(lie))}), "InvalidProof")
    refused(call(chain, bob, "verify", {**params, "inputs": hexb(inputs[:32])}), "WrongInputCount")
    refused(
        call(chain, bob, "verify", {**params, "inputs": hexb(inputs), "key": hexb(b"\1" * 32)}),
        "UnknownKey",
    )
    garbled = bytearray(proof)
    garbled[3] ^= 0xFF
    refused(
        call(
            chain, bob, "verify", {**params, "inputs": hexb(inputs), "proof": hexb(bytes(garbled))}
        ),
        "MalformedProof",
    )
    assert attestations(chain) == 0
    receipt = call(chain, bob, "verify", {**params, "inputs": hexb(inputs)})
    assert receipt.is_success, receipt.error_message
    assert attestations(chain) == 1
    attestation = chain.query("ZkVerify", "Attestations", [0]).value
    assert attestation["prover"] == bob.ss58_address
    assert attestation["statement"] == (3, 0) or list(attestation["statement"]) == [3, 0]
    assert attestation["inputs"] == hexb(hashlib.sha256(inputs).digest())


def test_a_member_commits_a_dataset_and_registers_its_own_key(chain: SubstrateInterface) -> None:
    key, proof, inputs = fixture("dataset_5x2")
    charlie = Keypair.create_from_uri("//Charlie")
    receipt = call(
        chain,
        charlie,
        "commit_dataset",
        {
            "name": hexb(b"patients"),
            "key": hexb(hashlib.sha256(key).digest()),
            "proof": hexb(proof),
            "inputs": hexb(inputs),
        },
    )
    assert receipt.is_success, receipt.error_message
    stored = chain.query(
        "ZkVerify", "DatasetCommitments", [charlie.ss58_address, hexb(b"patients")]
    ).value
    assert stored["rows"] == 5
    assert stored["root"] == hexb(inputs[:32])
    assert stored["at_ms"] > 1_700_000_000_000

    own, own_proof, own_inputs = fixture("inputs_3")
    dave = Keypair.create_from_uri("//Dave")
    bad = bytearray(own)
    bad[60] ^= 0xFF
    refused(
        call(chain, dave, "register_key", {"kind": "Generic", "key": hexb(bytes(bad))}),
        "MalformedKey",
    )
    before = chain.query("System", "Account", [dave.ss58_address]).value["data"]["reserved"]
    assert call(chain, dave, "register_key", {"kind": "Generic", "key": hexb(own)}).is_success
    after = chain.query("System", "Account", [dave.ss58_address]).value["data"]["reserved"]
    assert after - before == 10 * 10**12, "the key deposit is reserved"
    refused(call(chain, dave, "register_key", {"kind": "Generic", "key": hexb(own)}), "KeyExists")
    own_hash = hexb(hashlib.sha256(own).digest())
    ok = call(
        chain,
        dave,
        "verify",
        {"key": own_hash, "proof": hexb(own_proof), "inputs": hexb(own_inputs), "statement": None},
    )
    assert ok.is_success, ok.error_message
