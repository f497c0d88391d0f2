"""`delta.datasets.prepare`: every format, every cleaning rule, and an
error message that names the problem for each way a spec or file is
wrong."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from delta.datasets import DatasetError, prepare

CSV = """\
age,bmi,sex,smoker,note
34,22.5,F,yes,a
abc,30.1,M,no,b
150,,M,1,c
-3,19.0,X,0,d
61,25.0,F,true,007
"""


def write_csv(tmp_path: Path, text: str = CSV) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def run(tmp_path: Path, spec: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame]:
    out = tmp_path / "out.parquet"
    report = prepare({"name": "patients", **spec}, out)
    return report, pd.read_parquet(out)


def test_csv_without_columns_keeps_everything(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    report, frame = run(tmp_path, {"path": str(path)})
    assert report["rows"] == 5 and report["dropped_rows"] == 0
    assert [c["name"] for c in report["columns"]] == ["age", "bmi", "sex", "smoker", "note"]
    assert {c["name"]: c["type"] for c in report["columns"]}["bmi"] == "float"
    assert {c["name"]: c["type"] for c in report["columns"]}["age"] == "str"  # "abc" is text
    assert list(frame.columns) == ["age", "bmi", "sex", "smoker", "note"]


def test_declared_columns_only_in_declared_order(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    report, frame = run(
        tmp_path,
        {
            "path": str(path),
            "format": "csv",
            "columns": {
                "note": {"type": "str"},
                "bmi": {"type": "float", "missing": "fill", "fill": 0},
            },
        },
    )
    assert list(frame.columns) == ["note", "bmi"]
    assert frame["note"].tolist() == ["a", "b", "c", "d", "007"]  # text stays text
    assert frame["bmi"].tolist() == [22.5, 30.1, 0.0, 19.0, 25.0]
    assert report == {
        "rows": 5,
        "columns": [{"name": "note", "type": "str"}, {"name": "bmi", "type": "float"}],
        "dropped_rows": 0,
        "filled": {"bmi": 1},
        "clipped": {},
    }


def test_drop_rules(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    report, frame = run(
        tmp_path,
        {"path": str(path), "columns": {"age": {"type": "int", "min": 0, "max": 120}}},
    )
    # "abc" is missing (dropped), 150 and -3 are out of range (dropped).
    assert frame["age"].tolist() == [34, 61]
    assert frame["age"].dtype == np.int64
    assert report["dropped_rows"] == 3 and report["rows"] == 2


def test_clip_and_fill(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    report, frame = run(
        tmp_path,
        {
            "path": str(path),
            "columns": {
                "age": {
                    "type": "float",
                    "min": 0,
                    "max": 120,
                    "missing": "fill",
                    "fill": 50,
                    "out_of_range": "clip",
                },
            },
        },
    )
    assert frame["age"].tolist() == [34.0, 50.0, 120.0, 0.0, 61.0]
    assert report["filled"] == {"age": 1} and report["clipped"] == {"age": 2}
    # The declared bounds are published (the rule, not a value seen).
    assert report["columns"] == [{"name": "age", "type": "float", "min": 0, "max": 120}]


def test_rows_dropped_by_one_column_are_not_counted_in_another(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    report, frame = run(
        tmp_path,
        {
            "path": str(path),
            "columns": {
                "age": {"type": "float"},
                "bmi": {"type": "float", "missing": "fill", "fill": 20.0},
            },
        },
    )
    assert report["dropped_rows"] == 1  # "abc"
    assert report["filled"] == {"bmi": 1}
    assert frame["age"].tolist() == [34.0, 150.0, -3.0, 61.0]


def test_bool_and_category(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    report, frame = run(
        tmp_path,
        {
            "path": str(path),
            "columns": {
                "smoker": {"type": "bool"},
                "sex": {"type": "category", "levels": ["F", "M"]},
            },
        },
    )
    assert frame["smoker"].tolist() == [True, False, True, True]  # row 4 ("X") dropped
    assert frame["smoker"].dtype == bool
    assert isinstance(frame["sex"].dtype, pd.CategoricalDtype)
    assert list(frame["sex"].cat.categories) == ["F", "M"]
    assert frame["sex"].tolist() == ["F", "M", "M", "F"]  # "X" is not a level: dropped
    assert report["dropped_rows"] == 1
    assert report["columns"] == [
        {"name": "smoker", "type": "bool"},
        {"name": "sex", "type": "category", "levels": ["F", "M"]},
    ]


def test_category_fill_must_be_a_level(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    with pytest.raises(DatasetError, match="fill value 'U' is not one of the levels"):
        run(
            tmp_path,
            {
                "path": str(path),
                "columns": {
                    "sex": {
                        "type": "category",
                        "levels": ["F", "M"],
                        "missing": "fill",
                        "fill": "U",
                    }
                },
            },
        )
    report, frame = run(
        tmp_path,
        {
            "path": str(path),
            "columns": {
                "sex": {
                    "type": "category",
                    "levels": ["F", "M", "U"],
                    "missing": "fill",
                    "fill": "U",
                }
            },
        },
    )
    assert frame["sex"].tolist() == ["F", "M", "M", "U", "F"]
    assert report["filled"] == {"sex": 1}


def test_error_rules_name_column_and_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    with pytest.raises(
        DatasetError, match=r"column 'age': row 2 has 'abc', which is not a valid int"
    ):
        run(tmp_path, {"path": str(path), "columns": {"age": {"type": "int", "missing": "error"}}})
    with pytest.raises(DatasetError, match=r"column 'bmi': row 3 has no value"):
        run(
            tmp_path, {"path": str(path), "columns": {"bmi": {"type": "float", "missing": "error"}}}
        )
    with pytest.raises(DatasetError, match=r"column 'age': row 3 has 150.0, outside \[0, 120\]"):
        run(
            tmp_path,
            {
                "path": str(path),
                "columns": {
                    "age": {"type": "float", "min": 0, "max": 120, "out_of_range": "error"}
                },
            },
        )
    with pytest.raises(DatasetError, match=r"row 4 has 'X', which is not one of the levels"):
        run(
            tmp_path,
            {
                "path": str(path),
                "columns": {"sex": {"type": "category", "levels": ["F", "M"], "missing": "error"}},
            },
        )


def test_parquet(tmp_path: Path) -> None:
    source = pd.DataFrame(
        {"x": [1.0, math.nan, 3.0, math.inf], "k": [1, 2, 3, 4], "s": ["a", "b", None, "d"]}
    )
    path = tmp_path / "data.pq"
    source.to_parquet(path)
    report, frame = run(
        tmp_path,
        {"path": str(path), "columns": {"k": {"type": "int", "max": 3}, "x": {"type": "float"}}},
    )
    # inf counts as missing; k == 4 is out of range (same row).
    assert frame["k"].tolist() == [1, 3] and frame["x"].tolist() == [1.0, 3.0]
    assert report["dropped_rows"] == 2
    _, everything = run(tmp_path, {"path": str(path)})
    pdt.assert_frame_equal(everything, pd.read_parquet(path))


def test_npy(tmp_path: Path) -> None:
    path = tmp_path / "table.npy"
    np.save(path, np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]]))
    report, frame = run(tmp_path, {"path": str(path), "npy_columns": ["a", "b"]})
    assert report["rows"] == 3 and list(frame.columns) == ["a", "b"]
    report, frame = run(
        tmp_path,
        {"path": str(path), "npy_columns": ["a", "b"], "columns": {"b": {"type": "float"}}},
    )
    assert frame["b"].tolist() == [2.0, 6.0] and list(frame.columns) == ["b"]
    with pytest.raises(DatasetError, match="name its 2 columns with npy_columns"):
        run(tmp_path, {"path": str(path)})
    with pytest.raises(DatasetError, match="npy_columns names 3 columns but table.npy has 2"):
        run(tmp_path, {"path": str(path), "npy_columns": ["a", "b", "c"]})


def test_npy_object_arrays_are_never_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match="pickled data is never loaded"):
        run(tmp_path, {"path": str(path), "npy_columns": ["a"]})


def test_npz_columns_by_key_and_2d_by_npz_key(tmp_path: Path) -> None:
    path = tmp_path / "cols.npz"
    np.savez(path, age=np.array([30.0, 40.0]), smoker=np.array([True, False]))
    report, frame = run(tmp_path, {"path": str(path)})
    assert list(frame.columns) == ["age", "smoker"]
    assert {c["name"]: c["type"] for c in report["columns"]} == {"age": "float", "smoker": "bool"}

    table = tmp_path / "table.npz"
    np.savez(table, data=np.arange(6.0).reshape(3, 2), other=np.zeros(2))
    _, frame = run(tmp_path, {"path": str(table), "npz_key": "data", "npy_columns": ["u", "v"]})
    assert frame["v"].tolist() == [1.0, 3.0, 5.0]
    with pytest.raises(DatasetError, match="set npz_key to read a 2-D table"):
        run(tmp_path, {"path": str(table)})
    with pytest.raises(DatasetError, match="has no array 'nope'"):
        run(tmp_path, {"path": str(table), "npz_key": "nope", "npy_columns": ["u", "v"]})
    with pytest.raises(DatasetError, match="without npz_key each array"):
        run(tmp_path, {"path": str(path), "npy_columns": ["u", "v"]})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"path": "/nonexistent/data.csv"}, "does not exist"),
        ({"path": "/x/data.txt"}, "cannot tell the format"),
        ({"path": "/x/data.csv", "format": "xlsx"}, "unknown format 'xlsx'"),
        ({"path": "/x/data.csv", "colums": {}}, "unknown key 'colums'"),
        (
            {"path": "/x/data.csv", "columns": {"a": {"type": "float", "maxx": 1}}},
            "unknown key 'maxx'",
        ),
        ({"path": "/x/data.csv", "columns": {"a": {"type": "double"}}}, "'type' must be one of"),
        (
            {"path": "/x/data.csv", "columns": {"a": {"type": "str", "min": 0}}},
            "only applies to numeric",
        ),
        (
            {"path": "/x/data.csv", "columns": {"a": {"type": "category", "max": 1}}},
            "only applies to numeric",
        ),
        ({"path": "/x/data.csv", "columns": {"a": {"type": "float", "min": "0"}}}, "finite number"),
        (
            {"path": "/x/data.csv", "columns": {"a": {"type": "float", "min": 5, "max": 1}}},
            "above max",
        ),
        (
            {"path": "/x/data.csv", "columns": {"a": {"type": "float", "missing": "fill"}}},
            "needs a 'fill'",
        ),
        ({"path": "/x/data.csv", "columns": {"a": {"type": "float", "fill": 1}}}, "only used with"),
        (
            {
                "path": "/x/data.csv",
                "columns": {"a": {"type": "int", "missing": "fill", "fill": 1.5}},
            },
            "integer",
        ),
        (
            {
                "path": "/x/data.csv",
                "columns": {"a": {"type": "float", "max": 1, "missing": "fill", "fill": 2}},
            },
            "outside",
        ),
        (
            {"path": "/x/data.csv", "columns": {"a": {"type": "float", "missing": "skip"}}},
            "'missing' must be",
        ),
        (
            {"path": "/x/data.csv", "columns": {"a": {"type": "str", "levels": ["x"]}}},
            "only applies to category",
        ),
        ({"path": "/x/data.csv", "npy_columns": ["a"]}, "only applies to .npy"),
        ({"path": "/x/data.npy", "npz_key": "a"}, "only applies to .npz"),
        ({"path": 3}, "'path' must be"),
    ],
)
def test_spec_errors(tmp_path: Path, spec: dict[str, Any], message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        run(tmp_path, spec)


def test_spec_needs_a_name(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="'name' must be"):
        prepare({"path": "/x.csv"}, tmp_path / "o.parquet")


def test_absent_column_is_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    with pytest.raises(DatasetError, match=r"column 'weight' is declared but not in data.csv"):
        run(
            tmp_path,
            {"path": str(path), "columns": {"age": {"type": "float"}, "weight": {"type": "float"}}},
        )
    pq = tmp_path / "d.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(pq)
    with pytest.raises(DatasetError, match=r"column 'b' is declared but not in d.parquet"):
        run(tmp_path, {"path": str(pq), "columns": {"b": {"type": "float"}}})


def test_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(DatasetError, match="cannot read .* as parquet"):
        run(tmp_path, {"path": str(bad)})
    bad_npy = tmp_path / "bad.npy"
    bad_npy.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DatasetError, match="cannot read .* as npy"):
        run(tmp_path, {"path": str(bad_npy), "npy_columns": ["a"]})


def test_empty_result_is_written(tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    report, frame = run(
        tmp_path, {"path": str(path), "columns": {"age": {"type": "float", "min": 1000}}}
    )
    assert report["rows"] == 0 and len(frame) == 0 and list(frame.columns) == ["age"]
