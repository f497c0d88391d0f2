"""The task `make bench-workers` times. This whole file is the task package
that travels to every data holder, so it holds task code only."""

from __future__ import annotations

from typing import Any

import delta


class MeanAge(delta.Analytics):
    """One round: each member returns the sum and count of one column."""

    dataset = "patients"

    def execute(self, df: delta.FederatedFrame) -> Any:
        return df["age"].mean()
