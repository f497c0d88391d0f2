"""Start and stop real `delta-chain` processes for end-to-end tests.

Every node runs on loopback with ports chosen free at start, in its own
process group and temporary base path, and is always stopped (SIGINT, then
SIGKILL) when the `with` block ends, whether the test passed or not.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def node_binary() -> str:
    """The `delta-chain` binary under test (DELTA_CHAIN_BIN, else the default build)."""
    explicit = os.environ.get("DELTA_CHAIN_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache" / "delta" / "target"))
    return str(Path(target) / "debug" / "delta-chain")


_HANDED_OUT: set[int] = set()
"""Ports `free_port` gave this process, never given twice."""


def _ephemeral_low() -> int:
    """The lowest port the kernel gives the source of an outgoing connection."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a process about to listen on
    it. Drawn below the kernel's ephemeral range: a port the kernel hands
    out (bind to 0) can be taken, before the process binds it, as the
    source port of one of the many connections a test's processes make
    (ten workers starting at once hit "Address already in use" so); and
    never the same one twice in this process."""
    low = _ephemeral_low()
    top = low if 11_000 < low <= 65_536 else 65_536
    for _ in range(200):
        port = random.randrange(10_000, top)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    _HANDED_OUT.add(port)
    return port


class NodeError(RuntimeError):
    """The node did not start or did not answer as expected."""


class Node:
    """One running `delta-chain` process."""

    RPC_LINE = re.compile(r"Running JSON-RPC server: addr=([0-9.]+):(\d+)")
    IDENTITY_LINE = re.compile(r"Local node identity is: (\w+)")

    def __init__(self, args: list[str], name: str = "node") -> None:
        self.name = name
        self.base_path = Path(tempfile.mkdtemp(prefix=f"delta-{name}-"))
        self.p2p_port = free_port()
        self.rpc_port = free_port()
        self.args = [
            node_binary(),
            *args,
            "--base-path",
            str(self.base_path),
            "--port",
            str(self.p2p_port),
            "--rpc-port",
            str(self.rpc_port),
            "--no-prometheus",
            "--no-telemetry",
            "--no-mdns",
        ]
        self.log: list[str] = []
        self.peer_id: str | None = None
        self._ready = threading.Event()
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Node:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 180.0) -> None:
        """Start the process and wait until its RPC server listens."""
        self.process = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read_log, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.2):
                return
            if self.process.poll() is not None:
                break
        tail = "".join(self.log[-40:])
        self.stop()
        raise NodeError(f"{self.name} did not start; last log lines:\n{tail}")

    def _read_log(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line)
            if m := self.IDENTITY_LINE.search(line):
                self.peer_id = m.group(1)
            if m := self.RPC_LINE.search(line):
                self.rpc_port = int(m.group(2))
                self._ready.set()

    def stop(self, timeout: float = 30.0, keep_data: bool = False) -> int | None:
        """Stop the node (SIGINT, SIGKILL after `timeout`); return its exit
        code. Its database is deleted unless `keep_data` (to restart it)."""
        code = None
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGINT)
                code = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                code = self.process.wait()
            except ProcessLookupError:
                code = self.process.wait()
        elif self.process is not None:
            code = self.process.returncode
        if not keep_data:
            shutil.rmtree(self.base_path, ignore_errors=True)
        return code

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.rpc_port}"

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        """One JSON-RPC call over HTTP."""
        body = json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        ).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.rpc_port}",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            reply = json.loads(response.read())
        if "error" in reply:
            raise NodeError(f"{method}: {reply['error']}")
        return reply["result"]

    def best_number(self) -> int:
        return int(self.rpc("chain_getHeader")["number"], 16)

    def finalized_number(self) -> int:
        head = self.rpc("chain_getFinalizedHead")
        return int(self.rpc("chain_getHeader", [head])["number"], 16)

    def wait_until(self, condition: Any, timeout: float, what: str) -> None:
        """Poll `condition()` until true; fail with `what` and the log tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.5)
        tail = "".join(self.log[-30:])
        raise NodeError(f"{self.name}: timed out waiting for {what}; log tail:\n{tail}")
