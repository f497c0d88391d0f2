"""`delta.sources`: a holder's dataset read from a SQL database.

The worker's configuration names a table or a query and where the
password is (`password_file`, `password_env`); the URL never holds it.
`read_sql` reads the rows straight into Arrow with connectorx (one of the
fastest readers there is: it streams the server's binary protocol into
columns without Python objects), then into the frame the holder's
cleaning rules (`delta.datasets`) apply to, exactly as for a file.

Every failure is a `SourceError` naming what failed (unreachable,
authentication refused, no such table, bad query), and no message ever
holds the password: connectorx's own text is scrubbed of it before it is
shown.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pandas as pd

__all__ = ["SCHEMES", "SourceError", "read_secret", "read_sql", "stream_sql"]

SCHEMES = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}
"""URL schemes, and the dialect each is read as."""

_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
CONNECT_TIMEOUT_S = 5.0
"""How long a server may take to accept a connection: connectorx's own
pool would retry for half a minute before saying it cannot connect."""


class SourceError(Exception):
    """The source cannot be read; the message says why, without secrets."""


def read_sql(source: Mapping[str, Any]) -> pd.DataFrame:
    """The rows of `source`'s table or query (keys `url`, `table` or
    `query`, `password_file` or `password_env`) as a frame."""
    target, query, dialect, password = _connection(source)
    return _read(target, query, dialect, password)


def stream_sql(source: Mapping[str, Any], batch_rows: int) -> Iterator[pd.DataFrame]:
    """The same rows as `read_sql`, as frames of at most `batch_rows` rows
    each, in order: the whole table is never in memory at once. Nothing is
    read before the first frame is asked for; the connection is checked
    then."""
    target, query, dialect, password = _connection(source)
    cx = _connectorx()
    try:
        reader = cx.read_sql(target, query, return_type="arrow_stream", batch_size=batch_rows)
        for batch in reader:
            yield _to_frame(batch)
    except Exception as exc:  # connectorx raises RuntimeError with the driver's text
        raise SourceError(_explain(dialect, str(exc), password)) from None


def _connection(source: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """connectorx's target URL (with the password), the query, the
    dialect and the password (to scrub from messages)."""
    url = source.get("url")
    if not isinstance(url, str) or "://" not in url:
        raise SourceError("'url' must be scheme://..., e.g. postgresql://delta@host:5432/db")
    scheme = url.split("://", 1)[0]
    dialect = SCHEMES.get(scheme)
    if dialect is None:
        raise SourceError(f"{scheme!r} is not one of {', '.join(SCHEMES)}")
    query = _query(source, dialect)
    password = _password(source)
    if dialect == "sqlite":
        file = Path(url.split("://", 1)[1])
        if not file.is_file():
            raise SourceError(f"the SQLite database {file} does not exist")
        target = f"sqlite://{file}"
    else:
        parts = urlsplit(url)
        if parts.username is None or parts.hostname is None:
            raise SourceError("'url' must name the user and host: scheme://user@host:port/db")
        if parts.password is not None:
            raise SourceError("'url' holds a password: use password_file or password_env")
        port = parts.port or _DEFAULT_PORTS[dialect]
        _reachable(dialect, parts.hostname, port)
        login = quote(parts.username, safe="")
        if password:
            login += ":" + quote(password, safe="")
        netloc = f"{login}@{parts.hostname}:{port}"
        target = urlunsplit((dialect, netloc, parts.path, parts.query, ""))
    return target, query, dialect, password


def _query(source: Mapping[str, Any], dialect: str) -> str:
    table, query = source.get("table"), source.get("query")
    if (table is None) == (query is None):
        raise SourceError("set one of 'table' and 'query'")
    if query is not None:
        if not isinstance(query, str) or not query.strip():
            raise SourceError("'query' must be a non-empty SQL query")
        return query
    if not isinstance(table, str) or not _TABLE.fullmatch(table):
        raise SourceError(f"{table!r} is not a table name (letters, digits, _; schema.table)")
    quote_char = "`" if dialect == "mysql" else '"'
    return "SELECT * FROM " + ".".join(f"{quote_char}{p}{quote_char}" for p in table.split("."))


def _password(source: Mapping[str, Any]) -> str:
    secret = read_secret(source, "password_file", "password_env", "password", SourceError)
    return "" if secret is None else secret


def read_secret(
    source: Mapping[str, Any], file_key: str, env_key: str, what: str, error: type[Exception]
) -> str | None:
    """A secret kept out of the configuration: the first line of the file
    `source[file_key]`, or the environment variable `source[env_key]`; None
    when neither is set. Raises `error` naming the file or the variable
    (`what` is the secret's name in messages), never the secret."""
    file, env = source.get(file_key), source.get(env_key)
    if file is not None:
        try:
            lines = Path(file).read_text().splitlines()
        except OSError as exc:
            raise error(f"cannot read the {what} file {file}: {exc.strerror or exc}") from None
        return lines[0] if lines else ""
    if env is not None:
        value = os.environ.get(str(env))
        if value is None:
            raise error(f"the environment variable {env} ({env_key}) is not set")
        return value
    return None


def _reachable(dialect: str, host: str, port: int) -> None:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SourceError(
            f"the {dialect} server at {host}:{port} is unreachable: {reason}"
        ) from None


def _connectorx() -> Any:
    try:
        import connectorx as cx  # type: ignore[import-untyped]
    except ImportError as exc:
        raise SourceError("reading a SQL source needs connectorx: pip install connectorx") from exc
    return cx


def _read(target: str, query: str, dialect: str, password: str) -> pd.DataFrame:
    cx = _connectorx()
    try:
        table = cx.read_sql(target, query, return_type="arrow")
    except Exception as exc:  # connectorx raises RuntimeError with the driver's text
        raise SourceError(_explain(dialect, str(exc), password)) from None
    return _to_frame(table)


def _explain(dialect: str, message: str, password: str) -> str:
    """connectorx's message, scrubbed of the password and named."""
    if password:
        for secret in {password, quote(password, safe="")}:
            message = message.replace(secret, "***")
    message = message.strip().splitlines()[0] if message.strip() else "no reason given"
    lowered = message.lower()
    if "password authentication failed" in lowered or "access denied" in lowered:
        return f"the {dialect} server refused the login: {message}"
    if (
        "does not exist" in lowered
        or "doesn't exist" in lowered
        or "no such table" in lowered
        or "unknown table" in lowered
    ):
        return f"the {dialect} source has no such table or column: {message}"
    if "timed out" in lowered or "connection refused" in lowered:
        return f"cannot connect to the {dialect} server: {message}"
    return f"the {dialect} query failed: {message}"


def _to_frame(table: Any) -> pd.DataFrame:
    """Arrow (a table or a record batch) to pandas, with decimals as floats
    (the cleaning rules convert numbers; `Decimal` objects would be text to
    them)."""
    import pyarrow as pa  # type: ignore[import-untyped]

    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    names = table.schema.names
    for i, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.float64()))
    # One block per column and the Arrow buffers released as they are
    # converted: the frame is built without a second copy of the table.
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    frame.columns = names
    return frame
