"""A model-sized step (10M float32 weights by default, bounded by 1, so
summed in the 32-bit ring: 40 MB per masked message) through the engine
alone, through `delta.debug`, and through three real `delta-worker`s on a
`delta-coordinator`, each member's map returning the whole vector.

Prints the time of each and its ratio to the engine alone (SecAgg+'s own
encoding, masking and unmasking, in process, in release mode: the SDK's
native module), and the bytes the members' masked inputs carry. Figures
only; it fails only if an answer is wrong.

    DELTA_COORDINATOR_BIN=... DELTA_WORKER_BIN=... python3 scripts/bench_large_step.py
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "py"))

from workers import Worker, patients  # noqa: E402

import delta  # noqa: E402
from coordinator import Coordinator  # noqa: E402
from delta import _native  # noqa: E402
from devnet import free_port  # noqa: E402

MEMBERS = 3
ROWS = 1000


def engine_alone(elements: int) -> tuple[float, int]:
    """One round of the same step in the engine, maps returning ready
    bytes: (seconds, bytes carried)."""
    step = {
        "dataset": "patients",
        "body": delta.Step("weights", {}).body(),
        "outputs": [("w", "float32", [elements], 1.0)],
    }
    payload = np.full(elements, 0.05, dtype="<f4").tobytes()

    def reduce(_step: object, sums: bytes, _members: int) -> None:
        assert len(sums) == 8 * elements
        return None

    started = time.perf_counter()
    out = _native.run_local(
        step, reduce, [lambda _s: payload] * MEMBERS, 1, None, 24, 64, [None] * MEMBERS
    )
    seconds = time.perf_counter() - started
    assert out["outcome"] == "done", out
    return seconds, int(out["bytes"])


def cleaned(frame: pd.DataFrame) -> pd.DataFrame:
    """What the workers' cleaning rules leave (`tools/py/workers.py`)."""
    return frame[(frame["age"] >= 0) & (frame["age"] <= 120) & frame["bmi"].notna()]


def check(result: dict[str, float], frames: list, elements: int) -> None:
    expected = sum(np.float32(f["age"].mean() / 1000.0) for f in frames)
    assert result["members"] == MEMBERS, result
    assert abs(result["first"] - expected) < 1e-5 and abs(result["last"] - expected) < 1e-5, result
    assert abs(result["total"] - expected * elements) < 1e-5 * elements, result


def task_class(elements: int, folder: Path) -> type[delta.MapReduce]:
    """`LargeStep` with `elements` written into its source: the package
    carries the class's file, and members build their own instance from
    it, so a class attribute set here would not travel."""
    source = (Path(__file__).parent / "bench_large_tasks.py").read_text()
    path = folder / "bench_large_tasks.py"
    path.write_text(source.replace("elements = 10_000_000", f"elements = {elements}"))
    spec = importlib.util.spec_from_file_location("bench_large_tasks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_large_tasks"] = module
    spec.loader.exec_module(module)
    task: type[delta.MapReduce] = module.LargeStep
    return task


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--elements", type=int, default=10_000_000)
    args = parser.parse_args()
    source = tempfile.TemporaryDirectory(prefix="delta-large-task-")
    LargeStep = task_class(args.elements, Path(source.name))  # noqa: N806
    frames = [patients(i, ROWS) for i in range(MEMBERS)]
    print(f"{MEMBERS} members, one float32 output of {args.elements} elements, bound 1")

    alone, carried = engine_alone(args.elements)
    print(f"engine alone      {alone:7.2f} s   {carried / 1e6:8.1f} MB carried")

    report: dict[str, object] = {}
    started = time.perf_counter()
    result = delta.debug(LargeStep, {"patients": frames}, report=report)
    debug_s = time.perf_counter() - started
    check(result, frames, args.elements)
    print(
        f"delta.debug       {debug_s:7.2f} s   {int(report['bytes']) / 1e6:8.1f} MB carried"  # type: ignore[call-overload]
        f"   {debug_s / alone:4.1f}x the engine"
    )

    with tempfile.TemporaryDirectory(prefix="delta-large-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        listen = f"127.0.0.1:{free_port()}"
        ledger = stack.enter_context(Coordinator(root / "coordinator.sqlite", listen=listen))
        workers = []
        for i in range(MEMBERS):
            w = Worker(root / f"w{i}", f"holder-{i}", "coordinator", ledger.url, frames[i])
            workers.append(stack.enter_context(w))
        client = delta.Client(workers[0].api, workers[0].token)
        started = time.perf_counter()
        handle = client.submit(LargeStep, phase_timeout_s=600)
        try:
            result = handle.wait(timeout=1800, progress=False)
        except delta.TaskFailed:
            print("\n".join(handle.status().progress), file=sys.stderr)
            for w in workers:
                print(f"--- {w.name} ---\n{''.join(w.log[-25:])}", file=sys.stderr)
            raise
        workers_s = time.perf_counter() - started
        check(result, [cleaned(f) for f in frames], args.elements)
        rings = [e["ring_bits"] for e in handle.events() if e["event"] == "round_started"]
    print(
        f"three workers     {workers_s:7.2f} s   ring {rings[0]} bits, "
        f"{MEMBERS * 4 * args.elements / 1e6:.0f} MB of masked inputs   "
        f"{workers_s / alone:4.1f}x the engine"
    )
    source.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
