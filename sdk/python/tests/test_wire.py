"""`delta._wire`: results survive JSON exactly (through strict JSON text,
as the worker stores them), and decoding refuses what encoding never
produces."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from delta import _wire
from delta.check import Violation
from delta.mapreduce import Step


def through_json(value: Any) -> Any:
    """Encode, write strict JSON text, read it back, decode."""
    text = json.dumps(_wire.encode(value), allow_nan=False)
    return _wire.loads(text)


def same(a: Any, b: Any) -> None:
    """Exact equality, with types, for nested plain values and numpy/pandas."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, pd.DataFrame):
        pdt.assert_frame_equal(a, b, check_exact=True, check_index_type=True)
        assert a.attrs.keys() == b.attrs.keys()
        for key in a.attrs:
            same(a.attrs[key], b.attrs[key])
    elif isinstance(a, pd.Series):
        pdt.assert_series_equal(a, b, check_exact=True, check_index_type=True)
        same(a.attrs, b.attrs)
    elif isinstance(a, pd.Index):
        pdt.assert_index_equal(a, b, exact=True, check_exact=True)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            same(a[key], b[key])
    else:
        assert a == b


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -7,
        2**53 - 1,
        2**53,
        -(2**80),
        1.5,
        -0.0,
        math.nan,
        math.inf,
        -math.inf,
        "",
        "héllo \u2603",
        "$type",
        [],
        [1, "a", None, [2.5, math.nan]],
        (),
        (1, (2, "x")),
        {},
        {"a": 1, "b": [math.inf]},
        {"$type": "not a tag"},
        {1: "one", 2.5: "x", (1, "a"): None, None: 0, False: "f"},
        {"nested": {"k": ({"$x": 1},)}},
    ],
)
def test_plain_values_round_trip(value: Any) -> None:
    same(value, through_json(value))


def test_special_floats_and_big_ints_are_tagged() -> None:
    encoded = _wire.encode([math.nan, math.inf, -math.inf, 2**60])
    assert encoded == [
        {"$type": "float", "value": "nan"},
        {"$type": "float", "value": "inf"},
        {"$type": "float", "value": "-inf"},
        {"$type": "int", "value": str(2**60)},
    ]
    json.dumps(encoded, allow_nan=False)


@pytest.mark.parametrize(
    "value",
    [
        np.float64(1.25),
        np.float64(math.nan),
        np.float32(0.1),
        np.int64(-(2**62)),
        np.uint8(200),
        np.bool_(True),
        np.datetime64("2024-03-01T12:00", "ns"),
        np.timedelta64(5, "s"),
    ],
)
def test_numpy_scalars_round_trip(value: np.generic) -> None:
    same(value, through_json(value))


@pytest.mark.parametrize(
    "value",
    [
        np.arange(12, dtype=np.float64).reshape(3, 4),
        np.array([math.nan, -0.0, math.inf]),
        np.array([], dtype=np.int64),
        np.array(3.5),
        np.array([[True, False]]),
        np.array([1, 2], dtype=np.int32),
        np.arange(6, dtype=np.int64).reshape(2, 3).T,  # not contiguous
        np.array([1, 2], dtype=">i8"),  # big-endian comes back native
        np.array(["2024-01-01", "NaT"], dtype="datetime64[s]"),
    ],
)
def test_arrays_round_trip(value: np.ndarray) -> None:
    back = through_json(value)
    np.testing.assert_array_equal(back, value)
    assert back.shape == value.shape and back.dtype == value.dtype.newbyteorder("=")


def test_object_and_string_arrays_are_refused() -> None:
    with pytest.raises(TypeError, match="numpy array of dtype object"):
        _wire.encode(np.array([1, "a"], dtype=object))
    with pytest.raises(TypeError, match="dtype <U1|dtype str"):
        _wire.encode(np.array(["a"]))


