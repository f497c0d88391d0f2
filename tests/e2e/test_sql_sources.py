"""Datasets read from SQL databases: real PostgreSQL and MariaDB servers on
loopback (started as `nobody` by `sqlservers`) and SQLite files. The same
rows give the same cleaned snapshot from every source as from a CSV file;
each failure (refused password, missing table, unreachable server,
unset password variable) is named and never shows the password; and a
worker whose one dataset cannot be read serves its others, its
PostgreSQL-backed datasets answering a federated query exactly as pandas
does on the pooled rows."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
import worker_tasks
from sqlservers import PASSWORD, MariaDB, Postgres
from workers import PATIENT_COLUMNS, Worker, patients

import delta
from coordinator import Coordinator
from delta.datasets import DatasetError, prepare
from devnet import free_port

COLUMNS = {
    "age": {"type": "float", "min": 0, "max": 120, "out_of_range": "drop"},
    "bmi": {"type": "float", "missing": "drop"},
    "visits": {"type": "int", "missing": "fill", "fill": 0},
    "smoker": {"type": "bool", "missing": "fill", "fill": False},
    "sex": {"type": "category", "levels": ["f", "m"]},
    "ward": {"type": "str"},
}
"""The holder's declared columns and cleaning rules, the same for every
source."""


def rows(seed: int = 0, count: int = 200) -> pd.DataFrame:
    """Sample rows with every kind of column and values for each rule to
    catch: ages of 999, missing BMI, visit counts and smoker flags."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(50, 12, count).round(0),
            "bmi": rng.normal(26, 4, count).round(2),
            "visits": rng.integers(0, 9, count).astype(float),
            "smoker": rng.choice([True, False], count).astype(object),
            "sex": rng.choice(["f", "m", "x"], count),
            "ward": rng.choice(["north", "south"], count),
        }
    )
    frame.loc[[3, 17], "age"] = 999.0
    frame.loc[[5, 40, 41], "bmi"] = np.nan
    frame.loc[[8], "visits"] = np.nan
    frame.loc[[9, 10], "smoker"] = None
    return frame


CREATE = (
    "CREATE TABLE {table} (age DOUBLE PRECISION, bmi NUMERIC(6, 2), visits INTEGER, "
    "smoker BOOLEAN, sex VARCHAR(8), ward TEXT)"
)


def sql_literal(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "NULL"
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(float(value))


def inserts(table: str, frame: pd.DataFrame) -> str:
    values = ", ".join(
        "(" + ", ".join(sql_literal(v) for v in row) + ")"
        for row in frame.itertuples(index=False, name=None)
    )
    return f"INSERT INTO {table} ({', '.join(frame.columns)}) VALUES {values}"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Postgres, MariaDB]]:
    with ExitStack() as stack:
        pg = stack.enter_context(Postgres())
        maria = stack.enter_context(MariaDB())
        frame = rows()
        pg.sql(CREATE.format(table="visits") + "; " + inserts("visits", frame))
        pg.sql("GRANT SELECT ON visits TO delta")
        maria.sql(CREATE.format(table="visits") + "; " + inserts("visits", frame))
        yield pg, maria


def password_file(tmp_path: Path, password: str = PASSWORD) -> str:
    path = tmp_path / "db.pw"
    path.write_text(password + "\n")
    return str(path)


def prepared(tmp_path: Path, source: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}.parquet"
    report = prepare({"name": "visits", "columns": COLUMNS, **source}, out)
    return pd.read_parquet(out), report


