"""Datasets read from an object store and from HDFS through one filesystem
layer (`delta.stores`, on `pyarrow.fs`).

S3: a local S3-compatible endpoint (moto's server, with signature checks
on, started by `s3server`). Parquet and CSV files, one file or a folder of
parts, give the same cleaned snapshot as the same rows in a local file;
each failure (refused secret, unknown key, missing key or bucket, a
folder without the format's files, an unreachable endpoint, an unset
secret variable) is named and never shows the secret; a worker serves its
S3 datasets (answering a federated query exactly) and leaves out one whose
secret is wrong.

HDFS: no HDFS server can be installed here (it needs a JVM). The real
`hdfs-native` client is tested for what it can do without one (an
unreachable namenode is named within seconds), and the reading path,
which is the same layer's for both kinds, is tested with a local folder
standing in for the namenode at hdfs-native's fsspec interface.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
import worker_tasks
from s3server import S3Server
from test_sql_sources import COLUMNS, rows
from workers import PATIENT_COLUMNS, Worker, patients

import delta
from coordinator import Coordinator
from delta.datasets import DatasetError, prepare
from devnet import free_port


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def prepared(
    tmp_path: Path, source: dict[str, Any], **extra: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}.parquet"
    report = prepare({"name": "visits", "columns": COLUMNS, **source, **extra}, out)
    return pd.read_parquet(out), report


def store(s3: S3Server, url: str, secret_file: Path) -> dict[str, Any]:
    return {
        "url": url,
        "endpoint": s3.endpoint,
        "access_key_id": s3.access_key_id,
        "secret_key_file": str(secret_file),
    }


def test_every_store_layout_prepares_the_same_snapshot_as_a_local_file(
    s3: S3Server, tmp_path: Path
) -> None:
    frame = rows()
    local = tmp_path / "visits.csv"
    frame.to_csv(local, index=False)
    expected, expected_report = prepared(tmp_path, {"path": str(local)})
    s3.put("lake", "one/visits.parquet", parquet_bytes(frame))
    s3.put("lake", "one/visits.csv", csv_bytes(frame))
    # Folders of parts, as Spark and Hive write them, with a marker file
    # and a file of another format that are not part of the table.
    for i, part in enumerate((frame.iloc[:120], frame.iloc[120:])):
        s3.put("lake", f"parts/year=2026/part-{i}.parquet", parquet_bytes(part))
        s3.put("lake", f"csvparts/part-{i}.csv", csv_bytes(part))
    s3.put("lake", "parts/_SUCCESS", b"")
    s3.put("lake", "csvparts/README.txt", b"exported nightly")
    secret = s3.secret_file(tmp_path)
    for url, fmt in (
        ("s3://lake/one/visits.parquet", None),
        ("s3://lake/one/visits.csv", None),
        ("s3://lake/parts/", "parquet"),
        ("s3://lake/csvparts", "csv"),
    ):
        got, report = prepared(tmp_path, {"store": store(s3, url, secret), "format": fmt})
        pdt.assert_frame_equal(got, expected)
        assert report == expected_report, url


def test_each_store_failure_is_named_and_never_shows_the_secret(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put("lake", "one/visits.parquet", parquet_bytes(rows()))
    s3.put("lake", "parquet-only/visits.parquet", parquet_bytes(rows()))
    wrong = "hunter2-not-the-secret"
    good = s3.secret_file(tmp_path)

    def fails(source: dict[str, Any], fmt: str | None = None) -> str:
        with pytest.raises(DatasetError) as caught:
            prepared(tmp_path, {"store": source, "format": fmt})
        message = str(caught.value)
        assert message.startswith("dataset 'visits': "), message
        assert wrong not in message and s3.secret_key not in message, message
        return message

    url = "s3://lake/one/visits.parquet"
    refused = fails(store(s3, url, s3.secret_file(tmp_path, wrong, "wrong.key")))
    assert f"the s3 store refused the credentials for {url}" in refused
    unknown = fails({**store(s3, url, good), "access_key_id": "AKIAUNKNOWN0000000000"})
    assert "refused the credentials" in unknown
    missing = fails(store(s3, "s3://lake/one/gone.parquet", good))
    assert "s3://lake/one/gone.parquet does not exist" in missing
    bucket = fails(store(s3, "s3://no-such-bucket/visits.parquet", good))
    assert "s3://no-such-bucket/visits.parquet" in bucket and "does not exist" in bucket
    empty = fails(store(s3, "s3://lake/parquet-only/", good), fmt="csv")
    assert "s3://lake/parquet-only/ holds no csv files" in empty
    closed = {**store(s3, url, good), "endpoint": f"http://127.0.0.1:{free_port()}"}
    assert "is unreachable" in fails(closed)
    misplaced = fails({**store(s3, url, good), "user": "delta"})
    assert "'user' does not apply to a s3:// source" in misplaced
    monkeypatch.delenv("NO_SUCH_SECRET_SET", raising=False)
    unset = {
        **store(s3, url, good),
        "secret_key_file": None,
        "secret_key_env": "NO_SUCH_SECRET_SET",
    }
    assert "NO_SUCH_SECRET_SET (secret_key_env) is not set" in fails(unset)
    monkeypatch.setenv("LAKE_SECRET", s3.secret_key)
    by_env = {**store(s3, url, good), "secret_key_file": None, "secret_key_env": "LAKE_SECRET"}
    got, _ = prepared(tmp_path, {"store": by_env})
    assert len(got) > 0
    with pytest.raises(DatasetError, match="column 'notes' is declared but not in s3://"):
        prepare(
            {"name": "visits", "columns": {"notes": {"type": "str"}}, "store": by_env},
            tmp_path / "x",
        )
    with pytest.raises(DatasetError, match="cannot tell the format of s3://lake/one/"):
        prepare({"name": "visits", "store": store(s3, "s3://lake/one/", good)}, tmp_path / "y")


def test_hdfs_goes_through_the_same_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hdfs_native.fsspec
    from fsspec.implementations.dirfs import DirFileSystem
    from fsspec.implementations.local import LocalFileSystem

    # The real client, with no namenode listening: named, and in seconds
    # (hdfs-native alone would retry for minutes).
    url = f"hdfs://127.0.0.1:{free_port()}/lake/visits.parquet"
    with pytest.raises(DatasetError) as caught:
        prepared(tmp_path, {"store": {"url": url, "user": "delta"}})
    assert f"the hdfs store for {url} is unreachable" in str(caught.value)

    # The namespace of a namenode, kept in a local folder, behind
    # hdfs-native's fsspec interface: the layer reads it as it reads S3.
    namespace = tmp_path / "namenode"
    frame = rows()
    (namespace / "lake" / "visits").mkdir(parents=True)
    for i, part in enumerate((frame.iloc[:50], frame.iloc[50:])):
        part.to_parquet(namespace / "lake" / "visits" / f"part-{i}.parquet", index=False)
    (namespace / "lake" / "visits" / "_SUCCESS").write_bytes(b"")
    clients: list[tuple[str, int, dict[str, str]]] = []

    class FolderNamenode(DirFileSystem):  # type: ignore[misc]
        protocol = "hdfs"

        def __init__(self, host: str, port: int, **config: str) -> None:
            clients.append((host, port, config))
            super().__init__(path=str(namespace), fs=LocalFileSystem())

    monkeypatch.setattr(hdfs_native.fsspec, "HdfsFileSystem", FolderNamenode)
    local = tmp_path / "visits.csv"
    frame.to_csv(local, index=False)
    expected, expected_report = prepared(tmp_path, {"path": str(local)})
    source = {
        "url": "hdfs://namenode.example:8020/lake/visits/",
        "hadoop": {"dfs.client.failover.max.attempts": "5"},
    }
    got, report = prepared(tmp_path, {"store": source, "format": "parquet"})
    pdt.assert_frame_equal(got, expected)
    assert report == expected_report
    host, port, config = clients[-1]
    assert (host, port) == ("namenode.example", 8020)
    assert config["dfs.client.failover.max.attempts"] == "5"
    assert config["dfs.client.failover.sleep.max.millis"] == "1000"


def test_a_worker_serves_its_s3_datasets_and_leaves_out_one_it_cannot_read(
    s3: S3Server, tmp_path: Path
) -> None:
    hospitals = [patients(i, n) for i, n in enumerate([150, 180])]
    s3.put("hospital-0", "patients/visits.parquet", parquet_bytes(hospitals[0]))
    half = len(hospitals[1]) // 2
    for i, part in enumerate((hospitals[1].iloc[:half], hospitals[1].iloc[half:])):
        s3.put("hospital-1", f"patients/part-{i}.csv", csv_bytes(part))
    s3.put("hospital-0", "billing/b.parquet", parquet_bytes(hospitals[0]))
    with ExitStack() as stack:
        coordinator = stack.enter_context(Coordinator(tmp_path / "coordinator.sqlite"))
        workers = []
        for i in range(2):
            folder = tmp_path / f"w{i}"
            folder.mkdir()
            s3.secret_file(folder)
            s3.secret_file(folder, "hunter2-not-the-secret", "wrong.key")
            url = (
                "s3://hospital-0/patients/visits.parquet" if i == 0 else "s3://hospital-1/patients/"
            )
            keys = f'endpoint = "{s3.endpoint}", access_key_id = "{s3.access_key_id}"'
            config = (
                f'\n[datasets.patients]\nformat = "{"parquet" if i == 0 else "csv"}"\n'
                f'store = {{ url = "{url}", {keys}, secret_key_file = "s3.key" }}\n'
                + PATIENT_COLUMNS
            )
            if i == 0:
                config += (
                    '\n[datasets.billing]\nstore = { url = "s3://hospital-0/billing/b.parquet", '
                    f'{keys}, secret_key_file = "wrong.key" }}\n'
                )
            worker = Worker(folder, f"s3-{i}", "coordinator", coordinator.url, extra_config=config)
            workers.append(stack.enter_context(worker))
        client = delta.Client(workers[0].api, workers[0].token)
        offered = {d["name"]: d for d in client.datasets()}
        assert set(offered) == {"patients"}, "".join(workers[0].log)
        first = hospitals[0]
        kept = first[(first["age"] <= 120) & first["bmi"].notna()]
        assert offered["patients"]["rows"] == len(kept)
        # Types, levels and declared bounds: what a requester needs, never values.
        assert offered["patients"]["columns"] == [
            {"name": "age", "type": "float", "min": 0, "max": 120},
            {"name": "bmi", "type": "float"},
            {"name": "sbp", "type": "float"},
            {"name": "sex", "type": "category", "levels": ["f", "m"]},
        ]
        log = "".join(workers[0].log)
        assert "dataset billing is not offered" in log and "refused the credentials" in log, log
        assert "hunter2" not in log and s3.secret_key not in log
        result = client.submit(worker_tasks.Summary).wait(timeout=120, progress=False)
        # A groupby without levels: the holders' published levels of sex.
        by_sex = client.submit(worker_tasks.MeanAgeBySex).wait(timeout=120, progress=False)
    pooled = pd.concat(hospitals, ignore_index=True)
    pooled = pooled[(pooled["age"] >= 0) & (pooled["age"] <= 120) & pooled["bmi"].notna()]
    expected = pooled.groupby("sex")["age"].agg(["count", "mean"])
    assert list(by_sex.index) == ["f", "m"]
    assert by_sex["count"].tolist() == expected["count"].tolist()
    np.testing.assert_allclose(by_sex["mean"], expected["mean"], rtol=1e-7)
    assert result["n"] == len(pooled)
    assert np.isclose(result["age"], pooled["age"].mean(), rtol=1e-7, atol=1e-6)
    assert np.isclose(result["sbp_var"], pooled["sbp"].var(), rtol=1e-7, atol=1e-6)
