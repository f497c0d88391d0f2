"""`make bench-workers`: how long a one-round federated query takes from
`delta.Client.submit` to its result, with 3 and with 10 `delta-worker`s, on
a `delta-coordinator` and on a Delta dev chain.

For each ledger and size: start the ledger and the workers (each with a
sample `patients` dataset), run the query once to warm up (first imports,
connections), then `--runs` more times, and report the best and the
median submit-to-result time of the runs that succeeded. A failed query
is reported with its reason and makes the exit code 1. The query
(`scripts/bench_tasks.py`) is the mean of one column: every member
returns a sum and a count in one secure aggregation round. Each run
starts once every worker's idle task processes (`sandbox.idle_runners`)
have started again after the last one, as a query reaching a network at
rest would find them. With
`--concurrent K`, each run submits K such queries at once and times
submission to the last result (each worker then serves K tasks at once).
With `--timeline`, each run's typed events (`delta_events`) are printed
with their times from submission, to show where a round's time goes.

The dev chain runs 250 ms blocks, `--empty-block-interval 250
--min-block-interval 250` (a transaction is sealed at once when the chain
was quiet, else with the others in the next block 250 ms after the last),
so block counts, which round deadlines use, keep to the wall clock, and
the workers convert timeouts with `block_ms = 250`. Its prefunded
accounts are //Alice, //Bob, //Charlie, //Dave, //Eve and //Ferdie; beyond
those, workers sign as //Worker7, //Worker8, ..., funded first by a
transfer from //Alice.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "py"))

from bench_tasks import MeanAge  # noqa: E402
from substrateinterface import Keypair  # noqa: E402
from workers import Worker, patients, worker_binary  # noqa: E402

import delta  # noqa: E402
from coordinator import Coordinator  # noqa: E402
from devnet import Node  # noqa: E402
from identity_client import connect, submit  # noqa: E402

DEV_ACCOUNTS = ["//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie"]
FUNDING = 1000 * 10**12
ROWS = 1000
BLOCK_MS = 250
"""The dev chain's block time: short, so that the figure is the protocol's
cost more than block waits (a real network's blocks are 6 s)."""
POLL = 0.05
"""Seconds between the client's status polls (its default is 0.2)."""
PHASE_TIMEOUT_S = 10
"""How long each round phase waits for slow members; a failed round costs
about two of these."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs after the warm-up")
    parser.add_argument("--sizes", default="3,10", help="numbers of workers, comma-separated")
    parser.add_argument(
        "--ledgers", default="coordinator,chain", help="coordinator and/or chain, comma-separated"
    )
    parser.add_argument(
        "--concurrent", type=int, default=1, help="queries submitted at once in each run"
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="print each run's events with their times from submission",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the workers' folders, each with its worker.log, in DIR "
        "(default: a temporary folder)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    ledgers = args.ledgers.split(",")
    if (
        args.runs < 1
        or args.concurrent < 1
        or min(sizes) < 2
        or not set(ledgers) <= {"coordinator", "chain"}
    ):
        parser.error(
            "need --runs >= 1, --concurrent >= 1, sizes >= 2, ledgers among coordinator and chain"
        )
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    print("command: " + shlex.join([sys.executable, *sys.argv]))
    print(f"machine: {machine()}")
    build = "debug" if "/debug/" in worker_binary() else "release"
    print(f"worker:  {worker_binary()} ({build} build)")
    print(
        f"query:   mean of one column ({MeanAge.__module__}.{MeanAge.__name__}), one round, "
        f"{args.concurrent} at once; "
        f"{ROWS} rows per worker; phase timeout {PHASE_TIMEOUT_S} s; 1 warm-up + {args.runs} "
        f"timed runs, each once the workers' idle task processes are ready; "
        f"the client polls every {POLL} s\n"
    )
    rows: list[tuple[str, int, Runs]] = []
    with kept_or_temporary(args.keep) as tmp:
        for ledger in ledgers:
            for n in sizes:
                folder = Path(tmp) / f"{ledger}-{n}"
                print(f"{ledger}, {n} workers: ", end="")
                try:
                    runs = bench(ledger, n, args.runs, args.concurrent, folder, args.timeline)
                except Exception as exc:
                    print(f"FAILED: {type(exc).__name__}: {exc}")
                    return 1
                print(", ".join(runs.shown) + " s")
                for reason in runs.errors:
                    print(f"  failed: {reason[:300]}")
                rows.append((ledger, n, runs))
    print(f"\n{'ledger':<12} {'workers':>7} {'runs ok':>8} {'best (s)':>9} {'median (s)':>11}")
    for ledger, n, runs in rows:
        ok = runs.ok
        best = f"{min(ok):.2f}" if ok else "-"
        median = f"{statistics.median(ok):.2f}" if ok else "-"
        print(f"{ledger:<12} {n:>7} {f'{len(ok)}/{runs.count}':>8} {best:>9} {median:>11}")
    failed = sum(len(r.errors) for _, _, r in rows)
    if failed:
        print(f"\n{failed} queries (warm-ups included) failed; their reasons are above.")
    return 0 if all(r.ok for _, _, r in rows) else 1


class Runs:
    """The timed runs of one configuration (after its warm-up)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.ok: list[float] = []
        self.shown: list[str] = []
        self.errors: list[str] = []

    def record(self, seconds: float, error: str | None, warm_up: bool) -> None:
        text = f"{seconds:.2f}" + ("" if error is None else " (failed)")
        self.shown.append(f"warm-up {text}" if warm_up else text)
        if error is not None:
            self.errors.append(error)
        elif not warm_up:
            self.ok.append(seconds)


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 2**20:.0f} GiB RAM"
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({model or platform.processor() or 'unknown CPU'}){memory}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


