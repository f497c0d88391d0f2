"""`delta._wire`: task results as JSON, never as pickle.

A task's result travels from the requester-side task process, through the
data holder's worker (Rust, which stores and forwards it as JSON), to the
requester's `delta.Client`. Pickle would let whoever produced the bytes
run code where they are read, so results are JSON, and only the types a
result is made of are understood:

- `None`, `bool`, `int`, `float`, `str`, `list`: as JSON. Floats that JSON
  cannot hold (NaN, infinity) and integers beyond 2**53 (which JavaScript
  and many JSON readers round) are tagged.
- `bytes`: base64, tagged.
- `tuple`, and `dict` whose keys are not all plain strings: tagged, so they
  come back as tuples and with their original keys. (Tuples do come back
  as tuples; only JSON readers that ignore the tags see lists.)
- numpy scalars and arrays (numeric, bool, datetime64 and timedelta64; no
  object or string arrays): dtype, shape, and the little-endian bytes in
  base64, so every bit (NaN payloads, -0.0) survives.
- pandas `Index` (incl. `RangeIndex`, `MultiIndex`, `CategoricalIndex`),
  `Series` and `DataFrame` with their names, index, columns, per-column
  dtypes (numeric, bool, datetime, nullable `Int64`/`Float64`/`boolean`,
  `str`/`string`, `category`, `interval` (so `IntervalIndex`, which
  histograms are indexed by), and `object` columns of encodable values) and
  `attrs` (where regressions keep n, r2, ...).
- dataclass instances: their fields, tagged with the class name. A class on
  `DATACLASSES` (delta's own) comes back as that class; any other class
  comes back as a plain `dict` of its fields, because decoding never
  imports a class by name.

A tag is a JSON object with a `"$type"` key; a plain dict is written as a
JSON object only when no key starts with `$`, so the two never mix.
`decode` refuses unknown tags, malformed tags and `$` keys outside a tag.

Example:

    >>> from delta import _wire
    >>> _wire.encode({"mean": float("nan"), "pair": (1, 2)})
    {'mean': {'$type': 'float', 'value': 'nan'}, 'pair': {'$type': 'tuple', 'items': [1, 2]}}
    >>> _wire.decode(_wire.encode((1, "a")))
    (1, 'a')
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from .check import Violation
from .learning import LearningResult
from .mapreduce import Step

__all__ = ["DATACLASSES", "WireError", "decode", "dumps", "encode", "loads"]

TAG = "$type"
"""The key that marks a tagged value."""

MAX_DEPTH = 200
"""Nesting deeper than this is refused both ways: results are tables and
dicts, not deep trees, and a bound keeps a hostile document from
exhausting the stack."""

MAX_SAFE_INT = 2**53 - 1
"""Larger integers are written as decimal strings: JavaScript and JSON
readers that parse numbers as doubles would round them."""

DATACLASSES: Mapping[str, type] = {
    f"{cls.__module__}.{cls.__qualname__}": cls for cls in (Step, Violation, LearningResult)
}
"""Dataclasses decoded back to their class, by `module.qualname`.

