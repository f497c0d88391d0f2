"""The MapReduce task model: explicit steps, each a `map` on every member's
data returning named numeric arrays, a secure sum of those arrays across
members, and a `reduce` on the sums that returns the result or the next
step.

Only the sums leave a member, and only masked: the requester's `reduce`
sees the total over the members (and how many contributed), never one
member's arrays.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd


@dataclass(frozen=True)
class Step:
    """One step: its name, JSON-serialisable parameters, and the length of
    each named output every member's `map` returns."""

    name: str
    outputs: Mapping[str, int]
    params: Mapping[str, Any] = field(default_factory=dict)

    def body(self) -> bytes:
        """The step as the engine carries it (canonical JSON)."""
        return json.dumps({"name": self.name, "params": self.params}, sort_keys=True).encode()

    @property
    def length(self) -> int:
        return sum(self.outputs.values())


@dataclass(frozen=True)
class Done:
    """The task's result; ends the task."""

    value: Any


class PolicyRefusal(Exception):
    """Raised inside a member when its policy refuses the step (e.g. fewer
    rows than its minimum); the member then leaves the round."""


class MapReduce(ABC):
    """Base class of every task. Subclasses set `dataset` and implement
    `start`, `map` and `reduce`."""

    dataset: ClassVar[str]
    max_rounds: ClassVar[int] = 32

    @abstractmethod
    def start(self) -> Step:
        """The first step."""

    @abstractmethod
    def map(self, step: Step, df: pd.DataFrame) -> Mapping[str, npt.ArrayLike]:
        """One member's outputs for `step` on its own data."""

    @abstractmethod
    def reduce(self, step: Step, sums: Mapping[str, np.ndarray], members: int) -> Step | Done:
        """The next step, or the result, from the sums over the members."""


def flatten(step: Step, arrays: Mapping[str, npt.ArrayLike]) -> np.ndarray:
    """A member's named outputs as one float64 vector in `step.outputs`
    order; refuses missing, extra, mis-sized or non-finite outputs."""
    names = set(arrays)
    expected = set(step.outputs)
    if names != expected:
        raise ValueError(
            f"step {step.name!r}: map returned {sorted(names)}, expected {sorted(expected)}"
        )
    parts = []
    for name, length in step.outputs.items():
        values = np.asarray(arrays[name], dtype=np.float64).reshape(-1)
        if values.size != length:
            raise ValueError(
                f"step {step.name!r}: output {name!r} has {values.size} values, expected {length}"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError(f"step {step.name!r}: output {name!r} holds NaN or infinity")
        parts.append(values)
    return np.concatenate(parts) if parts else np.zeros(0)


def unflatten(step: Step, vector: npt.ArrayLike) -> dict[str, np.ndarray]:
    """The inverse of `flatten`, for the summed vector."""
    values = np.asarray(vector, dtype=np.float64)
    out: dict[str, np.ndarray] = {}
    at = 0
    for name, length in step.outputs.items():
        out[name] = values[at : at + length]
        at += length
    return out