@contextmanager
def kept_or_temporary(keep: Path | None) -> Iterator[str]:
    """`keep` (created if missing) or a temporary folder removed afterwards."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="delta-bench-") as tmp:
            yield tmp
    else:
        keep.mkdir(parents=True, exist_ok=True)
        yield str(keep)


def bench(
    ledger: str, n: int, runs: int, concurrent: int, folder: Path, timeline: bool = False
) -> Runs:
    """The query on `n` fresh workers of `ledger`: a warm-up, then `runs`
    timed runs of `concurrent` queries each (with `timeline`, each run's
    events printed with their times)."""
    with ledger_at(ledger, n) as url:
        suris: list[str | None] = [None] * n
        if ledger == "chain":
            suris = [
                DEV_ACCOUNTS[i] if i < len(DEV_ACCOUNTS) else f"//Worker{i + 1}" for i in range(n)
            ]
        workers = [
            Worker(
                folder / f"worker-{i}",
                f"bench-{i + 1}",
                ledger,
                url,
                patients(i, ROWS),
                suri=suris[i],
                block_ms=BLOCK_MS if ledger == "chain" else None,
            )
            for i in range(n)
        ]
        result = Runs(runs)
        try:
            each(workers, lambda w: w.start(timeout=120))
            client = delta.Client(workers[0].api, workers[0].token)
            for i in range(runs + 1):
                wait_until_ready(workers)
                submitted_ms = time.time() * 1000
                seconds, error, handles = timed(client, concurrent)
                result.record(seconds, error, warm_up=i == 0)
                if timeline:
                    print_timeline(handles, submitted_ms)
        except Exception:
            for w in workers:
                print(f"--- {w.name} ---\n{''.join(w.log[-15:])}", file=sys.stderr)
            raise
        finally:
            each(workers, lambda w: w.stop())
            for w in workers:
                (w.folder / "worker.log").write_text("".join(w.log))
        return result


READY_RUNNERS = 2
"""Idle task processes a worker keeps at rest: one requester's and one
member's for its one dataset (`sandbox.idle_runners = 1`)."""


def wait_until_ready(workers: list[Worker], timeout: float = 120.0) -> None:
    """Waits until every worker has its idle task processes started again
    after the last run, so that each run times a query reaching a network
    at rest (a query right after another one also waits for the
    replacements of the processes the first one used)."""
    clients = [delta.Client(w.api, w.token) for w in workers]
    deadline = time.monotonic() + timeout
    while True:
        ready = [c.call("delta_info").get("idle_runners", 0) for c in clients]
        if min(ready) >= READY_RUNNERS:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers' idle task processes after {timeout} s: {ready}")
        time.sleep(0.1)


def timed(
    client: delta.Client, concurrent: int
) -> tuple[float, str | None, list[delta.TaskHandle]]:
    """Seconds from submitting `concurrent` queries to the last result, why
    one failed if one did, and the queries."""
    started = time.monotonic()
    handles = [client.submit(MeanAge, phase_timeout_s=PHASE_TIMEOUT_S) for _ in range(concurrent)]
    failures = []
    for handle in handles:
        try:
            handle.wait(timeout=300, progress=False, interval=POLL)
        except delta.TaskFailed as exc:
            failures.append(str(exc))
    return time.monotonic() - started, "; ".join(failures) if failures else None, handles


def print_timeline(handles: list[delta.TaskHandle], submitted_ms: float) -> None:
    """Each query's events on one line, each at its ms after submission
    (the worker stamps events with its wall clock, on this machine):
    where a round's time goes."""
    for handle in handles:
        steps = ", ".join(
            f"{e['event']} {e.get('ms', submitted_ms) - submitted_ms:.0f}" for e in handle.events()
        )
        print(f"\n  {handle.id} (ms): {steps}", end="")
    print("\n  ", end="")


def each(workers: list[Worker], action: Callable[[Worker], None]) -> None:
    with ThreadPoolExecutor(len(workers)) as pool:
        for future in [pool.submit(action, w) for w in workers]:
            future.result()


@contextmanager
def ledger_at(ledger: str, n: int) -> Iterator[str]:
    """A fresh ledger's URL, with every account the workers sign as funded."""
    if ledger == "coordinator":
        with tempfile.TemporaryDirectory(prefix="delta-bench-coordinator-") as db:
            with Coordinator(Path(db) / "coordinator.sqlite") as coordinator:
                yield coordinator.url
        return
    with Node(
        [
            "--dev",
            "--empty-block-interval",
            str(BLOCK_MS),
            "--min-block-interval",
            str(BLOCK_MS),
        ],
        name="bench",
    ) as node:
        extra = [f"//Worker{i + 1}" for i in range(len(DEV_ACCOUNTS), n)]
        if extra:
            fund(node.ws_url, extra)
        yield node.ws_url


def fund(url: str, uris: list[str]) -> None:
    """Transfers FUNDING from //Alice to each account, so that it can pay
    for its extrinsics."""
    chain = connect(url)
    alice = Keypair.create_from_uri("//Alice")
    try:
        for uri in uris:
            dest = Keypair.create_from_uri(uri).ss58_address
            receipt = submit(
                chain,
                alice,
                "transfer_keep_alive",
                {"dest": dest, "value": FUNDING},
                module="Balances",
            )
            if not receipt.is_success:
                raise RuntimeError(f"funding {uri} failed: {receipt.error_message}")
    finally:
        chain.close()


if __name__ == "__main__":
    sys.exit(main())
