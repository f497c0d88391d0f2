"""`delta-chain --chain local`: three validators on loopback author blocks
with Aura and finalise them with GRANDPA."""

from __future__ import annotations

import contextlib

from devnet import Node

ALICE_NODE_KEY = "0000000000000000000000000000000000000000000000000000000000000001"


def test_three_validators_finalize_blocks() -> None:
    with contextlib.ExitStack() as stack:
        alice = stack.enter_context(
            Node(
                ["--chain", "local", "--alice", "--validator", "--node-key", ALICE_NODE_KEY],
                name="alice",
            )
        )
        assert alice.peer_id is not None, "alice printed no peer id"
        bootnode = f"/ip4/127.0.0.1/tcp/{alice.p2p_port}/p2p/{alice.peer_id}"
        others = [
            stack.enter_context(
                Node(
                    [
                        "--chain",
                        "local",
                        f"--{who}",
                        "--validator",
                        "--node-key",
                        f"{i + 2:064x}",
                        "--bootnodes",
                        bootnode,
                    ],
                    name=who,
                )
            )
            for i, who in enumerate(["bob", "charlie"])
        ]
        nodes = [alice, *others]
        for node in nodes:
            node.wait_until(
                lambda node=node: node.finalized_number() >= 3, 180, "3 finalized blocks"
            )
        # All three agree on the finalized chain.
        heads = {n.rpc("chain_getBlockHash", [3]) for n in nodes}
        assert len(heads) == 1
