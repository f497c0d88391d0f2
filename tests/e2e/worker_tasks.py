"""Tasks the worker end-to-end tests submit. This whole file travels as the
task package (and passes the static check), so it holds task code only."""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pandas as pd

import delta


class Summary(delta.Analytics):
    """Counts, means and a variance over the cleaned `patients` data."""

    dataset = "patients"
    max_rounds = 4

    def execute(self, df: Any) -> Any:
        return {
            "n": df["age"].count(),
            "age": df["age"].mean(),
            "bmi": df["bmi"].mean(),
            "sbp_var": df["sbp"].var(),
        }


class MeanAgeBySex(delta.Analytics):
    """Rows and mean age per sex, declaring no levels: the holders'
    published levels of `sex` are used."""

    dataset = "patients"
    max_rounds = 4

    def execute(self, df: Any) -> Any:
        return df.groupby("sex")["age"].agg(["count", "mean"])


class LongSummary(Summary):
    """The same query, declaring more rounds than some holders allow."""

    max_rounds = 20


class SlowMean(delta.MapReduce):
    """The mean age, with a `map` that takes `seconds` of wall-clock time
    however fast the machine is, so a test can act on a member while its
    map runs (it waits on the clock, not on an amount of work)."""

    dataset = "patients"
    max_rounds = 1
    seconds = 4.0

    def start(self) -> delta.Step:
        return delta.Step("mean", {"sum": 1, "n": 1}, {"seconds": self.seconds})

    def map(self, step: delta.Step, df: pd.DataFrame) -> dict[str, Any]:
        until = datetime.datetime.now() + datetime.timedelta(seconds=step.params["seconds"])
        m = np.ones((20, 20))
        while datetime.datetime.now() < until:
            m = np.tanh(m @ m / 20.0)
        return {"sum": df["age"].sum() + 0.0 * float(m[0, 0]), "n": len(df)}

    def reduce(self, step: delta.Step, sums: Any, members: int) -> delta.Done:
        return delta.Done(
            {
                "mean": float(sums["sum"][0] / sums["n"][0]),
                "n": int(round(sums["n"][0])),
                "members": members,
            }
        )


class SlowerMean(SlowMean):
    """SlowMean with an 8 s map: long enough to outlast the key exchange on
    a chain of 500 ms blocks, since a worker starts its map as soon as it
    joins."""

    seconds = 8.0


class LongMean(SlowMean):
    """The same mean, with a map of a minute: long enough that another task
    can run from submission to result while every member is still inside
    it."""

    seconds = 60.0


class TypedSums(delta.MapReduce):
    """An exact int64 row count and a float32 matrix of per-column sums, as
    a model update would declare them."""

    dataset = "patients"
    max_rounds = 1

    def start(self) -> delta.Step:
        return delta.Step(
            "typed", {"n": delta.Output((), "int64"), "s": delta.Output((1, 2), "float32")}
        )

    def map(self, step: delta.Step, df: pd.DataFrame) -> dict[str, Any]:
        sums = df[["age", "bmi"]].to_numpy(dtype=float).sum(axis=0)
        return {"n": np.int64(len(df)), "s": sums.reshape(1, 2).astype(np.float32)}

    def reduce(self, step: delta.Step, sums: Any, members: int) -> delta.Done:
        return delta.Done(
            {"n": int(sums["n"]), "n_type": str(sums["n"].dtype), "s": sums["s"].tolist()}
        )


class BoundedSums(delta.MapReduce):
    """Per-column sums scaled into [-1, 1] as float32, every output declared
    bounded (as a model update would be, clipped): summed in the 32-bit
    ring."""

    dataset = "patients"
    max_rounds = 1

    def start(self) -> delta.Step:
        return delta.Step(
            "bounded",
            {
                "s": delta.Output((2,), "float32", bound=1.0),
                "n": delta.Output((), "int64", bound=100_000),
            },
        )

    def map(self, step: delta.Step, df: pd.DataFrame) -> dict[str, Any]:
        scaled = df[["age", "bmi"]].to_numpy(dtype=float).sum(axis=0) / 1e5
        return {"s": scaled.astype(np.float32), "n": np.int64(len(df))}

    def reduce(self, step: delta.Step, sums: Any, members: int) -> delta.Done:
        return delta.Done({"s": (sums["s"] * 1e5).tolist(), "n": int(sums["n"])})


