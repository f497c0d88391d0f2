"""SDK benchmark: `delta.debug` with `delta.Analytics` against pandas.

A table of numeric columns (default 1,000,000 rows x 10 float columns, a
seeded numpy generator) is split by rows over simulated members. Each
operation runs through `delta.debug` (real round rules, real SecAgg+
masking, real fixed-point encoding) and through pandas on the pooled
frame, best of `--repeat` runs each, side by side:

- mean, var and cov of all columns, each alone and all three in one task;
- describe() of all columns.

Every federated result is checked against pandas (moments to 1e-10
relative, counts and order statistics exactly), so the benchmark cannot go
fast by being wrong. The exit status is 1 if a result is wrong; timings
are reported against their targets (3x pandas for the moments, 10x for
describe) but never fail the run.

    python3 sdk/python/bench/bench_debug.py               # 1M rows, 3 members
    python3 sdk/python/bench/bench_debug.py --quick       # 100k rows (CI smoke)
    python3 sdk/python/bench/bench_debug.py --profile     # + where delta's time goes
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from bench_tasks import COLUMNS, DATASET, Bench, Cov, Describe, Mean, MeanVarCov, Var

import delta

MOMENT_TARGET = 3.0
DESCRIBE_TARGET = 10.0
RTOL = 1e-10
"""Relative tolerance for moments; order statistics and counts must be equal."""


def make_frame(rows: int, seed: int, nan_fraction: float) -> pd.DataFrame:
    """`rows` x `COLUMNS` correlated floats with varied offsets and scales,
    and `nan_fraction` of each column missing."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((rows, COLUMNS))
    mixing = np.eye(COLUMNS) + 0.3 * rng.standard_normal((COLUMNS, COLUMNS))
    scale = rng.uniform(0.5, 100.0, COLUMNS)
    offset = rng.uniform(-1000.0, 1000.0, COLUMNS)
    values = (latent @ mixing) * scale + offset
    if nan_fraction > 0:
        values[rng.random((rows, COLUMNS)) < nan_fraction] = np.nan
    return pd.DataFrame(values, columns=[f"x{i}" for i in range(COLUMNS)])


def split(frame: pd.DataFrame, members: int) -> list[pd.DataFrame]:
    """Consecutive row blocks, one per member (as `delta.debug` splits)."""
    return [
        frame.iloc[idx].reset_index(drop=True)
        for idx in np.array_split(np.arange(len(frame)), members)
    ]


