"""The benchmark's tasks, in a module of their own: `delta.debug` runs a
task as the network does, so the file that defines it is what travels to
the members and must pass their static check, and each process creates
its task with no arguments. One class per benchmarked case."""

from __future__ import annotations

from typing import Any

import delta

DATASET = "bench"
COLUMNS = 10


class Bench(delta.Analytics):
    """The named frame-wide statistics (`ops`) of every column."""

    dataset = DATASET
    columns = [f"x{i}" for i in range(COLUMNS)]
    ops: tuple[str, ...] = ()

    def execute(self, df: delta.FederatedFrame) -> dict[str, Any]:
        selected = df[self.columns]
        out: dict[str, Any] = {}
        for op in self.ops:
            if op == "mean":
                out[op] = selected.mean()
            elif op == "var":
                out[op] = selected.var()
            elif op == "cov":
                out[op] = selected.cov()
            elif op == "describe":
                out[op] = selected.describe()
            else:
                raise ValueError(f"unknown operation {op!r}")
        return out


class Mean(Bench):
    ops = ("mean",)


class Var(Bench):
    ops = ("var",)


class Cov(Bench):
    ops = ("cov",)


class MeanVarCov(Bench):
    ops = ("mean", "var", "cov")


class Describe(Bench):
    ops = ("describe",)
