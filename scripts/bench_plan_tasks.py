"""The analysis `scripts/bench_plans.py` times at a member. This whole file
is the task package `delta.debug` builds, so it holds task code only."""

from __future__ import annotations

from typing import Any

import delta

FLOATS = [f"x{i}" for i in range(8)]
"""The synthetic frame's float columns (two of them with a few NaNs)."""


class PlanBench(delta.Analytics):
    """Mean and std of every float column, a groupby-mean over one
    categorical column, the size of each level of the other, and the
    describe of one column (its quantiles take the search rounds)."""

    dataset = "bench"
    levels = {"region": ["N", "S", "E", "W"], "group": ["a", "b", "c"]}
    max_rounds = 16

    def execute(self, df: delta.FederatedFrame) -> Any:
        floats = df[FLOATS]
        return {
            "mean": floats.mean(),
            "std": floats.std(),
            "by_region": df.groupby("region")[FLOATS].mean(),
            "groups": df.groupby("group").size(),
            "describe": df["x0"].describe(),
        }