class Escape(delta.MapReduce):
    """Tries to get out of the sandbox in the way `attack` names."""

    dataset = "patients"
    max_rounds = 1
    attack = "network"

    def start(self) -> delta.Step:
        return delta.Step("escape", {"x": 1}, {"attack": self.attack})

    def map(self, step: delta.Step, df: pd.DataFrame) -> dict[str, Any]:
        attack = step.params["attack"]
        method = "to_" + "csv"
        if attack == "network":
            pd.Series([1]).agg(method, path_or_buf="http://127.0.0.1:9/steal")
        elif attack == "read":
            pd.Series([1]).agg(method, path_or_buf="/etc/passwd", mode="r")
        elif attack == "write":
            pd.Series([1]).agg(method, path_or_buf="/tmp/delta-escape.csv")
        elif attack == "spawn":
            pd.show_versions()
        elif attack == "memory":
            hog = np.ones(int(3e9 / 8))
            return {"x": float(hog[-1])}
        return {"x": 1.0}

    def reduce(self, step: delta.Step, sums: Any, members: int) -> delta.Done:
        return delta.Done(float(sums["x"][0]))


class EscapeRead(Escape):
    attack = "read"


class EscapeWrite(Escape):
    attack = "write"


class EscapeSpawn(Escape):
    attack = "spawn"


class EscapeMemory(Escape):
    attack = "memory"


class SinglesOut(Summary):
    """A hostile analysis: its `map` would make every member but the one
    holding 240 rows contribute zeros, so the sum would be that member's
    own statistics. Members never run it: they evaluate the plan with
    their own SDK."""

    def map(self, step: delta.Step, df: pd.DataFrame) -> Any:
        sums = super().map(step, df)
        if len(df) == 240:
            return sums
        return {name: np.zeros_like(np.asarray(values)) for name, values in sums.items()}


class OldCount(delta.Analytics):
    """How many patients are over 80, with the requester's own suppression
    off: what comes back is what the holders let through."""

    dataset = "patients"
    min_cell_count = 0

    def execute(self, df: Any) -> Any:
        return {"old": df[df["age"] > 80]["age"].count(), "n": df["age"].count()}


class NoisyCount(delta.MapReduce):
    """Rows and the sum of ages, noised by the members (each member's pair
    clipped to norm `CLIP`); `steps` private rounds of the same sum."""

    dataset = "patients"
    max_rounds = 2
    steps = 1
    CLIP = 20_000.0
    NOISE = 2.0

    def start(self) -> delta.Step:
        return delta.Step(
            "count",
            {"n": delta.Output((), "int64"), "age": 1},
            {},
            privacy=delta.Privacy(self.CLIP, self.NOISE, 1e-6),
        )

    def map(self, step: delta.Step, df: pd.DataFrame) -> dict[str, Any]:
        return {"n": len(df), "age": [float(df["age"].sum())]}

    def reduce(self, step: delta.Step, sums: dict[str, Any], members: int) -> Any:
        if step.name == "count" and self.steps > 1:
            return delta.Step("again", step.outputs, {}, privacy=step.privacy)
        return delta.Done({"n": int(sums["n"]), "age": float(sums["age"][0]), "members": members})


class TwoNoisyCounts(NoisyCount):
    """Two private rounds: twice the privacy of one."""

    steps = 2


class CountTwice(delta.MapReduce):
    """The rows counted in two rounds, the first taking `seconds` on the
    clock: a dataset refreshed while it runs must change neither count."""

    dataset = "patients"
    max_rounds = 2
    seconds = 6.0

    def start(self) -> delta.Step:
        return delta.Step("first", {"n": 1}, {"seconds": self.seconds})

    def map(self, step: delta.Step, df: pd.DataFrame) -> dict[str, Any]:
        until = datetime.datetime.now() + datetime.timedelta(seconds=step.params["seconds"])
        while datetime.datetime.now() < until:
            pass
        return {"n": len(df)}

    def reduce(self, step: delta.Step, sums: Any, members: int) -> delta.Step | delta.Done:
        n = int(round(sums["n"][0]))
        if step.name == "first":
            self.first = n
            return delta.Step("second", {"n": 1}, {"seconds": 0.0})
        return delta.Done({"first": self.first, "second": n})
