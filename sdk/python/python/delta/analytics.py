"""`delta.Analytics`: federated statistics written like pandas.

A data scientist writes ordinary pandas code against a *symbolic* frame;
Delta turns it into MapReduce steps in which every member only ever
returns fixed-length sums of partial statistics, and hands back what
pandas would have returned on the concatenation of all members' data::

    import delta

    class Stats(delta.Analytics):
        dataset = "patients"
        levels = {"sex": ["F", "M"]}

        def execute(self, df):
            adults = df[df["age"] >= 18]
            return {
                "mean_bmi": adults["bmi"].mean(),
                "by_sex": df.groupby("sex")["bmi"].mean(),
                "q": df["age"].quantile([0.25, 0.5, 0.75]),
            }

    result = delta.debug(Stats(), data={"patients": [frame1, frame2]})

How it works:

- `execute` runs once, at the requester, on a `FederatedFrame` that holds
  no data. Column selection, arithmetic, comparisons and boolean filters
  build expression trees; aggregations (`mean`, `quantile`, `groupby`,
  `ols`, ...) return `Deferred` placeholders.
- `start` plans every placeholder as a small generator that asks for
  named sums and receives the totals; the planner batches all pending
  asks of a round into one `Step` (identical asks are merged, so `mean`
  and `std` of one column cost one set of sums).
- `map` (at each member) evaluates the JSON expressions carried in
  `Step.params` on the member's real frame and returns the asked sums. It
  needs nothing but the step and the frame, and every output length is
  fixed by the step, never by the member's number of rows.
- `reduce` (at the requester) feeds the totals back to the generators,
  and returns `Done` with `execute`'s structure, placeholders replaced by
  pandas values, once all have finished.

Precision: the engine sums fixed-point numbers (24 fractional bits in a
64-bit ring). A member's real-valued sum travels as seven base-2^24
digits spanning 2^-96 to 2^56, each an integer the ring carries exactly,
so the pooled total is the exact sum of the members' float64 sums,
rounded once: results match pandas to ~1e-12 relative whatever the
data's scale (1e-9 or 1e15). Second moments are taken around the pooled
means from an earlier round, as pandas does.

`docs/analytics.md` lists what the requester learns for each operation.
"""

from __future__ import annotations

import json
import math
import operator
import struct
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from .mapreduce import Done, MapReduce, Output, PolicyRefusal, Step, output_spec

__all__ = [
    "Analytics",
    "PlanError",
    "PlanEvaluator",
    "check_plan",
    "Deferred",
    "FederatedFrame",
    "FederatedGroupBy",
    "FederatedSeries",
    "crosstab",
    "logistic",
    "ols",
    "step_lengths",
]

Expr: TypeAlias = dict[str, Any]
"""An expression as members receive it: JSON, evaluated on their frame."""
Spec: TypeAlias = dict[str, Any]
"""One ask for sums, as members receive it (`kind` plus its inputs)."""
Level: TypeAlias = str | int | float | bool
Answers: TypeAlias = dict[str, np.ndarray]
Plan: TypeAlias = Generator[dict[str, Spec], Answers, Any]
"""A statistic's plan: yields asks, receives their totals, returns its value."""

_DIGIT_BITS = 24
"""Digit size of real sums: the ring holds 2^39 units of 1, so digits
below 2^24 can be summed over up to 2^15 members without wrapping."""
_DIGITS = 7
"""Digits per real sum: they cover 2^-96 .. 2^56 (152 bits)."""
_LOW_BITS = 96
"""The lowest digit's unit is 2^-96; local sums of magnitude above
2^-43 keep all 53 bits."""
_MAX_LOCAL_SUM = float(2**56)
"""Largest local sum a member may contribute."""
_ORD_POS_INF = 0x7FF0000000000000
_ORD_NEG_INF = -_ORD_POS_INF
_SIGN = 1 << 63
_NAN = float("nan")


def _ordinal(value: float) -> int:
    """The rank of a double among all doubles (monotone, -0.0 == 0.0):
    order statistics are searched over these integers, so a search ends on
    an exact data value after at most 64 bits of bisection."""
    bits: int = struct.unpack("<q", struct.pack("<d", value))[0]
    return bits if bits >= 0 else -(bits & (_SIGN - 1))


def _from_ordinal(rank: int) -> float:
    """The inverse of `_ordinal`."""
    bits = rank if rank >= 0 else (-rank) | _SIGN
    value: float = struct.unpack("<d", struct.pack("<Q", bits))[0]
    return value


def _from_ordinals(ranks: Sequence[int]) -> np.ndarray:
    """Vectorised `_from_ordinal`, for members."""
    t = np.asarray(ranks, dtype=np.int64)
    magnitude = np.abs(t).astype(np.uint64)
    bits = np.where(t < 0, magnitude | np.uint64(_SIGN), magnitude)
    return bits.view(np.float64)


def _canonical(value: Any) -> str:
    """Canonical JSON (strict: NaN/inf must not reach a member)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


# --------------------------------------------------------------------------
# Expressions


@dataclass(frozen=True, eq=False)
class _Node:
    """A symbolic expression: `op` over `args` (nodes or `Deferred`
    scalars, substituted once known) with JSON `attrs`."""

    op: str
    args: tuple[_Node | Deferred, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict)


def _col(name: str) -> _Node:
    return _Node("col", attrs={"name": name})


def _const(value: Any) -> _Node:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        value = _NAN
    if not isinstance(value, (bool, int, float, str)):
        raise TypeError(f"cannot use {type(value).__name__} {value!r} in a federated expression")
    return _Node("const", attrs={"value": value})


def _const_json(value: Any) -> Expr:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"op": "const", "special": repr(value)}
    return {"op": "const", "value": value}


def _and(a: _Node | None, b: _Node | None) -> _Node | None:
    """Conjunction of two row masks (None: every row)."""
    if a is None:
        return b
    if b is None or a is b:
        return a
    return _Node("and", (a, b))


def _node_deps(node: _Node | Deferred | None, out: list[Deferred]) -> None:
    if isinstance(node, Deferred):
        out.append(node)
    elif isinstance(node, _Node):
        for arg in node.args:
            _node_deps(arg, out)


def _to_json(node: _Node | Deferred, value_of: Callable[[Deferred], Any]) -> Expr:
    if isinstance(node, Deferred):
        value = value_of(node)
        if isinstance(value, (pd.Series, pd.DataFrame, np.ndarray)):
            raise TypeError(
                f"only scalar results can be used inside an expression, not {type(value).__name__}"
            )
        return _const_json(value)
    if node.op == "const":
        return _const_json(node.attrs["value"])
    out: Expr = {"op": node.op, **node.attrs}
    if node.args:
        out["args"] = [_to_json(a, value_of) for a in node.args]
    return out


Resolve: TypeAlias = Callable[[_Node | None], Expr | None]


def _need(expr: Expr | None) -> Expr:
    assert expr is not None
    return expr


# --------------------------------------------------------------------------
# Deferred results


class Deferred:
    """A result known only when the task has run. `execute` returns these
    (inside dicts, lists or tuples); arithmetic, indexing and `pipe` on
    them build further deferred results, computed at the requester."""

    __array_ufunc__ = None

    def _apply(self, fn: Callable[..., Any], *args: Any) -> Deferred:
        if any(isinstance(a, FederatedSeries) for a in args):
            return NotImplemented
        return _Apply(fn, (self, *args))

    def _rapply(self, fn: Callable[..., Any], other: Any) -> Deferred:
        if isinstance(other, FederatedSeries):
            return NotImplemented
        return _Apply(fn, (other, self))

    def __add__(self, other: Any) -> Deferred:
        return self._apply(operator.add, other)

    def __radd__(self, other: Any) -> Deferred:
        return self._rapply(operator.add, other)

    def __sub__(self, other: Any) -> Deferred:
        return self._apply(operator.sub, other)

    def __rsub__(self, other: Any) -> Deferred:
        return self._rapply(operator.sub, other)

    def __mul__(self, other: Any) -> Deferred:
        return self._apply(operator.mul, other)

    def __rmul__(self, other: Any) -> Deferred:
        return self._rapply(operator.mul, other)

    def __truediv__(self, other: Any) -> Deferred:
        return self._apply(operator.truediv, other)

    def __rtruediv__(self, other: Any) -> Deferred:
        return self._rapply(operator.truediv, other)

    def __pow__(self, other: Any) -> Deferred:
        return self._apply(operator.pow, other)

    def __rpow__(self, other: Any) -> Deferred:
        return self._rapply(operator.pow, other)

    def __neg__(self) -> Deferred:
        return _Apply(operator.neg, (self,))

    def __abs__(self) -> Deferred:
        return _Apply(abs, (self,))

    def __getitem__(self, key: Any) -> Deferred:
        return _Apply(operator.getitem, (self, key))

    # Ordering builds deferred booleans (`__eq__` stays identity).
    def __lt__(self, other: Any) -> Deferred:
        return self._apply(operator.lt, other)

    def __le__(self, other: Any) -> Deferred:
        return self._apply(operator.le, other)

    def __gt__(self, other: Any) -> Deferred:
        return self._apply(operator.gt, other)

    def __ge__(self, other: Any) -> Deferred:
        return self._apply(operator.ge, other)

    def pipe(self, fn: Callable[..., Any], *args: Any) -> Deferred:
        """`fn(value, *args)` once the value is known (e.g. `.pipe(round, 2)`)."""
        return _Apply(fn, (self, *args))

    def _unavailable(self, *_: Any) -> NoReturn:
        raise TypeError(
            "federated results are not known inside execute(); return them from execute() "
            "(arithmetic and indexing on them are allowed)"
        )

    __bool__ = _unavailable
    __float__ = _unavailable
    __int__ = _unavailable
    __index__ = _unavailable
    __iter__ = _unavailable
    __len__ = _unavailable


class _Apply(Deferred):
    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args

    def __repr__(self) -> str:
        return f"<deferred {getattr(self.fn, '__name__', 'value')}>"


@dataclass
class _Context:
    """What a symbolic frame knows about its task: declared category
    levels and the guardrail and search settings."""

    levels: Mapping[str, Sequence[Level]]
    min_cell_count: int
    search_points: int

    def suppressed(self, rows: float) -> bool:
        """Whether a statistic over `rows` contributing rows is withheld."""
        return self.min_cell_count > 0 and rows < self.min_cell_count


class _Leaf(Deferred, ABC):
    """A statistic computed from secure sums by its `plan`."""

    what = "statistic"

    def __init__(self, ctx: _Context, nodes: Sequence[_Node | None]) -> None:
        self.ctx = ctx
        self.nodes = list(nodes)

    def deps(self) -> list[Deferred]:
        out: list[Deferred] = []
        for node in self.nodes:
            _node_deps(node, out)
        return out

    @abstractmethod
    def plan(self, resolve: Resolve) -> Plan:
        """The statistic's asks for sums, and its value from their totals."""

    @abstractmethod
    def rounds(self) -> int | None:
        """Rounds `plan` asks for when nothing is withheld (a statistic over
        too few rows, or no rows, may end sooner); None when the data
        decide (Newton steps until convergence). For progress displays."""

    def __repr__(self) -> str:
        return f"<deferred {self.what}>"


# --------------------------------------------------------------------------
# Asks (specs) and their encodings


def _moments_spec(
    mask: Expr | None, xs: Sequence[Expr], center: Sequence[float], terms: Sequence[Sequence[int]]
) -> Spec:
    """Sums over rows in `mask` with every `xs` present of the products
    of centred values named by each term (`[]` counts the rows)."""
    return {
        "kind": "moments",
        "mask": mask,
        "vars": list(xs),
        "center": [float(c) for c in center],
        "terms": [list(t) for t in terms],
    }


def _comoments_spec(
    mask: Expr | None, xs: Sequence[Expr], center: Sequence[float], squares: bool
) -> Spec:
    """Pairwise-complete sums of a covariance or correlation matrix,
    values centred per column: for each pair (i, j), over rows in `mask`
    with both present, the count, the sum of `xs[i]`, (if `squares`) the
    sum of its square, and the sum of the cross-product."""
    return {
        "kind": "comoments",
        "mask": mask,
        "vars": list(xs),
        "center": [float(c) for c in center],
        "squares": bool(squares),
    }


