"""The task `scripts/bench_large_step.py` times: one round whose only
output is a model-sized float32 vector. This whole file is the task
package that travels to every data holder, so it holds task code only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

import delta


class LargeStep(delta.MapReduce):
    """Each member returns `elements` float32 weights in [-1, 1] (its own
    mean age scaled, repeated), declared bounded by 1 so the sum is taken
    in the 32-bit ring; the result is the sum's first and last elements
    and its total."""

    dataset = "patients"
    max_rounds = 1
    elements = 10_000_000

    def start(self) -> delta.Step:
        return delta.Step("weights", {"w": delta.Output((self.elements,), "float32", bound=1.0)})

    def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, Any]:
        value = np.float32(df["age"].mean() / 1000.0)
        return {"w": np.full(self.elements, value, dtype=np.float32)}

    def reduce(self, step: delta.Step, sums: Mapping[str, np.ndarray], members: int) -> delta.Done:
        w = sums["w"]
        return delta.Done(
            {
                "first": float(w[0]),
                "last": float(w[-1]),
                "total": float(w.sum()),
                "members": members,
            }
        )
