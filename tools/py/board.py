"""A `delta-board` process in front of one test worker, and a signed-in
person's HTTP session on it (cookies, the CSRF token of the pages' forms)."""

from __future__ import annotations

import html
import os
import re
import signal
import time
from pathlib import Path

import requests
from process import ManagedProcess

from devnet import free_port

JUPYTERHUB_CONFIG = (
    Path(__file__).resolve().parents[2] / "board" / "jupyterhub" / "jupyterhub_config.py"
)
"""The board's JupyterHub configuration in this checkout."""


def board_binary() -> str:
    """The `delta-board` under test (`DELTA_BOARD_BIN`, else the dev build)."""
    default = Path.home() / ".cache" / "delta" / "target" / "debug" / "delta-board"
    return os.environ.get("DELTA_BOARD_BIN", str(default))


class Board(ManagedProcess):
    """`delta-board` serving on a free loopback port."""

    stop_signal = signal.SIGTERM
    what = "delta-board"

    SETUP = re.compile(r"setup: open (\S+)")

    def __init__(
        self,
        state: Path,
        worker_api: str,
        worker_token_file: Path,
        port: int | None = None,
        jupyterhub: bool = False,
    ) -> None:
        super().__init__()
        self.jupyterhub = jupyterhub
        self.state = state
        self.worker_api = worker_api
        self.worker_token_file = worker_token_file
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.setup_url: str | None = None

    def __enter__(self) -> Board:
        self.start()
        return self

    def start(self, timeout: float = 30.0) -> None:
        self.setup_url = None

        def ready(line: str) -> bool:
            # At a first start the set-up line comes first, on the same stream.
            m = self.SETUP.search(line)
            if m:
                self.setup_url = m.group(1)
            return line.startswith("listening on ")

        args = [
            board_binary(),
            "--worker-url",
            self.worker_api,
            "--worker-token-file",
            str(self.worker_token_file),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--state",
            str(self.state),
        ]
        if self.jupyterhub:
            # This checkout's hub configuration, named outright: the
            # binary's default is the source folder it was compiled in,
            # which a reused target folder may have compiled elsewhere.
            args += ["--jupyterhub", "--jupyterhub-config", str(JUPYTERHUB_CONFIG)]
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        self.spawn(args, ready, timeout, env)

    def wait_for_lab(self, timeout: float = 180.0) -> None:
        """Until the board says its JupyterHub answers."""
        waited = 0.0
        while not any(line.startswith("jupyterhub ready") for line in self.log):
            if not self.alive() or waited >= timeout:
                raise RuntimeError("JupyterHub did not start:\n" + "".join(self.log[-60:]))
            time.sleep(0.25)
            waited += 0.25

    def api(self, name: str) -> str:
        """`name`'s API address."""
        return f"{self.url}/api/{name}"

    def person(self) -> Person:
        """A new, signed-out browser-like session."""
        return Person(self.url)


CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
NEW_TOKEN = re.compile(r'<code id="new-token">([^<]+)</code>')


class Person:
    """One person's cookies on the board, posting forms as a browser would
    (with the board's own `Origin`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.csrf = ""

    def get(self, path: str) -> requests.Response:
        r = self.http.get(self.url + path, allow_redirects=True, timeout=30)
        m = CSRF.search(r.text)
        if m:
            self.csrf = m.group(1)
        return r

    def post(
        self, path: str, form: dict[str, str], origin: str | None = None, csrf: bool = True
    ) -> requests.Response:
        data = dict(form)
        if csrf and self.csrf:
            data.setdefault("csrf", self.csrf)
        headers = {"Origin": origin if origin is not None else self.url}
        r = self.http.post(
            self.url + path, data=data, headers=headers, allow_redirects=True, timeout=60
        )
        m = CSRF.search(r.text)
        if m:
            self.csrf = m.group(1)
        return r

    def sign_up(self, name: str, password: str) -> requests.Response:
        return self.post("/signup", {"name": name, "password": password, "again": password})

    def sign_in(self, name: str, password: str) -> requests.Response:
        return self.post("/login", {"name": name, "password": password})

    def new_token(self, label: str = "test") -> str:
        self.get("/tokens")
        r = self.post("/tokens", {"label": label})
        r.raise_for_status()
        m = NEW_TOKEN.search(r.text)
        assert m, r.text
        return html.unescape(m.group(1))