def pandas_ops(frame: pd.DataFrame, ops: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for op in ops:
        if op == "mean":
            out[op] = frame.mean()
        elif op == "var":
            out[op] = frame.var()
        elif op == "cov":
            out[op] = frame.cov()
        elif op == "describe":
            out[op] = frame.describe()
        else:
            raise ValueError(f"unknown operation {op!r}")
    return out


def compare(op: str, got: Any, want: Any) -> list[str]:
    """Why `got` differs from pandas' `want` (empty if it agrees)."""
    problems: list[str] = []
    got_frame = pd.DataFrame(got)
    want_frame = pd.DataFrame(want)
    if list(got_frame.index) != list(want_frame.index) or list(got_frame.columns) != list(
        want_frame.columns
    ):
        return [f"{op}: labels differ: {got_frame.index.tolist()} vs {want_frame.index.tolist()}"]
    g = got_frame.to_numpy(dtype=np.float64)
    w = want_frame.to_numpy(dtype=np.float64)
    if op == "describe":
        exact = [i for i, label in enumerate(want_frame.index) if label not in ("mean", "std")]
        approx = [i for i, label in enumerate(want_frame.index) if label in ("mean", "std")]
        if not np.array_equal(g[exact], w[exact], equal_nan=True):
            worst = np.nanmax(np.abs(g[exact] - w[exact]))
            problems.append(
                f"{op}: count/min/quantiles/max differ from pandas (max |diff| {worst})"
            )
        g, w = g[approx], w[approx]
    if not np.allclose(g, w, rtol=RTOL, atol=0.0, equal_nan=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            worst = np.nanmax(np.abs(g - w) / np.abs(w))
        problems.append(f"{op}: differs from pandas beyond rtol={RTOL} (max rel. diff {worst:.3g})")
    return problems


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of `repeat` timed calls, and the last call's result."""
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


@dataclass
class Row:
    label: str
    pandas_s: float
    delta_s: float
    target: float
    rounds: int
    bytes: int
    errors: list[str]

    @property
    def ratio(self) -> float:
        return self.delta_s / self.pandas_s


CASES: list[tuple[str, type[Bench], float]] = [
    ("mean", Mean, MOMENT_TARGET),
    ("var", Var, MOMENT_TARGET),
    ("cov", Cov, MOMENT_TARGET),
    ("mean+var+cov (one task)", MeanVarCov, MOMENT_TARGET),
    ("describe", Describe, DESCRIBE_TARGET),
]
"""(label, task, target); each task computes its `ops` over every column
(`bench_tasks.py`)."""


def run_case(
    label: str,
    task: type[Bench],
    target: float,
    pooled: pd.DataFrame,
    members: list[pd.DataFrame],
    repeat: int,
) -> Row:
    ops = task.ops
    pandas_s, want = best_of(repeat, lambda: pandas_ops(pooled, ops))
    report: dict[str, Any] = {}

    def federated() -> Any:
        report.clear()
        return delta.debug(task(), data={DATASET: members}, report=report)

    delta_s, got = best_of(repeat, federated)
    errors = [e for op in ops for e in compare(op, got[op], want[op])]
    return Row(label, pandas_s, delta_s, target, report["rounds"], report["bytes"], errors)


def print_table(rows: list[Row]) -> None:
    head = (
        f"{'operation':<25} {'pandas s':>9} {'delta s':>9} {'ratio':>7} {'target':>7} "
        f"{'':>4} {'rounds':>6} {'bytes':>11}  {'check'}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        verdict = "PASS" if r.ratio <= r.target else "FAIL"
        check = "ok" if not r.errors else "WRONG"
        print(
            f"{r.label:<25} {r.pandas_s:>9.4f} {r.delta_s:>9.4f} {r.ratio:>6.2f}x "
            f"{r.target:>6.0f}x {verdict:>4} {r.rounds:>6} {r.bytes:>11,}  {check}"
        )


# --------------------------------------------------------------------------
# --profile: where delta's time goes


PROFILED = [
    ("map (member, python)", "debug.py", "run"),
    ("  _compute (sums)", "analytics.py", "_compute"),
    ("    _Evaluator.numeric", "analytics.py", "numeric"),
    ("  _encode (7 digits)", "analytics.py", "_encode"),
    ("  list.tolist", "~", "<method 'tolist' of 'numpy.ndarray' objects>"),
    ("reduce (requester)", "debug.py", "reduce"),
    ("  _decode (7 digits)", "analytics.py", "_decode"),
    ("  plans (_advance)", "analytics.py", "_advance"),
]


def profile_case(label: str, task: type[Bench], members: list[pd.DataFrame]) -> None:
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    delta.debug(task(), data={DATASET: members})
    profiler.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(profiler)
    table: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]

    def cumulative(file_end: str, name: str) -> tuple[float, float, int]:
        total = own = 0.0
        calls = 0
        for (file, _line, fn), (_cc, nc, tt, ct, _callers) in table.items():
            if fn == name and file.endswith(file_end):
                total += ct
                own += tt
                calls += nc
        return total, own, calls

    print(f"\n== profile: {label} (cProfile, one run; wall {wall:.3f} s under the profiler)")
    for shown, file_end, name in PROFILED:
        total, _, calls = cumulative(file_end, name)
        print(f"  {shown:<26} {total:>8.3f} s  {calls:>6} calls")
    _, engine, _ = cumulative("~", "<built-in method delta._native.run_local>")
    print(f"  {'engine (Rust, own time)':<26} {engine:>8.3f} s")
    print("  top functions by own time:")
    stats.sort_stats("tottime").print_stats(8)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="delta.debug with delta.Analytics vs pandas")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in all (1,000,000)")
    parser.add_argument("--members", type=int, default=3, help="simulated members (3)")
    parser.add_argument("--quick", action="store_true", help="100,000 rows: a CI smoke run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement, best kept")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--nan-fraction", type=float, default=0.0, help="share of missing values per column (0)"
    )
    parser.add_argument("--profile", action="store_true", help="also profile each delta run")
    args = parser.parse_args(argv)
    rows = 100_000 if args.quick else args.rows
    if args.members < 2:
        parser.error("--members must be at least 2")

    pooled = make_frame(rows, args.seed, args.nan_fraction)
    members = split(pooled, args.members)
    print(
        f"delta {delta.__version__}, pandas {pd.__version__}, numpy {np.__version__}, "
        f"python {sys.version.split()[0]}"
    )
    print(
        f"{rows:,} rows x {COLUMNS} float columns over {args.members} members, "
        f"{args.nan_fraction:.0%} NaN, best of {args.repeat}\n"
    )
    results = [
        run_case(label, task, target, pooled, members, args.repeat) for label, task, target in CASES
    ]
    print_table(results)
    errors = [e for r in results for e in r.errors]
    for error in errors:
        print(f"WRONG: {error}")
    if not errors:
        print(f"\nall results agree with pandas (moments rtol={RTOL}, order statistics exactly)")
    if args.profile:
        for label, task, _ in CASES:
            profile_case(label, task, members)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
