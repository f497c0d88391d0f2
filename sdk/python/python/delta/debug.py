"""`delta.debug`: run a task on local data through the real engine.

One simulated member per frame, the requester's `reduce` in this process,
the real round rules (the coordinator's ledger in memory), real SecAgg+
masking and unmasking, real fixed-point encoding: what comes back is what a
real run returns, including its failures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import _native
from .mapreduce import Done, MapReduce, PolicyRefusal, Step, flatten, unflatten

Source = pd.DataFrame | str | Path

DROP_POINTS = ("before_join", "before_shares", "before_masked", "before_reveal")


class TaskFailed(RuntimeError):
    """The task did not finish; `reason` is the engine's or the ledger's
    reason and `progress` the requester's log."""

    def __init__(self, reason: str, progress: list[str], member_failures: list[list[str]]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.progress = progress
        self.member_failures = member_failures


def load_frame(source: Source) -> pd.DataFrame:
    """A data frame from a frame, or a CSV or Parquet file."""
    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise ValueError(f"{path}: only .csv and .parquet files can be loaded")


def member_frames(
    task: MapReduce,
    data: Mapping[str, Sequence[Source] | Source],
    members: int | None,
) -> list[pd.DataFrame]:
    """One frame per simulated member for the task's dataset."""
    name = task.dataset
    if name not in data:
        raise KeyError(f"no data for dataset {name!r} (given: {sorted(data)})")
    given = data[name]
    if isinstance(given, (pd.DataFrame, str, Path)):
        frame = load_frame(given)
        n = members if members is not None else 1
        if n < 1:
            raise ValueError("members must be at least 1")
        return [
            frame.iloc[idx].reset_index(drop=True)
            for idx in np.array_split(np.arange(len(frame)), n)
        ]
    frames = [load_frame(s) for s in given]
    if members is not None and members != len(frames):
        raise ValueError(f"members={members} but {len(frames)} frames were given")
    return frames


def _step_dict(step: Step, dataset: str) -> dict[str, Any]:
    return {"dataset": dataset, "body": step.body(), "outputs": list(step.outputs.items())}


def debug(
    task: MapReduce,
    data: Mapping[str, Sequence[Source] | Source],
    members: int | None = None,
    *,
    min_rows: int = 0,
    threshold: int | None = None,
    drop: Mapping[int, tuple[int, str]] | None = None,
    fractional_bits: int = 24,
    ring_bits: int = 64,
    report: dict[str, Any] | None = None,
) -> Any:
    """Runs `task` with one simulated member per frame of its dataset and
    returns its result.

    - `data`: `{dataset name: [frame or path per member]}`, or one frame or
      path split into `members` parts by rows.
    - `min_rows`: each member's policy; a member with fewer rows refuses.
    - `threshold`: secret-sharing threshold (default: a majority, at least 2).
    - `drop`: `{member index: (round, point)}` simulates a member dropping
      out from that round on, at `point` (one of `DROP_POINTS`).
    - `report`: if given, filled with the run's progress, member failures,
      rounds and bytes carried.
    """
    frames = member_frames(task, data, members)
    dataset = task.dataset
    steps: dict[bytes, Step] = {}
    first = task.start()
    steps[first.body()] = first
    result: list[Any] = []

    def member_map(frame: pd.DataFrame) -> Any:
        def run(step: dict[str, Any]) -> list[float]:
            if len(frame) < min_rows:
                raise PolicyRefusal(
                    f"{len(frame)} rows is below this member's minimum of {min_rows}"
                )
            known = steps[bytes(step["body"])]
            return flatten(known, task.map(known, frame)).tolist()

        return run

    def reduce(step: dict[str, Any], sums: list[float], contributors: int) -> dict[str, Any] | None:
        known = steps[bytes(step["body"])]
        outcome = task.reduce(known, unflatten(known, sums), contributors)
        if isinstance(outcome, Done):
            result.append(outcome.value)
            return None
        if not isinstance(outcome, Step):
            raise TypeError(f"reduce must return a Step or Done, not {type(outcome).__name__}")
        steps[outcome.body()] = outcome
        return _step_dict(outcome, dataset)

    drops: list[tuple[int, str] | None] = [None] * len(frames)
    for index, (round_no, point) in (drop or {}).items():
        if point not in DROP_POINTS:
            raise ValueError(f"drop point {point!r} is not one of {DROP_POINTS}")
        drops[index] = (round_no, point)
    out = _native.run_local(
        _step_dict(first, dataset),
        reduce,
        [member_map(f) for f in frames],
        task.max_rounds,
        threshold,
        fractional_bits,
        ring_bits,
        drops,
    )
    if report is not None:
        report.update(out)
    if out["outcome"] != "done" or not result:
        raise TaskFailed(
            str(out.get("reason")), list(out["progress"]), list(out["member_failures"])
        )
    return result[0]
