"""Tasks for `test_bounds.py` (a module of their own, which `delta.debug`
packages and the holder's static check reads)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

import delta


class BoundedWeights(delta.MapReduce):
    """One round of a model average: each member's weights, clipped to
    [-1, 1] and declared bounded by 1, so the sum is taken in the 32-bit
    ring. `unbounded` declares the same output without its bound."""

    dataset = "values"
    max_rounds = 1
    width = 2000
    bounded = True

    def start(self) -> delta.Step:
        bound = 1.0 if self.bounded else None
        return delta.Step(
            "weights",
            {"w": delta.Output((self.width,), "float32", bound=bound), "n": 1},
        )

    def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
        base = df["a"].to_numpy(dtype=float)
        w = np.resize(base / 100.0, self.width).clip(-1.0, 1.0).astype(np.float32)
        return {"w": w, "n": np.array([len(df)])}

    def reduce(self, step: delta.Step, sums: Mapping[str, np.ndarray], members: int) -> delta.Done:
        return delta.Done({"w": sums["w"], "n": float(sums["n"][0])})


class Unbounded(BoundedWeights):
    """The same step without the bound (and so summed in the 64-bit ring)."""

    bounded = False


class AllBounded(BoundedWeights):
    """Every output bounded, the row count too (an exact integer)."""

    def start(self) -> delta.Step:
        return delta.Step(
            "weights",
            {
                "w": delta.Output((self.width,), "float32", bound=1.0),
                "n": delta.Output((1,), "int64", bound=1e6),
            },
        )


class PastTheBound(delta.MapReduce):
    """A member whose value exceeds the declared bound: the second member
    (the one with more rows) returns 7.0 for a bound of 1."""

    dataset = "values"
    max_rounds = 1

    def start(self) -> delta.Step:
        return delta.Step("w", {"w": delta.Output((2,), "float64", bound=1.0)})

    def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
        return {"w": np.array([0.5, 7.0 if len(df) == 51 else -0.25])}

    def reduce(self, step: delta.Step, sums: Mapping[str, np.ndarray], members: int) -> delta.Done:
        return delta.Done({"w": sums["w"].tolist(), "members": members})