def frames() -> list[pd.DataFrame]:
    multi = pd.MultiIndex.from_product([["F", "M"], [0, 1]], names=["sex", "smoker"])
    return [
        pd.DataFrame({"a": [1.0, math.nan, 3.0], "b": [1, 2, 3], "c": ["x", None, "z"]}),
        pd.DataFrame(
            {"coef": [0.5, 1.5], "std_err": [0.1, math.nan], "t": [5.0, math.inf]},
            index=pd.Index(["Intercept", "age"]),
        ),
        pd.DataFrame({"n": [1, 2, 3, 4]}, index=multi),
        pd.DataFrame(np.arange(6.0).reshape(3, 2), columns=pd.Index([10, 20], name="cols")),
        pd.DataFrame({("a", "mean"): [1.0], ("a", "count"): [2]}),
        pd.DataFrame(),
        pd.DataFrame(columns=["a", "b"]),
        pd.DataFrame({"a": pd.Series([], dtype=np.float64)}),
        pd.DataFrame(index=pd.RangeIndex(5, 11, 2)),
        pd.DataFrame(
            {
                "flag": [True, False],
                "cat": pd.Categorical(["lo", "hi"], categories=["lo", "hi", "mid"], ordered=True),
                "nullable": pd.array([1, None], dtype="Int64"),
                "f32": np.array([1.5, 2.5], dtype=np.float32),
                "when": pd.to_datetime(["2024-01-01", None]),
                "obj": pd.Series([1, "a"], dtype=object),
                "pyarrow_str": pd.array(["p", None], dtype="string[pyarrow]"),
                "python_str": pd.array(["q", None], dtype="string[python]"),
                "boolean": pd.array([True, None], dtype="boolean"),
            },
            index=pd.Index([7, 7], name="dup"),
        ),
        pd.DataFrame([[1, 2]], columns=["x", "x"]),
    ]


@pytest.mark.parametrize("frame", frames())
def test_frames_round_trip(frame: pd.DataFrame) -> None:
    frame.attrs.update({"n": 3, "r2": math.nan, "note": "ok"})
    same(frame, through_json(frame))


def test_series_round_trip() -> None:
    cases = [
        pd.Series([1.0, math.nan], index=pd.Index(["F", "M"], name="sex"), name="bmi"),
        pd.Series([], dtype=np.float64),
        pd.Series([3, 4], index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)]), name=("t", 1)),
        pd.Series([0.25, 0.5], index=pd.Index([0.25, 0.75]), name="age"),
        pd.Series(pd.Categorical(["a", None, "b"])),
        pd.Series([1, 2], index=pd.CategoricalIndex(["x", "y"], name="c")),
        pd.Series(["a", "b"], index=pd.Index([False, True])),
        # histograms: counts by interval, closed on either side
        pd.Series([4, 7], index=pd.IntervalIndex.from_breaks([0, 18, 40], name="age")),
        pd.Series([1.0, 2.0], index=pd.IntervalIndex.from_breaks([0, 18.5, 25], closed="left")),
        pd.Series(pd.arrays.IntervalArray.from_tuples([(0.0, 1.0), None, (2.0, 3.0)])),
        pd.Series(pd.cut([1.0, 5.0, math.nan, 30.0], [0, 10, 40])),
    ]
    for series in cases:
        series.attrs["converged"] = True
        same(series, through_json(series))


def test_indexes_round_trip() -> None:
    for index in [
        pd.RangeIndex(3, name="r"),
        pd.Index([1.5, math.nan]),
        pd.Index([(1, 2), (3, 4)], tupleize_cols=False),
        pd.MultiIndex.from_arrays([[1, 2], ["a", None]], names=["x", None]),
        pd.IntervalIndex.from_breaks([0, 1, 2], closed="both", name="i"),
        pd.IntervalIndex.from_breaks(pd.to_datetime(["2024-01-01", "2024-02-01"])),
    ]:
        same(index, through_json(index))


