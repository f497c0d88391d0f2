"""What evaluating a `delta.Analytics` step as a *plan* costs a data holder:
for each step of one analysis (mean and std of 8 float columns, a
groupby-mean, group sizes, a describe), the member's path as the runner
takes it (`PlanEvaluator(dataset, min_cell_rows).map`: `check_plan`, the
SDK's evaluator, the holder's withholding of small cells, then `flatten`)
against the task class's own `map` on the same step (`Analytics.map`,
what members ran before plans: the same evaluator without the holder's
policy), on a synthetic frame of `--rows` rows x 10 columns.

The steps are those `delta.debug` issues for the analysis on a small frame
split in 3 members (`report["steps"]`). Each figure is the median of
`--repeats` runs (best in brackets); the plan is timed with the worker's
default `min_cell_rows` (5) and without withholding (0). Figures only; it
fails only if the two paths disagree.

    python3 scripts/bench_plans.py [--rows 1000000] [--repeats 5] [--min-cell-rows 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_plan_tasks import FLOATS, PlanBench  # noqa: E402

import delta  # noqa: E402
from delta.analytics import PlanEvaluator, step_lengths  # noqa: E402
from delta.mapreduce import Step, flatten  # noqa: E402

MEMBERS = 3
SMALL_ROWS = 3000
SEED = 20240601


def synthetic(rows: int, seed: int = SEED) -> pd.DataFrame:
    """8 float columns (scales from 1e-3 to 1e4, 1% NaN in the last two)
    and 2 categorical columns with the task's levels, skewed."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for i, name in enumerate(FLOATS):
        column = rng.normal(loc=10.0 * i, scale=10.0 ** (i % 8 - 3), size=rows)
        if i >= 6:
            column[rng.random(rows) < 0.01] = np.nan
        data[name] = column
    for name, probs in (("region", [0.4, 0.3, 0.2, 0.1]), ("group", [0.5, 0.3, 0.2])):
        levels = list(PlanBench.levels[name])
        codes = rng.choice(len(levels), size=rows, p=probs)
        data[name] = pd.Categorical.from_codes(codes, categories=levels)
    return pd.DataFrame(data)


def collect_steps() -> list[Step]:
    """Every step the analysis issues, as members read them, from a run of
    `delta.debug` on a small frame split in 3 members."""
    frame = synthetic(SMALL_ROWS, SEED + 1)
    parts = [frame.iloc[i::MEMBERS].reset_index(drop=True) for i in range(MEMBERS)]
    report: dict[str, object] = {}
    result = delta.debug(PlanBench, {"bench": parts}, report=report)
    got = result["mean"].to_numpy()
    assert np.allclose(got, frame[FLOATS].mean().to_numpy(), rtol=1e-9), result["mean"]
    steps = report["steps"]
    assert isinstance(steps, list) and steps, report
    return steps


def times(call: Callable[[], bytes], repeats: int) -> tuple[float, float, bytes]:
    """(median, best) seconds of `repeats` calls, and the last call's bytes."""
    seconds = []
    out = b""
    for _ in range(repeats):
        started = time.perf_counter()
        out = call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), min(seconds), out


def plan_call(step: Step, df: pd.DataFrame, min_cell_rows: int) -> Callable[[], bytes]:
    """The member's map for an analytics package, as `_runner.Server._map`
    runs it: a shallow copy of the frame, the SDK's evaluator, `flatten`."""
    evaluator = PlanEvaluator(PlanBench.dataset, min_cell_rows)
    return lambda: flatten(step, evaluator.map(step, df.copy(deep=False)))


def map_call(step: Step, df: pd.DataFrame) -> Callable[[], bytes]:
    """The task class's own `map` on the same step, the same way."""
    task = PlanBench()
    return lambda: flatten(step, task.map(step, df.copy(deep=False)))


def describe(step: Step) -> str:
    kinds = Counter(spec["kind"] for spec in step.params["requests"].values())
    asks = ", ".join(f"{n} {k}" if n > 1 else k for k, n in sorted(kinds.items()))
    return f"round {step.params['round']:2d} [{asks}; {sum(step_lengths(step).values())} values]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-cell-rows", type=int, default=5)
    args = parser.parse_args()

    steps = collect_steps()
    df = synthetic(args.rows)
    print(
        f"{len(steps)} steps; a member's frame of {len(df):,} rows x {df.shape[1]} columns; "
        f"median of {args.repeats} (best); plan with min_cell_rows={args.min_cell_rows} and 0"
    )
    totals = np.zeros((3, 2))
    for step in steps:
        plan = times(plan_call(step, df, args.min_cell_rows), args.repeats)
        bare = times(plan_call(step, df, 0), args.repeats)
        own = times(map_call(step, df), args.repeats)
        assert bare[2] == own[2], f"{describe(step)}: the plan and map disagree"
        assert plan[2] == own[2], f"{describe(step)}: min_cell_rows withheld on {len(df)} rows"
        totals += np.array([plan[:2], bare[:2], own[:2]])
        print(
            f"{describe(step):46s} plan evaluation {plan[0]:6.3f} s ({plan[1]:.3f}), "
            f"without withholding {bare[0]:6.3f} s, map {own[0]:6.3f} s ({own[1]:.3f}): "
            f"ratio {plan[0] / own[0]:.2f}"
        )
    (plan_s, plan_best), (bare_s, _), (map_s, map_best) = totals
    print(
        f"total: plan evaluation {plan_s:.2f} s ({plan_best:.2f}), without withholding "
        f"{bare_s:.2f} s, map {map_s:.2f} s ({map_best:.2f}): ratio {plan_s / map_s:.2f} "
        f"({bare_s / map_s:.2f} without withholding)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
