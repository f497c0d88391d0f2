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
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

DTYPES: tuple[str, ...] = ("float64", "float32", "int64")
"""Element types a step's output may declare: floats are summed in fixed
point (float32 sums come back as float64), int64 exactly."""

MAX_STEP_ELEMENTS = 1 << 26
"""Most elements a step's outputs may hold together (the engine's bound)."""


@dataclass(frozen=True)
class Output:
    """One declared output: its shape (`()` for a scalar), element type
    (one of `DTYPES`) and, optionally, a bound: the largest magnitude one
    member's value may have. `Step(..., {"n": 1})` is short for
    `{"n": Output((1,))}`: one float64.

    A bound buys precision and bandwidth: a bounded float gets as many
    fractional bits as the ring holds for that range (not the default 24),
    and a step whose outputs are all bounded tightly enough is summed in
    the 32-bit ring, halving every masked message (model weights bounded
    by 1, for instance). A member refuses a value past the bound, so
    clip before returning it."""

    shape: tuple[int, ...]
    dtype: str = "float64"
    bound: float | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"output dtype {self.dtype!r}: one of {', '.join(DTYPES)}")
        if self.bound is not None:
            bound = self.bound
            if (
                isinstance(bound, bool)
                or not isinstance(bound, int | float)
                or not (math.isfinite(bound) and bound > 0)
            ):
                raise ValueError(f"output bound {bound!r}: a positive finite number, or None")
            object.__setattr__(self, "bound", float(bound))
        shape = tuple(self.shape)
        if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape):
            raise ValueError(f"output shape {self.shape!r}: sizes must be integers >= 0")
        object.__setattr__(self, "shape", shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


def output_spec(declared: int | Output) -> Output:
    """An output as declared in a Step, normalised (an int `n` is
    `Output((n,))`)."""
    if isinstance(declared, Output):
        return declared
    if isinstance(declared, bool) or not isinstance(declared, int) or declared < 0:
        raise ValueError(f"an output is a length (int >= 0) or a delta.Output, not {declared!r}")
    return Output((declared,))


def _positive(name: str, value: Any, low: float, high: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and low <= value <= high)
    ):
        raise ValueError(f"{name} must be a number in [{low}, {high}], not {value!r}")
    return float(value)


@dataclass(frozen=True)
class Privacy:
    """Differential privacy for a step's sum, added by the members
    themselves: each clips its whole contribution (every output of the
    step together) to the L2 norm `clip`, then adds its share of discrete
    Gaussian noise before masking, sized for the fewest members a round
    may finish with (the threshold). The sum's noise has standard
    deviation `noise_multiplier * clip` (or a little more: rounding onto
    the integer lattice is accounted for), so the sum is differentially
    private with respect to any one member, and so to any of its rows.

    `delta` is the δ the task's ε is stated for. `Privacy.for_budget`
    picks the noise multiplier that spends a given ε over a number of
    steps. The ε spent is reported by `TaskHandle.privacy()` and
    `delta.debug(report=...)`."""

    clip: float
    noise_multiplier: float
    delta: float = 1e-6

    def __post_init__(self) -> None:
        object.__setattr__(self, "clip", _positive("clip", self.clip, 1e-300, 1e15))
        object.__setattr__(
            self,
            "noise_multiplier",
            _positive("noise_multiplier", self.noise_multiplier, 0.01, 1e6),
        )
        delta = _positive("delta", self.delta, 0.0, 1.0)
        if not 0.0 < delta < 1.0:
            raise ValueError(f"delta must be in (0, 1), not {delta!r}")
        object.__setattr__(self, "delta", delta)

    @classmethod
    def for_budget(
        cls, epsilon: float, clip: float, steps: int = 1, delta: float = 1e-6
    ) -> Privacy:
        """The noise that spends `epsilon` (at `delta`) over `steps` private
        steps of clip norm `clip`, by the same RDP accountant the engine
        charges with."""
        from . import _native

        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1, not {steps!r}")
        return cls(clip, _native.noise_multiplier_for(float(epsilon), float(delta), steps), delta)

    def wire(self) -> dict[str, float]:
        """As the runner protocol and the engine carry it."""
        return {"clip": self.clip, "noise_multiplier": self.noise_multiplier, "delta": self.delta}


