"""The example notebook and the benchmark still run end to end (a quick
benchmark: it checks results against pandas, never timings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SDK = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "script, args",
    [
        (SDK / "examples" / "federated_statistics.py", []),
        (SDK / "bench" / "bench_debug.py", ["--quick"]),
    ],
    ids=["federated_statistics", "bench_debug --quick"],
)
def test_script_runs(script: Path, args: list[str], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{script.name} failed:\n{done.stdout}\n{done.stderr}"
