"""Start real `delta-worker` processes for end-to-end tests and the demo.

Each worker gets its own folder written by `delta-worker init` (config,
keys, API token), a dataset file, free loopback ports, its own process
group, and is always stopped when the `with` block ends.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from process import ManagedProcess

from coordinator import Coordinator
from devnet import Node, free_port

if TYPE_CHECKING:
    import delta

DEV_SURIS = ["//Alice", "//Bob", "//Charlie"]
"""Funded dev-chain accounts for the first three workers."""


def start_ledger(
    kind: str, root: Path, stack: ExitStack, block_ms: int, name: str
) -> tuple[Node | Coordinator, str, list[str | None]]:
    """Starts a ledger for three workers inside `stack`: a dev chain
    sealing at most every `block_ms` however many transactions come (round
    deadlines count blocks, so they keep to the wall clock), or a
    coordinator with its database under `root`. Returns it, its URL and
    the three workers' secret URIs (None on the coordinator: fresh keys)."""
    if kind == "chain":
        args = [
            "--dev",
            "--empty-block-interval",
            str(block_ms),
            "--min-block-interval",
            str(block_ms),
        ]
        node = stack.enter_context(Node(args, name=name))
        return node, node.ws_url, list(DEV_SURIS)
    listen = f"127.0.0.1:{free_port()}"
    coordinator = stack.enter_context(Coordinator(root / "coordinator.sqlite", listen=listen))
    return coordinator, coordinator.url, [None, None, None]


def worker_binary() -> str:
    """The binary under test (DELTA_WORKER_BIN, else the default build)."""
    explicit = os.environ.get("DELTA_WORKER_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache" / "delta" / "target"))
    return str(Path(target) / "debug" / "delta-worker")


