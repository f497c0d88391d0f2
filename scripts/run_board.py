"""`make board`: a local network to try Deltaboard on. A coordinator, three
sample hospitals' `delta-worker`s (the `patients` dataset) and a
`delta-board` in front of the first worker, with JupyterLab (`/lab`),
until Ctrl-C.

The board prints its one-time set-up address; open it to create the first
administrator, then sign up others at /signup and approve them on /users.
Each person's API address and tokens are on /tokens.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "py"))

from workers import start_holders  # noqa: E402

from board import Board  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="the board's port (loopback)")
    parser.add_argument(
        "--no-jupyterhub", action="store_true", help="run the board without JupyterLab"
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory(prefix="delta-board-") as tmp:
        root = Path(tmp)
        print("board: starting a coordinator and three workers ...")
        with start_holders("coordinator", root, "board", 500) as holders:
            w = holders.workers[0]
            board = Board(
                root / "board-state",
                w.api,
                w.folder / "api.token",
                port=args.port,
                jupyterhub=not args.no_jupyterhub,
            )
            with board:
                print(f"board: {board.url} in front of {w.name} ({w.api})")
                print(f"board: set-up address (works once): {board.setup_url}")
                print("board: Ctrl-C stops the board, the workers and the coordinator")
                try:
                    while board.alive():
                        time.sleep(1)
                except KeyboardInterrupt:
                    print("\nboard: stopping")
                    return 0
                print("board: delta-board exited:\n" + "".join(board.log[-20:]))
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