The analytics results (`ols`, `logistic`, `describe`, ...) are pandas
objects whose extra numbers live in `attrs`; a delta result dataclass added
later joins this list. Decoding looks names up here and nowhere else."""

_NUMPY_DTYPES = frozenset(
    {
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
    }
)
_TIME_DTYPE = re.compile(r"(datetime64|timedelta64)\[(ns|us|ms|s|m|h|D|W|M|Y)\]")
_MASKED: Mapping[str, tuple[str, Callable[[np.ndarray, np.ndarray], Any]]] = {
    **{
        name: (name.lower(), pd.arrays.IntegerArray)
        for name in ("Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64")
    },
    "Float32": ("float32", pd.arrays.FloatingArray),
    "Float64": ("float64", pd.arrays.FloatingArray),
    "boolean": ("bool", pd.arrays.BooleanArray),
}
"""pandas' nullable dtypes: numpy dtype of the values, array constructor
from (values, mask)."""

_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class WireError(ValueError):
    """A JSON document that is not a valid encoded result; the message
    says where."""


# -- encoding ---------------------------------------------------------------


def encode(value: Any) -> Any:
    """`value` as a JSON-able object (see the module docs); raises
    `TypeError` naming the first type that cannot be carried, and
    `ValueError` for a value that contains itself or nests too deeply."""
    return _Encoder().encode(value, 0)


def dumps(value: Any) -> str:
    """`encode(value)` as compact JSON text (strict: no NaN tokens)."""
    return json.dumps(encode(value), separators=(",", ":"), allow_nan=False)


class _Encoder:
    def __init__(self) -> None:
        self.active: set[int] = set()

    def encode(self, value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError(f"the value nests deeper than {MAX_DEPTH} levels")
        kind = type(value)
        if value is None or kind is bool or kind is str:
            return value
        if kind is int:
            return value if abs(value) <= MAX_SAFE_INT else {TAG: "int", "value": str(value)}
        if kind is float:
            return value if math.isfinite(value) else {TAG: "float", "value": _float_name(value)}
        if kind is bytes:
            return {TAG: "bytes", "data": base64.b64encode(value).decode("ascii")}
        if isinstance(value, np.generic):
            return _numpy_scalar(value)
        if value is pd.NA:
            return {TAG: "na"}
        if isinstance(value, np.ndarray):
            return {
                TAG: "ndarray",
                "dtype": _numpy_dtype_name(value.dtype, "array"),
                "shape": list(value.shape),
                "data": _b64(value),
            }
        if kind in (list, tuple, dict) or isinstance(value, (pd.Series, pd.DataFrame)):
            key = id(value)
            if key in self.active:
                raise ValueError("the value contains itself")
            self.active.add(key)
            try:
                return self._container(value, depth)
            finally:
                self.active.discard(key)
        if isinstance(value, pd.Index):
            return self._index(value, depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            cls = type(value)
            return {
                TAG: "dataclass",
                "class": f"{cls.__module__}.{cls.__qualname__}",
                "fields": {
                    f.name: self.encode(getattr(value, f.name), depth + 1)
                    for f in dataclasses.fields(value)
                },
            }
        raise TypeError(f"a task result cannot hold {_type_name(value)}")

    def _container(self, value: Any, depth: int) -> Any:
        if type(value) is list:
            return [self.encode(v, depth + 1) for v in value]
        if type(value) is tuple:
            return {TAG: "tuple", "items": [self.encode(v, depth + 1) for v in value]}
        if type(value) is dict:
            if all(type(k) is str and not k.startswith("$") for k in value):
                return {k: self.encode(v, depth + 1) for k, v in value.items()}
            return {
                TAG: "dict",
                "items": [
                    [self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()
                ],
            }
        if isinstance(value, pd.Series):
            return {
                TAG: "series",
                "name": self.encode(value.name, depth + 1),
                "index": self._index(value.index, depth + 1),
                "values": self._column(value.array, value.dtype, depth + 1),
                "attrs": self.encode(dict(value.attrs), depth + 1),
            }
        frame: pd.DataFrame = value
        return {
            TAG: "dataframe",
            "index": self._index(frame.index, depth + 1),
            "columns": self._index(frame.columns, depth + 1),
            "data": [
                self._column(frame.iloc[:, i].array, frame.dtypes.iloc[i], depth + 1)
                for i in range(frame.shape[1])
            ],
            "attrs": self.encode(dict(frame.attrs), depth + 1),
        }

    def _index(self, index: pd.Index, depth: int) -> dict[str, Any]:
        if isinstance(index, pd.RangeIndex):
            return {
                TAG: "range_index",
                "start": index.start,
                "stop": index.stop,
                "step": index.step,
                "name": self.encode(index.name, depth + 1),
            }
        if isinstance(index, pd.MultiIndex):
            return {
                TAG: "multi_index",
                "levels": [self._index(level, depth + 1) for level in index.levels],
                "codes": [
                    {"dtype": _numpy_dtype_name(c.dtype, "index"), "data": _b64(c)}
                    for c in (np.asarray(codes) for codes in index.codes)
                ],
                "names": [self.encode(n, depth + 1) for n in index.names],
            }
        return {
            TAG: "index",
            "name": self.encode(index.name, depth + 1),
            "values": self._column(index.array, index.dtype, depth + 1),
        }

    def _column(self, array: Any, dtype: Any, depth: int) -> dict[str, Any]:
        """One-dimensional values of an index or a column, with its dtype."""
        if isinstance(dtype, pd.CategoricalDtype):
            codes = np.asarray(array.codes)
            return {
                "kind": "category",
                "categories": self._column(dtype.categories.array, dtype.categories.dtype, depth),
                "ordered": bool(dtype.ordered),
                "codes": {"dtype": _numpy_dtype_name(codes.dtype, "column"), "data": _b64(codes)},
            }
        if isinstance(dtype, pd.IntervalDtype):
            # Both ends in the subtype; a missing interval is NaN (or NaT) at
            # both, as pandas itself keeps it.
            subtype = np.dtype(dtype.subtype)
            ends = {
                side: {
                    "dtype": _numpy_dtype_name(subtype, "interval"),
                    "data": _b64(np.asarray(getattr(array, side), dtype=subtype)),
                }
                for side in ("left", "right")
            }
            return {"kind": "interval", "closed": str(dtype.closed), **ends}
        if isinstance(dtype, pd.StringDtype):
            missing = np.asarray(pd.isna(array), dtype=bool)
            return {
                "kind": "string",
                "storage": str(dtype.storage),
                "na": "nan" if _is_nan(dtype.na_value) else "NA",
                "items": [None if m else str(v) for v, m in zip(array, missing, strict=True)],
            }
        name = str(getattr(dtype, "name", ""))
        if name in _MASKED and not isinstance(dtype, np.dtype):
            numpy_name, _ = _MASKED[name]
            values = np.asarray(array.to_numpy(dtype=numpy_name, na_value=0), dtype=numpy_name)
            mask = np.asarray(array.isna(), dtype=bool)
            return {"kind": "masked", "dtype": name, "data": _b64(values), "mask": _b64(mask)}
        if isinstance(dtype, np.dtype):
            values = np.asarray(array, dtype=dtype)
            if dtype.kind == "O":
                return {"kind": "object", "items": [self.encode(v, depth + 1) for v in values]}
            return {
                "kind": "numpy",
                "dtype": _numpy_dtype_name(dtype, "column"),
                "data": _b64(values),
            }
        raise TypeError(f"a task result cannot hold a pandas column of dtype {dtype}")


def _float_name(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _type_name(value: Any) -> str:
    cls = type(value)
    module = cls.__module__
    name = cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
    return f"a value of type {name}"


def _numpy_dtype_name(dtype: np.dtype, what: str) -> str:
    name = dtype.name
    if name in _NUMPY_DTYPES or _TIME_DTYPE.fullmatch(name):
        return name
    raise TypeError(f"a task result cannot hold a numpy {what} of dtype {name}")


def _numpy_scalar(value: np.generic) -> dict[str, Any]:
    name = _numpy_dtype_name(value.dtype, "scalar")
    item: Any
    if value.dtype.kind in "Mm":
        item = int(np.asarray(value).view(np.int64))
    else:
        item = value.item()
    return {TAG: "npscalar", "dtype": name, "value": encode(item)}


def _b64(array: np.ndarray) -> str:
    little = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
    return base64.b64encode(little.tobytes()).decode("ascii")


# -- decoding ---------------------------------------------------------------


def decode(obj: Any) -> Any:
    """The value `encode` was given, from its JSON-able form; raises
    `WireError` for anything `encode` does not produce (unknown tags
    included)."""
    try:
        return _decode(obj, 0, "result")
    except WireError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise WireError(f"malformed result: {exc}") from exc


def loads(text: str | bytes) -> Any:
    """`decode(json.loads(text))`, refusing NaN and Infinity tokens."""
    try:
        obj = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise WireError(f"the result is not JSON: {exc}") from exc
    return decode(obj)


def _no_constant(name: str) -> Any:
    raise WireError(f"{name} is not JSON (encoded results tag special floats)")


def _decode(obj: Any, depth: int, where: str) -> Any:
    if depth > MAX_DEPTH:
        raise WireError(f"{where}: nests deeper than {MAX_DEPTH} levels")
    kind = type(obj)
    if obj is None or kind in (bool, int, float, str):
        return obj
    if kind is list:
        return [_decode(v, depth + 1, f"{where}[{i}]") for i, v in enumerate(obj)]
    if kind is not dict:
        raise WireError(f"{where}: {kind.__name__} is not a JSON value")
    if TAG not in obj:
        dollar = [k for k in obj if not isinstance(k, str) or k.startswith("$")]
        if dollar:
            raise WireError(f"{where}: unknown tag {dollar[0]!r}")
        return {k: _decode(v, depth + 1, f"{where}.{k}") for k, v in obj.items()}
    tag = obj[TAG]
    decoder = _TAGS.get(tag) if isinstance(tag, str) else None
    if decoder is None:
        raise WireError(f"{where}: unknown tag {tag!r}")
    keys, fn = decoder
    if set(obj) != keys | {TAG}:
        expected = ", ".join(sorted(keys))
        raise WireError(f"{where}: a {tag!r} value holds exactly {expected}, not {sorted(obj)}")
    return fn(obj, depth, where)


def _field(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise WireError(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
    return value


def _hashable(value: Any, where: str) -> Any:
    try:
        hash(value)
    except TypeError:
        raise WireError(f"{where}: {type(value).__name__} cannot be a key or a name") from None
    return value


def _tag_int(obj: Mapping[str, Any], depth: int, where: str) -> int:
    text = _field(obj, "value", str, where)
    if not re.fullmatch(r"-?[0-9]{1,4300}", text):
        raise WireError(f"{where}: {text[:40]!r} is not an integer")
    return int(text)


def _tag_float(obj: Mapping[str, Any], depth: int, where: str) -> float:
    name = _field(obj, "value", str, where)
    if name not in _SPECIAL_FLOATS:
        raise WireError(f"{where}: unknown special float {name!r}")
    return _SPECIAL_FLOATS[name]


def _tag_bytes(obj: Mapping[str, Any], depth: int, where: str) -> bytes:
    return _base64(obj["data"], where)


def _tag_tuple(obj: Mapping[str, Any], depth: int, where: str) -> tuple[Any, ...]:
    items = _field(obj, "items", list, where)
    return tuple(_decode(v, depth + 1, f"{where}[{i}]") for i, v in enumerate(items))


def _tag_dict(obj: Mapping[str, Any], depth: int, where: str) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for i, pair in enumerate(_field(obj, "items", list, where)):
        if not isinstance(pair, list) or len(pair) != 2:
            raise WireError(f"{where}: item {i} is not a [key, value] pair")
        key = _hashable(_decode(pair[0], depth + 1, f"{where}.key{i}"), where)
        out[key] = _decode(pair[1], depth + 1, f"{where}[{key!r}]")
    return out


def _tag_na(obj: Mapping[str, Any], depth: int, where: str) -> Any:
    return pd.NA


def _dtype(name: Any, where: str) -> np.dtype:
    if not isinstance(name, str) or not (name in _NUMPY_DTYPES or _TIME_DTYPE.fullmatch(name)):
        raise WireError(f"{where}: unsupported dtype {name!r}")
    return np.dtype(name)


def _base64(data: Any, where: str) -> bytes:
    if not isinstance(data, str):
        raise WireError(f"{where}: 'data' must be base64 text")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WireError(f"{where}: 'data' is not base64: {exc}") from None


def _from_bytes(raw: bytes, dtype: np.dtype, shape: tuple[int, ...], where: str) -> np.ndarray:
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        raise WireError(f"{where}: {len(raw)} bytes of data, expected {expected} for {shape}")
    array = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype)
    return array.reshape(shape)


def _flat(spec: Any, where: str) -> np.ndarray:
    """`{"dtype", "data"}` as a 1-D array."""
    if not isinstance(spec, dict) or set(spec) != {"dtype", "data"}:
        raise WireError(f"{where}: expected an object with 'dtype' and 'data'")
    dtype = _dtype(spec["dtype"], where)
    raw = _base64(spec["data"], where)
    if len(raw) % dtype.itemsize:
        raise WireError(f"{where}: data is not a whole number of {dtype.name} values")
    return _from_bytes(raw, dtype, (len(raw) // dtype.itemsize,), where)


def _tag_npscalar(obj: Mapping[str, Any], depth: int, where: str) -> np.generic:
    dtype = _dtype(obj["dtype"], where)
    value = _decode(obj["value"], depth + 1, where)
    if dtype.kind in "Mm":
        if type(value) is not int:
            raise WireError(f"{where}: a {dtype.name} scalar holds an integer")
        return cast(np.generic, np.array(value, dtype=np.int64).view(dtype)[()])
    if type(value) not in (bool, int, float):
        raise WireError(f"{where}: a {dtype.name} scalar holds a number")
    return cast(np.generic, np.array(value, dtype=dtype)[()])


def _tag_ndarray(obj: Mapping[str, Any], depth: int, where: str) -> np.ndarray:
    dtype = _dtype(obj["dtype"], where)
    shape = _field(obj, "shape", list, where)
    if not all(type(n) is int and n >= 0 for n in shape) or len(shape) > 32:
        raise WireError(f"{where}: 'shape' must list at most 32 non-negative integers")
    return _from_bytes(_base64(obj["data"], where), dtype, tuple(shape), where)


def _column(spec: Any, depth: int, where: str) -> Any:
    """An encoded column back to a numpy or pandas array."""
    if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
        raise WireError(f"{where}: a column must be an object with a 'kind'")
    kind = spec["kind"]
    keys = {
        "numpy": {"kind", "dtype", "data"},
        "object": {"kind", "items"},
        "string": {"kind", "storage", "na", "items"},
        "masked": {"kind", "dtype", "data", "mask"},
        "category": {"kind", "categories", "ordered", "codes"},
        "interval": {"kind", "closed", "left", "right"},
    }.get(kind)
    if keys is None:
        raise WireError(f"{where}: unknown column kind {kind!r}")
    if set(spec) != keys:
        raise WireError(f"{where}: a {kind!r} column holds exactly {sorted(keys)}")
    if kind == "numpy":
        return _flat({"dtype": spec["dtype"], "data": spec["data"]}, where)
    if kind == "object":
        items = _field(spec, "items", list, where)
        out = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):
            out[i] = _decode(item, depth + 1, f"{where}[{i}]")
        return out
    if kind == "string":
        items = _field(spec, "items", list, where)
        if not all(v is None or isinstance(v, str) for v in items):
            raise WireError(f"{where}: a string column holds strings and nulls")
        storage = spec["storage"]
        if storage not in ("python", "pyarrow"):
            raise WireError(f"{where}: unknown string storage {storage!r}")
        if spec["na"] not in ("nan", "NA"):
            raise WireError(f"{where}: unknown string missing value {spec['na']!r}")
        string = _string_dtype(storage, spec["na"] == "nan")
        return pd.array(items, dtype=string)
    if kind == "interval":
        closed = spec["closed"]
        if closed not in ("right", "left", "both", "neither"):
            raise WireError(f"{where}: unknown interval closing {closed!r}")
        left = _flat(spec["left"], f"{where}.left")
        right = _flat(spec["right"], f"{where}.right")
        if left.dtype != right.dtype or len(left) != len(right):
            raise WireError(f"{where}: an interval's ends differ in dtype or length")
        if left.dtype.kind not in "iufMm":
            raise WireError(f"{where}: interval ends must be numbers or times")
        interval = pd.IntervalDtype(left.dtype, closed=closed)
        return pd.arrays.IntervalArray.from_arrays(left, right, closed=closed, dtype=interval)
    if kind == "masked":
        name = spec["dtype"]
        if name not in _MASKED:
            raise WireError(f"{where}: unsupported nullable dtype {name!r}")
        numpy_name, build = _MASKED[name]
        values = _flat({"dtype": numpy_name, "data": spec["data"]}, where)
        mask = _flat({"dtype": "bool", "data": spec["mask"]}, where)
        if len(mask) != len(values):
            raise WireError(f"{where}: the mask and the values differ in length")
        return build(values, mask)
    categories = _column(spec["categories"], depth + 1, f"{where}.categories")
    codes = _flat(spec["codes"], f"{where}.codes")
    if codes.dtype.kind not in "iu":
        raise WireError(f"{where}: category codes must be integers")
    if len(codes) and (codes.min() < -1 or codes.max() >= len(categories)):
        raise WireError(f"{where}: a category code is out of range")
    ordered = _field(spec, "ordered", bool, where)
    category = pd.CategoricalDtype(pd.Index(categories, dtype=categories.dtype), ordered=ordered)
    return pd.Categorical.from_codes(cast(Any, codes), dtype=category)


def _string_dtype(storage: Literal["python", "pyarrow"], nan: bool) -> pd.StringDtype[Any]:
    if not nan:
        return pd.StringDtype(storage)
    try:
        return pd.StringDtype(storage, na_value=np.nan)
    except TypeError:  # pandas < 2.3 has only the pd.NA variant
        return pd.StringDtype(storage)


def _tag_index(obj: Mapping[str, Any], depth: int, where: str) -> pd.Index:
    name = _hashable(_decode(obj["name"], depth + 1, f"{where}.name"), where)
    values = _column(obj["values"], depth + 1, f"{where}.values")
    return pd.Index(values, dtype=values.dtype, name=name, copy=False, tupleize_cols=False)


def _tag_range_index(obj: Mapping[str, Any], depth: int, where: str) -> pd.RangeIndex:
    start, stop, step = (_field(obj, k, int, where) for k in ("start", "stop", "step"))
    if step == 0:
        raise WireError(f"{where}: a range's step cannot be 0")
    name = _hashable(_decode(obj["name"], depth + 1, f"{where}.name"), where)
    return pd.RangeIndex(start, stop, step, name=name)


def _any_index(obj: Any, depth: int, where: str) -> pd.Index:
    if not isinstance(obj, dict) or obj.get(TAG) not in ("index", "range_index", "multi_index"):
        raise WireError(f"{where}: expected an encoded index")
    index: pd.Index = _decode(obj, depth, where)
    return index


def _tag_multi_index(obj: Mapping[str, Any], depth: int, where: str) -> pd.MultiIndex:
    levels = [
        _any_index(level, depth + 1, f"{where}.levels[{i}]")
        for i, level in enumerate(_field(obj, "levels", list, where))
    ]
    codes = [
        _flat(c, f"{where}.codes[{i}]") for i, c in enumerate(_field(obj, "codes", list, where))
    ]
    names = [
        _hashable(_decode(n, depth + 1, f"{where}.names"), where)
        for n in _field(obj, "names", list, where)
    ]
    if not (len(levels) == len(codes) == len(names)) or not levels:
        raise WireError(f"{where}: a MultiIndex needs as many levels, codes and names, at least 1")
    if len({len(c) for c in codes}) > 1:
        raise WireError(f"{where}: the MultiIndex's codes differ in length")
    for level, code in zip(levels, codes, strict=True):
        if code.dtype.kind not in "iu":
            raise WireError(f"{where}: MultiIndex codes must be integers")
        if len(code) and (code.min() < -1 or code.max() >= len(level)):
            raise WireError(f"{where}: a MultiIndex code is out of range")
    return pd.MultiIndex(
        levels=cast(Any, levels), codes=cast(Any, codes), names=names, verify_integrity=False
    )


def _attrs(obj: Mapping[str, Any], depth: int, where: str) -> dict[Any, Any]:
    attrs = _decode(obj["attrs"], depth + 1, f"{where}.attrs")
    if not isinstance(attrs, dict):
        raise WireError(f"{where}: 'attrs' must be a dict")
    return attrs


def _tag_series(obj: Mapping[str, Any], depth: int, where: str) -> pd.Series:
    index = _any_index(obj["index"], depth + 1, f"{where}.index")
    values = _column(obj["values"], depth + 1, f"{where}.values")
    if len(values) != len(index):
        raise WireError(f"{where}: {len(values)} values for an index of {len(index)}")
    name = _hashable(_decode(obj["name"], depth + 1, f"{where}.name"), where)
    series = pd.Series(values, index=index, dtype=values.dtype, name=name, copy=False)
    series.attrs.update(_attrs(obj, depth, where))
    return series


def _tag_dataframe(obj: Mapping[str, Any], depth: int, where: str) -> pd.DataFrame:
    index = _any_index(obj["index"], depth + 1, f"{where}.index")
    columns = _any_index(obj["columns"], depth + 1, f"{where}.columns")
    data = [
        _column(c, depth + 1, f"{where}.data[{i}]")
        for i, c in enumerate(_field(obj, "data", list, where))
    ]
    if len(data) != len(columns):
        raise WireError(f"{where}: {len(data)} columns of data for {len(columns)} column labels")
    for i, values in enumerate(data):
        if len(values) != len(index):
            raise WireError(f"{where}: column {i} has {len(values)} values, the index {len(index)}")
    frame = pd.DataFrame(
        {i: pd.Series(v, dtype=v.dtype, index=index, copy=False) for i, v in enumerate(data)},
        index=index,
    )
    frame.columns = columns
    frame.attrs.update(_attrs(obj, depth, where))
    return frame


def _tag_dataclass(obj: Mapping[str, Any], depth: int, where: str) -> Any:
    name = _field(obj, "class", str, where)
    raw = _field(obj, "fields", dict, where)
    values = {k: _decode(v, depth + 1, f"{where}.{k}") for k, v in raw.items()}
    cls = DATACLASSES.get(name)
    if cls is None:
        return values
    init = {f.name for f in dataclasses.fields(cls) if f.init}
    if set(values) != {f.name for f in dataclasses.fields(cls)}:
        raise WireError(f"{where}: the fields of {name} do not match the class")
    return cls(**{k: v for k, v in values.items() if k in init})


_TAGS: Mapping[str, tuple[frozenset[str], Callable[[Mapping[str, Any], int, str], Any]]] = {
    "int": (frozenset({"value"}), _tag_int),
    "float": (frozenset({"value"}), _tag_float),
    "tuple": (frozenset({"items"}), _tag_tuple),
    "bytes": (frozenset({"data"}), _tag_bytes),
    "dict": (frozenset({"items"}), _tag_dict),
    "na": (frozenset(), _tag_na),
    "npscalar": (frozenset({"dtype", "value"}), _tag_npscalar),
    "ndarray": (frozenset({"dtype", "shape", "data"}), _tag_ndarray),
    "index": (frozenset({"name", "values"}), _tag_index),
    "range_index": (frozenset({"start", "stop", "step", "name"}), _tag_range_index),
    "multi_index": (frozenset({"levels", "codes", "names"}), _tag_multi_index),
    "series": (frozenset({"name", "index", "values", "attrs"}), _tag_series),
    "dataframe": (frozenset({"index", "columns", "data", "attrs"}), _tag_dataframe),
    "dataclass": (frozenset({"class", "fields"}), _tag_dataclass),
}
