"""One long-running binary under test: started in its own process group,
its output collected line by line, started-ness read from a line it
prints, and always stopped (a signal, then SIGKILL) when a `with` block
ends."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from types import TracebackType
from typing import IO


class ManagedProcess:
    """Base of the test helpers' process wrappers (`Coordinator`, `Worker`).

    Subclasses call `spawn` from their `start`; `ready(line)` returns True
    on the line that says the process is up.
    """

    #: Sent by `stop` first.
    stop_signal = signal.SIGINT
    #: What the process is, for error messages.
    what = "process"

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []

    def __enter__(self) -> ManagedProcess:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def spawn(
        self,
        args: list[str],
        ready: Callable[[str], bool],
        timeout: float,
        env: dict[str, str] | None = None,
    ) -> None:
        """Starts `args`; returns once `ready` accepted a line of its output,
        raises (with the output) if it exits or times out first."""
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env=env,
        )
        found = threading.Event()

        def read(stream: IO[str]) -> None:
            for line in stream:
                self.log.append(line)
                if ready(line):
                    found.set()

        assert self.proc.stdout is not None and self.proc.stderr is not None
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=read, args=(stream,), daemon=True).start()
        waited = 0.0
        while not found.wait(0.2):
            waited += 0.2
            if self.proc.poll() is not None or waited >= timeout:
                self.stop()
                raise RuntimeError(f"{self.what} did not start:\n" + "".join(self.log))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """`stop_signal`, then SIGKILL if it has not exited within 15 s."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, self.stop_signal)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
