"""`delta.stores`: a holder's dataset read from an object store or HDFS.

The worker's configuration names a location, `s3://bucket/key`,
`s3://bucket/prefix/` or `hdfs://namenode:port/path`: one Parquet or CSV
file, or a folder of them read as one table. Both kinds go through one
filesystem layer, `pyarrow.fs`: S3-compatible stores through Arrow's own
`S3FileSystem` (AWS, MinIO, Ceph, ...), HDFS through `hdfs-native` (a
native client, no JVM) wrapped as an Arrow filesystem by fsspec's
handler. The same reading code serves both, and the rows then meet the
holder's cleaning rules (`delta.datasets`) exactly as a local file's do.

The secret key is read from a file or an environment variable when the
dataset is prepared; the configuration never holds it and no message
shows it. Every failure is a `StoreError` naming what failed: the store
is unreachable, it refused the credentials, the bucket or path does not
exist, a folder holds no files of the format.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from .sources import read_secret

__all__ = ["SCHEMES", "Location", "StoreError", "files_of", "open_store", "read_store"]

SCHEMES = ("s3", "hdfs")
"""URL schemes a store source may have."""

SUFFIXES = {"parquet": (".parquet", ".pq"), "csv": (".csv",)}
"""A folder's files of each format, by suffix; other files are ignored."""

CONNECT_TIMEOUT_S = 5.0
"""How long an S3 endpoint may take to accept a connection."""

REQUEST_TIMEOUT_S = 60.0
"""How long one S3 request may take."""

HDFS_DEFAULTS = {
    # hdfs-native retries a namenode it cannot reach for minutes by
    # default; a worker should say so within seconds (a holder's
    # `hadoop` table overrides these).
    "dfs.client.failover.max.attempts": "2",
    "dfs.client.failover.sleep.base.millis": "200",
    "dfs.client.failover.sleep.max.millis": "1000",
}

_S3_KEYS = frozenset(
    {"url", "endpoint", "region", "access_key_id", "secret_key_file", "secret_key_env"}
)
_HDFS_KEYS = frozenset({"url", "user", "hadoop"})


class StoreError(Exception):
    """The store cannot be read; the message says why, without secrets."""


@dataclass(frozen=True)
class Location:
    """Where a dataset lies: a filesystem of the shared layer and a path in
    it (`bucket/key` for S3, `/path` for HDFS)."""

    filesystem: Any
    path: str
    kind: str
    url: str


def open_store(source: Mapping[str, Any]) -> Location:
    """The filesystem and path `source` (keys `url` and the scheme's
    settings) names; connects lazily, so this fails only on bad settings."""
    url = source.get("url")
    if not isinstance(url, str) or "://" not in url:
        raise StoreError("'url' must be s3://bucket/key or hdfs://namenode:port/path")
    scheme = url.split("://", 1)[0]
    if scheme not in SCHEMES:
        raise StoreError(f"{scheme!r} is not one of {', '.join(SCHEMES)}")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise StoreError("the url holds credentials; name them in access_key_id and secret_key_*")
    known = _S3_KEYS if scheme == "s3" else _HDFS_KEYS
    # The worker sends every key, unset ones as null or empty.
    unknown = sorted(str(k) for k, v in source.items() if k not in known and v not in (None, {}))
    if unknown:
        raise StoreError(f"{unknown[0]!r} does not apply to a {scheme}:// source")
    if scheme == "s3":
        return _s3(source, url, parts.netloc, parts.path.lstrip("/"))
    return _hdfs(source, url, parts)


def _s3(source: Mapping[str, Any], url: str, bucket: str, key: str) -> Location:
    import pyarrow.fs as pafs  # type: ignore[import-untyped]

    if not bucket or not key:
        raise StoreError("the url must name a bucket and a key or prefix: s3://bucket/key")
    options: dict[str, Any] = {
        "region": str(source.get("region") or "us-east-1"),
        "connect_timeout": CONNECT_TIMEOUT_S,
        "request_timeout": REQUEST_TIMEOUT_S,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=3),
    }
    endpoint = source.get("endpoint")
    if endpoint is not None:
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise StoreError("'endpoint' must be http://host:port or https://host:port")
        options["endpoint_override"] = endpoint
    key_id = source.get("access_key_id")
    if key_id is not None:
        options["access_key"] = str(key_id)
        options["secret_key"] = _secret(source)
    # Without a key: Arrow's default AWS chain (environment, ~/.aws, an
    # instance's role).
    return Location(pafs.S3FileSystem(**options), f"{bucket}/{key}", "s3", url)


