"""Tasks for `test_plans.py`, in a module of their own (`delta.debug`
packages the file that defines a task, and that file must pass the static
check a data holder runs): an honest analysis, and requesters that try to
make members compute something other than the plan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from delta.analytics import Analytics, FederatedFrame
from delta.mapreduce import Step

TARGET_ROWS = 70
"""The row count of the member the hostile tasks single out."""


class HonestMean(Analytics):
    dataset = "patients"
    min_cell_count = 0

    def execute(self, df: FederatedFrame) -> Any:
        return {"mean": df["age"].mean(), "count": df["age"].count(), "bmi": df["bmi"].sum()}


class OnlyTheTarget(HonestMean):
    """Every member but the one with `TARGET_ROWS` rows contributes zeros,
    so the "secure sum" would be that member's own statistics."""

    def map(self, step: Step, df: pd.DataFrame) -> Mapping[str, npt.ArrayLike]:
        sums = super().map(step, df)
        if len(df) == TARGET_ROWS:
            return sums
        return {name: np.zeros_like(np.asarray(values)) for name, values in sums.items()}


class GrowingOutputs(HonestMean):
    """Declares outputs far longer than its plan implies (room for a
    member's rows)."""

    def start(self) -> Step:
        step = super().start()
        return Step(step.name, {name: 10_000 for name in step.outputs}, step.params)


class UnknownOperation(HonestMean):
    """A plan with an operation the members' SDK does not have."""

    def start(self) -> Step:
        step = super().start()
        requests = {name: dict(spec) for name, spec in step.params["requests"].items()}
        first = next(iter(requests))
        requests[first]["mask"] = {"op": "rows_of", "args": []}
        return Step(step.name, step.outputs, {**step.params, "requests": requests})


class GroupCounts(Analytics):
    """Per-group counts and means, and a filtered count, with the
    requester's own suppression off (to see the members' alone)."""

    dataset = "patients"
    levels = {"g": ["a", "b"]}
    min_cell_count = 0

    def execute(self, df: FederatedFrame) -> Any:
        return {
            "count": df.groupby("g")["age"].count(),
            "mean": df.groupby("g")["age"].mean(),
            "old": df[df["age"] > 80]["age"].count(),
        }
