"""`make demo`: start a Delta dev chain, register sample data holders'
workers in DeltaIdentity as a real client would, print the member list, and
stop the chain cleanly."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "py"))

from substrateinterface import Keypair  # noqa: E402

from devnet import Node  # noqa: E402
from identity_client import (  # noqa: E402
    base58,
    connect,
    ed25519_peer_id,
    register,
    runtime_api_members,
)

HOLDERS = [
    ("//Alice", "Charité Hospital", 4001),
    ("//Bob", "Bank of Example", 4002),
    ("//Charlie", "Clinic C", 4003),
]


def main() -> int:
    print("Starting delta-chain --dev ...", flush=True)
    started = time.monotonic()
    with Node(["--dev"], name="demo") as node:
        print(f"  RPC at {node.ws_url} after {time.monotonic() - started:.1f} s")
        node.wait_until(lambda: node.best_number() >= 1, 30, "the first block")
        print(f"  first block after {time.monotonic() - started:.1f} s")
        chain = connect(node.ws_url)
        for uri, name, port in HOLDERS:
            keypair = Keypair.create_from_uri(uri)
            # A sample libp2p identity; a real worker registers its own key.
            peer_id = ed25519_peer_id(os.urandom(32))
            endpoint = f"/ip4/127.0.0.1/tcp/{port}"
            t = time.monotonic()
            receipt = register(chain, keypair, name, endpoint, peer_id)
            if not receipt.is_success:
                print(f"registering {name} failed: {receipt.error_message}", file=sys.stderr)
                return 1
            print(
                f"  registered {name!r} as {keypair.ss58_address[:10]}… "
                f"in block {chain.get_block_number(receipt.block_hash)} "
                f"({time.monotonic() - t:.1f} s)"
            )
        print("\nMembers of the network (runtime API DeltaIdentityApi_members):")
        print(f"  {'account':<50} {'name':<18} {'endpoint':<24} {'peer id':<54} block")
        for m in sorted(runtime_api_members(chain), key=lambda m: m.registered_at):
            account = Keypair(public_key=m.account, ss58_format=42).ss58_address
            print(
                f"  {account:<50} {m.display_name:<18} {m.endpoint:<24} "
                f"{base58(m.peer_id):<54} {m.registered_at}"
            )
        chain.close()
        code = node.stop()
    print(f"\ndelta-chain stopped (exit code {code}).")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
