"""Horizontal federated learning: every member trains the same model on its
own rows, and only the sum of their updates leaves them.

A task subclasses `HorizontalLearning`, names its `dataset`, how many
`rounds` to run and a `strategy`, and defines `model()` (a
`torch.nn.Module`, or a dict of NumPy arrays for a NumPy model) and
`train(model, data, config)`, which trains the model in place at a
member and returns its metrics; `evaluate(model, data)` is optional.

Each round is one secure-aggregation step ("train"): the requester sends
the current weights; every member loads them, evaluates them (from round
2 on, when `evaluate` is defined: the model the previous round made),
trains, and returns its update (weights after minus weights before)
multiplied by its example count, the count itself and its metrics times
the count. The engine sums those across members under SecAgg+, so the
requester learns the example-weighted mean update, the total examples and
the example-weighted metrics, and never one member's update, count or
loss (Flower's SecAgg+ leaves counts and metrics in plaintext). The
requester's strategy (FedAvg, FedProx, FedAvgM, FedAdagrad, FedAdam,
FedYogi) turns the mean update into the next weights; its optimiser state
stays at the requester. A last "evaluate" step measures the final model.

With `privacy` (client-level differential privacy), the step carries the
update alone, unweighted: each member's engine clips it to the L2 norm
`privacy.clip` and adds its share of discrete Gaussian noise before
masking, so the sum is private with respect to any one member. Example
counts and metrics would be further releases, so a private task reports
none, and it runs no evaluation step. The result states ε at `δ`; with
`epsilon` set, training stops before the round that would spend more.

Full-batch gradient descent with one local step per round and FedAvg
weighted by examples is exactly central gradient descent on the pooled
rows (up to the fixed-point encoding, about 2^-25 per weight per round):
W - η Σ (nᵢ/N) gᵢ = Σ (nᵢ/N)(W - η gᵢ).
"""

from __future__ import annotations

import json
import math
import struct
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .images import image_shape, images_array
from .mapreduce import MAX_STEP_ELEMENTS, Done, MapReduce, Output, Privacy, Step

__all__ = [
    "Bulyan",
    "FedAdagrad",
    "FedAdam",
    "FedAvg",
    "FedAvgM",
    "FedMedian",
    "FedProx",
    "FedTrimmedAvg",
    "FedYogi",
    "HorizontalLearning",
    "Krum",
    "LearningResult",
    "MultiKrum",
    "Strategy",
    "StrategyRefused",
    "read_safetensors",
]

WEIGHT_DTYPES = ("float32", "float64")
"""Types a model's trained weights may have; a torch model's integer
buffers (BatchNorm's `num_batches_tracked`) stay each member's own."""

_LE = {"float32": "<f4", "float64": "<f8"}

PROGRESS_PREFIX = "delta.learning round: "
"""A learning task's requester writes one log line per round, this prefix
and the round's `history` row as JSON, which `delta.Client` shows as a
live table and plot while training runs (`TaskHandle.history()`)."""

REPORT_PROGRESS = False
"""Set by the task runner on a worker, whose requester log reaches the
client; `delta.debug` leaves it off (the result holds the same rows)."""


def progress_line(row: Mapping[str, Any], planned: int) -> str:
    """The log line for one round's row (NaN as null)."""
    clean = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()
    }
    return PROGRESS_PREFIX + json.dumps({**clean, "planned": planned}, allow_nan=False)


def parse_progress(line: str) -> dict[str, Any] | None:
    """The row a requester's progress line carries (None: not one)."""
    at = line.find(PROGRESS_PREFIX)
    if at < 0:
        return None
    try:
        row = json.loads(line[at + len(PROGRESS_PREFIX) :])
    except json.JSONDecodeError:
        return None
    if not isinstance(row, dict) or not isinstance(row.get("round"), int):
        return None
    return {k: (math.nan if v is None else v) for k, v in row.items()}


# -- strategies ----------------------------------------------------------------------------


class StrategyRefused(ValueError):
    """A strategy that cannot run under secure aggregation, with the reason."""


class Strategy(ABC):
    """How the requester turns the members' mean update into the next
    weights. `apply` runs at the requester only, in float64; `state` is the
    server optimiser's (momentum, moments), kept between rounds; `config`
    is sent to every member each round (merged into the task's `config`)."""

    def config(self) -> dict[str, Any]:
        """What members need from the strategy (FedProx's `proximal_mu`)."""
        return {}

    @abstractmethod
    def apply(
        self,
        weights: dict[str, np.ndarray],
        update: Mapping[str, np.ndarray],
        state: dict[str, np.ndarray],
        round_no: int,
    ) -> None:
        """Updates `weights` in place from the mean `update` (weights after
        local training minus weights before, averaged over members) of
        round `round_no` (from 1)."""

    def describe(self) -> str:
        """As shown in results: the class and its settings."""
        fields = getattr(self, "__dataclass_fields__", {})
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in fields)
        return f"{type(self).__name__}({settings})"


def _rate(name: str, value: Any, low: float = 0.0, high: float = math.inf) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise ValueError(f"{name} must be a finite number in [{low}, {high}], not {value!r}")


