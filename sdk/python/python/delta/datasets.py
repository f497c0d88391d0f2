"""`delta.datasets`: a data holder's dataset, read and cleaned once.

The holder's worker runs `prepare` for each dataset of its configuration
when it starts (`python3 -I -m delta._runner prepare ...`), and tasks only
ever see the cleaned Parquet file it writes. Cleaning happens here, at the
holder, under the holder's rules, because a task cannot clean what it
cannot see: a value of 999 meaning "unknown", or a typo in a category,
would otherwise flow straight into every member's sums.

A spec (from the holder's TOML, as JSON):

    {"name": "patients", "path": "/data/patients.csv", "format": null,
     "columns": {"age": {"type": "float", "min": 0, "max": 120,
                         "missing": "drop", "out_of_range": "clip"},
                 "sex": {"type": "category", "levels": ["F", "M"]}},
     "npy_columns": null, "npz_key": null}

- `format`: "csv", "parquet", "npy", "npz" or "images"; null: from the
  file's suffix (.csv, .parquet or .pq, .npy, .npz). "images" is a folder
  with one sub-folder per class (`delta.images`), read into an `image`
  and a `label` column; `image_size` ([height, width]: resize to it) and
  `image_mode` ("RGB", the default, or "L") apply to it, `columns` does not.
- `sql` instead of `path` (and no `format`): {"url", "table" or "query",
  "password_file" or "password_env"}, read by `delta.sources.read_sql`;
  the rows are then cleaned by `columns` as a file's are.
- `store` instead of `path`: {"url": "s3://bucket/key" or
  "hdfs://namenode:port/path", and the scheme's settings}, one CSV or
  Parquet file or a folder of them, read by `delta.stores.read_store`
  (`format` from the URL's suffix, or given for a folder) and cleaned by
  `columns` as a file's are.
- `columns`: the columns tasks see, in this order; all others are dropped.
  Each has a `type` (float, int, bool, str, category). Values that cannot
  be converted to it count as missing (for numbers: also NaN and
  infinities; for bool: anything but true/false/1/0/yes/no/t/f/y/n in any
  case; for a category with `levels`: any other value). Then the
  `missing` rule ("drop" the row, the default; "fill" with `fill`; or
  "error"), then, for numeric columns with `min`/`max`, the `out_of_range`
  rule ("drop", the default; "clip"; or "error"). "error" rules are checked
  on every row of the file, before any row is dropped, so that a file
  breaking the holder's rules is refused whatever the other columns hold.
  Without `columns`: every column, types as read, no cleaning.
- `npy_columns`: names of a 2-D .npy array's columns (or of the 2-D array
  `npz_key` names in an .npz). Without `npz_key`, every array in the .npz
  must be 1-D and becomes the column named by its key. Arrays are read
  with `allow_pickle=False`: object arrays are refused, never unpickled.

Row numbers in messages count data rows from 1 (a CSV's header line is
not a row).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .images import IMAGE_MODES, ImageFolderError, image_size_of, read_image_folder
from .sources import SourceError, read_sql, stream_sql
from .stores import SUFFIXES, StoreError, read_store

__all__ = ["COLUMN_TYPES", "FORMATS", "DatasetError", "prepare"]

FORMATS = ("csv", "parquet", "npy", "npz", "images")
COLUMN_TYPES = ("float", "int", "bool", "str", "category")
NUMERIC_TYPES = ("float", "int")

_SPEC_KEYS = frozenset(
    {
        "name",
        "path",
        "sql",
        "store",
        "format",
        "columns",
        "npy_columns",
        "npz_key",
        "image_size",
        "image_mode",
    }
)
_COLUMN_KEYS = frozenset({"type", "min", "max", "levels", "missing", "fill", "out_of_range"})
_MISSING_RULES = ("drop", "fill", "error")
_RANGE_RULES = ("drop", "clip", "error")
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".npy": "npy", ".npz": "npz"}
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})
_INT_LIMIT = float(2**63)


class DatasetError(Exception):
    """The dataset cannot be prepared; the message names the dataset and
    says what to fix (the spec, or the file)."""


@dataclass(frozen=True)
class _Column:
    """One declared column and its cleaning rules."""

    name: str
    type: str
    min: float | None
    max: float | None
    levels: tuple[str, ...] | None
    missing: str
    fill: Any
    out_of_range: str


@dataclass(frozen=True)
class _Spec:
    name: str
    path: Path
    format: str
    columns: tuple[_Column, ...] | None
    npy_columns: tuple[str, ...] | None
    npz_key: str | None
    image_size: tuple[int, int] | None = None
    image_mode: str = "RGB"
    sql: Mapping[str, Any] | None = None
    store: Mapping[str, Any] | None = None


def prepare(spec: Mapping[str, Any], out: str | Path) -> dict[str, Any]:
    """Reads the dataset `spec` describes, cleans it by its rules, writes it
    to `out` as Parquet, and returns what was done:

        {"rows": n, "columns": [{"name", "type", "levels"?, "min"?, "max"?}],
         "dropped_rows": k,
         "filled": {column: count}, "clipped": {column: count}}

    `filled` and `clipped` list every column with a "fill" missing rule or
    a "clip" range rule (0 when nothing was changed). Raises `DatasetError`.
    """
    parsed = _parse_spec(spec)
    out = Path(out)
    if parsed.format == "images":
        return _prepare_images(parsed, out)
    if parsed.columns is None:
        frame = _read(parsed).reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        report: dict[str, Any] = {"rows": len(frame), "dropped_rows": 0, "filled": {}}
        report["clipped"] = {}
        types = {str(c): _inferred_type(frame[c]) for c in frame.columns}
        _write(parsed, frame, out)
    else:
        try:
            frame, report = _prepare_batches(parsed, out)
        except BaseException:
            out.unlink(missing_ok=True)  # no half-written snapshot stays behind
            raise
        types = {c.name: c.type for c in parsed.columns}
    declared = {c.name: c for c in parsed.columns or ()}
    columns = []
    for name, kind in types.items():
        column: dict[str, Any] = {"name": name, "type": kind}
        rules = declared.get(name)
        if rules is not None and kind in NUMERIC_TYPES:
            # Declared bounds are the holder's rules, published so that a
            # requester can scale and clip; never a value seen in the data.
            for key, bound in (("min", rules.min), ("max", rules.max)):
                if bound is not None:
                    column[key] = int(bound) if float(bound).is_integer() else float(bound)
        if kind == "category":
            # A requester writes `groupby("sex")` knowing the levels; they
            # are the holder's declared schema, not its data (without
            # declared levels: the values present, which the holder shares).
            column["levels"] = [str(level) for level in frame[name].cat.categories]
        columns.append(column)
    return {"rows": report.pop("rows"), "columns": columns, **report}


def _prepare_batches(spec: _Spec, out: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Cleans the source batch by batch into the snapshot file; returns the
    last cleaned batch (for its categories) and the report, with `rows`."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    assert spec.columns is not None
    report: dict[str, Any] = {"rows": 0, "dropped_rows": 0, "filled": {}, "clipped": {}}
    writer: Any = None
    schema: Any = None
    frame = pd.DataFrame()
    first_row = 0
    try:
        for raw in _raw_batches(spec):
            frame, counts = _clean(spec, raw, first_row)
            first_row += len(raw)
            report["rows"] += len(frame)
            report["dropped_rows"] += counts["dropped_rows"]
            for key in ("filled", "clipped"):
                for name, n in counts[key].items():
                    report[key][name] = report[key].get(name, 0) + n
            try:
                if writer is None:
                    table = pa.Table.from_pandas(frame, preserve_index=False)
                    # Text columns of a batch with no rows left have no
                    # type of their own yet; every batch is written as the
                    # first one's schema.
                    schema = pa.schema(
                        f.with_type(pa.string()) if pa.types.is_null(f.type) else f
                        for f in table.schema
                    ).with_metadata(table.schema.metadata)
                    table = table.cast(schema)
                    writer = pq.ParquetWriter(out, schema)
                else:
                    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
                writer.write_table(table)
            except Exception as exc:  # pyarrow's errors, OSError
                raise DatasetError(
                    f"dataset {spec.name!r}: cannot write the cleaned data to {out}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
    finally:
        if writer is not None:
            writer.close()
    return frame, report


BATCH_ROWS = 131072
"""Rows read, cleaned and written at a time from a source that streams
(SQL): the snapshot is made without the whole raw table, its converted
columns and the cleaned frame in memory at once."""


def _raw_batches(spec: _Spec) -> Iterator[pd.DataFrame]:
    """The source's rows, declared columns only: streamed in batches from a
    SQL source whose categories all declare their levels (undeclared ones
    are the values present, which needs every row first), else at once.
    At least one frame, possibly empty."""
    assert spec.columns is not None
    wanted = [c.name for c in spec.columns]
    levels_known = all(c.type != "category" or c.levels is not None for c in spec.columns)
    if spec.sql is None or not levels_known:
        yield _read(spec)
        return
    where = f"dataset {spec.name!r}"
    empty = True
    try:
        for batch in stream_sql(spec.sql, BATCH_ROWS):
            yield _declared(where, "the sql source's rows", batch, wanted)
            empty = False
    except SourceError as exc:
        raise DatasetError(f"{where}: {exc}") from None
    if empty:
        # No rows: the declared columns, empty, to clean and write.
        yield pd.DataFrame({name: pd.Series([], dtype=object) for name in wanted})


# -- the spec -----------------------------------------------------------------


def _parse_spec(spec: Any) -> _Spec:
    if not isinstance(spec, Mapping):
        raise DatasetError("a dataset spec must be a JSON object")
    label = spec.get("name")
    where = f"dataset {label!r}" if isinstance(label, str) and label else "dataset"
    unknown = sorted(str(k) for k in set(spec) - _SPEC_KEYS)
    if unknown:
        raise DatasetError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_SPEC_KEYS))})"
        )
    if not isinstance(label, str) or not label:
        raise DatasetError(f"{where}: 'name' must be a non-empty string")
    sql = spec.get("sql")
    if sql is not None:
        return _parse_sql_spec(where, label, spec, sql)
    store = spec.get("store")
    if store is not None:
        return _parse_store_spec(where, label, spec, store)
    path = spec.get("path")
    if not isinstance(path, str) or not path:
        raise DatasetError(f"{where}: 'path' must be the data file's path (or set 'sql')")
    fmt = spec.get("format")
    if fmt is None:
        fmt = _SUFFIXES.get(Path(path).suffix.lower())
        if fmt is None:
            raise DatasetError(
                f"{where}: cannot tell the format of {path} from its suffix; set format to one "
                f"of {', '.join(FORMATS)}"
            )
    elif fmt not in FORMATS:
        raise DatasetError(f"{where}: unknown format {fmt!r} (one of {', '.join(FORMATS)})")

    npy_columns = spec.get("npy_columns")
    if npy_columns is not None:
        if fmt not in ("npy", "npz"):
            raise DatasetError(f"{where}: 'npy_columns' only applies to .npy and .npz files")
        if (
            not isinstance(npy_columns, list)
            or not npy_columns
            or not all(isinstance(c, str) and c for c in npy_columns)
        ):
            raise DatasetError(f"{where}: 'npy_columns' must be a list of column names")
        if len(set(npy_columns)) != len(npy_columns):
            raise DatasetError(f"{where}: 'npy_columns' names a column twice")
    npz_key = spec.get("npz_key")
    if npz_key is not None:
        if fmt != "npz":
            raise DatasetError(f"{where}: 'npz_key' only applies to .npz files")
        if not isinstance(npz_key, str) or not npz_key:
            raise DatasetError(f"{where}: 'npz_key' must name an array in the .npz file")
    if fmt == "npz" and npz_key is None and npy_columns is not None:
        raise DatasetError(
            f"{where}: 'npy_columns' names the columns of the 2-D array 'npz_key' selects; "
            "without npz_key each array in the .npz is a column named by its key"
        )

    image_size, image_mode = spec.get("image_size"), spec.get("image_mode")
    if fmt != "images" and (image_size is not None or image_mode is not None):
        raise DatasetError(f"{where}: 'image_size' and 'image_mode' only apply to image folders")
    if image_mode is not None and image_mode not in IMAGE_MODES:
        raise DatasetError(
            f"{where}: 'image_mode' must be one of {', '.join(sorted(IMAGE_MODES))}, "
            f"not {image_mode!r}"
        )
    try:
        size = image_size_of(image_size)
    except ImageFolderError as exc:
        raise DatasetError(f"{where}: {exc}") from exc

    columns_spec = spec.get("columns")
    columns: tuple[_Column, ...] | None = None
    if fmt == "images" and columns_spec:
        raise DatasetError(
            f"{where}: an image folder's columns are always 'image' and 'label' "
            "(the class sub-folder); remove its columns table"
        )
    if columns_spec is not None:
        if not isinstance(columns_spec, Mapping):
            raise DatasetError(f"{where}: 'columns' must map column names to their rules")
        if columns_spec:
            columns = tuple(
                _parse_column(where, name, rules) for name, rules in columns_spec.items()
            )
    return _Spec(
        name=label,
        path=Path(path),
        format=fmt,
        columns=columns,
        npy_columns=None if npy_columns is None else tuple(npy_columns),
        npz_key=npz_key,
        image_size=size,
        image_mode="RGB" if image_mode is None else image_mode,
    )


def _parse_sql_spec(where: str, label: str, spec: Mapping[str, Any], sql: Any) -> _Spec:
    if not isinstance(sql, Mapping):
        raise DatasetError(f"{where}: 'sql' must be an object with url and table or query")
    for key in ("path", "format", "npy_columns", "npz_key", "image_size", "image_mode"):
        if spec.get(key) is not None:
            raise DatasetError(f"{where}: {key!r} is for files; a sql source has none")
    return _Spec(label, Path(), "sql", _parse_columns(where, spec), None, None, sql=dict(sql))


def _parse_store_spec(where: str, label: str, spec: Mapping[str, Any], store: Any) -> _Spec:
    if not isinstance(store, Mapping) or not isinstance(store.get("url"), str):
        raise DatasetError(f"{where}: 'store' must be an object with a url")
    for key in ("path", "npy_columns", "npz_key", "image_size", "image_mode"):
        if spec.get(key) is not None:
            raise DatasetError(f"{where}: {key!r} does not apply to a store source")
    url = str(store["url"])
    fmt = spec.get("format")
    if fmt is None:
        fmt = _SUFFIXES.get(Path(url).suffix.lower())
        if fmt not in SUFFIXES:
            raise DatasetError(
                f"{where}: cannot tell the format of {url} from its suffix; set format to csv "
                "or parquet"
            )
    elif fmt not in SUFFIXES:
        raise DatasetError(f"{where}: a store source holds csv or parquet files, not {fmt!r}")
    columns = _parse_columns(where, spec)
    return _Spec(label, Path(), fmt, columns, None, None, store=dict(store))


def _parse_columns(where: str, spec: Mapping[str, Any]) -> tuple[_Column, ...] | None:
    """A source's declared columns; None (every column, as read) when the
    spec declares none."""
    columns_spec = spec.get("columns")
    if not columns_spec:
        return None
    if not isinstance(columns_spec, Mapping):
        raise DatasetError(f"{where}: 'columns' must map column names to their rules")
    return tuple(_parse_column(where, name, rules) for name, rules in columns_spec.items())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_column(where: str, name: Any, rules: Any) -> _Column:
    if not isinstance(name, str) or not name:
        raise DatasetError(f"{where}: column names must be non-empty strings")
    at = f"{where}, column {name!r}"
    if not isinstance(rules, Mapping):
        raise DatasetError(f'{at}: its rules must be an object such as {{"type": "float"}}')
    unknown = sorted(str(k) for k in set(rules) - _COLUMN_KEYS)
    if unknown:
        raise DatasetError(
            f"{at}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_COLUMN_KEYS))})"
        )
    kind = rules.get("type")
    if kind not in COLUMN_TYPES:
        raise DatasetError(f"{at}: 'type' must be one of {', '.join(COLUMN_TYPES)}, not {kind!r}")
    numeric = kind in NUMERIC_TYPES

    bounds: dict[str, float | None] = {}
    for key in ("min", "max"):
        value = rules.get(key)
        if value is not None and not numeric:
            raise DatasetError(
                f"{at}: '{key}' only applies to numeric columns (float, int), not a {kind} column"
            )
        if value is not None and (not _is_number(value) or not math.isfinite(value)):
            raise DatasetError(f"{at}: '{key}' must be a finite number, not {value!r}")
        bounds[key] = value
    lo, hi = bounds["min"], bounds["max"]
    if lo is not None and hi is not None and lo > hi:
        raise DatasetError(f"{at}: min {lo} is above max {hi}")

    out_of_range = rules.get("out_of_range", "drop")
    if out_of_range not in _RANGE_RULES:
        raise DatasetError(
            f"{at}: 'out_of_range' must be one of {', '.join(_RANGE_RULES)}, not {out_of_range!r}"
        )
    if "out_of_range" in rules and not numeric:
        raise DatasetError(f"{at}: 'out_of_range' only applies to numeric columns (float, int)")

    levels_spec = rules.get("levels")
    levels: tuple[str, ...] | None = None
    if levels_spec is not None:
        if kind != "category":
            raise DatasetError(f"{at}: 'levels' only applies to category columns")
        if (
            not isinstance(levels_spec, list)
            or not levels_spec
            or not all(isinstance(v, (str, int, float, bool)) for v in levels_spec)
        ):
            raise DatasetError(f"{at}: 'levels' must be a non-empty list of values")
        levels = tuple(_level_text(v) for v in levels_spec)
        if len(set(levels)) != len(levels):
            raise DatasetError(f"{at}: 'levels' lists a value twice")

    missing = rules.get("missing", "drop")
    if missing not in _MISSING_RULES:
        raise DatasetError(
            f"{at}: 'missing' must be one of {', '.join(_MISSING_RULES)}, not {missing!r}"
        )
    fill = rules.get("fill")
    if missing == "fill":
        if fill is None:
            raise DatasetError(f"{at}: missing = \"fill\" needs a 'fill' value")
        fill = _fill_value(at, kind, fill, levels)
        if numeric and ((lo is not None and fill < lo) or (hi is not None and fill > hi)):
            raise DatasetError(f"{at}: the fill value {fill} is outside [{lo}, {hi}]")
    elif "fill" in rules:
        raise DatasetError(f"{at}: 'fill' is only used with missing = \"fill\"")
    return _Column(name, kind, lo, hi, levels, missing, fill, out_of_range)


def _level_text(value: Any) -> str:
    """Categories are compared as text (a CSV holds text); a whole float
    level such as 1.0 is written as 1, as CSV files write it."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _texts(raw: pd.Series, present: np.ndarray, levels: tuple[str, ...] | None) -> np.ndarray:
    """Each value as its text (`_level_text`), None where missing or not
    one of `levels`. A column of one kind (text, numbers, booleans) is
    converted once per distinct value, not once per row: a million rows
    of a few wards or two sexes cost a hash each, not a Python call."""
    kind = pd.api.types.infer_dtype(raw, skipna=True)
    if kind not in ("string", "floating", "integer", "boolean", "empty"):
        # Mixed Python objects: 1, 1.0 and True hash alike, so each is
        # converted on its own.
        texts = [_level_text(v) if p else None for v, p in zip(raw, present, strict=True)]
        if levels is not None:
            allowed = set(levels)
            texts = [t if t in allowed else None for t in texts]
        return np.array(texts, dtype=object)
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    distinct = np.array([_level_text(v) for v in uniques] + [None], dtype=object)
    if levels is not None:
        allowed = set(levels)
        distinct = np.array([t if t in allowed else None for t in distinct], dtype=object)
    # -1 (missing) indexes the trailing None.
    return distinct[codes]


