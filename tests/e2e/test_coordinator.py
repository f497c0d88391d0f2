"""The `delta-coordinator` binary end to end: a whole round signed by
substrate-interface keypairs, refusals by name, and a SIGKILL mid-round
followed by a restart on the same database that loses nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from substrateinterface import Keypair

from coordinator import Client, Coordinator, RpcError

MEMBERS = ["//Bob", "//Charlie", "//Dave"]


def register_call(i: int) -> dict[str, Any]:
    return {
        "call": "register",
        "display_name": f"Hospital {i}",
        "endpoint": f"/ip4/127.0.0.1/tcp/{4200 + i}",
        "peer_id": "0x1220" + bytes([i]).hex() * 32,
    }


def create_call(timeout_ms: int) -> dict[str, Any]:
    t = timeout_ms
    return {
        "call": "create_task",
        "package": "0x" + "07" * 32,
        "kind": "Statistics",
        "datasets": ["patients"],
        "rounds": 1,
        "params": {
            "min_members": 2,
            "max_members": 3,
            "threshold": 2,
            "timeouts": {"open": t, "share_keys": t, "compute": t, "unmask": t},
        },
    }


def refused(client: Client, keypair: Keypair, call: dict[str, Any]) -> str:
    with pytest.raises(RpcError) as e:
        client.submit(keypair, call)
    return e.value.name


def test_a_round_signed_from_python_survives_a_kill(tmp_path: Path) -> None:
    db = tmp_path / "coordinator.sqlite"
    owner = Keypair.create_from_uri("//Alice")
    members = [Keypair.create_from_uri(uri) for uri in MEMBERS]
    with Coordinator(db) as coordinator:
        c = Client(coordinator.url)
        for i, m in enumerate(members):
            c.submit(m, register_call(i + 1))
        assert [m["display_name"] for m in c.call("coordinator_members")] != []
        assert refused(c, members[0], register_call(9)) == "AlreadyRegistered"
        assert refused(c, Keypair.create_from_uri("//Ferdie"), register_call(1)) == "PeerIdInUse"

        receipt = c.submit(owner, create_call(600_000))
        assert receipt["events"][0]["event"] == "TaskCreated"
        task = receipt["events"][0]["task"]
        c.submit(owner, {"call": "start_round", "task": task})
        for i, m in enumerate(members[:2]):
            key = bytes([i + 1]).hex() * 32
            other = bytes([i + 101]).hex() * 32
            call = {
                "call": "join",
                "task": task,
                "round": 0,
                "channel_key": "0x" + key,
                "masking_key": "0x" + other,
            }
            c.submit(m, call)
        assert c.call("coordinator_round", task, 0)["state"]["joined"] == 2
        # A replayed signed call is refused, also across the kill below.
        join3 = {
            "call": "join",
            "task": task,
            "round": 0,
            "channel_key": "0x" + "03" * 32,
            "masking_key": "0x" + "67" * 32,
        }
        signed = c.signed(members[2], join3)
        forged = dict(signed, signer=members[1].ss58_address)
        with pytest.raises(RpcError) as e:
            c.call("coordinator_submit", forged)
        assert e.value.name == "BadSignature"
        c.call("coordinator_submit", signed)
        with pytest.raises(RpcError) as e:
            c.call("coordinator_submit", signed)
        assert e.value.name == "BadNonce"
        round_before = c.call("coordinator_round", task, 0)
        assert round_before["state"]["phase"] == "ShareKeys"
        assert round_before["seed"] is not None
        c.close()
        coordinator.kill()

        coordinator.start()
        c = Client(coordinator.url)
        assert c.call("coordinator_round", task, 0) == round_before
        with pytest.raises(RpcError) as e:
            c.call("coordinator_submit", signed)
        assert e.value.name == "BadNonce"
        for m in members:
            c.submit(
                m,
                {"call": "commit_shares", "task": task, "round": 0, "commitment": "0x" + "01" * 32},
            )
        for m in members:
            c.submit(
                m,
                {"call": "commit_masked", "task": task, "round": 0, "commitment": "0x" + "02" * 32},
            )
        assert (
            refused(
                c,
                members[0],
                {"call": "commit_masked", "task": task, "round": 0, "commitment": "0x" + "02" * 32},
            )
            == "WrongPhase"
        )
        for m in members:
            shares = [
                {"owner": o.ss58_address, "kind": "SelfMask", "share": "0x" + "09" * 64}
                for o in members
            ]
            c.submit(m, {"call": "reveal", "task": task, "round": 0, "shares": shares})
        assert c.call("coordinator_round", task, 0)["state"]["phase"] == "Done"
        assert (
            refused(
                c,
                members[0],
                {"call": "finish_round", "task": task, "round": 0, "result": "0x" + "0a" * 32},
            )
            == "NotOwner"
        )
        c.submit(
            owner, {"call": "finish_round", "task": task, "round": 0, "result": "0x" + "0a" * 32}
        )
        c.submit(owner, {"call": "finish_task", "task": task})
        assert c.call("coordinator_task", task)["status"] == "Finished"
        events = c.call("coordinator_events", 1, 10_000)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), "the log has no gaps"
        kinds = [e["event"] for e in events]
        assert kinds.count("PhaseChanged") == 4 and kinds[-1] == "TaskFinished"
        c.close()


def test_deadlines_fire_on_the_coordinators_clock(tmp_path: Path) -> None:
    owner = Keypair.create_from_uri("//Alice")
    member = Keypair.create_from_uri("//Bob")
    with Coordinator(tmp_path / "c.sqlite") as coordinator:
        c = Client(coordinator.url)
        c.submit(member, register_call(1))
        task = c.submit(owner, create_call(400))["events"][0]["task"]
        c.call("coordinator_subscribeEvents")
        c.submit(owner, {"call": "start_round", "task": task})
        c.submit(
            member,
            {
                "call": "join",
                "task": task,
                "round": 0,
                "channel_key": "0x" + "01" * 32,
                "masking_key": "0x" + "02" * 32,
            },
        )
        while True:
            note = c.next_notification()
            event = note["params"]["result"]
            if event["event"] == "PhaseChanged":
                break
        assert event["phase"] == {"Failed": "NotEnoughMembers"}, "one member is below min_members"
        c.close()