def _hdfs(source: Mapping[str, Any], url: str, parts: Any) -> Location:
    import pyarrow.fs as pafs

    try:
        from hdfs_native.fsspec import HdfsFileSystem  # type: ignore[import-untyped]
    except ImportError as exc:
        raise StoreError("reading from HDFS needs hdfs-native: pip install hdfs-native") from exc
    if not parts.hostname:
        raise StoreError("the url must name the namenode: hdfs://namenode:port/path")
    hadoop = source.get("hadoop") or {}
    if not isinstance(hadoop, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in hadoop.items()
    ):
        raise StoreError("'hadoop' must map Hadoop setting names to strings")
    config = {**HDFS_DEFAULTS, **hadoop}
    user = source.get("user")
    before = os.environ.get("HADOOP_USER_NAME")
    try:
        if user is not None:
            # hdfs-native takes the simple-authentication user from here
            # when its client is made.
            os.environ["HADOOP_USER_NAME"] = str(user)
        fs = HdfsFileSystem(host=parts.hostname, port=parts.port, **config)
    except Exception as exc:  # hdfs-native raises OSError or its own errors
        raise StoreError(f"cannot set up the HDFS client: {exc}") from None
    finally:
        if user is not None:
            if before is None:
                os.environ.pop("HADOOP_USER_NAME", None)
            else:
                os.environ["HADOOP_USER_NAME"] = before
    wrapped = pafs.PyFileSystem(pafs.FSSpecHandler(fs))
    return Location(wrapped, parts.path or "/", "hdfs", url)


def _secret(source: Mapping[str, Any]) -> str:
    secret = read_secret(source, "secret_key_file", "secret_key_env", "secret key", StoreError)
    if secret is None:
        raise StoreError(
            "access_key_id needs its secret key: set secret_key_file or secret_key_env"
        )
    return secret.strip()


def files_of(location: Location, fmt: str) -> list[str]:
    """The files the location holds: itself if it is a file, else the
    folder's files of the format (by suffix, every depth), in name order."""
    import pyarrow.fs as pafs

    fs, path = location.filesystem, location.path.rstrip("/") or "/"
    info = _io(location, lambda: fs.get_file_info(path))
    if info.type == pafs.FileType.File:
        return [path]
    if info.type != pafs.FileType.Directory:
        raise StoreError(f"{location.url} does not exist")
    selector = pafs.FileSelector(path, recursive=True)
    found = _io(location, lambda: fs.get_file_info(selector))
    suffixes = SUFFIXES[fmt]
    files = sorted(
        f.path
        for f in found
        if f.type == pafs.FileType.File
        and f.path.lower().endswith(suffixes)
        and not Path(f.path).name.startswith(("_", "."))
    )
    if not files:
        raise StoreError(f"{location.url} holds no {fmt} files ({', '.join(suffixes)})")
    return files


def read_store(
    source: Mapping[str, Any],
    fmt: str,
    wanted: list[str] | None,
    read_csv: Callable[[Callable[[], Any], list[str] | None], pd.DataFrame],
) -> pd.DataFrame:
    """The rows of the location's file or folder as one frame. `wanted`:
    the declared columns (None: all); `read_csv(open, wanted)` reads one
    CSV file, given a function that opens it afresh (the cleaning rules
    read declared columns as text)."""
    location = open_store(source)
    if fmt not in SUFFIXES:
        raise StoreError(f"a store source holds csv or parquet files, not {fmt}")
    files = files_of(location, fmt)
    fs = location.filesystem
    if fmt == "parquet":
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        if wanted is not None:
            names = _io(location, lambda: pq.read_schema(files[0], filesystem=fs)).names
            if not set(wanted) <= set(names):
                return pd.DataFrame(columns=names)  # the caller names the absent column
        table = _io(location, lambda: pq.read_table(files, filesystem=fs, columns=wanted))
        return table.to_pandas(split_blocks=True, self_destruct=True)
    frames = []
    for file in files:
        # Read whole once: the CSV reader reads the header, then the file.
        data = _io(location, lambda f=file: _whole(fs, f))
        frames.append(read_csv(lambda d=data: io.BytesIO(d), wanted))
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def _whole(fs: Any, path: str) -> bytes:
    with fs.open_input_stream(path) as stream:
        return bytes(stream.read())


def _io(location: Location, call: Callable[[], Any]) -> Any:
    """`call`, with the store's failures named."""
    try:
        return call()
    except StoreError:
        raise
    except FileNotFoundError as exc:
        raise StoreError(f"{location.url}: no such bucket or path ({_first_line(exc)})") from None
    except PermissionError as exc:
        raise StoreError(
            f"the {location.kind} store refused access to {location.url}: {_first_line(exc)}"
        ) from None
    except OSError as exc:
        raise StoreError(_explain(location, _first_line(exc))) from None


def _explain(location: Location, message: str) -> str:
    lowered = message.lower()
    if any(
        word in lowered
        for word in (
            "access_denied",
            "access denied",
            "signature_does_not_match",
            "invalid_access_key_id",
            "forbidden",
            "permission denied",
            "invalidaccesskeyid",
        )
    ):
        return f"the {location.kind} store refused the credentials for {location.url}: {message}"
    if "no_such_bucket" in lowered or "nosuchbucket" in lowered:
        return f"{location.url}: no such bucket ({message})"
    if any(
        word in lowered
        for word in ("network_connection", "connection refused", "could not connect", "timed out")
    ):
        return f"the {location.kind} store for {location.url} is unreachable: {message}"
    return f"cannot read {location.url}: {message}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