def _comoments_layout(k: int, squares: bool) -> list[tuple[str, int]]:
    """The sums a `comoments` ask returns, in order: symmetric blocks as
    their upper triangles (row-major), the others as full k x k."""
    triangle = k * (k + 1) // 2
    blocks = [("counts", triangle), ("sums", k * k)]
    if squares:
        blocks.append(("squares", k * k))
    return [*blocks, ("cross", triangle)]


def _le_spec(mask: Expr | None, x: Expr, ranks: Sequence[int]) -> Spec:
    """Counts of present values of `x` at or below each threshold
    (thresholds as `_ordinal` ranks)."""
    return {"kind": "le", "mask": mask, "x": x, "t": list(ranks)}


def _cells_spec(
    mask: Expr | None,
    keys: Sequence[Mapping[str, Any]],
    values: Sequence[Expr],
    powers: Sequence[int],
    center: Sequence[Sequence[float]] | None = None,
) -> Spec:
    """Per cell of the keys' product: counts (power 0) and sums of powers
    of each value, centred per cell if `center` is given."""
    return {
        "kind": "cells",
        "mask": mask,
        "keys": [dict(k) for k in keys],
        "values": list(values),
        "powers": list(powers),
        "center": None if center is None else [[float(c) for c in row] for row in center],
    }


def _key_size(key: Mapping[str, Any]) -> int:
    if "levels" in key:
        return len(key["levels"])
    return len(key["edges"]) - 1


def _spec_length(spec: Mapping[str, Any]) -> int:
    """How many sums a spec asks for: a function of the spec alone, never
    of a member's data."""
    kind = spec["kind"]
    if kind == "moments":
        return len(spec["terms"])
    if kind == "comoments":
        return sum(size for _, size in _comoments_layout(len(spec["vars"]), spec["squares"]))
    if kind == "le":
        return len(spec["t"])
    if kind == "cells":
        cells = math.prod(_key_size(k) for k in spec["keys"])
        if not spec["values"]:
            return cells
        return cells * len(spec["values"]) * len(spec["powers"])
    if kind == "logit":
        k = len(spec["x"]) + (1 if spec["intercept"] else 0)
        return k + k * (k + 1) // 2 + 1
    raise ValueError(f"unknown ask kind {kind!r}")


def _is_count(spec: Mapping[str, Any]) -> bool:
    """Counts travel as they are; real sums as `_DIGITS` digits."""
    return spec["kind"] == "le" or (spec["kind"] == "cells" and list(spec["powers"]) == [0])


def _slots(spec: Mapping[str, Any]) -> int:
    return _spec_length(spec) * (1 if _is_count(spec) else _DIGITS)


def _encode(spec: Mapping[str, Any], values: np.ndarray) -> np.ndarray:
    """A member's sums as the engine will carry them. A real sum `S` is
    sent as digits `d_0 .. d_6` with `|S| * 2^96 = sum d_k 2^(24 k)`,
    each then given the sign of `S`: `d_1 .. d_6` integers below 2^24,
    `d_0` the rest below 2^24 (its fraction lands on the engine's 2^-24
    grid, i.e. 2^-120). On magnitudes every step is exact in float64
    (power-of-two scalings, floors, subtractions of a lower multiple), and
    sums of such digits over members stay integers below 2^39, which the
    ring carries exactly."""
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"{spec['kind']}: the data hold infinite values, which cannot be summed; "
            "filter them out"
        )
    if _is_count(spec):
        return values
    if np.any(np.abs(values) >= _MAX_LOCAL_SUM):
        raise ValueError(
            f"{spec['kind']}: a sum reaches {np.max(np.abs(values)):.3g}, beyond what the "
            f"secure sum carries (2^56); rescale the data (e.g. divide by a constant)"
        )
    rest = np.abs(values) * 2.0**_LOW_BITS
    digits = np.empty((_DIGITS, values.size))
    for k in range(_DIGITS - 1, 0, -1):
        unit = 2.0 ** (_DIGIT_BITS * k)
        digits[k] = np.floor(rest / unit)
        rest = rest - digits[k] * unit
    digits[0] = rest
    return (digits * np.sign(values)).reshape(-1)


def _decode(spec: Mapping[str, Any], values: np.ndarray) -> np.ndarray:
    """Totals from summed digits: exact integer arithmetic, one rounding."""
    values = np.asarray(values, dtype=np.float64)
    if _is_count(spec):
        return np.round(values)
    digits = values.reshape(_DIGITS, -1)
    out = np.empty(digits.shape[1])
    scale = 2 ** (_LOW_BITS + _DIGIT_BITS)
    for i in range(digits.shape[1]):
        total = round(float(digits[0, i]) * 2.0**_DIGIT_BITS)  # units of 2^-120
        for k in range(1, _DIGITS):
            total += round(float(digits[k, i])) << (_DIGIT_BITS * (k + 1))
        out[i] = total / scale
    return out


# --------------------------------------------------------------------------
# The member side: evaluating expressions and asks on a real frame


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "pow": operator.pow,
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "and": operator.and_,
    "or": operator.or_,
    "xor": operator.xor,
}

_UNARY: dict[str, Callable[[Any], Any]] = {
    "neg": operator.neg,
    "abs": abs,
    "not": operator.invert,
    "isna": pd.isna,
    "notna": pd.notna,
    "log": np.log,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
}


class _Evaluator:
    """Evaluates expressions on one member's frame, each once."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df
        self.rows = len(df)
        self.cache: dict[str, Any] = {}
        self.floats: dict[str, np.ndarray] = {}
        self.gaps: dict[str, np.ndarray | None] = {}

    def value(self, expr: Expr) -> Any:
        key = _canonical(expr)
        if key not in self.cache:
            with np.errstate(all="ignore"):
                self.cache[key] = self._value(expr)
        return self.cache[key]

    def _value(self, expr: Expr) -> Any:
        op = expr["op"]
        if op == "col":
            name = expr["name"]
            if name not in self.df.columns:
                raise KeyError(f"column {name!r} is not in this member's data")
            return self.df[name]
        if op == "const":
            if "special" in expr:
                return float(expr["special"])
            return expr["value"]
        args = [self.value(a) for a in expr.get("args", [])]
        if op in _BINARY:
            return _BINARY[op](args[0], args[1])
        if op in _UNARY:
            return _UNARY[op](args[0])
        if op == "fillna":
            return args[0].fillna(args[1]) if isinstance(args[0], pd.Series) else args[0]
        if op == "isin":
            return pd.Series(args[0]).isin(expr["values"])
        if op == "clip":
            lower, upper = (None if pd.isna(b) else b for b in args[1:3])
            return pd.Series(args[0]).clip(lower, upper)
        if op == "same":
            return args[0]
        if op == "round":
            return pd.Series(args[0]).round(expr["decimals"])
        if op == "where":
            cond = self._as_series(args[0]).to_numpy(dtype=bool, na_value=False)
            return self._as_series(args[1]).where(cond, args[2])
        raise ValueError(f"unknown expression operation {op!r}")

    def _as_series(self, value: Any) -> pd.Series:
        if isinstance(value, pd.Series):
            return value
        return pd.Series([value] * self.rows, index=self.df.index)

    def numeric(self, expr: Expr) -> np.ndarray:
        """The expression as float64 (missing values as NaN), evaluated
        once per map call; read-only, as the frame's own data may back it."""
        key = _canonical(expr)
        cached = self.floats.get(key)
        if cached is None:
            cached = self._floats(expr).view()  # a view: the frame's own array stays as it was
            cached.flags.writeable = False
            self.floats[key] = cached
        return cached

    def _floats(self, expr: Expr) -> np.ndarray:
        value = self._as_series(self.value(expr))
        try:
            if isinstance(value.dtype, np.dtype) and value.dtype.kind in "fiub":
                # plain numpy data: NaN is the only missing value, no mask needed
                return np.asarray(value.to_numpy(), dtype=np.float64)
            return np.asarray(value.to_numpy(dtype=np.float64, na_value=np.nan))
        except (TypeError, ValueError) as err:
            raise ValueError(f"expression {_canonical(expr)} is not numeric: {err}") from err

    def missing(self, expr: Expr) -> np.ndarray | None:
        """Where the expression is NaN, or None if it never is."""
        key = _canonical(expr)
        if key not in self.gaps:
            nan = np.isnan(self.numeric(expr))
            self.gaps[key] = nan if nan.any() else None
        return self.gaps[key]

    def mask(self, expr: Expr | None) -> np.ndarray:
        if expr is None:
            return np.ones(self.rows, dtype=bool)
        series = self._as_series(self.value(expr))
        return np.array(series.to_numpy(dtype=bool, na_value=False))  # writable

    def complete(self, mask: Expr | None, xs: Sequence[Expr]) -> np.ndarray | None:
        """Rows in `mask` where every `xs` is present; None if that is
        every row (so callers skip indexing)."""
        rows = None if mask is None else self.mask(mask)
        for x in xs:
            nan = self.missing(x)
            if nan is None:
                continue
            if rows is None:
                rows = ~nan
            else:
                rows &= ~nan
        if rows is not None and rows.all():
            return None
        return rows

    def codes(self, key: Mapping[str, Any]) -> np.ndarray:
        """Each row's index among a key's levels or bins; -1 for none."""
        if "levels" in key:
            series = self._as_series(self.value(key["expr"]))
            codes = np.full(self.rows, -1, dtype=np.int64)
            for i, level in enumerate(key["levels"]):
                try:
                    hit = (series == level).to_numpy(dtype=bool, na_value=False)
                except TypeError:
                    continue
                codes[hit & (codes < 0)] = i
            return codes
        x = self.numeric(key["expr"])
        edges = np.asarray(key["edges"], dtype=np.float64)
        bins = len(edges) - 1
        if key["right"]:
            codes = np.searchsorted(edges, x, side="left") - 1
            if key["lowest"]:
                codes[x == edges[0]] = 0
        else:
            codes = np.searchsorted(edges, x, side="right") - 1
            if key["lowest"]:
                codes[x == edges[-1]] = bins - 1
        codes[np.isnan(x) | (codes >= bins)] = -1
        return codes.astype(np.int64)


def _cell_codes(spec: Mapping[str, Any], ev: _Evaluator) -> tuple[np.ndarray, np.ndarray, int]:
    """For a `cells` ask: which rows fall in a cell (in the mask, every
    key matched), each row's cell index in the keys' product, and the
    number of cells."""
    valid = ev.mask(spec["mask"])
    codes = np.zeros(ev.rows, dtype=np.int64)
    size = 1
    for key in spec["keys"]:
        c = ev.codes(key)
        valid &= c >= 0
        n = _key_size(key)
        codes = codes * n + np.where(c >= 0, c, 0)
        size *= n
    return valid, codes, size


