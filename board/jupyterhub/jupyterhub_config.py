"""JupyterHub as `delta-board --jupyterhub` starts it: on loopback only,
behind the board, which is the one origin people reach (it forwards
`/hub/` and `/user/` here after checking its own session).

- Sign-in: only a ticket the board signed for a signed-in person
  (HMAC-SHA256 with the secret the board passes in the environment,
  valid 60 s, used once). There is no password here to guess.
- Each person's server runs in its own process (JupyterHub's local
  process spawner, as the board's own system user, with a home folder of
  its own under the board's state), confined by `lab_sandbox.py` to that
  folder and the system's libraries; before it starts, the hub asks the
  board for a fresh API token of that person, so kernels have
  `DELTA_URL` (the person's own API address) and `DELTA_TOKEN` set and
  `delta.Client()` needs no arguments.
- Lab may be framed by the board's own pages only
  (`frame-ancestors 'self'`).

Everything variable comes from the environment the board sets
(`DELTA_BOARD_*`), so this file is the same for every board.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from jupyterhub.auth import Authenticator
from jupyterhub.handlers import BaseHandler
from tornado import web

c: Any = get_config()  # type: ignore[name-defined]  # noqa: F821

HERE = Path(__file__).resolve().parent
ENV = os.environ
SECRET = ENV["DELTA_BOARD_HUB_SECRET"].encode()
BOARD_URL = ENV["DELTA_BOARD_URL"].rstrip("/")
STATE = Path(ENV["DELTA_BOARD_HUB_STATE"])
JUPYTER_ENV = Path(ENV["DELTA_BOARD_JUPYTER_ENV"])
FRAME_POLICY = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}


class TicketLogin(BaseHandler):  # type: ignore[misc]
    """`/hub/login?auth_ticket=...&next=...`: signs in whoever the ticket names
    (a parameter name JupyterHub scrubs from its request log)."""

    async def get(self) -> None:
        user = await self.login_user({"ticket": self.get_argument("auth_ticket", "")})
        if user is None:
            raise web.HTTPError(403, "sign in on the board and open JupyterLab from there")
        self.redirect(self.get_next_url(user))


class BoardTickets(Authenticator):  # type: ignore[misc]
    """Accepts the board's tickets: `name.expires_ms.nonce.hmac`."""

    auto_login = True
    _used: dict[str, float] = {}
    _lock = threading.Lock()

    def get_handlers(self, app: Any) -> list[tuple[str, type]]:
        return [("/login", TicketLogin)]

    async def authenticate(self, handler: Any, data: dict[str, str]) -> str | None:
        parts = data.get("ticket", "").split(".")
        if len(parts) != 4:
            return None
        name, expires, nonce, mac = parts
        signed = f"{name}.{expires}.{nonce}".encode()
        expected = hmac.new(SECRET, signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, mac):
            self.log.warning("refused a ticket with a wrong signature")
            return None
        now = time.time()
        if not expires.isdigit() or int(expires) / 1000 < now:
            self.log.warning("refused an expired ticket for %s", name)
            return None
        with self._lock:
            for n, until in list(self._used.items()):
                if until < now:
                    del self._used[n]
            if nonce in self._used:
                self.log.warning("refused a ticket used before, for %s", name)
                return None
            self._used[nonce] = int(expires) / 1000
        return name


def board_token(spawner: Any) -> None:
    """Before a person's server starts: a fresh API token of theirs from
    the board (loopback, authenticated with the shared secret)."""
    name = spawner.user.name
    request = urllib.request.Request(
        f"{BOARD_URL}/internal/notebook-token",
        data=json.dumps({"name": name}).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer " + SECRET.decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    home = STATE / "users" / name
    home.mkdir(parents=True, exist_ok=True)
    spawner.environment.update({"DELTA_URL": answer["url"], "DELTA_TOKEN": answer["token"]})
    if ENV.get("DELTA_BOARD_LAB_UNCONFINED") == "1":
        spawner.environment["DELTA_BOARD_LAB_UNCONFINED"] = "1"


c.JupyterHub.bind_url = f"http://127.0.0.1:{ENV['DELTA_BOARD_PROXY_PORT']}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(ENV["DELTA_BOARD_HUB_PORT"])
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.authenticator_class = BoardTickets
c.Authenticator.allow_all = True
c.JupyterHub.tornado_settings = FRAME_POLICY
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{ENV['DELTA_BOARD_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]

c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "users" / "{username}")
# Each server starts confined (lab_sandbox.py): its person's folder, the
# system's libraries and Python, nothing of the board's or the worker's.
c.Spawner.cmd = [
    str(JUPYTER_ENV / "bin" / "python"),
    str(HERE / "lab_sandbox.py"),
    str(JUPYTER_ENV / "bin" / "jupyterhub-singleuser"),
]
c.Spawner.args = [f"--config={HERE / 'singleuser_config.py'}"]
if os.geteuid() == 0:
    c.Spawner.args.append("--allow-root")
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = str(STATE / "users" / "{username}")
c.Spawner.pre_spawn_hook = board_token
# A busy two-core machine takes about 15 s to bring a server up.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
# A stopped server (culled, crashed, or the hub restarted) starts again
# when its page is opened, without a "launch" button in between.
c.JupyterHub.implicit_spawn_seconds = 1
