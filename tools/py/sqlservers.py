"""Real PostgreSQL and MariaDB servers for tests, started on loopback as
the unprivileged user `nobody` in a temporary folder and stopped (their
data removed) when the `with` block ends. `scripts/setup.sh` installs
them (Debian's postgresql-15 and mariadb-server).

Each server has a superuser reachable without a password through its
Unix socket (to create tables and users) and a login user `delta` with
the password `PASSWORD` over TCP, which is what a worker connects as:
the servers check passwords on TCP, so a wrong one is refused.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from devnet import free_port

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "Delta-s3cret-9f2"
"""The `delta` user's password on both servers."""


def _as_nobody(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        **kwargs,  # type: ignore[arg-type]
    )


def _private_folder(prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    shutil.chown(folder, "nobody")
    return folder


class Postgres:
    """PostgreSQL 15: database `hospital`, user `delta` (scram-sha-256
    over TCP), the superuser `postgres` over the socket."""

    def __init__(self) -> None:
        self.folder = _private_folder("delta-postgres-")
        self.port = free_port()
        self.url = f"postgresql://delta@127.0.0.1:{self.port}/hospital"

    def __enter__(self) -> Postgres:
        data = self.folder / "data"
        secret = self.folder / "superuser.pw"
        secret.write_text("unused\n")
        shutil.chown(secret, "nobody")
        _as_nobody(
            [
                str(POSTGRES_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={secret}",
                "-E",
                "UTF8",
                "--no-locale",
            ]
        )
        options = f"-k {self.folder} -c listen_addresses=127.0.0.1 -p {self.port} -c fsync=off"
        _as_nobody(
            [
                str(POSTGRES_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(self.folder / "server.log"),
                "-w",
                "-o",
                options,
                "start",
            ]
        )
        self.sql(f"CREATE USER delta PASSWORD '{PASSWORD}'", database="postgres")
        self.sql("CREATE DATABASE hospital OWNER delta", database="postgres")
        return self

    def sql(self, statements: str, database: str = "hospital") -> str:
        """Runs `statements` as the superuser; returns psql's output."""
        done = _as_nobody(
            [
                str(POSTGRES_BIN / "psql"),
                "-h",
                str(self.folder),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-c",
                statements,
            ]
        )
        return done.stdout

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            data = str(self.folder / "data")
            _as_nobody([str(POSTGRES_BIN / "pg_ctl"), "-D", data, "-m", "fast", "stop"])
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class MariaDB:
    """MariaDB: database `hospital`, user `delta`@`127.0.0.1` with a
    password, root over the socket."""

    def __init__(self) -> None:
        self.folder = _private_folder("delta-mariadb-")
        self.port = free_port()
        self.socket = self.folder / "server.sock"
        self.url = f"mysql://delta@127.0.0.1:{self.port}/hospital"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MariaDB:
        data = self.folder / "data"
        _as_nobody(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ]
        )
        self.proc = subprocess.Popen(
            [
                "runuser",
                "-u",
                "nobody",
                "--",
                "mariadbd",
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={self.socket}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.folder / 'server.pid'}",
                f"--log-error={self.folder / 'error.log'}",
                "--innodb-buffer-pool-size=64M",
                "--skip-name-resolve",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            ping = subprocess.run(
                ["mariadb-admin", "--no-defaults", "-S", str(self.socket), "-uroot", "ping"],
                capture_output=True,
                stdin=subprocess.DEVNULL,
            )
            if ping.returncode == 0:
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (self.folder / "error.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"MariaDB did not start:\n{log}")
            time.sleep(0.25)
        self.sql(
            "CREATE DATABASE hospital; "
            f"CREATE USER 'delta'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; "
            "GRANT ALL ON hospital.* TO 'delta'@'127.0.0.1'",
            database=None,
        )
        return self

    def sql(self, statements: str, database: str | None = "hospital") -> str:
        """Runs `statements` as root; returns the client's output."""
        args = ["mariadb", "--no-defaults", "-S", str(self.socket), "-uroot", "-N", "-B"]
        if database is not None:
            args.append(database)
        done = subprocess.run(
            [*args, "-e", statements],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        return done.stdout

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            subprocess.run(
                ["mariadb-admin", "--no-defaults", "-S", str(self.socket), "-uroot", "shutdown"],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=60,
            )
            if self.proc is not None:
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