def _compute(
    spec: Mapping[str, Any], ev: _Evaluator, support: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """One ask's sums over one member's rows and, if `support`, the
    counts of the rows behind them, as `_withhold_small` reads them: per
    cell and value column (columns x cells) for `cells`, the pairwise
    counts for `comoments`, else the one count of rows used. Derived here
    from what the sums already computed, so withholding takes no second
    pass over the rows; None without `support`."""
    values, rows = _sums_and_rows(spec, ev, support)
    return values, (rows if support else None)


def _sums_and_rows(
    spec: Mapping[str, Any], ev: _Evaluator, support: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """`_compute`'s sums and their row counts: those of `cells` with value
    columns (whose power 0 may not be asked, so counting may cost a pass of
    its own) only if `support`, else None; the others always (they come
    free)."""
    kind = spec["kind"]
    if kind == "moments":
        rows = ev.complete(spec["mask"], spec["vars"])
        centred = []
        for expr, centre in zip(spec["vars"], spec["center"], strict=True):
            column = ev.numeric(expr)
            if rows is not None:
                column = column[rows]
            centred.append(column - centre if centre != 0.0 else column)
        count = float(ev.rows if rows is None else np.count_nonzero(rows))
        out = []
        for term in spec["terms"]:
            if not term:
                out.append(count)
            elif len(term) == 1:
                out.append(float(centred[term[0]].sum()))
            else:
                product = centred[term[0]] * centred[term[1]]
                for i in term[2:]:
                    product *= centred[i]
                out.append(float(product.sum()))
        return np.asarray(out), np.array([count])
    if kind == "comoments":
        sums = _comoments(spec, ev)
        k = len(spec["vars"])
        return sums, sums[: k * (k + 1) // 2]
    if kind == "le":
        x = ev.numeric(spec["x"])
        present = np.sort(x[ev.mask(spec["mask"]) & ~np.isnan(x)])
        counts = np.searchsorted(present, _from_ordinals(spec["t"]), side="right")
        return counts.astype(np.float64), np.array([present.size])
    if kind == "cells":
        valid, codes, size = _cell_codes(spec, ev)
        if not spec["values"]:
            counts = np.bincount(codes[valid], minlength=size).astype(np.float64)
            return counts, counts[None, :]
        parts = []
        counted: list[np.ndarray] = []  # per value column, each cell's rows with it present
        for v, expr in enumerate(spec["values"]):
            x = ev.numeric(expr)
            ok = valid & ~np.isnan(x)
            where = codes[ok]
            shift = 0.0 if spec["center"] is None else np.asarray(spec["center"][v])[where]
            d = x[ok] - shift
            zeroth: np.ndarray | None = None  # power 0: the counts themselves
            for p in spec["powers"]:
                weights = None if p == 0 else d**p
                part = np.bincount(where, weights=weights, minlength=size).astype(np.float64)
                if p == 0:
                    zeroth = part
                parts.append(part)
            if support:
                counted.append(np.bincount(where, minlength=size) if zeroth is None else zeroth)
        return np.concatenate(parts), (np.stack(counted) if support else None)
    if kind == "logit":
        return _logit_sums(spec, ev)
    raise ValueError(f"unknown ask kind {kind!r}")


def _comoments(spec: Mapping[str, Any], ev: _Evaluator) -> np.ndarray:
    """The sums of a `comoments` ask by matrix products. With M the 0/1
    presence of each column (rows x k) and Z the centred values, zero
    where missing: counts M'M, sums Z'M, squares (Z*Z)'M, cross Z'Z."""
    xs = spec["vars"]
    k = len(xs)
    rows = None if spec["mask"] is None else ev.mask(spec["mask"])
    if rows is not None and rows.all():
        rows = None
    size = ev.rows if rows is None else int(np.count_nonzero(rows))
    z = np.empty((k, size))  # one row per column: contiguous for the products
    for i, (expr, centre) in enumerate(zip(xs, spec["center"], strict=True)):
        column = ev.numeric(expr)
        if rows is not None:
            column = column[rows]
        if centre != 0.0:
            np.subtract(column, centre, out=z[i])
        else:
            z[i] = column
    gaps = any(ev.missing(x) is not None for x in xs)
    present = ~np.isnan(z) if gaps else None
    if present is not None and present.all():
        present = None
    blocks: dict[str, np.ndarray] = {}
    if present is None:  # every value present: M is all ones
        counts = np.full((k, k), float(size))
        sums = np.repeat(z.sum(axis=1)[:, None], k, axis=1)
        cross = z @ z.T
        if spec["squares"]:
            blocks["squares"] = np.repeat(np.diag(cross), k)
    else:
        z[~present] = 0.0
        m = present.astype(np.float64)
        counts = m @ m.T
        sums = z @ m.T
        cross = z @ z.T
        if spec["squares"]:
            blocks["squares"] = ((z * z) @ m.T).reshape(-1)
    upper = np.triu_indices(k)
    blocks.update(counts=counts[upper], sums=sums.reshape(-1), cross=cross[upper])
    return np.concatenate([blocks[name] for name, _ in _comoments_layout(k, spec["squares"])])


def _logit_sums(spec: Mapping[str, Any], ev: _Evaluator) -> tuple[np.ndarray, np.ndarray]:
    """Gradient, Hessian (upper triangle) and log-likelihood of the
    logistic model at `beta`, in standardised coordinates; and the count
    of rows they are over (the outcome and every regressor present)."""
    y = ev.numeric(spec["y"])
    xs = [ev.numeric(x) for x in spec["x"]]
    rows = ev.mask(spec["mask"]) & ~np.isnan(y)
    for x in xs:
        rows &= ~np.isnan(x)
    y = y[rows]
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("logistic: the outcome must be 0/1 (or boolean)")
    columns = [(x[rows] - c) / s for x, c, s in zip(xs, spec["center"], spec["scale"], strict=True)]
    if spec["intercept"]:
        columns.insert(0, np.ones(len(y)))
    design = np.column_stack(columns) if columns else np.zeros((len(y), 0))
    eta = design @ np.asarray(spec["beta"], dtype=np.float64)
    p = np.exp(-np.logaddexp(0.0, -eta))
    gradient = design.T @ (y - p)
    hessian = (design * (p * (1.0 - p))[:, None]).T @ design
    upper = np.triu_indices(design.shape[1])
    loglik = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    return np.concatenate([gradient, hessian[upper], [loglik]]), np.array([y.size])


# --------------------------------------------------------------------------
# Symbolic series and frames


def _scalar_ok(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str, np.generic)) or value is None


class FederatedSeries:
    """A column or expression of a federated frame: pandas-like, but
    holding no data. Operators build expressions; reductions return
    `Deferred` results."""

    __array_ufunc__ = None

    def __init__(
        self,
        node: _Node,
        mask: _Node | None,
        name: Hashable | None,
        ctx: _Context,
        boolean: bool = False,
    ) -> None:
        self._node = node
        self._mask = mask
        self.name = name
        self._ctx = ctx
        self._boolean = boolean

    def __repr__(self) -> str:
        return f"<FederatedSeries {self.name!r}>"

    # -- building expressions

    def _operand(self, other: Any) -> tuple[_Node | Deferred, _Node | None, Hashable | None]:
        if isinstance(other, FederatedSeries):
            return other._node, other._mask, other.name
        if isinstance(other, Deferred):
            return other, None, self.name
        if _scalar_ok(other):
            return _const(other), None, self.name
        raise TypeError(
            f"cannot combine a federated series with {type(other).__name__}; use a column, "
            "a scalar or a federated result"
        )

    def _binary(
        self, other: Any, op: str, *, boolean: bool = False, reverse: bool = False
    ) -> FederatedSeries:
        node, mask, name = self._operand(other)
        args = (node, self._node) if reverse else (self._node, node)
        return FederatedSeries(
            _Node(op, args),
            _and(self._mask, mask),
            self.name if name == self.name else None,
            self._ctx,
            boolean,
        )

    def _unary(self, op: str, boolean: bool = False, **attrs: Any) -> FederatedSeries:
        return FederatedSeries(
            _Node(op, (self._node,), attrs), self._mask, self.name, self._ctx, boolean
        )

    def __add__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "add")

    def __radd__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "add", reverse=True)

    def __sub__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "sub")

    def __rsub__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "sub", reverse=True)

    def __mul__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "mul")

    def __rmul__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "mul", reverse=True)

    def __truediv__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "div")

    def __rtruediv__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "div", reverse=True)

    def __floordiv__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "floordiv")

    def __rfloordiv__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "floordiv", reverse=True)

    def __mod__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "mod")

    def __rmod__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "mod", reverse=True)

    def __pow__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "pow")

    def __rpow__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "pow", reverse=True)

    def __neg__(self) -> FederatedSeries:
        return self._unary("neg")

    def __pos__(self) -> FederatedSeries:
        return self

    def __abs__(self) -> FederatedSeries:
        return self._unary("abs")

    def __invert__(self) -> FederatedSeries:
        return self._unary("not", boolean=True)

    def __eq__(self, other: Any) -> FederatedSeries:  # type: ignore[override]
        return self._binary(other, "eq", boolean=True)

    def __ne__(self, other: Any) -> FederatedSeries:  # type: ignore[override]
        return self._binary(other, "ne", boolean=True)

    def __lt__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "lt", boolean=True)

    def __le__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "le", boolean=True)

    def __gt__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "gt", boolean=True)

    def __ge__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "ge", boolean=True)

    def __and__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "and", boolean=True)

    def __rand__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "and", boolean=True, reverse=True)

    def __or__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "or", boolean=True)

    def __ror__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "or", boolean=True, reverse=True)

    def __xor__(self, other: Any) -> FederatedSeries:
        return self._binary(other, "xor", boolean=True)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise TypeError(
            "a federated series has no truth value; combine conditions with &, | and ~ "
            "and filter with df[condition]"
        )

    def __len__(self) -> int:
        raise TypeError("the number of rows is not known inside execute(); use .count()")

    def isna(self) -> FederatedSeries:
        return self._unary("isna", boolean=True)

    def notna(self) -> FederatedSeries:
        return self._unary("notna", boolean=True)

    isnull = isna
    notnull = notna

    def fillna(self, value: Any) -> FederatedSeries:
        node, mask, _ = self._operand(value)
        return FederatedSeries(
            _Node("fillna", (self._node, node)), _and(self._mask, mask), self.name, self._ctx
        )

    def isin(self, values: Sequence[Level]) -> FederatedSeries:
        return self._unary("isin", boolean=True, values=[_level(v) for v in values])

    def between(self, left: Any, right: Any, inclusive: str = "both") -> FederatedSeries:
        lower = self >= left if inclusive in ("both", "left") else self > left
        upper = self <= right if inclusive in ("both", "right") else self < right
        return lower & upper

    def clip(self, lower: Any = None, upper: Any = None) -> FederatedSeries:
        lo, _, _ = self._operand(lower)
        hi, _, _ = self._operand(upper)
        return FederatedSeries(
            _Node("clip", (self._node, lo, hi)), self._mask, self.name, self._ctx
        )

    def where(self, cond: FederatedSeries, other: Any = _NAN) -> FederatedSeries:
        node, mask, _ = self._operand(other)
        return FederatedSeries(
            _Node("where", (cond._node, self._node, node)),
            _and(_and(self._mask, cond._mask), mask),
            self.name,
            self._ctx,
        )

    def round(self, decimals: int = 0) -> FederatedSeries:
        return self._unary("round", decimals=int(decimals))

    def abs(self) -> FederatedSeries:
        return self._unary("abs")

    def pow(self, other: Any) -> FederatedSeries:
        return self._binary(other, "pow")

    def log(self) -> FederatedSeries:
        return self._unary("log")

    def log1p(self) -> FederatedSeries:
        return self._unary("log1p")

    def exp(self) -> FederatedSeries:
        return self._unary("exp")

    def sqrt(self) -> FederatedSeries:
        return self._unary("sqrt")

    def astype(self, dtype: Any) -> FederatedSeries:
        """Only numeric casts; they change nothing in the sums."""
        if dtype in (float, "float", "float64", np.float64):
            return FederatedSeries(self._node, self._mask, self.name, self._ctx)
        raise TypeError(f"astype({dtype!r}) is not supported on a federated series")

    # -- reductions

    def count(self) -> Deferred:
        """Present values, like `Series.count()`."""
        return _Moment(self, "count")

    def sum(self) -> Deferred:
        """Sum of present values (0 when none), like `Series.sum()`."""
        return _Moment(self, "sum")

    def mean(self) -> Deferred:
        return _Moment(self, "mean")

    def var(self, ddof: int = 1) -> Deferred:
        return _Moment(self, "var", ddof)

    def std(self, ddof: int = 1) -> Deferred:
        return _Moment(self, "std", ddof)

    def sem(self, ddof: int = 1) -> Deferred:
        return _Moment(self, "sem", ddof)

    def min(self) -> Deferred:
        """Exact minimum, found by a search on secure counts."""
        return _Order(self, [("min", 0.0)], lambda v: v[0])

    def max(self) -> Deferred:
        return _Order(self, [("max", 0.0)], lambda v: v[0])

    def median(self) -> Deferred:
        return _Order(self, [("median", 0.0)], lambda v: v[0])

    def quantile(self, q: float | Sequence[float] = 0.5) -> Deferred:
        """Linear-interpolation quantiles, like `Series.quantile`; exact
        (see `Analytics.search_points`)."""
        if isinstance(q, (int, float, np.floating)):
            return _Order(self, [("q", _check_q(q))], lambda v: v[0])
        qs = [_check_q(x) for x in q]
        name = self.name
        return _Order(
            self,
            [("q", x) for x in qs],
            lambda v: pd.Series(v, index=pd.Index(qs, dtype=np.float64), name=name),
        )

    def describe(self, percentiles: Sequence[float] | None = None) -> Deferred:
        """count, mean, std, min, percentiles and max, like `describe()`."""
        qs, labels = _describe_percentiles(percentiles)
        index = ["count", "mean", "std", "min", *labels, "max"]
        name = self.name
        order = _Order(self, [("min", 0.0), *(("q", q) for q in qs), ("max", 0.0)], list)

        def build(count: Any, mean: float, std: float, ordered: list[float]) -> pd.Series:
            values = [float(count), mean, std, *ordered]
            return pd.Series(values, index=index, name=name, dtype=np.float64)

        return _Apply(build, (self.count(), self.mean(), self.std(), order))

    def value_counts(
        self,
        normalize: bool = False,
        sort: bool = True,
        ascending: bool = False,
        *,
        levels: Sequence[Level] | None = None,
    ) -> Deferred:
        """Rows per declared level (like pandas on a `Categorical` with
        those categories: unseen levels count 0, undeclared values are
        ignored). Ties keep the levels' order."""
        key = _key_of(self, levels, self._ctx)
        name = self.name

        def build(stats: Mapping[str, np.ndarray]) -> pd.Series:
            counts = stats["count"]
            index = pd.Index(key.levels, name=name)
            if normalize:
                total = float(np.nansum(stats["raw"]))
                values: Any = counts / total if total else counts * _NAN
                out = pd.Series(values, index=index, name="proportion", dtype=np.float64)
            else:
                out = _count_series(counts, index, "count")
            if sort:
                out = out.sort_values(ascending=ascending, kind="stable", na_position="last")
            return out

        return _Apply(build, (_Cells(self._ctx, self._mask, [key], [], {"count"}),))

    def histogram(
        self, bins: Sequence[float], *, right: bool = True, include_lowest: bool = False
    ) -> Deferred:
        """Rows per bin, like `pd.cut(s, bins).value_counts(sort=False)`:
        a Series named "count" indexed by an `IntervalIndex` of the exact
        edges (pandas' labels differ only when include_lowest nudges the
        first edge)."""
        if isinstance(bins, (int, np.integer)):
            raise TypeError(
                "bins must be the bin edges; a number of bins would need the data's range "
                "(compute .min() and .max() in one task, then histogram in a second)"
            )
        edges = [float(b) for b in bins]
        if len(edges) < 2 or any(hi <= lo for lo, hi in zip(edges, edges[1:], strict=False)):
            raise ValueError("bins must be at least two strictly increasing edges")
        key = _Key(self._node, self.name, edges=edges, right=right, lowest=include_lowest)
        index = pd.IntervalIndex.from_breaks(
            list(bins), closed="right" if right else "left", name=self.name
        )

        def build(stats: Mapping[str, np.ndarray]) -> pd.Series:
            return _count_series(stats["count"], index, "count")

        return _Apply(build, (_Cells(self._ctx, self._mask, [key], [], {"count"}),))