@dataclass(frozen=True)
class FedAvg(Strategy):
    """Federated averaging: the next weights are the mean of the members'
    trained weights, weighted by their examples (with
    `server_learning_rate` 1): W + lr · mean update."""

    server_learning_rate: float = 1.0

    def __post_init__(self) -> None:
        _rate("server_learning_rate", self.server_learning_rate, 0.0)

    def apply(
        self,
        weights: dict[str, np.ndarray],
        update: Mapping[str, np.ndarray],
        state: dict[str, np.ndarray],
        round_no: int,
    ) -> None:
        for name, w in weights.items():
            w += self.server_learning_rate * update[name]


@dataclass(frozen=True)
class FedProx(FedAvg):
    """FedAvg whose members add (μ/2)·‖w − w_global‖² to their loss:
    `train` adds `self.proximal_term(model, config)` (μ is
    `config["proximal_mu"]`), which keeps members with very different data
    from drifting apart."""

    proximal_mu: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        _rate("proximal_mu", self.proximal_mu, 0.0)

    def config(self) -> dict[str, Any]:
        return {"proximal_mu": float(self.proximal_mu)}


@dataclass(frozen=True)
class FedAvgM(Strategy):
    """FedAvg with server momentum (Hsu et al. 2019): m = β·m + (−update),
    W − lr·m."""

    server_learning_rate: float = 1.0
    server_momentum: float = 0.9

    def __post_init__(self) -> None:
        _rate("server_learning_rate", self.server_learning_rate, 0.0)
        _rate("server_momentum", self.server_momentum, 0.0, 1.0)

    def apply(
        self,
        weights: dict[str, np.ndarray],
        update: Mapping[str, np.ndarray],
        state: dict[str, np.ndarray],
        round_no: int,
    ) -> None:
        for name, w in weights.items():
            gradient = -update[name]
            key = f"momentum/{name}"
            if key in state:
                state[key] = self.server_momentum * state[key] + gradient
            else:
                state[key] = gradient.copy()
            w -= self.server_learning_rate * state[key]


