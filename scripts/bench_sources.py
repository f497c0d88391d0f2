"""Preparing a SQL-source dataset beside the raw read of the same table:
`make bench-sources`.

    python3 scripts/bench_sources.py [--rows 1000000] [--runs 3]

Starts a PostgreSQL server (as `nobody`, on loopback, `tools/py/sqlservers.py`),
fills a table of `--rows` rows and 10 columns (six floats, two integers, a
category and a text column; a few missing values and out-of-range ages for
the cleaning rules to catch), then times, each `--runs` times in a fresh
process and reports the best:

- raw: connectorx's `read_sql(..., return_type="arrow")` of `SELECT *`,
  the fastest read of the table into memory there is here;
- prepare: `delta.datasets.prepare` of the dataset as a worker declares it
  (every column typed, with cleaning rules), from the read to the
  snapshot Parquet file written.

Both import connectorx, pandas and pyarrow before their clock starts (a
worker pays that once, about 0.3 s, whatever the table's size).

It prints both times, their ratio (the issue's target: prepare at most 2x
raw), the snapshot's size in memory (the cleaned frame) and on disk, and
each process's peak RSS above its start (target: within 2x the snapshot).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "py"))

from sqlservers import PASSWORD, Postgres  # noqa: E402

COLUMNS = {
    "age": {"type": "float", "min": 0, "max": 120, "out_of_range": "drop"},
    "bmi": {"type": "float", "missing": "drop"},
    "sbp": {"type": "float"},
    "dbp": {"type": "float"},
    "glucose": {"type": "float", "missing": "fill", "fill": 5.5},
    "chol": {"type": "float"},
    "visits": {"type": "int", "missing": "fill", "fill": 0},
    "year": {"type": "int"},
    "sex": {"type": "category", "levels": ["f", "m"]},
    "ward": {"type": "str"},
}

FILL = """
CREATE TABLE patients AS
SELECT
    (CASE WHEN g % 50000 = 0 THEN 999 ELSE 20 + (g * 7919) % 70 END)::float8 AS age,
    (CASE WHEN g % 997 = 0 THEN NULL ELSE 18 + ((g * 104729) % 2000) / 100.0 END)::float8 AS bmi,
    (100 + (g * 31) % 60)::float8 AS sbp,
    (60 + (g * 17) % 40)::float8 AS dbp,
    (CASE WHEN g % 101 = 0 THEN NULL ELSE 4 + ((g * 13) % 300) / 100.0 END)::float8 AS glucose,
    (3 + ((g * 7) % 400) / 100.0)::float8 AS chol,
    (CASE WHEN g % 89 = 0 THEN NULL ELSE g % 12 END)::integer AS visits,
    (2000 + g % 25)::integer AS year,
    CASE WHEN g % 2 = 0 THEN 'f' ELSE 'm' END AS sex,
    CASE WHEN g % 3 = 0 THEN 'north' WHEN g % 3 = 1 THEN 'south' ELSE 'east' END AS ward
FROM generate_series(1::bigint, {rows}::bigint) AS g;
GRANT SELECT ON patients TO delta;
"""


def child(mode: str, url: str, secret: str, out: str) -> dict[str, float]:
    """One timed run, in this (fresh) process."""
    import connectorx as cx  # type: ignore[import-untyped]
    import pandas as pd
    import pyarrow.parquet  # type: ignore[import-untyped]  # noqa: F401 - imported before the clock

    from delta.datasets import prepare

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    target = url.replace("delta@", f"delta:{PASSWORD}@")
    began = time.perf_counter()
    if mode == "raw":
        table = cx.read_sql(target, "SELECT * FROM patients", return_type="arrow")
        rows = table.num_rows
        frame_mb = table.nbytes / 1e6
    else:
        spec = {
            "name": "patients",
            "columns": COLUMNS,
            "sql": {"url": url, "table": "patients", "password_file": secret},
        }
        report = prepare(spec, out)
        rows = report["rows"]
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if mode != "raw":
        # The snapshot's size as a task reads it, after the clock and the
        # peak were taken: reading it back is the task's cost, not the
        # preparation's.
        frame_mb = pd.read_parquet(out).memory_usage(deep=True).sum() / 1e6
    return {"seconds": seconds, "rows": rows, "frame_mb": frame_mb, "rss_mb": (peak - base) / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=["raw", "prepare"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--secret", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.url, args.secret, args.out)))
        return 0

    folder = Path(tempfile.mkdtemp(prefix="bench-sources-"))
    secret = folder / "pg.pw"
    secret.write_text(PASSWORD + "\n")
    out = folder / "patients.parquet"
    with Postgres() as pg:
        began = time.perf_counter()
        pg.sql(FILL.format(rows=args.rows))
        print(
            f"PostgreSQL table of {args.rows:,} rows x 10 columns filled in "
            f"{time.perf_counter() - began:.1f} s"
        )
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.runs):
            for mode in ("raw", "prepare"):
                done = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        mode,
                        "--url",
                        pg.url,
                        "--secret",
                        str(secret),
                        "--out",
                        str(out),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                run = json.loads(done.stdout.strip().splitlines()[-1])
                if mode not in best or run["seconds"] < best[mode]["seconds"]:
                    best[mode] = run
    raw, prep = best["raw"], best["prepare"]
    print(
        f"raw Arrow read (connectorx): {raw['seconds']:.2f} s, {raw['rows']:,} rows, "
        f"{raw['frame_mb']:.0f} MB in Arrow, peak RSS +{raw['rss_mb']:.0f} MB"
    )
    print(
        f"prepare (read, clean, write): {prep['seconds']:.2f} s, {prep['rows']:,} rows kept, "
        f"snapshot {prep['frame_mb']:.0f} MB in memory, {out.stat().st_size / 1e6:.0f} MB on disk, "
        f"peak RSS +{prep['rss_mb']:.0f} MB"
    )
    ratio = prep["seconds"] / raw["seconds"]
    memory = prep["rss_mb"] / prep["frame_mb"]
    print(
        f"prepare / raw = {ratio:.2f} (target <= 2: {'met' if ratio <= 2 else 'NOT met'}); "
        f"peak RSS / snapshot = {memory:.2f} (target <= 2: {'met' if memory <= 2 else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