class FederatedFrame:
    """The task's dataset, as `execute` sees it: no data, only the means
    to describe columns, filters and statistics the way pandas does."""

    def __init__(
        self,
        ctx: _Context,
        mask: _Node | None = None,
        columns: list[str] | None = None,
        derived: dict[str, _Node] | None = None,
    ) -> None:
        self._ctx = ctx
        self._mask = mask
        self._columns = columns
        self._derived = dict(derived or {})
        self._boolean: set[str] = set()

    def __repr__(self) -> str:
        cols = "all columns" if self._columns is None else self._columns
        return f"<FederatedFrame {cols}>"

    def _copy(self, mask: _Node | None = None, columns: list[str] | None = None) -> FederatedFrame:
        out = FederatedFrame(self._ctx, mask, columns, self._derived)
        out._boolean = set(self._boolean)
        return out

    @property
    def columns(self) -> list[str]:
        """The selected columns; the full list is not known at the requester."""
        if self._columns is None:
            raise TypeError(
                "the dataset's columns are not known inside execute(); select them first, "
                "e.g. df[['age', 'bmi']]"
            )
        return list(self._columns)

    def _series(self, name: str) -> FederatedSeries:
        if self._columns is not None and name not in self._columns:
            raise KeyError(name)
        node = self._derived.get(name) or _col(name)
        return FederatedSeries(node, self._mask, name, self._ctx, name in self._boolean)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self._series(key)
        if isinstance(key, FederatedSeries):
            return self._copy(_and(_and(self._mask, key._mask), key._node), self._columns)
        if isinstance(key, (list, tuple)):
            for name in key:
                if self._columns is not None and name not in self._columns:
                    raise KeyError(name)
            return self._copy(self._mask, [str(k) for k in key])
        raise TypeError(f"cannot index a federated frame with {type(key).__name__}")

    def __getattr__(self, name: str) -> FederatedSeries:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._series(name)

    def __setitem__(self, name: str, value: Any) -> None:
        if isinstance(value, FederatedSeries):
            node = value._node
            if value._mask is not None and value._mask is not self._mask:
                node = _Node("where", (value._mask, node, _const(_NAN)))
        elif isinstance(value, Deferred):
            node = _Node("same", (value,))
        elif _scalar_ok(value):
            node = _const(value)
        else:
            raise TypeError(f"cannot assign {type(value).__name__} to a federated column")
        self._derived[name] = node
        if isinstance(value, FederatedSeries) and value._boolean:
            self._boolean.add(name)
        else:
            self._boolean.discard(name)
        if self._columns is not None and name not in self._columns:
            self._columns.append(name)

    def assign(self, **columns: Any) -> FederatedFrame:
        out = self._copy(self._mask, None if self._columns is None else list(self._columns))
        for name, value in columns.items():
            out[name] = value(out) if callable(value) else value
        return out

    @property
    def loc(self) -> _Loc:
        """`df.loc[condition]`, `df.loc[condition, "col"]` or
        `df.loc[condition, ["a", "b"]]`."""
        return _Loc(self)

    def dropna(self, subset: Sequence[str] | None = None) -> FederatedFrame:
        """Rows where every column of `subset` (default: the selected
        columns) is present."""
        names = list(subset) if subset is not None else self.columns
        mask = self._mask
        for name in names:
            mask = _and(mask, self._series(name).notna()._node)
        return self._copy(mask, self._columns)

    def __len__(self) -> int:
        raise TypeError("the number of rows is not known inside execute(); use df.count_rows()")

    def count_rows(self) -> Deferred:
        """Rows passing the frame's filters (what `len(df)` gives)."""
        return _Moment(FederatedSeries(_const(1.0), self._mask, None, self._ctx), "count")

    def groupby(
        self,
        by: str | FederatedSeries | Sequence[str | FederatedSeries],
        *,
        levels: Sequence[Level] | Mapping[str, Sequence[Level]] | None = None,
    ) -> FederatedGroupBy:
        """Group by one or more categorical columns (or boolean
        expressions). Every key needs its levels: `levels=` here, or the
        task's `levels` class attribute."""
        keys_in = [by] if isinstance(by, (str, FederatedSeries)) else list(by)
        keys: list[_Key] = []
        mask = self._mask
        for k in keys_in:
            series = self._series(k) if isinstance(k, str) else k
            mask = _and(mask, series._mask)
            given: Sequence[Level] | None
            if isinstance(levels, Mapping):
                given = levels.get(str(series.name))
            elif levels is not None and len(keys_in) == 1:
                given = levels
            else:
                given = None
            keys.append(_key_of(series, given, self._ctx))
        return FederatedGroupBy(self, keys, mask)

    # -- column-wise reductions

    def _per_column(
        self, fn: Callable[[FederatedSeries], Deferred], ints: bool = False
    ) -> Deferred:
        cols = self.columns
        parts = [fn(self._series(c)) for c in cols]

        def build(*values: Any) -> pd.Series:
            if ints:
                return _count_series(np.asarray(values, dtype=np.float64), pd.Index(cols), None)
            return pd.Series(values, index=pd.Index(cols), dtype=np.float64)

        return _Apply(build, tuple(parts))

    def count(self) -> Deferred:
        return self._per_column(FederatedSeries.count, ints=True)

    def sum(self) -> Deferred:
        return self._per_column(FederatedSeries.sum)

    def mean(self) -> Deferred:
        return self._per_column(FederatedSeries.mean)

    def var(self, ddof: int = 1) -> Deferred:
        return self._per_column(lambda s: s.var(ddof))

    def std(self, ddof: int = 1) -> Deferred:
        return self._per_column(lambda s: s.std(ddof))

    def sem(self, ddof: int = 1) -> Deferred:
        return self._per_column(lambda s: s.sem(ddof))

    def min(self) -> Deferred:
        return self._per_column(FederatedSeries.min)

    def max(self) -> Deferred:
        return self._per_column(FederatedSeries.max)

    def median(self) -> Deferred:
        return self._per_column(FederatedSeries.median)

    def quantile(self, q: float | Sequence[float] = 0.5) -> Deferred:
        cols = self.columns
        if isinstance(q, (int, float, np.floating)):
            qv = float(q)
            parts = [self._series(c).quantile(qv) for c in cols]
            return _Apply(
                lambda *v: pd.Series(v, index=pd.Index(cols), name=qv, dtype=np.float64),
                tuple(parts),
            )
        qs = [float(x) for x in q]
        parts = [self._series(c).quantile(qs) for c in cols]
        return _Apply(
            lambda *v: pd.DataFrame(
                {c: s.to_numpy() for c, s in zip(cols, v, strict=True)},
                index=pd.Index(qs, dtype=np.float64),
            ),
            tuple(parts),
        )

    def describe(self, percentiles: Sequence[float] | None = None) -> Deferred:
        cols = self.columns
        parts = [self._series(c).describe(percentiles) for c in cols]
        return _Apply(lambda *v: pd.concat(v, axis=1, keys=cols), tuple(parts))

    def cov(self, ddof: int = 1) -> Deferred:
        """Pairwise-complete covariance matrix, like `DataFrame.cov()`."""
        return _Pairwise(self, "cov", ddof)

    def corr(self, method: str = "pearson") -> Deferred:
        """Pairwise-complete Pearson correlations, like `DataFrame.corr()`."""
        if method != "pearson":
            raise ValueError("only method='pearson' is supported")
        return _Pairwise(self, "corr", 1)


class _Loc:
    def __init__(self, frame: FederatedFrame) -> None:
        self._frame = frame

    def __getitem__(self, key: Any) -> Any:
        rows, cols = key if isinstance(key, tuple) else (key, None)
        frame = self._frame
        if isinstance(rows, FederatedSeries):
            frame = frame[rows]
        elif not (isinstance(rows, slice) and rows == slice(None)):
            raise TypeError("federated .loc takes a boolean condition or ':' for rows")
        return frame if cols is None else frame[cols]


# --------------------------------------------------------------------------
# Categorical keys, groupby, crosstab


def _level(value: Any) -> Level:
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, (str, int, float, bool)) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise TypeError(f"levels must be strings, numbers or booleans, not {value!r}")
    return value


@dataclass
class _Key:
    """A categorical key: declared levels, or bins of a numeric value."""

    node: _Node
    name: Hashable | None
    levels: list[Level] = field(default_factory=list)
    edges: list[float] | None = None
    right: bool = True
    lowest: bool = False

    @property
    def size(self) -> int:
        return len(self.levels) if self.edges is None else len(self.edges) - 1

    def spec(self, resolve: Resolve) -> dict[str, Any]:
        expr = resolve(self.node)
        if self.edges is None:
            return {"expr": expr, "levels": list(self.levels)}
        return {"expr": expr, "edges": self.edges, "right": self.right, "lowest": self.lowest}