@dataclass(frozen=True)
class _FedOpt(Strategy):
    """Adaptive server optimisers (Reddi et al. 2021, "Adaptive Federated
    Optimization"): the mean update is a pseudo-gradient; first moment m,
    second moment v, both starting at zero."""

    eta: float = 0.1
    beta_1: float = 0.9
    beta_2: float = 0.99
    tau: float = 1e-3

    def __post_init__(self) -> None:
        _rate("eta", self.eta, 0.0)
        _rate("beta_1", self.beta_1, 0.0, 1.0)
        _rate("beta_2", self.beta_2, 0.0, 1.0)
        _rate("tau", self.tau, 0.0)

    def _second(self, v: np.ndarray, g2: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _eta(self, round_no: int) -> float:
        return self.eta

    def apply(
        self,
        weights: dict[str, np.ndarray],
        update: Mapping[str, np.ndarray],
        state: dict[str, np.ndarray],
        round_no: int,
    ) -> None:
        eta = self._eta(round_no)
        for name, w in weights.items():
            g = update[name]
            m = state.get(f"m/{name}", np.zeros_like(w))
            v = state.get(f"v/{name}", np.zeros_like(w))
            m = self.beta_1 * m + (1.0 - self.beta_1) * g
            v = self._second(v, g * g)
            state[f"m/{name}"], state[f"v/{name}"] = m, v
            w += eta * m / (np.sqrt(v) + self.tau)


@dataclass(frozen=True)
class FedAdagrad(_FedOpt):
    """Adagrad at the server: v = v + update², W + η·update/(√v + τ)."""

    eta: float = 0.1
    beta_1: float = 0.0
    tau: float = 1e-9

    def _second(self, v: np.ndarray, g2: np.ndarray) -> np.ndarray:
        return v + g2


@dataclass(frozen=True)
class FedAdam(_FedOpt):
    """Adam at the server, with Adam's bias correction of the step:
    η·√(1−β₂ᵗ)/(1−β₁ᵗ)."""

    def _second(self, v: np.ndarray, g2: np.ndarray) -> np.ndarray:
        return self.beta_2 * v + (1.0 - self.beta_2) * g2

    def _eta(self, round_no: int) -> float:
        return self.eta * math.sqrt(1.0 - self.beta_2**round_no) / (1.0 - self.beta_1**round_no)


@dataclass(frozen=True)
class FedYogi(_FedOpt):
    """Yogi at the server: v = v − (1−β₂)·update²·sign(v − update²), which
    grows v more slowly than Adam when updates shrink."""

    eta: float = 0.01

    def _second(self, v: np.ndarray, g2: np.ndarray) -> np.ndarray:
        return v - (1.0 - self.beta_2) * g2 * np.sign(v - g2)


_NOT_LINEAR = (
    "it needs every member's own update, and under secure aggregation the requester sees only "
    "their sum; use FedAvg, FedProx, FedAvgM, FedAdagrad, FedAdam or FedYogi (linear in the "
    "updates), and privacy=delta.Privacy(...) to bound any one member's influence"
)


class _Refused(Strategy):
    """A robust aggregator: not linear in the members' updates."""

    what: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise StrategyRefused(
            f"{type(self).__name__} ({self.what}) cannot run in Delta: {_NOT_LINEAR}"
        )

    def apply(
        self,
        weights: dict[str, np.ndarray],
        update: Mapping[str, np.ndarray],
        state: dict[str, np.ndarray],
        round_no: int,
    ) -> None:  # pragma: no cover - never constructed
        raise StrategyRefused(_NOT_LINEAR)


class FedMedian(_Refused):
    """Refused: the coordinate-wise median of the members' updates."""

    what = "the coordinate-wise median of the members' updates"


class FedTrimmedAvg(_Refused):
    """Refused: a mean after dropping the extreme members per coordinate."""

    what = "a mean after dropping each coordinate's extreme members"


class Krum(_Refused):
    """Refused: picks the member update closest to the others."""

    what = "the member update closest to the others"


class MultiKrum(_Refused):
    """Refused: averages the member updates closest to the others."""

    what = "a mean of the member updates closest to the others"


class Bulyan(_Refused):
    """Refused: Krum selection followed by a trimmed mean."""

    what = "Krum selection followed by a trimmed mean"


# -- the result ----------------------------------------------------------------------------


@dataclass
class LearningResult:
    """What a learning task returns.

    - `model`: the trained weights, `{name: array}` in the model's own
      types (a torch model's `state_dict()` keys); `load_into(module)`
      copies them into a torch module, `save(path)` writes safetensors
      (`.safetensors`) or NumPy (`.npz`) files, never pickle.
    - `history`: one row per round: `round`, `members` (who contributed),
      `examples` (their total), `train_<metric>` (the example-weighted
      mean of what `train` returned), `eval_<metric>` (the
      example-weighted mean of `evaluate` on the model after that round),
      `epsilon` (spent after that round, with privacy), `seconds` (the
      round's wall time at the requester), `member_seconds` (the members'
      mean training time), `overhead_seconds` (the rest: transfers,
      masking, waiting for the slowest member), `upload_bytes` and
      `download_bytes` (each member's masked update and the weights it
      received). Counts and metrics are NaN under privacy.
    - `rounds`: rounds run; `stopped`: "rounds" (all of them) or "budget"
      (the next would have spent more than the task's `epsilon`).
    - `epsilon`, `delta`: the privacy spent (None without privacy).
    - `strategy`: the strategy and its settings."""

    model: dict[str, np.ndarray]
    history: pd.DataFrame
    rounds: int
    stopped: str
    strategy: str
    epsilon: float | None = None
    delta: float | None = None

    def load_into(self, module: Any) -> Any:
        """Copies the weights into a torch module with the same
        `state_dict()` keys (its integer buffers are left as they are);
        returns the module."""
        torch = _torch()
        state = module.state_dict()
        missing = [k for k, v in state.items() if v.is_floating_point() and k not in self.model]
        extra = [k for k in self.model if k not in state]
        if missing or extra:
            raise ValueError(
                f"the module does not match the trained model: missing {missing}, unknown {extra}"
            )
        with torch.no_grad():
            for name, values in self.model.items():
                target = state[name]
                if tuple(target.shape) != values.shape:
                    raise ValueError(
                        f"weight {name!r}: the module has shape {tuple(target.shape)}, "
                        f"the trained model {values.shape}"
                    )
                target.copy_(torch.from_numpy(np.array(values)))
        return module

    def save(self, path: str | Path) -> Path:
        """Writes the model to `path`: safetensors for `.safetensors`, a
        NumPy archive for `.npz`. Returns the path."""
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix == ".safetensors":
            metadata = {"strategy": self.strategy, "rounds": str(self.rounds)}
            if self.epsilon is not None:
                metadata["epsilon"] = repr(self.epsilon)
                metadata["delta"] = repr(self.delta)
            target.write_bytes(safetensors_bytes(self.model, metadata))
        elif suffix == ".npz":
            with target.open("wb") as out:
                np.savez(out, **self.model)
        else:
            raise ValueError(f"{target}: save as .safetensors or .npz")
        return target


_SAFETENSORS_DTYPES = {"float32": "F32", "float64": "F64", "int64": "I64"}


def safetensors_bytes(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    """The safetensors encoding of `tensors`: an 8-byte little-endian header
    length, a JSON header (each tensor's dtype, shape and byte range in the
    data; `__metadata__` strings), padded with spaces to 8 bytes, then the
    tensors' little-endian bytes in order."""
    header: dict[str, Any] = {"__metadata__": dict(metadata)}
    parts = []
    at = 0
    for name, array in tensors.items():
        values = np.asarray(array)
        kind = _SAFETENSORS_DTYPES.get(values.dtype.name)
        if kind is None:
            raise ValueError(f"tensor {name!r}: {values.dtype} cannot be saved")
        raw = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": kind,
            "shape": list(values.shape),
            "data_offsets": [at, at + len(raw)],
        }
        parts.append(raw)
        at += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(parts)


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file written by `LearningResult.save`
    (F32, F64 and I64 tensors), as NumPy arrays."""
    return parse_safetensors(Path(path).read_bytes(), str(path))[0]


def parse_safetensors(raw: bytes, what: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and the `__metadata__` strings of safetensors bytes
    (F32, F64 and I64 tensors); `ValueError` naming `what` for anything
    malformed."""
    if len(raw) < 8:
        raise ValueError(f"{what}: not a safetensors file")
    (length,) = struct.unpack("<Q", raw[:8])
    if length > len(raw) - 8:
        raise ValueError(f"{what}: the header is longer than the file")
    try:
        header = json.loads(raw[8 : 8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{what}: the header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ValueError(f"{what}: the header is not a JSON object")
    data = raw[8 + length :]
    names = {v: k for k, v in _SAFETENSORS_DTYPES.items()}
    out = {}
    metadata = header.get("__metadata__") or {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = spec["data_offsets"]
            dtype = np.dtype(_LE.get(names[spec["dtype"]], "<i8"))
            shape = [int(d) for d in spec["shape"]]
            if not 0 <= begin <= end <= len(data):
                raise ValueError("data offsets outside the file")
            out[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape).copy()
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{what}: tensor {name!r} is malformed: {exc}") from None
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{what}: __metadata__ must map names to strings")
    return out, metadata


# -- the task ------------------------------------------------------------------------------


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is installed where tests run
        raise ImportError("this model needs PyTorch: pip install torch") from exc
    return torch


def _weights_of(model: Any) -> dict[str, np.ndarray]:
    """The trainable weights of a model as arrays in its own types: views
    of a torch module's tensors, a NumPy model's arrays as they are."""
    if isinstance(model, Mapping):
        out = {}
        for name, value in model.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"a NumPy model's weight names are non-empty strings, not {name!r}")
            array = np.asarray(value)
            if array.dtype.name not in WEIGHT_DTYPES:
                raise TypeError(
                    f"weight {name!r} is {array.dtype}: a NumPy model's weights are float32 or "
                    "float64 arrays"
                )
            out[name] = array
        return out
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            "model() returns a torch.nn.Module or a dict of NumPy arrays, not "
            f"{type(model).__name__}"
        )
    out = {}
    for name, tensor in model.state_dict().items():
        if not tensor.is_floating_point():
            continue
        if tensor.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"weight {name!r} is {tensor.dtype}: train in float32 or float64")
        out[name] = tensor.detach().cpu().numpy()
    return out


def _load_weights(model: Any, weights: Mapping[str, np.ndarray]) -> None:
    """Sets a model's trainable weights (in place: a torch module's
    tensors, a NumPy model's dict entries)."""
    if isinstance(model, dict):
        for name, values in weights.items():
            model[name] = values.copy()
        return
    torch = _torch()
    state = model.state_dict()
    with torch.no_grad():
        for name, values in weights.items():
            state[name].copy_(torch.from_numpy(values.copy()))


def _encode_weights(weights: Mapping[str, np.ndarray], layout: Sequence[Sequence[Any]]) -> bytes:
    """The weights as a step's data: each array's little-endian bytes in
    layout order."""
    return b"".join(
        memoryview(np.ascontiguousarray(weights[name], dtype=_LE[dtype]))
        for name, dtype, _ in layout
    )


def _decode_weights(raw: bytes, layout: Sequence[Sequence[Any]]) -> dict[str, np.ndarray]:
    out = {}
    at = 0
    for name, dtype, shape in layout:
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        size = count * np.dtype(_LE[dtype]).itemsize
        if at + size > len(raw):
            raise ValueError("the step's weights are shorter than its layout")
        out[name] = np.frombuffer(raw, dtype=_LE[dtype], count=count, offset=at).reshape(shape)
        at += size
    if at != len(raw):
        raise ValueError("the step's weights are longer than its layout")
    return out


def _positive_int(cls: type, name: str, value: Any, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise TypeError(f"{cls.__name__}.{name} must be an integer in [1, {high}], not {value!r}")


def _names(cls: type, attribute: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"{cls.__name__}.{attribute} is a tuple of names, not {value!r}")
    names = tuple(value)
    if any(not isinstance(n, str) or not n for n in names) or len(set(names)) != len(names):
        raise TypeError(f"{cls.__name__}.{attribute} must hold distinct non-empty names: {names!r}")
    return names


class HorizontalLearning(MapReduce):
    """Base class of a horizontal learning task: members hold the same
    columns for different rows, and train one model together.

    Set `dataset`, `rounds` (default 10) and `strategy` (default
    `FedAvg()`); define `model()` and `train(model, data, config)`, and
    optionally `evaluate(model, data)`. Other settings:

    - `train_metrics` / `eval_metrics`: the names `train` / `evaluate`
      return (declared in advance: a step's outputs are fixed before any
      member sees data); each is averaged over members weighted by
      examples.
    - `features` and `label`: column names. When set, `data` is `(X, y)`
      (torch tensors in the model's float type, `y` int64 for an integer
      label or a category's level index; NumPy arrays for a NumPy model);
      otherwise the holder's frame. An image folder's `features =
      ("image",)` gives `X` as (N, C, H, W) in [0, 1] (`delta.images`).
    - `holdout`: the fraction of each member's rows kept out of training
      for `evaluate` (0: evaluate on the training rows), drawn with `seed`.
    - `config`: JSON values every member's `train` receives (with the
      strategy's, and `round`).
    - `privacy`: `delta.Privacy(clip, noise_multiplier)` for client-level
      differential privacy; `epsilon`: the task's budget (stops early).

    Example (full-batch gradient descent on a linear model):

        >>> class Fit(HorizontalLearning):  # doctest: +SKIP
        ...     dataset = "patients"
        ...     rounds = 20
        ...     features, label = ("age", "bmi"), "cost"
        ...     def model(self):
        ...         return torch.nn.Linear(2, 1)
        ...     def train(self, model, data, config):
        ...         x, y = data
        ...         loss = ((model(x).squeeze(1) - y) ** 2).mean()
        ...         loss.backward()
        ...         torch.optim.SGD(model.parameters(), lr=0.1).step()
        ...         return {"loss": float(loss)}
    """

    task_kind: ClassVar[str] = "horizontal_learning"
    rounds: ClassVar[int] = 10
    strategy: ClassVar[Strategy] = FedAvg()
    privacy: ClassVar[Privacy | None] = None
    epsilon: ClassVar[float | None] = None
    train_metrics: ClassVar[Sequence[str]] = ("loss",)
    eval_metrics: ClassVar[Sequence[str]] = ()
    features: ClassVar[Sequence[str] | None] = None
    label: ClassVar[str | None] = None
    holdout: ClassVar[float] = 0.0
    seed: ClassVar[int] = 0
    config: ClassVar[Mapping[str, Any]] = {}
    restarts: ClassVar[int] = 3

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _positive_int(cls, "rounds", cls.rounds, 100_000)
        if not isinstance(cls.strategy, Strategy):
            raise TypeError(
                f"{cls.__name__}.strategy must be a delta.learning strategy such as FedAvg(), "
                f"not {cls.strategy!r}"
            )
        if cls.privacy is not None and not isinstance(cls.privacy, Privacy):
            raise TypeError(f"{cls.__name__}.privacy must be a delta.Privacy or None")
        if cls.epsilon is not None:
            if cls.privacy is None:
                raise TypeError(f"{cls.__name__}.epsilon is a privacy budget: set privacy too")
            _rate(f"{cls.__name__}.epsilon", cls.epsilon, 1e-6)
        _names(cls, "train_metrics", cls.train_metrics)
        _names(cls, "eval_metrics", cls.eval_metrics)
        if cls.features is not None:
            _names(cls, "features", cls.features)
            if not isinstance(cls.label, str) or not cls.label:
                raise TypeError(f"{cls.__name__}.label must name a column when features are set")
        h = cls.holdout
        if isinstance(h, bool) or not isinstance(h, int | float) or not 0.0 <= h < 1.0:
            raise TypeError(f"{cls.__name__}.holdout must be a fraction in [0, 1), not {h!r}")
        if not isinstance(cls.config, Mapping):
            raise TypeError(f"{cls.__name__}.config must be a dict of JSON values")
        r = cls.restarts
        if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r <= 1000:
            raise TypeError(f"{cls.__name__}.restarts must be an integer in [0, 1000], not {r!r}")
        # One step per round, one to evaluate the final model, and the
        # rounds a restarted requester may lose (each lost round is redone
        # from the last checkpoint).
        cls.max_rounds = cls.rounds + 1 + r

    # -- what a task defines

    @abstractmethod
    def model(self) -> Any:
        """A fresh model: a `torch.nn.Module`, or `{name: array}` of
        float32/float64 NumPy arrays. The requester's initial weights are
        the ones every member starts from (seed here for a reproducible
        start)."""

    @abstractmethod
    def train(self, model: Any, data: Any, config: Mapping[str, Any]) -> Mapping[str, float]:
        """Trains `model` in place on one member's data and returns
        `{metric: value}` for every name in `train_metrics`. `config` holds
        the task's `config`, the strategy's and `round`."""

    def evaluate(self, model: Any, data: Any) -> Mapping[str, float]:
        """`{metric: value}` for every name in `eval_metrics`, on one
        member's held-out data (or its training data when `holdout` is 0).
        Optional."""
        raise NotImplementedError

    def examples(self, data: Any) -> int:
        """How many examples `data` holds: each member's weight in the
        averages (default: its rows)."""
        return len(data[0]) if isinstance(data, tuple) else len(data)

    def proximal_term(self, model: Any, config: Mapping[str, Any]) -> Any:
        """FedProx's (μ/2)·‖w − w_round‖² for a torch model, to add to the
        loss in `train` (0 without `proximal_mu` in `config`)."""
        mu = float(config.get("proximal_mu", 0.0))
        start = getattr(self, "_round_start", None)
        if mu == 0.0 or not start:
            return 0.0
        total = 0.0
        for name, parameter in model.named_parameters():
            if name in start:
                total = total + ((parameter - start[name]) ** 2).sum()
        return 0.5 * mu * total

    # -- the requester

    def _evaluates(self) -> bool:
        return type(self).evaluate is not HorizontalLearning.evaluate

    def planned_rounds(self) -> int:
        private = self.privacy is not None
        return self.rounds + (1 if self._evaluates() and not private else 0)

    def start(self) -> Step:
        if self._evaluates() and not self.eval_metrics:
            raise TypeError(f"{type(self).__name__} defines evaluate: name its eval_metrics")
        weights = _weights_of(self.model())
        if not weights:
            raise ValueError("the model has no float32 or float64 weights to train")
        total = sum(w.size for w in weights.values())
        if total + 8 > MAX_STEP_ELEMENTS:
            raise ValueError(f"the model has {total} weights: at most {MAX_STEP_ELEMENTS - 8}")
        self._layout = [[name, w.dtype.name, list(w.shape)] for name, w in weights.items()]
        self._weights = {name: np.array(w, dtype=np.float64) for name, w in weights.items()}
        self._state: dict[str, np.ndarray] = {}
        self._rows: list[dict[str, Any]] = []
        # Ledger rounds: those whose sums reached reduce, and those a
        # restarted requester lost (privacy spent, no sum).
        self._reduced = 0
        self._lost = 0
        if self.privacy is not None and self.epsilon is not None:
            if self._epsilon_after(1) > self.epsilon:
                raise ValueError(
                    f"one round at noise multiplier {self.privacy.noise_multiplier} spends "
                    f"ε = {self._epsilon_after(1):.3g}, more than the task's epsilon "
                    f"{self.epsilon}: raise the noise multiplier (delta.Privacy.for_budget)"
                )
        return self._train_step(1)

    def _epsilon_after(self, rounds: int) -> float:
        from . import _native

        assert self.privacy is not None
        p = self.privacy
        # Lost rounds count: their members noised and sent an update.
        return float(_native.gaussian_epsilon(p.noise_multiplier, rounds + self._lost, p.delta))

    # -- checkpoints

    def checkpoint(self) -> bytes:
        """The requester's state after the last reduce, as safetensors: the
        weights and the strategy's state (float64, exactly), with the
        layout, the history and the round counts in its metadata."""
        tensors = {f"weights/{name}": w for name, w in self._weights.items()}
        tensors.update({f"state/{key}": np.asarray(v) for key, v in self._state.items()})
        step = self._next
        state = {
            "layout": self._layout,
            "rows": self._rows,
            "reduced": self._reduced,
            "lost": self._lost,
            "next": step.name,
            "round": int(step.params["round"]),
        }
        metadata = {
            "delta_checkpoint": "1",
            "task": type(self).__qualname__,
            "state": json.dumps(state),
        }
        return safetensors_bytes(tensors, metadata)

    def _check_budget_after_restart(self) -> None:
        if self.privacy is None or self.epsilon is None:
            return
        spent = self._epsilon_after(len(self._rows) + 1)
        if spent > self.epsilon:
            raise ValueError(
                f"after {len(self._rows)} rounds and {self._lost} lost to restarts, the next "
                f"round would spend ε = {spent:.3g}, more than the task's epsilon {self.epsilon}"
            )

    def resume(self, checkpoint: bytes | None, rounds_started: int) -> Step:
        """Continues from `checkpoint` (see `MapReduce.checkpoint`): the step
        that was next is issued again, so the rounds lost to the restart
        are redone and the model is what an uninterrupted run makes."""
        if checkpoint is None:
            step = self.start()
            self._lost = rounds_started
            self._check_budget_after_restart()
            return step
        what = f"the checkpoint of {type(self).__name__}"
        tensors, metadata = parse_safetensors(checkpoint, what)
        mine = type(self).__qualname__
        if metadata.get("delta_checkpoint") != "1" or metadata.get("task") != mine:
            raise ValueError(f"{what}: written by another task or version")
        state = json.loads(metadata["state"])
        self.start()
        layout = [[name, dtype, list(shape)] for name, dtype, shape in state["layout"]]
        if layout != self._layout:
            raise ValueError(f"{what}: its layout differs from this model's")
        self._weights = {name: tensors[f"weights/{name}"] for name, _, _ in layout}
        self._state = {k[len("state/") :]: v for k, v in tensors.items() if k.startswith("state/")}
        self._rows = list(state["rows"])
        self._reduced = int(state["reduced"])
        lost = rounds_started - self._reduced - int(state["lost"])
        if lost < 0:
            raise ValueError(
                f"{what}: it counts {self._reduced + int(state['lost'])} rounds, "
                f"the ledger only {rounds_started}"
            )
        self._lost = int(state["lost"]) + lost
        self._check_budget_after_restart()
        if state["next"] == "evaluate":
            return self._eval_step()
        return self._train_step(int(state["round"]))

    def _sent(self) -> dict[str, np.ndarray]:
        """The current weights in the model's own types, as members get them."""
        return {name: self._weights[name].astype(_LE[dtype]) for name, dtype, _ in self._layout}

    def _train_step(self, round_no: int) -> Step:
        outputs: dict[str, Output] = {
            f"update/{name}": Output(tuple(shape)) for name, _, shape in self._layout
        }
        evaluate = self._evaluates() and round_no > 1 and self.privacy is None
        if self.privacy is None:
            outputs["examples"] = Output((), "int64")
            outputs.update({f"train/{m}": Output(()) for m in self.train_metrics})
            outputs["member_seconds"] = Output(())
            if evaluate:
                outputs["eval_examples"] = Output((), "int64")
                outputs.update({f"eval/{m}": Output(()) for m in self.eval_metrics})
        config = {**dict(self.config), **self.strategy.config(), "round": round_no}
        params = {
            "round": round_no,
            "layout": self._layout,
            "config": config,
            "evaluate": evaluate,
            "private": self.privacy is not None,
        }
        self._issued = time.monotonic()
        weights = _encode_weights(self._sent(), self._layout)
        self._next = Step("train", outputs, params, privacy=self.privacy, data=weights)
        return self._next

    def _eval_step(self) -> Step:
        outputs = {"eval_examples": Output((), "int64")}
        outputs.update({f"eval/{m}": Output(()) for m in self.eval_metrics})
        params = {
            "round": self.rounds + 1,
            "layout": self._layout,
        }
        self._issued = time.monotonic()
        self._next = Step(
            "evaluate", outputs, params, data=_encode_weights(self._sent(), self._layout)
        )
        return self._next

    def reduce(self, step: Step, sums: Mapping[str, np.ndarray], members: int) -> Step | Done:
        seconds = time.monotonic() - self._issued
        self._reduced += 1
        if step.name == "evaluate":
            self._record_eval(sums)
            return Done(self._result("rounds"))
        round_no = int(step.params["round"])
        if "eval_examples" in sums:
            self._record_eval(sums)
        row: dict[str, Any] = {"round": round_no, "members": members}
        if self.privacy is None:
            examples = int(sums["examples"])
            if examples <= 0:
                raise ValueError(f"round {round_no}: the members reported {examples} examples")
            divisor = float(examples)
            row["examples"] = examples
            for m in self.train_metrics:
                row[f"train_{m}"] = float(sums[f"train/{m}"]) / examples
            member_seconds = float(sums["member_seconds"]) / members
        else:
            divisor = float(members)
            row["examples"] = math.nan
            for m in self.train_metrics:
                row[f"train_{m}"] = math.nan
            member_seconds = math.nan
        for m in self.eval_metrics:
            row[f"eval_{m}"] = math.nan
        update = {name: sums[f"update/{name}"] / divisor for name, _, _ in self._layout}
        self.strategy.apply(self._weights, update, self._state, round_no)
        for name, w in self._weights.items():
            if not np.all(np.isfinite(w)):
                raise ValueError(
                    f"round {round_no}: weight {name!r} is no longer finite (training diverged: "
                    "lower the learning rate)"
                )
        row["epsilon"] = self._epsilon_after(round_no) if self.privacy is not None else math.nan
        row["seconds"] = seconds
        row["member_seconds"] = member_seconds
        row["overhead_seconds"] = seconds - member_seconds if self.privacy is None else math.nan
        row["upload_bytes"] = 8 * step.length
        row["download_bytes"] = len(step.body())
        self._rows.append(row)
        if REPORT_PROGRESS:
            print(progress_line(row, self.rounds), file=sys.stderr, flush=True)
        if round_no >= self.rounds:
            if self._evaluates() and self.privacy is None:
                return self._eval_step()
            return Done(self._result("rounds"))
        if self.epsilon is not None and self._epsilon_after(round_no + 1) > self.epsilon:
            return Done(self._result("budget"))
        return self._train_step(round_no + 1)

    def _record_eval(self, sums: Mapping[str, np.ndarray]) -> None:
        count = int(sums["eval_examples"])
        if count <= 0 or not self._rows:
            return
        for m in self.eval_metrics:
            self._rows[-1][f"eval_{m}"] = float(sums[f"eval/{m}"]) / count
        if REPORT_PROGRESS:
            # The row again, now with its evaluation (rows are keyed by round).
            print(progress_line(self._rows[-1], self.rounds), file=sys.stderr, flush=True)

    def _result(self, stopped: str) -> LearningResult:
        history = pd.DataFrame(self._rows)
        p = self.privacy
        return LearningResult(
            model=self._sent(),
            history=history,
            rounds=len(self._rows),
            stopped=stopped,
            strategy=self.strategy.describe(),
            epsilon=self._epsilon_after(len(self._rows)) if p is not None else None,
            delta=p.delta if p is not None else None,
        )

    # -- a member

    def map(self, step: Step, df: pd.DataFrame) -> Mapping[str, Any]:
        p = step.params
        layout = p["layout"]
        weights = _decode_weights(step.data, layout)
        model = self._member_model(layout)
        _load_weights(model, weights)
        train_data, eval_data = self._member_data(df, model)
        out: dict[str, Any] = {}
        if step.name == "evaluate" or p.get("evaluate"):
            count, metrics = self._evaluate(model, eval_data)
            out["eval_examples"] = count
            out.update({f"eval/{m}": count * metrics[m] for m in self.eval_metrics})
        if step.name == "evaluate":
            return out
        if isinstance(model, dict):
            self._round_start = {}
        else:
            torch = _torch()
            self._round_start = {k: torch.from_numpy(v.copy()) for k, v in weights.items()}
        began = time.perf_counter()
        metrics = self._checked(
            self.train(model, train_data, p["config"]), self.train_metrics, "train"
        )
        elapsed = time.perf_counter() - began
        trained = _weights_of(model)
        count = self._count(train_data)
        private = bool(p.get("private"))
        for name, _, _ in layout:
            # One float64 array, scaled in place: a model-sized array costs
            # a page fault per 4 kB each time one is made.
            delta = np.subtract(trained[name], weights[name], dtype=np.float64)
            if not private:
                delta *= count
            out[f"update/{name}"] = delta
        if not private:
            out["examples"] = count
            out.update({f"train/{m}": count * metrics[m] for m in self.train_metrics})
            out["member_seconds"] = elapsed
        return out

    def _member_model(self, layout: Sequence[Sequence[Any]]) -> Any:
        model = getattr(self, "_model", None)
        if model is None:
            model = self.model()
            have = {k: (v.dtype.name, list(v.shape)) for k, v in _weights_of(model).items()}
            want = {name: (dtype, list(shape)) for name, dtype, shape in layout}
            if have != want:
                raise ValueError(
                    "this member's model() does not match the requester's: weights "
                    f"{sorted(set(have) ^ set(want)) or 'of other types or shapes'}"
                )
            self._model = model
        return model

    def _member_data(self, df: pd.DataFrame, model: Any) -> tuple[Any, Any]:
        cached = getattr(self, "_data", None)
        if cached is not None:
            return cached
        if self.holdout > 0.0:
            order = np.random.default_rng(self.seed).permutation(len(df))
            kept = int(round(self.holdout * len(df)))
            train_rows, eval_rows = np.sort(order[kept:]), np.sort(order[:kept])
            train_df = df.iloc[train_rows].reset_index(drop=True)
            eval_df = df.iloc[eval_rows].reset_index(drop=True)
        else:
            train_df = eval_df = df
        self._data = (self._as_data(train_df, model), self._as_data(eval_df, model))
        return self._data

    def _as_data(self, df: pd.DataFrame, model: Any) -> Any:
        if self.features is None:
            return df
        assert self.label is not None
        columns = list(self.features)
        missing = [c for c in [*columns, self.label] if c not in df.columns]
        if missing:
            raise ValueError(f"the dataset has no column {missing[0]!r}")
        weights = _weights_of(model)
        dtype = next(iter(weights.values())).dtype
        if any(image_shape(df, c) is not None for c in columns):
            if len(columns) != 1:
                raise ValueError(f"an image column must be the only feature, not one of {columns}")
            # (N, H, W, C) uint8 to (N, C, H, W) in [0, 1], as torch's
            # convolutions and torchvision's ToTensor have it.
            pixels = images_array(df, columns[0]).transpose(0, 3, 1, 2)
            x = pixels.astype(dtype) / dtype.type(255)
        else:
            x = df[columns].to_numpy(dtype=dtype)
        label = df[self.label]
        if isinstance(label.dtype, pd.CategoricalDtype):
            # A category (an image folder's class) trains as its level's
            # index in the declared levels.
            y = label.cat.codes.to_numpy(dtype=np.int64)
        else:
            integer = pd.api.types.is_integer_dtype(label) or pd.api.types.is_bool_dtype(label)
            y = label.to_numpy(dtype=np.int64 if integer else dtype)
        if isinstance(model, dict):
            return x, y
        torch = _torch()
        return torch.from_numpy(np.array(x, order="C")), torch.from_numpy(np.array(y, order="C"))

    def _count(self, data: Any) -> int:
        count = self.examples(data)
        if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
            raise ValueError(f"examples() must return an integer >= 0, not {count!r}")
        return int(count)

    def _evaluate(self, model: Any, data: Any) -> tuple[int, dict[str, float]]:
        count = self._count(data)
        if count == 0:
            return 0, dict.fromkeys(self.eval_metrics, 0.0)
        if isinstance(model, dict):
            metrics = self.evaluate(model, data)
        else:
            torch = _torch()
            was_training = model.training
            model.eval()
            try:
                with torch.no_grad():
                    metrics = self.evaluate(model, data)
            finally:
                model.train(was_training)
        return count, self._checked(metrics, self.eval_metrics, "evaluate")

    @staticmethod
    def _checked(metrics: Any, names: Sequence[str], what: str) -> dict[str, float]:
        if not isinstance(metrics, Mapping) or set(metrics) != set(names):
            got = sorted(metrics) if isinstance(metrics, Mapping) else type(metrics).__name__
            raise ValueError(f"{what} must return {{metric: value}} for {sorted(names)}, not {got}")
        out = {}
        for name in names:
            value = float(metrics[name])
            if not math.isfinite(value):
                raise ValueError(f"{what} returned {name} = {value}")
            out[name] = value
        return out
