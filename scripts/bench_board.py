"""`make bench-board`: the latency Deltaboard's API forwarding adds to one
JSON-RPC call, beside the same call made to the worker's API directly.

Starts a `delta-coordinator`, three sample hospitals' `delta-worker`s and
a `delta-board` (without JupyterHub) in front of the first worker; creates
the first administrator through the one-time set-up address and one
approved member with an API token; submits one small `Analytics` query
(`Summary` of `tests/e2e/worker_tasks.py`) through the member's board
address and waits for it, so that the status and log calls name a real,
finished task.

Then, for each call (`delta_info`, `delta_status` {id}, `delta_logs` {id,
from: 0}, `delta_list`), makes 20 warm-up calls each way and then
`--calls` timed calls each way, interleaved call by call (direct, board,
direct, ...), each side over its own keep-alive `requests.Session` with
identical bodies and a bearer token (`delta.Client` opens a connection per
call, which would time TCP set-up too). A call's time is
`time.perf_counter` around the POST, the answer's body read. The table
gives each side's median, the added median (board median - direct
median) and the added p90 (board p90 - direct p90). The last line compares
the largest per-call added median with the target of 5 ms.

A benchmark, not a test: exits 0 over or under the target, non-zero only
when something fails (a process does not start, a call is refused).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "py"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import requests  # noqa: E402
import worker_tasks  # noqa: E402
from workers import start_holders  # noqa: E402

import delta  # noqa: E402
from board import Board, Person  # noqa: E402

BLOCK_MS = 500
WARMUP = 20
TARGET_MS = 5.0
ADMIN = ("root", "correct horse battery")
MEMBER = ("ann", "ann has a long password")


class Rpc:
    """JSON-RPC 2.0 over one keep-alive HTTP session, timing each call."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False  # no proxy from the environment on loopback
        self.http.headers.update(
            {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": f"Bearer {token}",
            }
        )
        self.ids = 0

    def timed(self, method: str, params: dict[str, Any]) -> float:
        """One call; returns its time in seconds, raising on any error."""
        self.ids += 1
        body = {"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params}
        start = time.perf_counter()
        r = self.http.post(self.url, json=body, timeout=30)
        elapsed = time.perf_counter() - start
        r.raise_for_status()
        answer = r.json()
        if "error" in answer or answer.get("id") != self.ids:
            raise RuntimeError(f"{method} at {self.url}: {answer!r:.300}")
        return elapsed


def set_up_admin(board: Board) -> Person:
    """The first administrator, from the one-time set-up address."""
    if not board.setup_url:
        raise RuntimeError("the board printed no set-up address")
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(board.setup_url).query)["token"][0]
    admin = board.person()
    name, password = ADMIN
    form = {"name": name, "password": password, "again": password, "token": token}
    r = admin.post("/setup", form)
    if r.status_code != 200:
        raise RuntimeError(f"set-up failed: HTTP {r.status_code}")
    return admin


def approved_member(board: Board, admin: Person) -> str:
    """Signs up, approves and signs in the member; returns a new API token."""
    name, password = MEMBER
    p = board.person()
    if p.sign_up(name, password).status_code != 200:
        raise RuntimeError("sign-up failed")
    admin.get("/users")
    if admin.post(f"/users/{name}/approve", {}).status_code != 200:
        raise RuntimeError("approval failed")
    signed = p.sign_in(name, password)
    if signed.status_code != 200:
        raise RuntimeError(f"sign-in failed: HTTP {signed.status_code}")
    return p.new_token("bench")


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def measure(
    direct: Rpc, board: Rpc, method: str, params: dict[str, Any], calls: int
) -> tuple[list[float], list[float]]:
    """`calls` timed calls each way, interleaved, after the warm-up; ms."""
    for _ in range(WARMUP):
        direct.timed(method, params)
        board.timed(method, params)
    d: list[float] = []
    b: list[float] = []
    for _ in range(calls):
        d.append(direct.timed(method, params) * 1000)
        b.append(board.timed(method, params) * 1000)
    return d, b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="timed calls per side and method")
    args = parser.parse_args()
    if args.calls < 2:
        parser.error("--calls must be at least 2")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="delta-bench-board-") as tmp:
        root = Path(tmp)
        print("bench-board: starting a coordinator, three workers and delta-board ...")
        with start_holders("coordinator", root, "bench-board", BLOCK_MS) as holders:
            w = holders.workers[0]
            board = Board(root / "board-state", w.api, w.folder / "api.token")
            with board:
                admin = set_up_admin(board)
                token = approved_member(board, admin)
                member_url = board.api(MEMBER[0])
                handle = delta.Client(member_url, token).submit(worker_tasks.Summary)
                handle.wait(timeout=120, progress=False)
                print(f"bench-board: task {handle.id} done; {args.calls} calls per side and call")
                direct = Rpc(w.api, (w.folder / "api.token").read_text().strip())
                via_board = Rpc(member_url, token)
                calls: list[tuple[str, dict[str, Any]]] = [
                    ("delta_info", {}),
                    ("delta_status", {"id": handle.id}),
                    ("delta_logs", {"id": handle.id, "from": 0}),
                    ("delta_list", {}),
                ]
                rows: list[tuple[str, float, float, float, float]] = []
                for method, params in calls:
                    d, b = measure(direct, via_board, method, params, args.calls)
                    dm, bm = statistics.median(d), statistics.median(b)
                    added_p90 = quantile(b, 0.9) - quantile(d, 0.9)
                    rows.append((method, dm, bm, bm - dm, added_p90))
    print_table(rows)
    worst = max(rows, key=lambda row: row[3])
    verdict = "OK" if worst[3] <= TARGET_MS else "OVER"
    print(f"(largest added median: {worst[0]}; total run {time.perf_counter() - began:.1f} s)")
    print(
        f"board forwarding adds {worst[3]:.2f} ms per call at the median "
        f"(target <= {TARGET_MS:g} ms): {verdict}"
    )
    return 0


def print_table(rows: list[tuple[str, float, float, float, float]]) -> None:
    header = ("call", "direct median ms", "board median ms", "added median ms", "added p90 ms")
    cells = [header] + [(m, *(f"{v:.2f}" for v in rest)) for m, *rest in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        first = row[0].ljust(widths[0])
        print("  ".join([first, *(c.rjust(wd) for c, wd in zip(row[1:], widths[1:], strict=True))]))
        if n == 0:
            print("  ".join("-" * wd for wd in widths))


if __name__ == "__main__":
    sys.exit(main())