def test_analytics_shaped_result_round_trips() -> None:
    coef = pd.DataFrame(
        {"coef": [1.0, 0.1], "std_err": [0.2, 0.01], "t": [5.0, 10.0]},
        index=pd.Index(["Intercept", "age"]),
    )
    coef.attrs.update({"n": 100, "df_resid": 98, "rss": 12.5, "r2": 0.4})
    result = {
        "mean": np.float64(41.5),
        "by_sex": pd.Series([40.0, math.nan], index=pd.Index(["F", "M"], name="sex"), name="bmi"),
        "ols": coef,
        "q": (np.float64(1.0), np.float64(2.0)),
    }
    same(result, through_json(result))


def test_dataclasses() -> None:
    step = Step("s", {"a": 2}, {"k": [1, 2]})
    back = through_json(step)
    assert type(back) is Step and back.name == "s" and dict(back.outputs) == {"a": 2}
    assert through_json(Step("s", {"a": 2}, data=b"\0\xffw")).data == b"\0\xffw"
    assert through_json([b"", b"\x00\x01"]) == [b"", b"\x00\x01"]
    violation = Violation("task.py", 3, 1, "no")
    assert through_json([violation]) == [violation]

    @dataclass
    class Mine:
        x: float
        y: tuple[int, int]

    # A class outside the allowlist comes back as its fields: never imported.
    assert through_json(Mine(math.inf, (1, 2))) == {"x": math.inf, "y": (1, 2)}


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({1, 2}, "set"),
        (object(), "object"),
        (1 + 2j, "complex"),
        (pd.Timestamp("2024-01-01"), "Timestamp"),
        ({"a": [lambda: 1]}, "function"),
        (np.complex128(1j), "complex128"),
        (pd.Series([1 + 1j]), "complex128"),
    ],
)
def test_unsupported_types_are_named(value: Any, named: str) -> None:
    with pytest.raises(TypeError, match=named):
        _wire.encode(value)


def test_cycles_and_depth_are_refused() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="contains itself"):
        _wire.encode(cyclic)
    deep: Any = 1
    for _ in range(_wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ValueError, match="deeper"):
        _wire.encode(deep)
    with pytest.raises(_wire.WireError, match="deeper"):
        _wire.decode(json.loads("[" * 300 + "]" * 300))


@pytest.mark.parametrize(
    "obj",
    [
        {"$type": "pickle", "data": "gASV"},
        {"$type": "module", "name": "os"},
        {"$evil": 1},
        {"$type": 3},
        {"$type": "float", "value": "NaN!"},
        {"$type": "float", "value": "nan", "extra": 1},
        {"$type": "tuple"},
        {"$type": "int", "value": "12a"},
        {"$type": "ndarray", "dtype": "object", "shape": [1], "data": ""},
        {"$type": "ndarray", "dtype": "float64", "shape": [2], "data": "AAAAAAAA8D8="},
        {"$type": "ndarray", "dtype": "float64", "shape": [1], "data": "not base64!"},
        {"$type": "dict", "items": [[[1], 2]]},
        {
            "$type": "series",
            "name": None,
            "index": {"$type": "range_index", "start": 0, "stop": 2, "step": 1, "name": None},
            "values": {"kind": "numpy", "dtype": "float64", "data": ""},
            "attrs": {},
        },
        {"$type": "index", "name": None, "values": {"kind": "eval", "items": []}},
        {
            "$type": "index",
            "name": None,
            "values": {
                "kind": "interval",
                "closed": "up",
                "left": {"dtype": "int64", "data": ""},
                "right": {"dtype": "int64", "data": ""},
            },
        },
        {
            "$type": "index",
            "name": None,
            "values": {
                "kind": "interval",
                "closed": "left",
                "left": {"dtype": "int64", "data": "AQAAAAAAAAA="},  # 1
                "right": {"dtype": "int64", "data": "AAAAAAAAAAA="},  # 0: ends reversed
            },
        },
    ],
)
def test_decode_refuses_what_encode_never_writes(obj: Any) -> None:
    with pytest.raises(_wire.WireError):
        _wire.decode(obj)


def test_loads_refuses_nan_tokens() -> None:
    with pytest.raises(_wire.WireError, match="NaN"):
        _wire.loads("[NaN]")
    assert _wire.dumps({"x": math.nan}) == '{"x":{"$type":"float","value":"nan"}}'
