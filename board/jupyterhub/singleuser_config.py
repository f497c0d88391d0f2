"""Each person's Jupyter server, started by the board's JupyterHub: Lab may
be framed by the board's own pages (one origin), by nothing else."""

from typing import Any

c: Any = get_config()  # type: ignore[name-defined]  # noqa: F821

c.ServerApp.tornado_settings = {
    "headers": {"Content-Security-Policy": "frame-ancestors 'self'"},
}
# Nodes often have no way out to the internet, and a data holder's
# notebook has no business calling out: no news feed, no update checks.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