def patients(seed: int, rows: int) -> pd.DataFrame:
    """A hospital's sample data: age, BMI, systolic blood pressure, sex,
    with a few missing and out-of-range values for cleaning to catch."""
    rng = np.random.default_rng(seed)
    age = rng.normal(50 + 3 * seed, 12, rows).round(0)
    bmi = rng.normal(26 + 0.5 * seed, 4, rows).round(1)
    sbp = (100 + 0.5 * age + 0.8 * bmi + rng.normal(0, 8, rows)).round(0)
    frame = pd.DataFrame(
        {
            "age": age,
            "bmi": bmi,
            "sbp": sbp,
            "sex": rng.choice(["f", "m"], rows),
            "notes": ["private"] * rows,
        }
    )
    frame.loc[rng.choice(rows, max(1, rows // 50), replace=False), "bmi"] = np.nan
    frame.loc[rng.choice(rows, 2, replace=False), "age"] = 999.0
    return frame


#: The columns every sample worker declares, with their cleaning rules.
PATIENT_COLUMNS = """
[datasets.patients.columns]
age = { type = "float", min = 0, max = 120, out_of_range = "drop" }
bmi = { type = "float", missing = "drop" }
sbp = { type = "float" }
sex = { type = "category", levels = ["f", "m"] }
"""


class Worker(ManagedProcess):
    """One `delta-worker` process."""

    stop_signal = signal.SIGTERM

    READY = re.compile(r"delta-worker ready: api=(\S+) p2p=(\S+) account=(\S+)")

    def __init__(
        self,
        folder: Path,
        name: str,
        ledger_kind: str,
        ledger_url: str,
        frame: pd.DataFrame | None = None,
        suri: str | None = None,
        extra_config: str = "",
        data_format: str = "csv",
        block_ms: int | None = None,
        code_from_anyone: bool = True,
    ) -> None:
        super().__init__()
        self.what = f"worker {name}"
        self.folder = folder
        self.name = name
        self.suri = suri
        self.api = ""
        self.account = ""
        self.api_port = free_port()
        self.p2p_port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                worker_binary(),
                "init",
                "--dir",
                str(folder),
                "--name",
                name,
                "--ledger-kind",
                ledger_kind,
                "--ledger-url",
                ledger_url,
                "--api-listen",
                f"127.0.0.1:{self.api_port}",
                "--p2p-listen",
                f"/ip4/127.0.0.1/tcp/{self.p2p_port}",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        config = (folder / "worker.toml").read_text()
        if block_ms is not None:
            config = config.replace("block_ms = 6000", f"block_ms = {block_ms}")
        if code_from_anyone:
            # Most tests run MapReduce tasks from throwaway accounts; the
            # consent tests keep the default (code only as approved packages).
            config = config.replace("code_requesters = []", 'code_requesters = ["*"]')
        if frame is not None:
            data = folder / f"patients.{data_format}"
            if data_format == "csv":
                frame.to_csv(data, index=False)
            elif data_format == "parquet":
                frame.to_parquet(data, index=False)
            else:
                raise ValueError(data_format)
            config += f'\n[datasets.patients]\npath = "{data.name}"\n' + PATIENT_COLUMNS
        (folder / "worker.toml").write_text(config + extra_config)
        self.token = (folder / "api.token").read_text().strip()

    def __enter__(self) -> Worker:
        self.start()
        return self

    def start(self, timeout: float = 60.0) -> None:
        def ready(line: str) -> bool:
            m = self.READY.search(line)
            if m:
                self.api, _, self.account = m.group(1), m.group(2), m.group(3)
            return m is not None

        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info,libp2p=warn,jsonrpsee=warn")
        if self.suri:
            env["DELTA_SURI"] = self.suri
        args = [worker_binary(), "run", "--config", str(self.folder / "worker.toml")]
        self.spawn(args, ready, timeout, env)


@dataclass
class Holders:
    """Three sample hospitals' workers on one ledger, with their frames."""

    workers: list[Worker]
    frames: list[pd.DataFrame]

    def client(self) -> delta.Client:
        import delta

        return delta.Client(self.workers[0].api, self.workers[0].token)

    def pooled(self, members: list[int] | None = None) -> pd.DataFrame:
        """What the workers' cleaning rules leave of these members' rows
        (all three by default), pooled."""
        chosen = range(len(self.frames)) if members is None else members
        frame = pd.concat([self.frames[i] for i in chosen], ignore_index=True)
        return frame[(frame["age"] >= 0) & (frame["age"] <= 120) & frame["bmi"].notna()]

    def cli(self, i: int, *args: str) -> subprocess.CompletedProcess[str]:
        """`delta-worker ARGS --config` of worker `i`, as its own account."""
        w = self.workers[i]
        env = dict(os.environ)
        if w.suri:
            env["DELTA_SURI"] = w.suri
        return subprocess.run(
            [worker_binary(), *args, "--config", str(w.folder / "worker.toml")],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            env=env,
        )


ROWS = [240, 300, 360]
"""The sample hospitals' row counts."""


@contextmanager
def start_holders(
    kind: str,
    root: Path,
    name: str,
    block_ms: int,
    configs: Sequence[str] = ("", "", ""),
    **worker_options: object,
) -> Iterator[Holders]:
    """A ledger of `kind` and three workers on it (`worker_options` go to
    each `Worker`, `configs[i]` is added to worker i's configuration), all
    stopped when the block ends."""
    frames = [patients(i, rows) for i, rows in enumerate(ROWS)]
    shared = str(worker_options.pop("extra_config", ""))
    with ExitStack() as stack:
        _, url, suris = start_ledger(kind, root, stack, block_ms, name)
        workers = [
            stack.enter_context(
                Worker(
                    root / f"w{i}",
                    f"holder-{i}",
                    kind,
                    url,
                    frames[i],
                    suri=suris[i],
                    extra_config=shared + configs[i],
                    block_ms=block_ms,
                    **worker_options,  # type: ignore[arg-type]
                )
            )
            for i in range(3)
        ]
        yield Holders(workers, frames)
