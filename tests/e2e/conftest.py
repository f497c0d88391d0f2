"""Shared set-up for the end-to-end tests: the helpers in tools/py are
importable, and the node binary must exist before anything starts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "py"))

from devnet import node_binary  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def built_node() -> str:
    binary = node_binary()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} is missing: run `make build` first", pytrace=False)
    return binary
