"""`delta.debug`: run a task on local data the way the network runs it.

Everything a submitted task goes through, in this process:

- the task is packaged as `delta.Client.submit` packages it
  (`delta.package.package_for`: source files and manifest, the static
  check), and every simulated process reads the package back from its
  bytes as a data holder does (`load_package`: commitment, encoding, and
  the static check again);
- the task is loaded from the package by the holder's runner
  (`delta._runner.load_task`: the package's own source, imported from
  memory, its class created with no arguments), one instance for the
  requester and one per member, and each answers the runner protocol's
  `info`, `start`, `map` and `reduce` requests (`delta._runner.Server`);
- requests and replies are the protocol's messages (a JSON line and its
  binary attachments): step bodies, map outputs and sums as attachments,
  outputs and sums as bytes in each output's declared type
  (checked against the step by the engine, as on a worker), the result in
  `delta._wire`'s encoding, decoded as `delta.Client` decodes it;
- the rounds run through the real engine: one simulated member per frame,
  the coordinator's round rules in memory, real SecAgg+ masking and
  unmasking, real fixed-point encoding of floats and exact encoding of
  int64 outputs.

So a task that passes here passes on workers, and one that a worker would
refuse fails here with the runner's own message. What is left out: the
worker's OS sandbox and the runner's audit hook (task code runs in this
interpreter, with its permissions), the holder's dataset preparation (each
frame is used as given), and the network.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import _native, _wire
from .mapreduce import MapReduce, PolicyRefusal, Step
from .package import TaskPackage, load_package, package_for, with_levels

# `delta._runner` is imported where it is used, not with the package: the
# worker starts `python -m delta._runner`, which imports `delta` first, and
# the runner's module must not be loaded twice there.

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


class RunnerFailure(Exception):
    """A failure reply of the task runner: `kind` ("package", "task",
    "plan", "policy", "sandbox", "resources" or "protocol") and the runner's
    message, shown as the worker shows them: `kind: message`."""

    def __init__(self, kind: str, error: str) -> None:
        super().__init__(f"{kind}: {error}")
        self.kind = kind
        self.error = error


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
    dataset: str,
    data: Mapping[str, Sequence[Source] | Source],
    members: int | None,
) -> list[pd.DataFrame]:
    """One frame per simulated member for the dataset named `dataset`."""
    if dataset not in data:
        raise KeyError(f"no data for dataset {dataset!r} (given: {sorted(data)})")
    given = data[dataset]
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


def frame_levels(
    package: TaskPackage, data: Mapping[str, Sequence[Source] | Source]
) -> dict[str, list[Any]]:
    """For an analytics package that carries no levels: the categories of
    the categorical columns of the frames given for its dataset (the first
    frame's order, then levels only later frames have), standing in for
    the levels holders publish. Paths are not read here."""
    if package.manifest.get("members_run") != "plan" or "levels" in package.manifest:
        return {}
    levels: dict[str, list[Any]] = {}
    for name in package.datasets():
        given = data.get(name)
        frames = [given] if isinstance(given, pd.DataFrame) else given
        if not isinstance(frames, Sequence) or isinstance(frames, str):
            continue
        for frame in frames:
            if not isinstance(frame, pd.DataFrame):
                continue
            for column, dtype in frame.dtypes.items():
                plain = isinstance(dtype, pd.CategoricalDtype) and all(
                    isinstance(_plain(v), str | int | float | bool) for v in dtype.categories
                )
                if plain:
                    known = levels.setdefault(str(column), [])
                    known.extend(_plain(v) for v in dtype.categories if _plain(v) not in known)
    return {k: v for k, v in levels.items() if v}


def _plain(value: Any) -> Any:
    """A category as JSON carries it (numpy scalars to Python's)."""
    return value.item() if isinstance(value, np.generic) else value


# -- one simulated task process -------------------------------------------------------


class _Process:
    """One task process as a worker starts it: the package read back from
    its bytes, the task loaded from it by the runner, requests and replies
    as protocol lines."""

    def __init__(
        self, data: bytes, digest: bytes, frame: pd.DataFrame | None, min_cell_rows: int = 0
    ) -> None:
        from . import _runner

        package = load_package(data, expected_digest=digest)
        try:
            task = (
                _runner.member_task(package, min_cell_rows)
                if frame is not None
                else _runner.load_task(package)
            )
        except BaseException as exc:  # task code ran: anything may come out
            raise RunnerFailure("package", _runner.package_error(exc)) from exc
        self.server = _runner.Server(task, package, frame, sandbox=None)

    def call(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Sends one request; returns the reply, or raises `RunnerFailure`."""
        from . import _runner

        try:
            sent = _runner.read_message(_runner.PartsReader(_runner.message_parts(request)))
            answer = self.server.handle(sent) if sent is not None else {}
            reply = _runner.read_message(_runner.PartsReader(_runner.reply_parts(answer)))
        except _runner._ProtocolError as exc:
            raise RunnerFailure("protocol", str(exc)) from None
        if reply is None or reply.get("ok") is not True:
            reply = reply or {}
            raise RunnerFailure(str(reply.get("kind", "protocol")), str(reply.get("error", "")))
        return reply


def _runner_step(step: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's step as the runner reads it (the worker's `step_json`)."""
    wire: dict[str, Any] = {
        "dataset": step["dataset"],
        "body": bytes(step["body"]),
        "outputs": [
            [name, dtype, list(shape)] + ([] if bound is None else [bound])
            for name, dtype, shape, bound in step["outputs"]
        ],
    }
    privacy = step.get("privacy")
    if privacy is not None:
        clip, noise_multiplier, delta = privacy
        wire["privacy"] = {"clip": clip, "noise_multiplier": noise_multiplier, "delta": delta}
    return wire


def _engine_step(step: Any) -> dict[str, Any]:
    """The runner's step as the engine takes it (the worker's
    `step_from_json`)."""
    try:
        return {
            "dataset": step["dataset"],
            "body": _bytes(step["body"]),
            "outputs": [
                (item[0], item[1], list(item[2]), item[3] if len(item) == 4 else None)
                for item in step["outputs"]
            ],
            "privacy": _privacy_tuple(step.get("privacy")),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise RunnerFailure("protocol", f"malformed step: {exc}") from None


def _privacy_tuple(value: Any) -> tuple[float, float, float] | None:
    """A step's privacy as the engine takes it: (clip, noise multiplier,
    delta), or None."""
    if value is None:
        return None
    return (float(value["clip"]), float(value["noise_multiplier"]), float(value["delta"]))


def _bytes(value: Any) -> bytes:
    """A binary field of a runner's reply, an attachment (the engine checks
    a map's values' length and types against the step, as the worker does)."""
    if not isinstance(value, bytes):
        raise RunnerFailure("protocol", "a binary field is not an attachment")
    return value


def privacy_summary(noised: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """What a task's private rounds spent: ε and δ after the last one, and
    each round's noise (`std`: the noise's standard deviation in every
    value of that round's sums); None for a task without DP."""
    if not noised:
        return None
    last = noised[-1]
    return {
        "epsilon": float(last["epsilon"]),
        "delta": float(last["delta"]),
        "rounds": [dict(n) for n in noised],
    }


# -- the run -------------------------------------------------------------------------------


def debug(
    task: MapReduce | type[MapReduce] | TaskPackage,
    data: Mapping[str, Sequence[Source] | Source],
    members: int | None = None,
    *,
    min_rows: int = 0,
    min_cell_rows: int = 0,
    threshold: int | None = None,
    drop: Mapping[int, tuple[int, str]] | None = None,
    fractional_bits: int = 24,
    ring_bits: int = 64,
    report: dict[str, Any] | None = None,
    extra_files: Sequence[str | Path] = (),
    kind: str | None = None,
) -> Any:
    """Runs `task` with one simulated member per frame of its dataset and
    returns its result, as `delta.Client` would return it.

    - `task`: what `delta.Client.submit` takes: a task class, an instance
      of one (its class is what runs: each process creates its own
      instance with no arguments), or a `TaskPackage`; `extra_files` and
      `kind` as for `submit`.
    - `data`: `{dataset name: [frame or path per member]}`, or one frame or
      path split into `members` parts by rows. For an analytics task, a
      frame's categorical columns give the levels of the keys the task
      does not declare (`df.groupby("sex")` needs no `levels=`), as the
      holders' published levels do through `delta.Client`.
    - `min_rows`: each member's policy; a member with fewer rows refuses.
    - `min_cell_rows`: each member's policy for analytics: a member
      withholds any cell it would compute from fewer of its own rows.
    - `threshold`: secret-sharing threshold (default: a majority, at least 2).
    - `drop`: `{member index: (round, point)}` simulates a member dropping
      out from that round on, at `point` (one of `DROP_POINTS`).
    - `report`: if given, filled with the run's progress, member failures,
      rounds, bytes carried, `steps` (every step the task issued, in
      order, as the members read it) and `privacy` (for steps with
      `delta.Privacy`: the ε spent at δ and each round's noise, as
      `TaskHandle.privacy()` gives them; None otherwise).

    Raises `delta.TaskRejected` or `delta.PackageError` when the task
    cannot be packaged (as `submit` does), and `TaskFailed` when a worker
    would refuse it or it fails: the task cannot be loaded, `start` or
    `reduce` fail, or too few members answer (`member_failures` then holds
    each member's own reason, which a real requester never sees).

    Example:

        >>> delta.debug(MeanAge(), data={"patients": [frame1, frame2]})  # doctest: +SKIP
    """
    from . import _runner

    package = package_for(task, extra_files=extra_files, kind=kind)
    levels = frame_levels(package, data)
    if levels:
        package = with_levels(package, levels)
    payload, digest = package.to_bytes(), package.digest()
    if drop is not None:
        for _, point in drop.values():
            if point not in DROP_POINTS:
                raise ValueError(f"drop point {point!r} is not one of {DROP_POINTS}")
    try:
        return _run(
            payload,
            digest,
            data,
            members,
            min_rows,
            min_cell_rows,
            threshold,
            dict(drop or {}),
            fractional_bits,
            ring_bits,
            report,
        )
    except RunnerFailure as failure:
        # The requester's process failed before the engine started: a
        # worker refuses the submission with this reason.
        raise TaskFailed(str(failure), [], []) from failure
    finally:
        _runner.unload_task(package)


def _run(
    payload: bytes,
    digest: bytes,
    data: Mapping[str, Sequence[Source] | Source],
    members: int | None,
    min_rows: int,
    min_cell_rows: int,
    threshold: int | None,
    drop: dict[int, tuple[int, str]],
    fractional_bits: int,
    ring_bits: int,
    report: dict[str, Any] | None,
) -> Any:
    from . import _runner

    requester = _Process(payload, digest, None)
    info = requester.call({"op": "info"})
    first = requester.call({"op": "start"})["step"]
    dataset = info.get("dataset")
    if not isinstance(dataset, str):
        dataset = first.get("dataset") if isinstance(first, dict) else None
    frames = member_frames(str(dataset), data, members)
    rounds = info.get("max_rounds")
    max_rounds = rounds if isinstance(rounds, int) and not isinstance(rounds, bool) else 32
    steps: list[Step] = [_runner.step_from_wire(first)]
    result: list[Any] = []

    def member_map(frame: pd.DataFrame) -> Callable[[dict[str, Any]], bytes]:
        process = _Process(payload, digest, frame, min_cell_rows)

        def run(step: dict[str, Any]) -> bytes:
            if len(frame) < min_rows:
                raise PolicyRefusal(
                    f"{len(frame)} rows is below this member's minimum of {min_rows}"
                )
            reply = process.call({"op": "map", "step": _runner_step(step)})
            return _bytes(reply.get("values"))

        return run

    def reduce(step: dict[str, Any], sums: bytes, contributors: int) -> dict[str, Any] | None:
        reply = requester.call(
            {
                "op": "reduce",
                "step": _runner_step(step),
                "sums": bytes(sums),
                "members": contributors,
            }
        )
        if "done" in reply:
            result.append(_wire.decode(reply["done"]))
            return None
        if report is not None:
            # Kept only when asked for: each step holds the model it sends.
            steps.append(_runner.step_from_wire(reply.get("step")))
        return _engine_step(reply.get("step"))

    drops: list[tuple[int, str] | None] = [None] * len(frames)
    for index, (round_no, point) in drop.items():
        drops[index] = (round_no, point)
    maps = [member_map(f) for f in frames]
    # Objects alive before the run (torch's, pandas', the caller's) are set
    # aside from the cyclic collector while it lasts, so its full
    # collections do not walk them all again (8 rounds of a 1M-weight model:
    # 0.42-0.57 s of collections against 0.64-0.65 s). Reference counting
    # still frees as usual, and the collector still collects what the run
    # itself makes.
    gc.freeze()
    try:
        out = _native.run_local(
            _engine_step(first),
            reduce,
            maps,
            max_rounds,
            threshold,
            fractional_bits,
            ring_bits,
            drops,
        )
    finally:
        gc.unfreeze()
    if report is not None:
        report.update(out)
        report["steps"] = steps
        report["privacy"] = privacy_summary(out["noised"])
    if out["outcome"] != "done" or not result:
        raise TaskFailed(
            str(out.get("reason")), list(out["progress"]), list(out["member_failures"])
        )
    return result[0]