def _fill_value(at: str, kind: str, fill: Any, levels: tuple[str, ...] | None) -> Any:
    if kind == "float":
        if not _is_number(fill) or not math.isfinite(fill):
            raise DatasetError(f"{at}: the fill value must be a finite number, not {fill!r}")
        return float(fill)
    if kind == "int":
        if not _is_number(fill) or not float(fill).is_integer():
            raise DatasetError(f"{at}: the fill value must be an integer, not {fill!r}")
        return int(fill)
    if kind == "bool":
        if not isinstance(fill, bool):
            raise DatasetError(f"{at}: the fill value must be true or false, not {fill!r}")
        return fill
    if isinstance(fill, bool) or not isinstance(fill, (str, int, float)):
        raise DatasetError(f"{at}: the fill value must be text, not {fill!r}")
    text = _level_text(fill)
    if levels is not None and text not in levels:
        raise DatasetError(f"{at}: the fill value {text!r} is not one of the levels {list(levels)}")
    return text


# -- reading ------------------------------------------------------------------


def _prepare_images(spec: _Spec, out: Path) -> dict[str, Any]:
    """An image folder's snapshot: no cleaning rules apply (every readable
    image is a row; an unreadable one is an error naming its file)."""
    try:
        frame = read_image_folder(spec.path, spec.image_size, spec.image_mode)
    except ImageFolderError as exc:
        raise DatasetError(f"dataset {spec.name!r}: {exc}") from exc
    except PermissionError as exc:
        raise DatasetError(
            f"dataset {spec.name!r}: cannot read {exc.filename}: permission denied"
        ) from exc
    shape = frame.attrs["image_shape"]["image"]
    ignored = int(frame.attrs.get("ignored_files", 0))
    _write(spec, frame, out)
    return {
        "rows": len(frame),
        "columns": [
            {"name": "image", "type": "image", "shape": shape},
            {"name": "label", "type": "category", "levels": list(frame["label"].cat.categories)},
        ],
        "dropped_rows": 0,
        "filled": {},
        "clipped": {},
        "ignored_files": ignored,
    }


