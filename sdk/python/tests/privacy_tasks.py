"""Tasks for `test_privacy.py`, in a module of their own (`delta.debug`
packages the file that defines a task): a sum of `D` identical
coordinates, so that one run yields `D` independent draws of the noise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from delta.mapreduce import Done, MapReduce, Output, Privacy, Step

D = 20_000
"""Coordinates of the private sum."""
CLIP = 2.0
NOISE = 1.5
DELTA = 1e-6


class NoisySum(MapReduce):
    """Each member contributes `value` in every coordinate (L2 norm
    `value * sqrt(D)`); the result is every coordinate of the noised sum."""

    dataset = "patients"
    max_rounds = 1
    value: ClassVar[float] = CLIP / 2 / np.sqrt(D)

    def start(self) -> Step:
        return Step(
            "sum",
            {"x": Output((D,)), "n": Output((), "int64")},
            {},
            privacy=Privacy(CLIP, NOISE, DELTA),
        )

    def map(self, step: Step, df: pd.DataFrame) -> Mapping[str, npt.ArrayLike]:
        return {"x": np.full(D, self.value), "n": 0}

    def reduce(self, step: Step, sums: Mapping[str, np.ndarray], members: int) -> Done:
        return Done({"x": sums["x"].tolist(), "n": int(sums["n"]), "members": members})


class Oversized(NoisySum):
    """Contributions far past the clip norm: members scale them down."""

    value: ClassVar[float] = 1e6


class TwoNoisySteps(NoisySum):
    """Two private steps: twice the privacy spent."""

    max_rounds = 2

    def reduce(self, step: Step, sums: Mapping[str, np.ndarray], members: int) -> Step | Done:
        if step.name == "sum":
            return Step("again", step.outputs, {}, privacy=step.privacy)
        return Done({"members": members})


class Exact(MapReduce):
    """The same sum without privacy: exact."""

    dataset = "patients"
    max_rounds = 1

    def start(self) -> Step:
        return Step("sum", {"x": Output((3,))})

    def map(self, step: Step, df: pd.DataFrame) -> Mapping[str, Any]:
        return {"x": [1.0, 2.0, float(len(df))]}

    def reduce(self, step: Step, sums: Mapping[str, np.ndarray], members: int) -> Done:
        return Done(sums["x"].tolist())