def _key_of(series: FederatedSeries, given: Sequence[Level] | None, ctx: _Context) -> _Key:
    if given is None and series._boolean:
        given = [False, True]
    if given is None and series.name is not None:
        given = ctx.levels.get(str(series.name))
    if given is None:
        shown = series.name if series.name is not None else "this key"
        raise ValueError(
            f"declare the levels of {shown!r}: levels = {{{str(shown)!r}: [...]}} on the task "
            "class, or levels=[...] in the call, or declare it a category with levels at the "
            "holders (members cannot sum strings, so the requester "
            "names the categories)"
        )
    levels = [_level(v) for v in given]
    if len(set(map(repr, levels))) != len(levels):
        raise ValueError(f"levels of {series.name!r} repeat a value: {levels}")
    return _Key(series._node, series.name, levels)


def _count_series(counts: np.ndarray, index: pd.Index, name: Hashable | None) -> pd.Series:
    """Counts as int64, or float64 once suppression put NaN in."""
    if np.isnan(counts).any():
        return pd.Series(counts, index=index, name=name, dtype=np.float64)
    return pd.Series(counts.astype(np.int64), index=index, name=name)


def _group_index(keys: Sequence[_Key]) -> pd.Index:
    if len(keys) == 1:
        return pd.Index(keys[0].levels, name=keys[0].name)
    return pd.MultiIndex.from_product([k.levels for k in keys], names=[k.name for k in keys])


_GROUP_STATS = ("count", "sum", "mean", "var", "std", "sem", "size")


class FederatedGroupBy:
    """`df.groupby(keys)`: select values with `[...]`, then reduce. Cells
    are the product of the keys' levels; empty cells are kept (pandas'
    `observed=False`), small ones suppressed."""

    def __init__(self, frame: FederatedFrame, keys: list[_Key], mask: _Node | None) -> None:
        self._frame = frame
        self._keys = keys
        self._mask = mask

    def __getitem__(self, key: str | Sequence[str]) -> _Grouped:
        if isinstance(key, str):
            return _Grouped(self, [self._frame._series(key)], single=True)
        return _Grouped(self, [self._frame._series(k) for k in key], single=False)

    def size(self) -> Deferred:
        """Rows per cell (NaN values included), like `groupby(...).size()`."""
        keys = self._keys

        def build(stats: Mapping[str, np.ndarray]) -> pd.Series:
            return _count_series(stats["count"], _group_index(keys), None)

        return _Apply(build, (_Cells(self._frame._ctx, self._mask, keys, [], {"count"}),))


class _Grouped:
    def __init__(self, by: FederatedGroupBy, values: list[FederatedSeries], single: bool) -> None:
        self._by = by
        self._values = values
        self._single = single

    def agg(self, stats: str | Sequence[str], ddof: int = 1) -> Deferred:
        """One or more of count, sum, mean, var, std, sem, size."""
        names = [stats] if isinstance(stats, str) else list(stats)
        for s in names:
            if s not in _GROUP_STATS:
                raise ValueError(f"unsupported group statistic {s!r}; use one of {_GROUP_STATS}")
        by = self._by
        mask = by._mask
        for v in self._values:
            mask = _and(mask, v._mask)
        cells = _Cells(
            by._frame._ctx, mask, by._keys, [v._node for v in self._values], set(names), ddof
        )
        index = _group_index(by._keys)
        value_names = [v.name for v in self._values]
        single_stat = isinstance(stats, str)
        single_value = self._single

        def column(stats_: Mapping[str, np.ndarray], stat: str, i: int) -> pd.Series:
            data = stats_[stat][i]
            if stat in ("count", "size"):
                return _count_series(data, index, value_names[i])
            return pd.Series(data, index=index, name=value_names[i], dtype=np.float64)

        def build(stats_: Mapping[str, np.ndarray]) -> Any:
            if single_stat and single_value:
                return column(stats_, names[0], 0)
            if single_stat:
                return pd.DataFrame(
                    {n: column(stats_, names[0], i) for i, n in enumerate(value_names)}
                )
            if single_value:
                return pd.DataFrame({s: column(stats_, s, 0) for s in names})
            frames = {
                (n, s): column(stats_, s, i) for i, n in enumerate(value_names) for s in names
            }
            return pd.DataFrame(frames)

        return _Apply(build, (cells,))

    def count(self) -> Deferred:
        return self.agg("count")

    def size(self) -> Deferred:
        return self.agg("size")

    def sum(self) -> Deferred:
        return self.agg("sum")

    def mean(self) -> Deferred:
        return self.agg("mean")

    def var(self, ddof: int = 1) -> Deferred:
        return self.agg("var", ddof)

    def std(self, ddof: int = 1) -> Deferred:
        return self.agg("std", ddof)

    def sem(self, ddof: int = 1) -> Deferred:
        return self.agg("sem", ddof)


def crosstab(
    index: FederatedSeries,
    columns: FederatedSeries,
    *,
    levels: Mapping[str, Sequence[Level]] | None = None,
) -> Deferred:
    """Rows per pair of levels, like `pd.crosstab(index, columns)` on
    categoricals (every declared pair shown, small cells suppressed)::

        delta.crosstab(df["sex"], df["smoker"])
    """
    ctx = index._ctx
    given = levels or {}
    row = _key_of(index, given.get(str(index.name)), ctx)
    col = _key_of(columns, given.get(str(columns.name)), ctx)
    mask = _and(index._mask, columns._mask)

    def build(stats: Mapping[str, np.ndarray]) -> pd.DataFrame:
        counts = stats["count"].reshape(row.size, col.size)
        frame = pd.DataFrame(
            counts,
            index=pd.Index(row.levels, name=row.name),
            columns=pd.Index(col.levels, name=col.name),
        )
        return frame if np.isnan(counts).any() else frame.astype(np.int64)

    return _Apply(build, (_Cells(ctx, mask, [row, col], [], {"count"}),))


# --------------------------------------------------------------------------
# The statistics' plans


def _moment_round(
    mask: Expr | None, x: Expr
) -> Generator[dict[str, Spec], Answers, tuple[int, float]]:
    got = yield {"m": _moments_spec(mask, [x], [0.0], [[], [0]])}
    n, total = got["m"]
    return int(n), float(total)


def _centred_round(
    mask: Expr | None, x: Expr, mean: float, n: int, ddof: int
) -> Generator[dict[str, Spec], Answers, float]:
    """Variance from sums of deviations from the pooled mean (the first
    sum corrects for rounding in the mean)."""
    got = yield {"c": _moments_spec(mask, [x], [mean], [[0], [0, 0]])}
    d1, d2 = got["c"]
    return max((d2 - d1 * d1 / n) / (n - ddof), 0.0)


class _Moment(_Leaf):
    """count/sum/mean/var/std/sem of one series."""

    def __init__(self, series: FederatedSeries, stat: str, ddof: int = 1) -> None:
        super().__init__(series._ctx, [series._node, series._mask])
        self.series = series
        self.stat = stat
        self.ddof = int(ddof)
        self.what = f"{stat} of {series.name!r}"

    def rounds(self) -> int:
        return 1 if self.stat in ("count", "sum", "mean") else 2

    def plan(self, resolve: Resolve) -> Plan:
        x, mask = _need(resolve(self.series._node)), resolve(self.series._mask)
        n, total = yield from _moment_round(mask, x)
        if self.ctx.suppressed(n):
            return np.float64(_NAN)
        if self.stat == "count":
            return np.int64(n)
        if self.stat == "sum":
            return np.int64(round(total)) if self.series._boolean else np.float64(total)
        mean = total / n if n else _NAN
        if self.stat == "mean":
            return np.float64(mean)
        if n - self.ddof <= 0:
            return np.float64(_NAN)
        var = yield from _centred_round(mask, x, mean, n, self.ddof)
        if self.stat == "var":
            return np.float64(var)
        if self.stat == "std":
            return np.float64(math.sqrt(var))
        return np.float64(math.sqrt(var) / math.sqrt(n))


def _check_q(q: float) -> float:
    q = float(q)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantiles must lie in [0, 1], not {q}")
    return q


def _describe_percentiles(percentiles: Sequence[float] | None) -> tuple[list[float], list[str]]:
    qs = [0.25, 0.5, 0.75] if percentiles is None else [_check_q(p) for p in percentiles]
    if 0.5 not in qs:
        qs.append(0.5)
    qs = sorted(set(qs))
    try:
        from pandas.io.formats.format import (  # type: ignore[attr-defined]
            format_percentiles,
        )

        labels = list(format_percentiles(qs))
    except ImportError:  # pragma: no cover - pandas moved it
        labels = [f"{100 * q:g}%" for q in qs]
    return qs, labels


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's linear interpolation, operation for operation."""
    d = b - a
    return b - d * (1.0 - t) if t >= 0.5 else a + d * t


