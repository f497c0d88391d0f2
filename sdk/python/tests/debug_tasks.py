"""Tasks for `test_debug.py`, in a module of their own: `delta.debug`
packages the file that defines a task, and that file must pass the static
check a data holder runs (a test module importing pytest would not)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

import delta


class Moments(delta.MapReduce):
    """Two steps: column means, then sample variances around them."""

    dataset = "values"
    columns = ["a", "b"]

    def start(self) -> delta.Step:
        return delta.Step("mean", {"sum": 2, "n": 1})

    def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
        x = df[self.columns].to_numpy(dtype=float)
        if step.name == "mean":
            return {"sum": x.sum(axis=0), "n": np.array([len(x)])}
        mean = np.asarray(step.params["mean"])
        return {"squares": ((x - mean) ** 2).sum(axis=0), "n": np.array([len(x)])}

    def reduce(
        self, step: delta.Step, sums: Mapping[str, np.ndarray], members: int
    ) -> delta.Step | delta.Done:
        n = sums["n"][0]
        if step.name == "mean":
            mean = (sums["sum"] / n).tolist()
            return delta.Step("var", {"squares": 2, "n": 1}, {"mean": mean})
        return delta.Done({"var": sums["squares"] / (n - 1), "n": n, "members": members})


class Broken(Moments):
    """Its map returns one value where the step declares two."""

    def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
        return {"sum": np.array([1.0]), "n": np.array([len(df)])}


class Words(Moments):
    """Its map returns text where the step declares numbers."""

    def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, object]:
        return {"sum": ["low", "high"], "n": [len(df)]}


class Huge(Moments):
    """Its map returns a value beyond the fixed-point encoding's range."""

    def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
        return {"sum": np.array([1e15, 0.0]), "n": np.array([len(df)])}


class Unsendable(Moments):
    """Its result holds a set, which results cannot carry."""

    def reduce(
        self, step: delta.Step, sums: Mapping[str, np.ndarray], members: int
    ) -> delta.Step | delta.Done:
        return delta.Done({"members": {members}})


class Configured(Moments):
    """Its columns come from its constructor: only the class travels, and
    every process creates its instance with no arguments."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns


class Typed(delta.MapReduce):
    """Declares typed, shaped outputs: an exact int64 count and a float32
    matrix, as a model update would."""

    dataset = "values"
    max_rounds = 1

    def start(self) -> delta.Step:
        return delta.Step(
            "typed",
            {"n": delta.Output((), "int64"), "w": delta.Output((2, 3), "float32")},
        )

    def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
        x = df["a"].to_numpy(dtype=float)
        w = np.outer([1.0, -1.0], [x.sum(), len(x), 0.5]).astype(np.float32)
        return {"n": np.int64(len(x)), "w": w}

    def reduce(
        self, step: delta.Step, sums: Mapping[str, np.ndarray], members: int
    ) -> delta.Step | delta.Done:
        return delta.Done(
            {
                "n": int(sums["n"]),
                "n_type": str(sums["n"].dtype),
                "w": sums["w"].tolist(),
                "w_shape": list(sums["w"].shape),
            }
        )


class FractionalCount(Typed):
    """Returns a fraction where the step declares an int64 count."""

    def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
        return {"n": np.float64(len(df)) + 0.5, "w": np.zeros((2, 3))}