def _read(spec: _Spec) -> pd.DataFrame:
    where = f"dataset {spec.name!r}"
    wanted = None if spec.columns is None else [c.name for c in spec.columns]
    if spec.sql is not None:
        try:
            frame = read_sql(spec.sql)
        except SourceError as exc:
            raise DatasetError(f"{where}: {exc}") from None
        return _declared(where, "the sql source's rows", frame, wanted)
    if spec.store is not None:
        try:
            frame = read_store(spec.store, spec.format, wanted, _read_csv)
        except StoreError as exc:
            raise DatasetError(f"{where}: {exc}") from None
        except MemoryError as exc:
            raise DatasetError(f"{where}: {spec.store['url']} does not fit in memory") from exc
        except Exception as exc:  # pandas' and Arrow's parsers have their own errors
            raise DatasetError(
                f"{where}: cannot read {spec.store['url']} as {spec.format}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return _declared(where, str(spec.store["url"]), frame, wanted)
    path = spec.path
    if not path.exists():
        raise DatasetError(f"{where}: {path} does not exist")
    if path.is_dir() and spec.format != "parquet":
        raise DatasetError(f"{where}: {path} is a folder, not a {spec.format} file")
    try:
        if spec.format == "csv":
            frame = _read_csv(lambda: path, wanted)
        elif spec.format == "parquet":
            frame = _read_parquet(path, spec, wanted)
        else:
            frame = _read_numpy(path, spec)
    except DatasetError:
        raise
    except PermissionError as exc:
        raise DatasetError(f"{where}: cannot read {path}: permission denied") from exc
    except MemoryError as exc:
        raise DatasetError(f"{where}: {path} does not fit in memory") from exc
    except Exception as exc:  # every reader has its own error types
        raise DatasetError(
            f"{where}: cannot read {path} as {spec.format}: {type(exc).__name__}: {exc}"
        ) from exc
    return _declared(where, path.name, frame, wanted)


def _declared(
    where: str, label: str, frame: pd.DataFrame, wanted: list[str] | None
) -> pd.DataFrame:
    """The declared columns of what was read, in their declared order."""
    frame = frame.reset_index(drop=True)
    if wanted is not None:
        absent = [name for name in wanted if name not in frame.columns]
        if absent:
            raise DatasetError(
                f"{where}: column {absent[0]!r} is declared but not in {label} "
                f"(it has: {', '.join(map(str, frame.columns))})"
            )
        frame = frame[wanted]
    return frame


def _read_csv(source: Callable[[], Any], wanted: list[str] | None) -> pd.DataFrame:
    """One CSV file; `source()` gives its path, or a fresh file object."""
    if wanted is None:
        return pd.read_csv(source())
    header = [str(c) for c in pd.read_csv(source(), nrows=0).columns]
    present = [c for c in wanted if c in header]
    if len(present) < len(wanted):
        return pd.read_csv(source(), nrows=0)  # `_read` names the absent column
    # Declared columns are read as text and converted here, so that "007"
    # stays "007" in a str column and a stray word in a numeric column
    # counts as missing instead of turning the whole column into text.
    return pd.read_csv(source(), usecols=present, dtype=dict.fromkeys(present, str))


def _read_parquet(path: Path, spec: _Spec, wanted: list[str] | None) -> pd.DataFrame:
    if wanted is None:
        return pd.read_parquet(path)
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    names = set(pq.read_schema(path).names) if path.is_file() else None
    if names is not None and not set(wanted) <= names:
        return pd.DataFrame(columns=sorted(names))  # `_read` names the absent column
    return pd.read_parquet(path, columns=wanted)


def _read_numpy(path: Path, spec: _Spec) -> pd.DataFrame:
    where = f"dataset {spec.name!r}"
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DatasetError(
                f"{where}: {path} holds Python objects; only numeric and text arrays are read "
                "(pickled data is never loaded)"
            ) from exc
        raise
    if spec.format == "npy":
        if not isinstance(loaded, np.ndarray):
            raise DatasetError(f'{where}: {path} is an .npz archive: set format = "npz"')
        return _array_frame(where, path.name, loaded, spec.npy_columns)
    if isinstance(loaded, np.ndarray):
        raise DatasetError(f'{where}: {path} is a single .npy array: set format = "npy"')
    with loaded as archive:
        keys = list(archive.files)
        if spec.npz_key is not None:
            if spec.npz_key not in keys:
                raise DatasetError(
                    f"{where}: {path.name} has no array {spec.npz_key!r} "
                    f"(it has: {', '.join(keys)})"
                )
            return _array_frame(
                where, f"{path.name}[{spec.npz_key}]", archive[spec.npz_key], spec.npy_columns
            )
        columns: dict[str, np.ndarray] = {}
        for key in keys:
            array = archive[key]
            if array.ndim != 1:
                raise DatasetError(
                    f"{where}: array {key!r} in {path.name} has shape {array.shape}; without "
                    "npz_key every array must be one column (1-D); set npz_key to read a 2-D table"
                )
            columns[key] = array
        lengths = {len(a) for a in columns.values()}
        if len(lengths) > 1:
            raise DatasetError(
                f"{where}: the arrays in {path.name} differ in length "
                f"({', '.join(f'{k}: {len(a)}' for k, a in columns.items())})"
            )
        return pd.DataFrame(columns)


def _array_frame(
    where: str, label: str, array: np.ndarray, names: tuple[str, ...] | None
) -> pd.DataFrame:
    if array.dtype.names is not None and array.ndim == 1:
        frame = pd.DataFrame(array)
        if names is not None:
            if len(names) != len(frame.columns):
                raise DatasetError(
                    f"{where}: npy_columns names {len(names)} columns but {label} has "
                    f"{len(frame.columns)} fields"
                )
            frame.columns = list(names)
        return frame
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise DatasetError(f"{where}: {label} has shape {array.shape}; a table is 2-D")
    if names is None:
        raise DatasetError(
            f"{where}: {label} is a {array.shape[0]}x{array.shape[1]} array; name its "
            f"{array.shape[1]} columns with npy_columns"
        )
    if len(names) != array.shape[1]:
        raise DatasetError(
            f"{where}: npy_columns names {len(names)} columns but {label} has {array.shape[1]}"
        )
    return pd.DataFrame(array, columns=list(names))


# -- cleaning -----------------------------------------------------------------


@dataclass
class _Converted:
    """A column converted to its type: values (nullable), which rows are
    missing after conversion, and which of them held a value that could
    not be converted."""

    values: pd.Series
    missing: np.ndarray
    unconvertible: np.ndarray


def _convert(raw: pd.Series, column: _Column) -> _Converted:
    present = np.asarray(raw.notna(), dtype=bool)
    kind = column.type
    values: pd.Series
    numbers: pd.Series
    if kind in NUMERIC_TYPES:
        if pd.api.types.is_bool_dtype(raw.dtype):
            numbers = raw.astype("float64")
        elif pd.api.types.is_integer_dtype(raw.dtype) and kind == "int":
            numbers = raw.astype("Int64")
        else:
            text = raw if pd.api.types.is_numeric_dtype(raw.dtype) else raw.astype(object)
            numbers = pd.to_numeric(text, errors="coerce").astype("float64")
        if kind == "float":
            as_float = numbers.astype("float64")
            values = as_float.where(np.isfinite(as_float.to_numpy(dtype=float, na_value=np.nan)))
        elif numbers.dtype == "Int64":
            values = numbers
        else:
            f = numbers.to_numpy(dtype=float, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                whole = np.isfinite(f) & (np.floor(f) == f) & (np.abs(f) < _INT_LIMIT)
            values = pd.Series(
                pd.array(np.where(whole, f, 0).astype(np.int64), dtype="Int64"), index=raw.index
            )
            values[~whole] = pd.NA
    elif kind == "bool":
        if pd.api.types.is_bool_dtype(raw.dtype):
            values = raw.astype("boolean")
        else:
            values = pd.Series(
                pd.array([_to_bool(v) for v in raw], dtype="boolean"), index=raw.index
            )
    else:
        values = pd.Series(_texts(raw, present, column.levels), index=raw.index, dtype=object)
    missing = np.asarray(values.isna(), dtype=bool)
    return _Converted(values, missing, missing & present)


def _to_bool(value: Any) -> bool | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _clean(
    spec: _Spec, raw: pd.DataFrame, first_row: int = 0
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """`raw` (the source's rows from `first_row` on, counted from 0)
    converted and cleaned by the declared rules."""
    assert spec.columns is not None
    where = f"dataset {spec.name!r}"
    rows = len(raw)
    converted = {c.name: _convert(raw[c.name], c) for c in spec.columns}
    out_of_range: dict[str, np.ndarray] = {}
    for column in spec.columns:
        values = converted[column.name].values
        if column.type in NUMERIC_TYPES:
            numbers = values.to_numpy(dtype=float, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                low = numbers < column.min if column.min is not None else np.zeros(rows, bool)
                high = numbers > column.max if column.max is not None else np.zeros(rows, bool)
            out_of_range[column.name] = low | high
        else:
            out_of_range[column.name] = np.zeros(rows, dtype=bool)

    # "error" rules first, on every row of the file.
    for column in spec.columns:
        c = converted[column.name]
        if column.missing == "error" and c.missing.any():
            row = int(np.flatnonzero(c.missing)[0])
            if c.unconvertible[row]:
                shown = raw[column.name].iloc[row]
                problem = f"has {shown!r}, which is not a valid {column.type}"
                if column.levels is not None:
                    problem = f"has {shown!r}, which is not one of the levels {list(column.levels)}"
            else:
                problem = "has no value"
            raise DatasetError(
                f"{where}, column {column.name!r}: row {first_row + row + 1} {problem} "
                '(missing = "error")'
            )
        if column.out_of_range == "error" and out_of_range[column.name].any():
            row = int(np.flatnonzero(out_of_range[column.name])[0])
            shown = c.values.iloc[row]
            raise DatasetError(
                f"{where}, column {column.name!r}: row {first_row + row + 1} has {shown}, outside "
                f'[{_bound(column.min)}, {_bound(column.max)}] (out_of_range = "error")'
            )

    drop = np.zeros(rows, dtype=bool)
    for column in spec.columns:
        if column.missing == "drop":
            drop |= converted[column.name].missing
        if column.out_of_range == "drop":
            drop |= out_of_range[column.name]
    keep = ~drop

    filled: dict[str, int] = {}
    clipped: dict[str, int] = {}
    data: dict[str, Any] = {}
    for column in spec.columns:
        c = converted[column.name]
        values = c.values[keep].reset_index(drop=True)
        if column.missing == "fill":
            to_fill = c.missing[keep]
            filled[column.name] = int(to_fill.sum())
            if to_fill.any():
                values = values.copy()
                values[to_fill] = column.fill
        if column.out_of_range == "clip" and column.type in NUMERIC_TYPES:
            to_clip = out_of_range[column.name][keep]
            clipped[column.name] = int(to_clip.sum())
            if to_clip.any():
                lo, hi = column.min, column.max
                if column.type == "int":
                    lo = None if lo is None else math.ceil(lo)
                    hi = None if hi is None else math.floor(hi)
                values = values.clip(lower=lo, upper=hi)
        data[column.name] = _final(values, column)
    frame = pd.DataFrame(data, index=pd.RangeIndex(int(keep.sum())))
    return frame, {"dropped_rows": int(drop.sum()), "filled": filled, "clipped": clipped}


def _bound(value: float | None) -> str:
    return "-inf" if value is None else f"{value}"


def _final(values: pd.Series, column: _Column) -> Any:
    """The column in its output dtype. Only rows whose value is present
    remain when the missing rule is "drop" or "fill"; with "error" none
    were missing."""
    if column.type == "float":
        return values.astype("float64").to_numpy()
    if column.type == "int":
        return values.astype("int64").to_numpy()
    if column.type == "bool":
        return values.astype(bool).to_numpy()
    texts = values.astype(object).to_numpy()
    if column.type == "str":
        return texts
    categories = list(column.levels) if column.levels is not None else sorted(set(texts))
    return pd.Categorical(texts, categories=categories)


def _inferred_type(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_string_dtype(dtype):
        return "str"
    return str(dtype)


def _write(spec: _Spec, frame: pd.DataFrame, out: Path) -> None:
    try:
        frame.to_parquet(out, index=False)
    except Exception as exc:  # pyarrow's errors, OSError
        raise DatasetError(
            f"dataset {spec.name!r}: cannot write the cleaned data to {out}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