def _grid(lo: int, hi: int, points: int) -> list[int]:
    """Up to `points` thresholds splitting the rank interval (lo, hi]."""
    if hi - lo - 1 <= points:
        return list(range(lo + 1, hi))
    return sorted({lo + (hi - lo) * i // (points + 1) for i in range(1, points + 1)} - {lo, hi})


def _order_plan(
    ctx: _Context, mask: Expr | None, x: Expr, targets: Sequence[tuple[str, float]]
) -> Generator[dict[str, Spec], Answers, list[float]]:
    """Exact order statistics by a many-way search on secure counts.

    Each round asks, for every open bracket (lo, hi] of double-precision
    ranks, the number of values at or below `search_points` thresholds
    inside it, and keeps the sub-interval holding the wanted rank. The
    brackets start as all doubles (2^64 ranks), so with 255 points a
    search ends on the exact data value after 8 rounds.
    """
    points = max(ctx.search_points, 1)
    lo0, top = _ORD_NEG_INF - 1, _ORD_POS_INF
    first = [*_grid(lo0, top, points), top]
    got = yield {"le": _le_spec(mask, x, first)}
    seen = dict(zip(first, got["le"].tolist(), strict=True))
    n = int(seen[top])
    if n == 0 or ctx.suppressed(n):
        return [_NAN] * len(targets)

    wanted: list[tuple[int, int, float]] = []  # (rank a, rank b, weight), 1-based
    for kind, q in targets:
        if kind == "min":
            wanted.append((1, 1, 0.0))
        elif kind == "max":
            wanted.append((n, n, 0.0))
        elif kind == "median":
            middle = (n + 1) // 2
            wanted.append((middle, middle + 1, 0.5) if n % 2 == 0 else (middle, middle, 0.0))
        else:
            v = float(np.float64(n - 1) * np.float64(q))
            if v >= n - 1:
                wanted.append((n, n, 0.0))
            else:
                prev = math.floor(v)
                gamma = v - prev
                wanted.append((prev + 1, prev + 2 if gamma > 0 else prev + 1, gamma))

    brackets: dict[int, list[int]] = {}
    for a, b, _ in wanted:
        for rank in (a, b):
            if rank not in brackets:
                lo = max((t for t, c in seen.items() if c < rank), default=lo0)
                hi = min(t for t, c in seen.items() if c >= rank)
                brackets[rank] = [lo, hi]
    while True:
        open_ = [br for br in brackets.values() if br[1] - br[0] > 1]
        if not open_:
            break
        asked = sorted({t for lo, hi in open_ for t in _grid(lo, hi, points)})
        got = yield {"le": _le_spec(mask, x, asked)}
        counts = dict(zip(asked, got["le"].tolist(), strict=True))
        for rank, br in brackets.items():
            for t in asked:
                if br[0] < t < br[1]:
                    if counts[t] >= rank:
                        br[1] = t
                    else:
                        br[0] = t
            # thresholds are sorted, so one pass narrows fully
    value = {rank: _from_ordinal(br[1]) for rank, br in brackets.items()}
    out: list[float] = []
    for (kind, _), (a, b, gamma) in zip(targets, wanted, strict=True):
        if kind == "median" and a != b:
            out.append(float(np.mean([value[a], value[b]])))
        elif a == b:
            out.append(value[a])
        else:
            out.append(_lerp(value[a], value[b], gamma))
    return out


def _order_rounds(points: int) -> int:
    """Rounds `_order_plan` takes to close its widest bracket: the first
    round splits all doubles by `points` thresholds, each later one splits
    the widest bracket left again, until a bracket is one double."""
    width = _ORD_POS_INF - (_ORD_NEG_INF - 1)
    rounds = 0
    while width > 1:
        cuts = [0, *_grid(0, width, max(points, 1)), width]
        width = max(b - a for a, b in zip(cuts, cuts[1:], strict=False))
        rounds += 1
    return rounds


class _Order(_Leaf):
    """min/max/median/quantiles of one series."""

    def __init__(
        self,
        series: FederatedSeries,
        targets: list[tuple[str, float]],
        build: Callable[[list[float]], Any],
    ) -> None:
        super().__init__(series._ctx, [series._node, series._mask])
        self.series = series
        self.targets = targets
        self.build = build
        self.what = f"order statistics of {series.name!r}"

    def rounds(self) -> int:
        return _order_rounds(self.ctx.search_points)

    def plan(self, resolve: Resolve) -> Plan:
        x, mask = _need(resolve(self.series._node)), resolve(self.series._mask)
        values = yield from _order_plan(self.ctx, mask, x, self.targets)
        return self.build([np.float64(v) for v in values])


class _Cells(_Leaf):
    """Counts and moments per cell of categorical keys; returns arrays
    `{stat: values x cells}` (or `{"count": cells}` without values)."""

    def __init__(
        self,
        ctx: _Context,
        mask: _Node | None,
        keys: list[_Key],
        values: list[_Node],
        stats: set[str],
        ddof: int = 1,
    ) -> None:
        super().__init__(ctx, [mask, *(k.node for k in keys), *values])
        self.mask = mask
        self.keys = keys
        self.values = values
        self.stats = stats
        self.ddof = ddof
        self.what = "cell statistics"

    def rounds(self) -> int:
        spread = self.values and self.stats & {"var", "std", "sem"}
        return 2 if spread else 1

    def plan(self, resolve: Resolve) -> Plan:
        mask = resolve(self.mask)
        keys = [k.spec(resolve) for k in self.keys]
        cells = math.prod(k.size for k in self.keys)
        if not self.values or self.stats <= {"size"}:
            got = yield {"n": _cells_spec(mask, keys, [], [0])}
            raw = got["n"]
            shown = np.where([self.ctx.suppressed(c) for c in raw], _NAN, raw)
            return {
                "count": shown,
                "size": np.tile(shown, (max(len(self.values), 1), 1)),
                "raw": raw,
            }
        values = [_need(resolve(v)) for v in self.values]
        asks: dict[str, Spec] = {"v": _cells_spec(mask, keys, values, [0, 1])}
        if "size" in self.stats:
            asks["n"] = _cells_spec(mask, keys, [], [0])
        got = yield asks
        size = got.get("n")
        first = got["v"].reshape(len(values), 2, cells)
        counts, sums = first[:, 0, :], first[:, 1, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), _NAN)
        hidden = np.vectorize(self.ctx.suppressed, otypes=[bool])(counts)
        out: dict[str, np.ndarray] = {"count": counts, "sum": sums, "mean": means}
        if self.stats & {"var", "std", "sem"}:
            var = np.full_like(means, _NAN)
            enough = (counts - self.ddof > 0) & ~hidden
            if enough.any():
                # Members see the centres: only cells that get a variance carry their mean.
                centre = np.where(enough, means, 0.0)
                got = yield {"c": _cells_spec(mask, keys, values, [1, 2], centre.tolist())}
                second = got["c"].reshape(len(values), 2, cells)
                d1, d2 = second[:, 0, :], second[:, 1, :]
                safe = np.where(enough, counts, 1.0)
                est = (d2 - d1 * d1 / safe) / np.where(enough, counts - self.ddof, 1.0)
                var = np.where(enough, np.maximum(est, 0.0), _NAN)
            out["var"] = var
            out["std"] = np.sqrt(var)
            out["sem"] = np.sqrt(var) / np.sqrt(np.where(counts > 0, counts, _NAN))
        if size is not None:
            out["size"] = np.tile(
                np.where([self.ctx.suppressed(c) for c in size], _NAN, size), (len(values), 1)
            )
        for stat in ("count", "sum", "mean", "var", "std", "sem"):
            if stat in out:
                out[stat] = np.where(hidden, _NAN, out[stat])
        return out


class _Pairwise(_Leaf):
    """Pairwise-complete covariance or correlation matrix."""

    def __init__(self, frame: FederatedFrame, kind: str, ddof: int) -> None:
        cols = frame.columns
        self.series = [frame._series(c) for c in cols]
        super().__init__(frame._ctx, [frame._mask, *(s._node for s in self.series)])
        self.cols = cols
        self.mask = frame._mask
        self.kind = kind
        self.ddof = ddof
        self.what = kind

    def rounds(self) -> int:
        return 2

    def plan(self, resolve: Resolve) -> Plan:
        mask = resolve(self.mask)
        xs = [_need(resolve(s._node)) for s in self.series]
        k = len(xs)
        least = self.ddof if self.kind == "cov" else 1
        out = np.full((k, k), _NAN)

        def shown(rows: float) -> bool:
            return rows - least > 0 and not self.ctx.suppressed(rows)

        # Round 1: each column's count and sum (the same asks as its mean).
        got = yield {str(i): _moments_spec(mask, [x], [0.0], [[], [0]]) for i, x in enumerate(xs)}
        firsts = [got[str(i)] for i in range(k)]
        # A pair has no more rows than either column: a column that is not
        # shown takes part in no shown pair, and members never see its mean.
        usable = [shown(n) for n, _ in firsts]
        if not any(usable):
            return self._frame(out)
        center = [total / n if ok else 0.0 for (n, total), ok in zip(firsts, usable, strict=True)]
        # Round 2: every pair's sums around the column means, in one ask.
        squares = self.kind == "corr"
        got = yield {"c": _comoments_spec(mask, xs, center, squares)}
        blocks: dict[str, np.ndarray] = {}
        start = 0
        upper = np.triu_indices(k)
        for name, size in _comoments_layout(k, squares):
            part = got["c"][start : start + size]
            start += size
            if name in ("counts", "cross"):  # symmetric: sent as upper triangles
                full = np.zeros((k, k))
                full[upper] = part
                blocks[name] = full
            else:
                blocks[name] = part.reshape(k, k)
        counts, sums, cross = blocks["counts"], blocks["sums"], blocks["cross"]
        for i, j in zip(*upper, strict=True):
            rows = float(counts[i, j])
            if not shown(rows):
                continue
            # sums[i, j]: sum of column i over the rows where i and j are present
            dx, dy = sums[i, j], sums[j, i]
            sxy = cross[i, j] - dx * dy / rows
            if self.kind == "cov":
                value = sxy / (rows - self.ddof)
            else:
                if i == j:
                    sxx = syy = sxy
                else:
                    sxx = blocks["squares"][i, j] - dx * dx / rows
                    syy = blocks["squares"][j, i] - dy * dy / rows
                divisor = math.sqrt(max(sxx, 0.0) * max(syy, 0.0))
                value = sxy / divisor if divisor > 0 else _NAN
            out[i, j] = out[j, i] = value
        return self._frame(out)

    def _frame(self, values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=pd.Index(self.cols), columns=pd.Index(self.cols))


def _regression_inputs(
    df: FederatedFrame, y: str | FederatedSeries, x: Sequence[str | FederatedSeries]
) -> tuple[FederatedSeries, list[FederatedSeries], list[str], _Node | None]:
    ys = df._series(y) if isinstance(y, str) else y
    xs = [df._series(v) if isinstance(v, str) else v for v in x]
    names = [str(s.name) if s.name is not None else f"x{i}" for i, s in enumerate(xs)]
    mask = _and(df._mask, ys._mask)
    for s in xs:
        mask = _and(mask, s._mask)
    return ys, xs, names, mask


def _linear_combination(terms: Sequence[tuple[float, Expr]], constant: float) -> Expr:
    out: Expr = _const_json(constant)
    for coef, expr in terms:
        out = {"op": "add", "args": [out, {"op": "mul", "args": [_const_json(coef), expr]}]}
    return out


def _solve(matrix: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solution and inverse, equilibrated (unit diagonal) for accuracy;
    pseudo-inverse for singular systems, as statsmodels does."""
    diag = np.diag(matrix).copy()
    scale = 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0))
    inner = matrix * scale[:, None] * scale[None, :]
    inverse = np.linalg.pinv(inner) * scale[:, None] * scale[None, :]
    return inverse @ rhs, inverse


class _OLS(_Leaf):
    def __init__(
        self,
        df: FederatedFrame,
        y: str | FederatedSeries,
        x: Sequence[str | FederatedSeries],
        intercept: bool,
    ) -> None:
        self.y, self.xs, self.names, self.mask = _regression_inputs(df, y, x)
        super().__init__(df._ctx, [self.mask, self.y._node, *(s._node for s in self.xs)])
        self.intercept = intercept
        self.what = "OLS"

    def rounds(self) -> int:
        return 3

    def plan(self, resolve: Resolve) -> Plan:
        mask = resolve(self.mask)
        exprs = [_need(resolve(self.y._node)), *(_need(resolve(s._node)) for s in self.xs)]
        k = len(self.xs)
        index = (["Intercept"] if self.intercept else []) + self.names
        empty = pd.DataFrame(_NAN, index=pd.Index(index), columns=["coef", "std_err", "t"])
        got = yield {
            "m": _moments_spec(mask, exprs, [0.0] * (k + 1), [[]] + [[i] for i in range(k + 1)])
        }
        n = int(got["m"][0])
        if n == 0 or self.ctx.suppressed(n):
            return empty
        means = got["m"][1:] / n if self.intercept else np.zeros(k + 1)
        pairs = [(i, j) for i in range(k + 1) for j in range(i, k + 1)]
        got = yield {
            "c": _moments_spec(
                mask, exprs, means.tolist(), [[i] for i in range(k + 1)] + [list(p) for p in pairs]
            )
        }
        d = got["c"][: k + 1]
        cross = np.zeros((k + 1, k + 1))
        for (i, j), s in zip(pairs, got["c"][k + 1 :], strict=True):
            cross[i, j] = cross[j, i] = s - (d[i] * d[j] / n if self.intercept else 0.0)
        sxx, sxy = cross[1:, 1:], cross[1:, 0]
        beta, inverse = _solve(sxx, sxy)
        mx, my = means[1:], means[0]
        const = float(my - mx @ beta) if self.intercept else 0.0
        fitted = _linear_combination(list(zip(beta.tolist(), exprs[1:], strict=True)), const)
        resid = {"op": "sub", "args": [exprs[0], fitted]}
        got = yield {"r": _moments_spec(mask, [resid, *exprs], [0.0] * (k + 2), [[0, 0]])}
        rss = float(got["r"][0])
        p = k + (1 if self.intercept else 0)
        dof = n - p
        sigma2 = rss / dof if dof > 0 else _NAN
        se = np.sqrt(np.maximum(np.diag(inverse), 0.0) * sigma2)
        coefs = beta.tolist()
        errors = se.tolist()
        if self.intercept:
            coefs.insert(0, const)
            errors.insert(0, math.sqrt(max(sigma2 * (1.0 / n + mx @ inverse @ mx), 0.0)))
        coef = np.asarray(coefs)
        err = np.asarray(errors)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = coef / err
        out = pd.DataFrame({"coef": coef, "std_err": err, "t": t}, index=pd.Index(index))
        total = cross[0, 0]
        out.attrs.update(
            {"n": n, "df_resid": dof, "rss": rss, "r2": 1.0 - rss / total if total > 0 else _NAN}
        )
        return out


class _Logistic(_Leaf):
    def __init__(
        self,
        df: FederatedFrame,
        y: str | FederatedSeries,
        x: Sequence[str | FederatedSeries],
        intercept: bool,
        max_iter: int,
        tol: float,
        summary: bool,
    ) -> None:
        self.y, self.xs, self.names, self.mask = _regression_inputs(df, y, x)
        super().__init__(df._ctx, [self.mask, self.y._node, *(s._node for s in self.xs)])
        self.intercept = intercept
        self.max_iter = max_iter
        self.tol = tol
        self.summary = summary
        self.what = "logistic regression"

    def rounds(self) -> None:
        return None  # one Newton step a round, until the step is small enough

    def plan(self, resolve: Resolve) -> Plan:
        mask = resolve(self.mask)
        y = _need(resolve(self.y._node))
        xs = [_need(resolve(s._node)) for s in self.xs]
        k = len(xs)
        index = pd.Index((["Intercept"] if self.intercept else []) + self.names)
        terms: list[list[int]] = [[], [0]] + [[i] for i in range(1, k + 1)]
        terms += [[i, i] for i in range(1, k + 1)]
        got = yield {"m": _moments_spec(mask, [y, *xs], [0.0] * (k + 1), terms)}
        n = int(got["m"][0])
        if n == 0 or self.ctx.suppressed(n):
            return self._result(np.full(len(index), _NAN), None, index, n, 0, False, _NAN)
        ybar = got["m"][1] / n
        sums, squares = got["m"][2 : 2 + k], got["m"][2 + k :]
        center = sums / n if self.intercept else np.zeros(k)
        spread = np.sqrt(np.maximum(squares / n - (center**2 if self.intercept else 0.0), 0.0))
        scale = np.where(spread > 0, spread, 1.0)
        beta = np.zeros(len(index))
        if self.intercept and 0.0 < ybar < 1.0:
            beta[0] = math.log(ybar / (1.0 - ybar))
        size = len(index)
        upper = np.triu_indices(size)
        inverse: np.ndarray | None = None
        converged = False
        loglik = _NAN
        iterations = 0
        while iterations < self.max_iter:
            iterations += 1
            got = yield {
                "g": {
                    "kind": "logit",
                    "mask": mask,
                    "y": y,
                    "x": xs,
                    "center": center.tolist(),
                    "scale": scale.tolist(),
                    "beta": beta.tolist(),
                    "intercept": self.intercept,
                }
            }
            sums_ = got["g"]
            gradient = sums_[:size]
            hessian = np.zeros((size, size))
            hessian[upper] = sums_[size : size + len(upper[0])]
            hessian = hessian + np.triu(hessian, 1).T
            loglik = float(sums_[-1])
            step, inverse = _solve(hessian, gradient)
            beta = beta + step
            if np.max(np.abs(step)) <= self.tol * (1.0 + np.max(np.abs(beta))):
                converged = True
                break
        # back from standardised coordinates: x_std = (x - c) / s
        transform = np.eye(size)
        offset = 1 if self.intercept else 0
        for i in range(k):
            transform[offset + i, offset + i] = 1.0 / scale[i]
            if self.intercept:
                transform[0, offset + i] = -center[i] / scale[i]
        coef = transform @ beta
        cov = None if inverse is None else transform @ inverse @ transform.T
        return self._result(coef, cov, index, n, iterations, converged, loglik)

    def _result(
        self,
        coef: np.ndarray,
        cov: np.ndarray | None,
        index: pd.Index,
        n: int,
        iterations: int,
        converged: bool,
        loglik: float,
    ) -> pd.Series | pd.DataFrame:
        attrs = {"n": n, "iterations": iterations, "converged": converged, "loglik": loglik}
        out: pd.Series | pd.DataFrame
        if self.summary:
            se = np.full(len(coef), _NAN) if cov is None else np.sqrt(np.maximum(np.diag(cov), 0.0))
            with np.errstate(divide="ignore", invalid="ignore"):
                out = pd.DataFrame({"coef": coef, "std_err": se, "z": coef / se}, index=index)
        else:
            out = pd.Series(coef, index=index, name="coef")
        out.attrs.update(attrs)
        return out


def ols(
    df: FederatedFrame,
    y: str | FederatedSeries,
    x: Sequence[str | FederatedSeries],
    *,
    intercept: bool = True,
) -> Deferred:
    """Ordinary least squares on the rows where `y` and every `x` are
    present (statsmodels' `missing="drop"`). Returns a DataFrame indexed
    by term ("Intercept" first) with `coef`, `std_err` and `t`; `attrs`
    holds n, df_resid, rss and r2::

        delta.ols(df, y="bmi", x=["age"])
    """
    return _OLS(df, y, x, intercept)


def logistic(
    df: FederatedFrame,
    y: str | FederatedSeries,
    x: Sequence[str | FederatedSeries],
    *,
    intercept: bool = True,
    max_iter: int = 25,
    tol: float = 1e-10,
    summary: bool = False,
) -> Deferred:
    """Logistic regression (maximum likelihood by Newton steps, one round
    each) on complete rows; `y` must be 0/1. Returns the coefficients as a
    Series named "coef" ("Intercept" first), or with `summary=True` a
    DataFrame with `coef`, `std_err` and `z`; `attrs` holds n,
    iterations, converged and loglik::

        delta.logistic(df, y="smoker", x=["age", "bmi"])
    """
    return _Logistic(df, y, x, intercept, max_iter, tol, summary)


# --------------------------------------------------------------------------
# Planning rounds


def _walk(obj: Any, leaves: dict[int, _Leaf]) -> None:
    if isinstance(obj, _Leaf):
        if id(obj) not in leaves:
            leaves[id(obj)] = obj
            for dep in obj.deps():
                _walk(dep, leaves)
    elif isinstance(obj, _Apply):
        for arg in obj.args:
            _walk(arg, leaves)
    elif isinstance(obj, Mapping):
        for value in obj.values():
            _walk(value, leaves)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _walk(value, leaves)


def _leaves_below(obj: Any, out: list[_Leaf]) -> None:
    """The statistics `obj` reads directly (not those they read in turn)."""
    if isinstance(obj, _Leaf):
        out.append(obj)
    elif isinstance(obj, _Apply):
        for arg in obj.args:
            _leaves_below(arg, out)


def planned_rounds(result: Any) -> int | None:
    """Rounds the planner runs for `execute`'s `result` when no member
    drops out and nothing is withheld: statistics that read no other run
    side by side from round 0, and one that reads others (a filter on a
    mean) starts in the round after the last of them ends. None when a
    statistic's rounds depend on the data."""
    found: dict[int, _Leaf] = {}
    _walk(result, found)
    ends: dict[int, int | None] = {}

    def end(leaf: _Leaf) -> int | None:
        if id(leaf) not in ends:
            below: list[_Leaf] = []
            for dep in leaf.deps():
                _leaves_below(dep, below)
            starts = [end(d) for d in below]
            own = leaf.rounds()
            if own is None or any(s is None for s in starts):
                ends[id(leaf)] = None
            else:
                ends[id(leaf)] = max((s for s in starts if s is not None), default=0) + own
        return ends[id(leaf)]

    total = 0
    for leaf in found.values():
        leaf_end = end(leaf)
        if leaf_end is None:
            return None
        total = max(total, leaf_end)
    return total


class _Planner:
    """Runs the statistics' plans in lockstep: each round merges every
    pending ask into one `Step`, and each reduce feeds the totals back."""

    max_restarts = 2

    def __init__(self, task: Analytics, result: Any) -> None:
        self.task = task
        self.result = result
        found: dict[int, _Leaf] = {}
        _walk(result, found)
        if not found:
            raise ValueError(
                "execute() returned no federated statistic; return e.g. {'n': df['age'].count()}"
            )
        self.leaves = list(found.values())
        self.round = 0
        self.restarts = 0
        self._reset()

    def _reset(self) -> None:
        self.values: dict[int, Any] = {}
        self.plans: dict[int, Plan] = {}
        self.asks: dict[int, dict[str, Spec]] = {}
        self.members: int | None = None
        self.routes: dict[tuple[int, str], tuple[str, np.ndarray | None]] = {}
        self.requests: dict[str, Spec] = {}
        self.memo: dict[int, Any] = {}

    # -- deferred values

    def _ready(self, d: Deferred) -> bool:
        if isinstance(d, _Leaf):
            return id(d) in self.values
        if isinstance(d, _Apply):
            return all(self._ready(a) for a in d.args if isinstance(a, Deferred))
        return True

    def _value(self, d: Deferred) -> Any:
        if isinstance(d, _Leaf):
            return self.values[id(d)]
        if isinstance(d, _Apply):
            if id(d) not in self.memo:
                args = [self._value(a) if isinstance(a, Deferred) else a for a in d.args]
                self.memo[id(d)] = d.fn(*args)
            return self.memo[id(d)]
        raise TypeError(f"not a deferred value: {d!r}")

    def _resolve(self, node: _Node | None) -> Expr | None:
        return None if node is None else _to_json(node, self._value)

    def _materialize(self, obj: Any) -> Any:
        if isinstance(obj, Deferred):
            return self._value(obj)
        if isinstance(obj, dict):
            return {k: self._materialize(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._materialize(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self._materialize(v) for v in obj)
        return obj

    # -- advancing plans

    def _send(self, lid: int, answer: Answers | None) -> None:
        plan = self.plans[lid]
        try:
            ask = next(plan) if answer is None else plan.send(answer)
            while not ask:
                ask = plan.send({})
            self.asks[lid] = ask
        except StopIteration as stop:
            self.values[lid] = stop.value
            del self.plans[lid]

    def _advance(self, answers: Mapping[int, Answers]) -> Step | Done:
        self.asks = {}
        for lid, answer in answers.items():
            self._send(lid, answer)
        started = True
        while started:
            started = False
            for leaf in self.leaves:
                lid = id(leaf)
                if lid in self.values or lid in self.plans:
                    continue
                if all(self._ready(d) for d in leaf.deps()):
                    self.plans[lid] = leaf.plan(self._resolve)
                    self._send(lid, None)
                    started = True
        if not self.asks:
            return Done(self._materialize(self.result))
        return self._step()

    def _step(self) -> Step:
        if self.round >= self.task.max_rounds:
            raise RuntimeError(
                f"the analysis needs more than max_rounds={self.task.max_rounds} rounds; raise "
                "max_rounds on the task class (quantiles need about 8, logistic regression one "
                "per Newton step)"
            )
        names: dict[str, str] = {}
        requests: dict[str, Spec] = {}
        routes: dict[tuple[int, str], tuple[str, np.ndarray | None]] = {}
        searches: dict[str, tuple[Spec, set[int]]] = {}
        pending: list[tuple[int, str, str, list[int]]] = []
        for lid, ask in self.asks.items():
            for key, spec in ask.items():
                if spec["kind"] == "le":
                    group = _canonical({"mask": spec["mask"], "x": spec["x"]})
                    searches.setdefault(group, (spec, set()))[1].update(spec["t"])
                    pending.append((lid, key, group, spec["t"]))
                    continue
                canon = _canonical(spec)
                if canon not in names:
                    names[canon] = f"r{len(requests)}"
                    requests[names[canon]] = spec
                routes[(lid, key)] = (names[canon], None)
        positions: dict[str, dict[int, int]] = {}
        for group, (spec, thresholds) in searches.items():
            name = f"r{len(requests)}"
            names[group] = name
            ordered = sorted(thresholds)
            requests[name] = _le_spec(spec["mask"], spec["x"], ordered)
            positions[group] = {t: i for i, t in enumerate(ordered)}
        for lid, key, group, ts in pending:
            routes[(lid, key)] = (names[group], np.asarray([positions[group][t] for t in ts]))
        self.requests = requests
        self.routes = routes
        params = {"round": self.round, "requests": requests}
        _canonical(params)  # refuses NaN/inf before anything leaves
        return Step("analytics", {n: _slots(s) for n, s in requests.items()}, params)

    def first(self) -> Step:
        outcome = self._advance({})
        if isinstance(outcome, Done):  # pragma: no cover - every leaf asks at least once
            raise ValueError("execute() returned nothing to compute")
        return outcome

    def reduce(self, step: Step, sums: Mapping[str, np.ndarray], members: int) -> Step | Done:
        if step.params.get("round") != self.round:
            raise RuntimeError(
                f"got sums for round {step.params.get('round')}, expected {self.round}"
            )
        self.round += 1
        if self.members is None:
            self.members = members
        elif members != self.members:
            # Earlier rounds summed other members: start over with these.
            self.restarts += 1
            if self.restarts > self.max_restarts:
                raise RuntimeError("members kept dropping out; the analysis cannot be consistent")
            self._reset()
            return self._advance({})
        decoded = {name: _decode(spec, sums[name]) for name, spec in self.requests.items()}
        answers: dict[int, Answers] = {}
        for (lid, key), (name, idx) in self.routes.items():
            values = decoded[name]
            answers.setdefault(lid, {})[key] = values if idx is None else values[idx]
        return self._advance(answers)


# --------------------------------------------------------------------------
# The task class


class Analytics(MapReduce):
    """A federated analysis written like pandas. Subclass it, set
    `dataset`, and implement `execute(df)` returning a statistic, or a
    dict/list/tuple of them::

        class Stats(delta.Analytics):
            dataset = "patients"
            levels = {"sex": ["F", "M"]}

            def execute(self, df):
                return {"bmi": df["bmi"].describe(),
                        "by_sex": df.groupby("sex")["bmi"].mean()}

    Settings (class attributes):

    - `levels`: category levels per column, for groupby, value_counts and
      crosstab (members cannot sum strings, so the requester names them).
      A column not named here takes the levels its holders declared and
      published (`delta_datasets`, which `Client.submit` reads from the
      requester's worker), or in `delta.debug` its frames' categories.
    - `min_cell_count`: a statistic over fewer contributing rows than this
      (a group, crosstab cell, histogram bin, value count, or a whole
      filtered column) comes back as NaN, its count too. 0 disables.
    - `search_points`: thresholds per round in the order-statistic search
      (255: exact quantiles, min and max after 8 rounds).
    """

    levels: ClassVar[Mapping[str, Sequence[Level]]] = {}
    min_cell_count: ClassVar[int] = 5
    search_points: ClassVar[int] = 255
    _planner: _Planner | None = None
    _published_levels: Mapping[str, Sequence[Level]] = {}

    def use_published_levels(self, levels: Mapping[str, Sequence[Level]]) -> None:
        """Levels for the columns `levels` does not name: the holders'
        declared ones, from the package's manifest (the runner calls
        this; the task's own `levels` win)."""
        self._published_levels = dict(levels)

    @abstractmethod
    def execute(self, df: FederatedFrame) -> Any:
        """Describe the analysis on the symbolic frame `df`."""

    def frame(self) -> FederatedFrame:
        """The symbolic frame `execute` receives."""
        levels = {**self._published_levels, **self.levels}
        return FederatedFrame(_Context(levels, int(self.min_cell_count), int(self.search_points)))

    def start(self) -> Step:
        self._planner = _Planner(self, self.execute(self.frame()))
        return self._planner.first()

    def planned_rounds(self) -> int | None:
        """Rounds the analysis takes when no member drops out, from its plan
        alone (no data): e.g. 1 for means and counts, 2 for a variance, 8
        for exact quantiles; None with a logistic regression, whose Newton
        steps stop when they converge."""
        return planned_rounds(self.execute(self.frame()))

    def map(self, step: Step, df: pd.DataFrame) -> Mapping[str, npt.ArrayLike]:
        """Sums for every ask of the step over this member's frame; uses
        the step's parameters only. Members never call this: they run
        `PlanEvaluator` (the same evaluation, from their own SDK)."""
        return evaluate_plan(step, df)

    def reduce(self, step: Step, sums: Mapping[str, np.ndarray], members: int) -> Step | Done:
        if self._planner is None:
            raise RuntimeError("reduce() before start()")
        return self._planner.reduce(step, sums, members)


# --------------------------------------------------------------------------
# Plans at members: the holder's evaluator, never the requester's code


class PlanError(PolicyRefusal):
    """A step that is not a well-formed analytics plan (unknown kinds or
    operations, missing or extra fields, outputs that differ from what the
    plan implies): the member refuses it before reading any row."""


_SPEC_KEYS: dict[str, frozenset[str]] = {
    "moments": frozenset({"kind", "mask", "vars", "center", "terms"}),
    "comoments": frozenset({"kind", "mask", "vars", "center", "squares"}),
    "le": frozenset({"kind", "mask", "x", "t"}),
    "cells": frozenset({"kind", "mask", "keys", "values", "powers", "center"}),
    "logit": frozenset({"kind", "mask", "y", "x", "center", "scale", "beta", "intercept"}),
}
_ARITY: dict[str, int] = {
    **{op: 2 for op in _BINARY},
    **{op: 1 for op in _UNARY},
    "fillna": 2,
    "isin": 1,
    "clip": 3,
    "same": 1,
    "round": 1,
    "where": 3,
}
_EXPR_ATTRS: dict[str, frozenset[str]] = {
    "col": frozenset({"name"}),
    "isin": frozenset({"values"}),
    "round": frozenset({"decimals"}),
}
_MAX_PLAN_DEPTH = 64
"""Deepest nesting of a plan's JSON (pandas code of any sensible length
stays far below; a deeper plan is refused rather than recursed into)."""
_MAX_PLAN_NODES = 100_000
"""Most JSON objects and lists in one step's plan (numbers, such as a
quantile search's thresholds, are bounded by the step's size instead)."""


def check_plan(step: Step) -> None:
    """Refuses `step` unless it is an analytics plan this SDK evaluates:
    the step named "analytics", parameters `round` and `requests` only,
    each request a known kind with exactly its fields, every expression
    a known operation with its arguments, and each declared output
    exactly the float64 vector the request implies (so no member's output
    can grow with its rows). Raises `PlanError` naming the first fault."""
    if step.name != "analytics":
        raise PlanError(f"step {step.name!r} is not an analytics plan")
    params = step.params
    if not isinstance(params, Mapping) or not set(params) <= {"round", "requests"}:
        extra = sorted(set(params) - {"round", "requests"}) if isinstance(params, Mapping) else []
        raise PlanError(f"a plan holds 'round' and 'requests' only, not {extra}")
    requests = params.get("requests")
    if not isinstance(requests, Mapping) or not requests:
        raise PlanError("a plan's 'requests' must map names to asks")
    if set(requests) != set(step.outputs):
        raise PlanError(
            f"the step declares outputs {sorted(step.outputs)} but its plan asks for "
            f"{sorted(requests)}"
        )
    budget = [_MAX_PLAN_NODES]
    for name, spec in requests.items():
        if not isinstance(spec, Mapping):
            raise PlanError(f"request {name!r} is not an object")
        kind = spec.get("kind")
        keys = _SPEC_KEYS.get(kind) if isinstance(kind, str) else None
        if keys is None:
            raise PlanError(f"request {name!r}: unknown kind {kind!r}")
        if set(spec) != keys:
            raise PlanError(
                f"request {name!r} ({kind}): fields {sorted(spec)}, expected {sorted(keys)}"
            )
        _check_plan_value(spec, f"request {name!r}", 0, budget)
        try:
            slots = _slots(spec)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise PlanError(f"request {name!r} ({kind}) is malformed: {exc}") from None
        declared = output_spec(step.outputs[name])
        if declared != Output((slots,)):
            raise PlanError(
                f"output {name!r} is declared as {declared} but request {name!r} implies "
                f"{slots} float64 values"
            )


def _check_plan_value(value: Any, where: str, depth: int, budget: list[int]) -> None:
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    budget[0] -= 1
    if budget[0] < 0:
        raise PlanError(f"the plan holds more than {_MAX_PLAN_NODES} objects and lists")
    if depth > _MAX_PLAN_DEPTH:
        raise PlanError(f"{where}: nested deeper than {_MAX_PLAN_DEPTH}")
    if isinstance(value, Mapping):
        if "op" in value:
            _check_expr(value, where, depth, budget)
            return
        for key, item in value.items():
            _check_plan_value(item, f"{where}.{key}", depth + 1, budget)
    elif isinstance(value, list):
        for item in value:
            _check_plan_value(item, where, depth + 1, budget)
    else:
        raise PlanError(f"{where}: {type(value).__name__} is not JSON")


def _check_expr(expr: Mapping[str, Any], where: str, depth: int, budget: list[int]) -> None:
    op = expr.get("op")
    if op == "const":
        if set(expr) == {"op", "value"} and isinstance(expr["value"], (bool, int, float, str)):
            return
        if set(expr) == {"op", "special"} and expr["special"] in ("nan", "inf", "-inf"):
            return
        raise PlanError(f"{where}: a malformed constant {dict(expr)!r}")
    if op == "col":
        if set(expr) != {"op", "name"} or not isinstance(expr["name"], str):
            raise PlanError(f"{where}: a column is {{'op': 'col', 'name': <text>}}")
        return
    arity = _ARITY.get(op) if isinstance(op, str) else None
    if arity is None:
        raise PlanError(f"{where}: unknown operation {op!r}")
    attrs = _EXPR_ATTRS.get(op, frozenset())
    if set(expr) != {"op", "args"} | attrs:
        raise PlanError(f"{where}: operation {op!r} takes args and {sorted(attrs) or 'nothing'}")
    args = expr["args"]
    if not isinstance(args, list) or len(args) != arity:
        raise PlanError(f"{where}: operation {op!r} takes {arity} arguments")
    if op == "isin" and not (
        isinstance(expr["values"], list)
        and all(isinstance(v, (bool, int, float, str)) for v in expr["values"])
    ):
        raise PlanError(f"{where}: isin takes a list of plain values")
    if op == "round" and (
        isinstance(expr["decimals"], bool) or not isinstance(expr["decimals"], int)
    ):
        raise PlanError(f"{where}: round takes an integer number of decimals")
    for arg in args:
        if not isinstance(arg, Mapping) or "op" not in arg:
            raise PlanError(f"{where}: an argument of {op!r} is not an expression")
        budget[0] -= 1
        if depth + 1 > _MAX_PLAN_DEPTH:
            raise PlanError(f"{where}: nested deeper than {_MAX_PLAN_DEPTH}")
        _check_expr(arg, where, depth + 1, budget)


def evaluate_plan(step: Step, df: pd.DataFrame, min_cell_rows: int = 0) -> dict[str, np.ndarray]:
    """A member's sums for an analytics step: the plan checked
    (`check_plan`), then evaluated on `df` by this SDK's evaluator. With
    `min_cell_rows` (the holder's policy), the member withholds every
    cell (group, crosstab cell, histogram bin, value count, whole filtered
    column, regression) computed from more than zero but fewer than that
    many of its own rows: it contributes zeros there, count included, so
    the pooled answer is over the other members' rows."""
    check_plan(step)
    ev = _Evaluator(df)
    out = {}
    for name, spec in step.params["requests"].items():
        values, rows = _compute(spec, ev, support=min_cell_rows > 0)
        if rows is not None:
            values = _withhold_small(spec, values, rows, min_cell_rows)
        out[name] = _encode(spec, values)
    return out


def _withhold_small(
    spec: Mapping[str, Any], values: np.ndarray, rows: np.ndarray, least: int
) -> np.ndarray:
    """`values` with what this member computed from 1 to `least - 1` of
    its rows set to zero, `rows` the counts `_compute` found behind them.
    A `cells` ask is withheld per cell and value column (their missing
    values differ), each value column's powers together; any other ask
    whole, if any of its counts (a pair's, for `comoments`) is small."""
    small = (rows > 0) & (rows < least)
    if spec["kind"] != "cells":
        return np.zeros_like(values) if small.any() else values
    out = np.array(values, dtype=np.float64)
    if small.any():
        per_column = len(spec["powers"]) if spec["values"] else 1
        out[np.repeat(small, per_column, axis=0).reshape(-1)] = 0.0
    return out


class PlanEvaluator(MapReduce):
    """What a member runs for an analytics package (manifest
    `"members_run": "plan"`): this SDK's own evaluator of each step's
    plan. The package's code is never imported at the member, so no
    requester code, however it is written, decides what a member
    computes: a subclass that overrides `map`, or module code that
    patches `delta`, has no effect there."""

    def __init__(self, dataset: str, min_cell_rows: int = 0) -> None:
        self.dataset = dataset
        self.min_cell_rows = min_cell_rows

    def start(self) -> Step:
        raise RuntimeError("a member only evaluates plans; the requester starts the task")

    def map(self, step: Step, df: pd.DataFrame) -> Mapping[str, npt.ArrayLike]:
        return evaluate_plan(step, df, self.min_cell_rows)

    def reduce(self, step: Step, sums: Mapping[str, np.ndarray], members: int) -> Step | Done:
        raise RuntimeError("a member only evaluates plans; the requester reduces")


def step_lengths(step: Step) -> dict[str, int]:
    """Each output's length as implied by the step's parameters alone
    (what a member must return, whatever its number of rows)."""
    return {name: _slots(spec) for name, spec in step.params["requests"].items()}