@dataclass(frozen=True)
class Step:
    """One step: its name, JSON-serialisable parameters, and each named
    output every member's `map` returns: a length (float64 values) or an
    `Output` with a shape and type. Outputs are declared before any member
    sees data; a member's values must match them exactly. With `privacy`,
    the sums `reduce` sees are noised for differential privacy. `data`:
    bytes every member receives beside the params (a model's weights),
    carried as they are rather than as text inside JSON."""

    name: str
    outputs: Mapping[str, int | Output]
    params: Mapping[str, Any] = field(default_factory=dict)
    privacy: Privacy | None = None
    data: bytes = b""

    def body(self) -> bytes:
        """The step as the engine carries it: canonical JSON, then, when
        there is `data`, a NUL byte (which JSON text never holds) and the
        data."""
        head = json.dumps({"name": self.name, "params": self.params}, sort_keys=True).encode()
        return head + b"\0" + bytes(self.data) if self.data else head

    def specs(self) -> list[tuple[str, Output]]:
        """The outputs, in order, each normalised to an `Output`."""
        return [(name, output_spec(declared)) for name, declared in self.outputs.items()]

    @property
    def length(self) -> int:
        """Elements in all outputs together."""
        return sum(o.size for _, o in self.specs())


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A checkpoint is only worth keeping if the task can resume from it.
        if cls.checkpoint is not MapReduce.checkpoint and not callable(
            getattr(cls, "resume", None)
        ):
            raise TypeError(
                f"{cls.__name__} defines checkpoint but not resume(checkpoint, rounds_started)"
            )

    @classmethod
    def resumable(cls) -> bool:
        """Whether an interrupted task of this class resumes from its
        checkpoint (it defines `checkpoint` and `resume`) rather than
        failing."""
        return cls.checkpoint is not MapReduce.checkpoint

    @abstractmethod
    def start(self) -> Step:
        """The first step."""

    @abstractmethod
    def map(self, step: Step, df: pd.DataFrame) -> Mapping[str, npt.ArrayLike]:
        """One member's outputs for `step` on its own data."""

    @abstractmethod
    def reduce(self, step: Step, sums: Mapping[str, np.ndarray], members: int) -> Step | Done:
        """The next step, or the result, from the sums over the members."""

    def checkpoint(self) -> bytes | None:
        """The requester's state after a `reduce` that returned a step,
        from which the task continues when the requester's worker restarts
        mid-task: the worker stores it after every round, beside its state
        database. Bytes only (no pickle): the worker keeps them on disk and
        hands them back to the same package. The base class keeps none, so
        an interrupted task fails.

        A task that defines `checkpoint` defines `resume(checkpoint,
        rounds_started) -> Step` too: the step to run next, in a fresh task
        object, from the bytes the last `checkpoint` returned (None: the
        worker stopped before the first round finished). `rounds_started`
        counts the rounds the ledger started for the task, the lost ones
        included (their members' privacy was spent even though no sum
        arrived)."""
        return None

    def planned_rounds(self) -> int | None:
        """How many rounds the task expects to run, shown by
        `delta.Client`'s progress bar ("round 2 of 3"); `max_rounds` is only
        the most it may take. None (the default): unknown, and the bar says
        "round 2 (at most 32)". Runs at the requester, before `start`."""
        return None


_WIRE = {"float64": "<f8", "float32": "<f4", "int64": "<i8"}
_SUM_WIRE = {"float64": "<f8", "float32": "<f8", "int64": "<i8"}


def flatten(step: Step, arrays: Mapping[str, npt.ArrayLike]) -> bytes:
    """A member's named outputs as the bytes the worker reads: each output
    in `step.outputs` order, little-endian in its declared type. Refuses
    missing, extra or mis-shaped outputs, NaN or infinity, and int64
    outputs that hold fractions.

    Each output is converted once, straight to its wire type, and checked
    there: a map's output can be the largest array in the task (a model's
    weights), and float32 weights must not be widened to float64 and back.
    Only non-integer values declared int64 pass through float64, because
    their fractions must be refused before they are truncated. A float32
    output beyond float32's range is therefore refused here, as infinity,
    rather than by the member's engine."""
    names = set(arrays)
    expected = set(step.outputs)
    if names != expected:
        raise ValueError(
            f"step {step.name!r}: map returned {sorted(names)}, expected {sorted(expected)}"
        )
    parts = []
    for name, spec in step.specs():
        if spec.dtype != "int64":
            values = np.asarray(arrays[name], dtype=_WIRE[spec.dtype]).reshape(-1)
            _check_size(step, name, spec, values)
            _check_finite(step, name, values)
            parts.append(memoryview(values))
            continue
        raw = np.asarray(arrays[name])  # an array as it is, a list made one once
        if np.issubdtype(raw.dtype, np.integer):
            values = raw.astype("<i8", copy=False).reshape(-1)
            _check_size(step, name, spec, values)
        else:
            exact = raw.astype("<f8", copy=False).reshape(-1)
            _check_size(step, name, spec, exact)
            _check_finite(step, name, exact)
            if not np.all(exact == np.round(exact)) or np.any(np.abs(exact) > 2.0**62):
                raise ValueError(
                    f"step {step.name!r}: output {name!r} is declared int64 and holds "
                    "fractions or values beyond 2**62"
                )
            values = exact.astype("<i8")
        parts.append(memoryview(values))
    # Joined from the arrays' own (contiguous, little-endian) buffers: a
    # `tobytes` copy of each first was one more model-sized copy a round.
    return b"".join(parts)


def _check_size(step: Step, name: str, spec: Output, values: np.ndarray) -> None:
    if values.size != spec.size:
        raise ValueError(
            f"step {step.name!r}: output {name!r} has {values.size} values, "
            f"expected {spec.size} (shape {spec.shape})"
        )


def _check_finite(step: Step, name: str, values: np.ndarray) -> None:
    if not np.all(np.isfinite(values)):
        raise ValueError(f"step {step.name!r}: output {name!r} holds NaN or infinity")


def sums_length(step: Step) -> int:
    """Bytes of the sums the worker hands `reduce` for `step`."""
    return 8 * step.length


def unflatten(step: Step, raw: bytes) -> dict[str, np.ndarray]:
    """The sums the worker hands `reduce` (each output little-endian:
    float64 for float outputs, int64 for int64 ones), as arrays of the
    declared shapes."""
    out: dict[str, np.ndarray] = {}
    at = 0
    for name, spec in step.specs():
        dtype = _SUM_WIRE[spec.dtype]
        values = np.frombuffer(raw, dtype=dtype, count=spec.size, offset=at)
        native = np.int64 if spec.dtype == "int64" else np.float64
        out[name] = values.astype(native).reshape(spec.shape)
        at += 8 * spec.size
    return out