def test_every_source_prepares_the_same_snapshot_as_a_csv_file(
    servers: tuple[Postgres, MariaDB], tmp_path: Path
) -> None:
    pg, maria = servers
    frame = rows()
    csv = tmp_path / "visits.csv"
    frame.to_csv(csv, index=False)
    db = tmp_path / "hospital.db"
    with sqlite3.connect(db) as connection:
        connection.executescript(CREATE.format(table="visits") + "; " + inserts("visits", frame))
    expected, expected_report = prepared(tmp_path, {"path": str(csv)})
    # The rules did their work: ages of 999, missing BMIs and sex "x" dropped,
    # missing visit counts and smoker flags filled.
    kept = frame[(frame["age"] <= 120) & frame["bmi"].notna() & frame["sex"].isin(["f", "m"])]
    assert len(expected) == len(kept) and expected_report["dropped_rows"] == 200 - len(kept)
    assert expected_report["filled"]["visits"] + expected_report["filled"]["smoker"] > 0
    secret = password_file(tmp_path)
    for source in (
        {"sql": {"url": f"sqlite://{db}", "table": "visits"}},
        {"sql": {"url": pg.url, "table": "visits", "password_file": secret}},
        {"sql": {"url": maria.url, "table": "visits", "password_file": secret}},
    ):
        got, report = prepared(tmp_path, source)
        pdt.assert_frame_equal(got, expected)
        assert report == expected_report, source


