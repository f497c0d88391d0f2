"""Start a real `delta-coordinator` process and talk to it: JSON-RPC over
WebSocket, calls signed with substrate-interface sr25519 keypairs exactly as
the coordinator's signing rules say (see coordinator/src/signing.rs)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import websocket
from process import ManagedProcess
from substrateinterface import Keypair

SIGNING_DOMAIN = b"delta-coordinator/v1:"


def coordinator_binary() -> str:
    """The binary under test (DELTA_COORDINATOR_BIN, else the default build)."""
    explicit = os.environ.get("DELTA_COORDINATOR_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache" / "delta" / "target"))
    return str(Path(target) / "debug" / "delta-coordinator")


class RpcError(RuntimeError):
    """A JSON-RPC error; `name` is the refusal's name (e.g. "WrongPhase")."""

    def __init__(self, code: int, name: str, data: Any) -> None:
        super().__init__(f"{name} ({code}): {data}")
        self.code = code
        self.name = name
        self.data = data


class Coordinator(ManagedProcess):
    """One `delta-coordinator` process on a free loopback port."""

    what = "delta-coordinator"

    def __init__(
        self, db: Path, extra: list[str] | None = None, listen: str = "127.0.0.1:0"
    ) -> None:
        super().__init__()
        self.db = db
        self.listen = listen
        self.extra = extra or []
        self.url = ""

    def __enter__(self) -> Coordinator:
        self.start()
        return self

    def start(self, timeout: float = 30.0) -> None:
        def ready(line: str) -> bool:
            if "listening on " in line:
                self.url = line.split("listening on ", 1)[1].strip()
                return True
            return False

        args = [coordinator_binary(), "--db", str(self.db), "--listen", self.listen, *self.extra]
        self.spawn(args, ready, timeout)


class Client:
    """A JSON-RPC client over one WebSocket connection."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=30)
        self.next_id = 0
        self.notifications: list[dict[str, Any]] = []
        info = self.call("coordinator_info")
        self.instance = bytes.fromhex(info["instance"][2:])

    def close(self) -> None:
        self.ws.close()

    def call(self, method: str, *params: Any) -> Any:
        self.next_id += 1
        request_id = self.next_id
        self.ws.send(
            json.dumps(
                {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}
            )
        )
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == request_id:
                break
            self.notifications.append(reply)
        if "error" in reply:
            e = reply["error"]
            raise RpcError(e["code"], e["message"], e.get("data"))
        return reply["result"]

    def next_notification(self) -> dict[str, Any]:
        if self.notifications:
            return self.notifications.pop(0)
        return dict(json.loads(self.ws.recv()))

    def signed(
        self, keypair: Keypair, call: dict[str, Any], nonce: int | None = None
    ) -> dict[str, str]:
        """A signed call: the payload text exactly as signed."""
        if nonce is None:
            nonce = int(self.call("coordinator_nextNonce", keypair.ss58_address))
        payload = json.dumps({"nonce": nonce, "call": call}, separators=(",", ":"))
        signature = keypair.sign(SIGNING_DOMAIN + self.instance + payload.encode())
        return {
            "signer": keypair.ss58_address,
            "payload": payload,
            "signature": "0x" + signature.hex(),
        }

    def submit(self, keypair: Keypair, call: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("coordinator_submit", self.signed(keypair, call)))