def test_a_table_prepared_in_batches_is_the_snapshot_prepared_at_once(
    servers: tuple[Postgres, MariaDB], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQL source streams through the cleaning rules in batches (200 rows
    in batches of 37 here): the snapshot, its counts and a refusal's row
    number are those of the whole table at once, and a refused table
    leaves no snapshot file behind."""
    import delta.datasets

    pg, maria = servers
    frame = rows()
    csv = tmp_path / "visits.csv"
    frame.to_csv(csv, index=False)
    expected, expected_report = prepared(tmp_path, {"path": str(csv)})
    monkeypatch.setattr(delta.datasets, "BATCH_ROWS", 37)
    secret = password_file(tmp_path)
    for server in (pg, maria):
        got, report = prepared(
            tmp_path, {"sql": {"url": server.url, "table": "visits", "password_file": secret}}
        )
        pdt.assert_frame_equal(got, expected)
        assert report == expected_report
    strict = {**COLUMNS, "age": {"type": "float", "min": 0, "max": 120, "out_of_range": "error"}}
    out = tmp_path / "refused.parquet"
    sql = {"url": pg.url, "query": "SELECT * FROM visits ORDER BY 1", "password_file": secret}
    ordered = frame.sort_values("age", kind="stable").reset_index(drop=True)
    first_bad = int(np.flatnonzero(ordered["age"].to_numpy() > 120)[0]) + 1
    assert first_bad > 37  # the refusal comes from a later batch
    with pytest.raises(DatasetError, match=rf"row {first_bad} has 999.0, outside \[0, 120\]"):
        prepare({"name": "visits", "columns": strict, "sql": sql}, out)
    assert not out.exists()


def test_a_query_reads_what_it_selects_with_the_password_from_the_environment(
    servers: tuple[Postgres, MariaDB], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg, maria = servers
    monkeypatch.setenv("HOSPITAL_DB_PASSWORD", PASSWORD)
    for server in (pg, maria):
        query = "SELECT age, bmi, visits, smoker, sex, ward FROM visits WHERE ward = 'north'"
        got, report = prepared(
            tmp_path,
            {"sql": {"url": server.url, "query": query, "password_env": "HOSPITAL_DB_PASSWORD"}},
        )
        expected = rows()
        north = expected[expected["ward"] == "north"]
        kept = north[(north["age"] <= 120) & north["bmi"].notna() & north["sex"].isin(["f", "m"])]
        assert report["rows"] == len(kept) == len(got)
        assert (got["ward"] == "north").all()
        np.testing.assert_allclose(got["bmi"].to_numpy(), kept["bmi"].to_numpy())


@pytest.mark.parametrize("which", ["postgresql", "mysql"])
def test_each_failure_is_named_and_never_shows_the_password(
    servers: tuple[Postgres, MariaDB], tmp_path: Path, which: str
) -> None:
    server = servers[0] if which == "postgresql" else servers[1]
    wrong = "hunter2-not-it"

    def fails(sql: dict[str, Any]) -> str:
        with pytest.raises(DatasetError) as caught:
            prepared(tmp_path, {"sql": sql})
        message = str(caught.value)
        assert message.startswith("dataset 'visits': "), message
        assert wrong not in message and PASSWORD not in message, message
        return message

    refused = fails(
        {"url": server.url, "table": "visits", "password_file": password_file(tmp_path, wrong)}
    )
    assert f"the {which} server refused the login" in refused
    good = password_file(tmp_path)
    missing = fails({"url": server.url, "table": "gone", "password_file": good})
    assert f"the {which} source has no such table or column" in missing
    closed = server.url.replace(f":{server.port}/", f":{free_port()}/")
    unreachable = fails({"url": closed, "table": "visits", "password_file": good})
    assert re.search(rf"the {which} server at 127\.0\.0\.1:\d+ is unreachable", unreachable)
    unset = fails({"url": server.url, "table": "visits", "password_env": "NO_SUCH_VARIABLE_SET"})
    assert "NO_SUCH_VARIABLE_SET (password_env) is not set" in unset
    absent = fails({"url": server.url, "table": "visits", "password_file": str(tmp_path / "none")})
    assert "cannot read the password file" in absent
    sql = {"url": server.url, "table": "visits", "password_file": good}
    with pytest.raises(DatasetError, match="column 'notes' is declared but not in the sql source"):
        prepare(
            {"name": "visits", "columns": {"notes": {"type": "str"}}, "sql": sql}, tmp_path / "x"
        )


def test_a_worker_serves_its_sql_datasets_and_leaves_out_one_it_cannot_read(
    servers: tuple[Postgres, MariaDB], tmp_path: Path
) -> None:
    pg, _ = servers
    hospitals = [patients(i, rows) for i, rows in enumerate([150, 180])]
    for i, frame in enumerate(hospitals):
        table = f"patients_{i}"
        pg.sql(
            f"CREATE TABLE {table} (age DOUBLE PRECISION, bmi DOUBLE PRECISION, "
            f"sbp DOUBLE PRECISION, sex TEXT, notes TEXT); "
            + inserts(table, frame)
            + f"; GRANT SELECT ON {table} TO delta"
        )
    with ExitStack() as stack:
        coordinator = stack.enter_context(Coordinator(tmp_path / "coordinator.sqlite"))
        workers = []
        for i in range(2):
            folder = tmp_path / f"w{i}"
            folder.mkdir()
            (folder / "pg.pw").write_text(PASSWORD + "\n")
            (folder / "wrong.pw").write_text("hunter2-not-it\n")
            # Worker 0's billing password is wrong; worker 1's billing
            # table was dropped.
            billing = 'password_file = "wrong.pw"' if i == 0 else 'password_file = "pg.pw"'
            config = (
                f'\n[datasets.patients]\nsql = {{ url = "{pg.url}", table = "patients_{i}", '
                'password_file = "pg.pw" }\n'
                + PATIENT_COLUMNS
                + f'\n[datasets.billing]\nsql = {{ url = "{pg.url}", table = "billing", '
                + billing
                + " }\n"
            )
            worker = Worker(folder, f"sql-{i}", "coordinator", coordinator.url, extra_config=config)
            workers.append(stack.enter_context(worker))
        client = delta.Client(workers[0].api, workers[0].token)
        offered = {d["name"]: d for d in client.datasets()}
        assert set(offered) == {"patients"}
        log = "".join(workers[0].log)
        assert "dataset billing is not offered" in log and "refused the login" in log, log
        assert "hunter2" not in log and PASSWORD not in log
        log = "".join(workers[1].log)
        assert "dataset billing is not offered" in log and "no such table" in log, log
        assert {d["name"] for d in delta.Client(workers[1].api, workers[1].token).datasets()} == {
            "patients"
        }
        result = client.submit(worker_tasks.Summary).wait(timeout=120, progress=False)
    pooled = pd.concat(hospitals, ignore_index=True)
    pooled = pooled[(pooled["age"] >= 0) & (pooled["age"] <= 120) & pooled["bmi"].notna()]
    assert result["n"] == len(pooled)
    assert np.isclose(result["age"], pooled["age"].mean(), rtol=1e-7, atol=1e-6)
    assert np.isclose(result["sbp_var"], pooled["sbp"].var(), rtol=1e-7, atol=1e-6)
