"""`delta.debug` runs MapReduce tasks through the real engine: exact sums,
dropouts, refusals and failures as a real run would have them. It runs the
production path (packaging, the holder's static check, the runner's loader
and protocol, the wire encoding), so what a worker's runner refuses, debug
refuses with the same message: the parity tests compare it with a real
`python -m delta._runner serve` process."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from debug_tasks import (
    Broken,
    Configured,
    FractionalCount,
    Huge,
    Moments,
    Typed,
    Unsendable,
    Words,
)
from task_files import import_class

import delta
from delta import _runner
from delta._runner import PROTOCOL
from delta.check import check_or_raise
from delta.package import TaskPackage

SDK = str(Path(delta.__file__).resolve().parent.parent)


def frames(count: int, rows: int = 50) -> list[pd.DataFrame]:
    rng = np.random.default_rng(7)
    return [
        pd.DataFrame({"a": rng.normal(10, 3, rows + i), "b": rng.integers(0, 100, rows + i)})
        for i in range(count)
    ]


def test_the_answer_is_pandas_on_the_pooled_data() -> None:
    parts = frames(3)
    report: dict[str, object] = {}
    out = delta.debug(Moments(), {"values": parts}, report=report)
    pooled = pd.concat(parts)
    np.testing.assert_allclose(out["var"], pooled[["a", "b"]].var().to_numpy(), rtol=1e-9)
    assert out["n"] == len(pooled)
    assert report["rounds"] == 2
    assert report["outcome"] == "done"


def test_one_frame_is_split_into_members() -> None:
    whole = pd.concat(frames(2), ignore_index=True)
    out = delta.debug(Moments(), {"values": whole}, members=4)
    assert out["members"] == 4
    np.testing.assert_allclose(out["var"], whole[["a", "b"]].var().to_numpy(), rtol=1e-9)


def test_csv_and_parquet_files_are_members_too(tmp_path: Path) -> None:
    parts = frames(2)
    csv = tmp_path / "one.csv"
    parquet = tmp_path / "two.parquet"
    parts[0].to_csv(csv, index=False)
    parts[1].to_parquet(parquet)
    out = delta.debug(Moments(), {"values": [csv, parquet]})
    np.testing.assert_allclose(out["var"], pd.concat(parts)[["a", "b"]].var(), rtol=1e-9)
    with pytest.raises(ValueError, match="only .csv and .parquet"):
        delta.debug(Moments(), {"values": [csv, tmp_path / "three.xlsx"]})


def test_a_member_dropping_mid_round_leaves_the_survivors_answer() -> None:
    parts = frames(4)
    out = delta.debug(Moments(), {"values": parts}, drop={1: (0, "before_masked")})
    survivors = pd.concat([parts[0], parts[2], parts[3]])
    assert out["members"] == 3
    np.testing.assert_allclose(out["var"], survivors[["a", "b"]].var().to_numpy(), rtol=1e-9)


def test_a_member_whose_input_arrived_counts_even_if_it_never_reveals() -> None:
    parts = frames(4)
    out = delta.debug(Moments(), {"values": parts}, drop={2: (0, "before_reveal")})
    np.testing.assert_allclose(out["var"], pd.concat(parts)[["a", "b"]].var(), rtol=1e-9)


def test_too_few_members_fail_with_the_ledgers_reason() -> None:
    parts = frames(3)
    with pytest.raises(delta.TaskFailed, match="TooFewMasked") as failure:
        delta.debug(
            Moments(),
            {"values": parts},
            drop={0: (0, "before_masked"), 1: (0, "before_masked")},
        )
    assert any("round 0 started" in line for line in failure.value.progress)


def test_a_member_below_its_minimum_rows_refuses() -> None:
    parts = frames(3)
    small = parts[0].iloc[:5]
    out = delta.debug(Moments(), {"values": [small, parts[1], parts[2]]}, min_rows=20)
    np.testing.assert_allclose(
        out["var"], pd.concat(parts[1:])[["a", "b"]].var().to_numpy(), rtol=1e-9
    )
    assert out["members"] == 2


def test_malformed_map_outputs_are_refused_by_every_member() -> None:
    report: dict[str, object] = {}
    with pytest.raises(delta.TaskFailed):
        delta.debug(Broken(), {"values": frames(3)}, report=report)
    failures = report["member_failures"]
    assert isinstance(failures, list)
    assert all(any("has 1 values, expected 2" in f for f in member) for member in failures)


def test_typed_outputs_keep_their_shape_and_counts_are_exact() -> None:
    parts = frames(3)
    out = delta.debug(Typed(), {"values": parts})
    pooled = pd.concat(parts)
    assert out["n"] == len(pooled) and out["n_type"] == "int64"
    assert out["w_shape"] == [2, 3]
    expected = np.outer([1.0, -1.0], [pooled["a"].sum(), len(pooled), 1.5])
    # Each member's float32 values, summed in fixed point.
    np.testing.assert_allclose(out["w"], expected, rtol=1e-6)


def test_a_fraction_in_an_int64_output_is_refused_by_the_member() -> None:
    report: dict[str, object] = {}
    with pytest.raises(delta.TaskFailed):
        delta.debug(FractionalCount(), {"values": frames(3)}, report=report)
    failures = report["member_failures"]
    assert isinstance(failures, list)
    refused = "declared int64 and holds fractions"
    assert all(any(refused in f for f in m) for m in failures), failures


def test_values_beyond_the_encoding_are_refused_never_wrapped() -> None:
    report: dict[str, object] = {}
    with pytest.raises(delta.TaskFailed, match="outside the encoding's range") as failed:
        delta.debug(Huge(), {"values": frames(3)}, report=report)
    # The requester learns which output and the bound, never the value.
    assert "1000000000000000" not in failed.value.reason
    assert "fewer than the threshold" in failed.value.reason
    failures = report["member_failures"]
    assert isinstance(failures, list)
    assert "outside" in failures[0][0]


def test_missing_data_and_bad_arguments_are_named() -> None:
    with pytest.raises(KeyError, match="no data for dataset 'values'"):
        delta.debug(Moments(), {"other": frames(2)})
    with pytest.raises(ValueError, match="drop point"):
        delta.debug(Moments(), {"values": frames(3)}, drop={0: (0, "sometime")})
    with pytest.raises(ValueError, match="at least 2 members"):
        delta.debug(Moments(), {"values": frames(1)})


def test_a_task_missing_a_step_function_is_refused_when_created() -> None:
    class NoReduce(delta.MapReduce):
        dataset = "values"

        def start(self) -> delta.Step:
            return delta.Step("s", {"n": 1})

        def map(self, step: delta.Step, df: pd.DataFrame) -> Mapping[str, np.ndarray]:
            return {"n": np.array([len(df)])}

    with pytest.raises(TypeError, match="reduce"):
        NoReduce()  # type: ignore[abstract]

    class NoExecute(delta.Analytics):
        dataset = "values"

    with pytest.raises(TypeError, match="execute"):
        NoExecute()  # type: ignore[abstract]


# -- the production path --------------------------------------------------------------


def worker_runner(
    tmp_path: Path,
    package: TaskPackage,
    requests: list[dict[str, Any]],
    frame: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """The replies of the runner process a worker starts (`python -m
    delta._runner serve`, sandboxed by its audit hook) to `requests`; the
    first reply is its ready line or its refusal of the package."""
    folder = tmp_path / f"runner-{uuid.uuid4().hex[:8]}"
    scratch = folder / "scratch"
    scratch.mkdir(parents=True)
    args = [sys.executable, "-m", "delta._runner", "serve", "--scratch", str(scratch)]
    if frame is not None:
        frame.to_parquet(folder / "dataset.parquet")
        args += ["--dataset", str(folder / "dataset.parquet")]
    load = {
        "op": "load",
        "package": base64.b64encode(package.to_bytes()).decode("ascii"),
        "digest": package.hexdigest(),
    }
    requests = [load, *requests]
    done = subprocess.run(
        args,
        input=b"".join(_runner.encode_message(r) for r in requests),
        capture_output=True,
        timeout=60,
        cwd=scratch,
        env={**os.environ, "PYTHONPATH": SDK},
    )
    stream = io.BytesIO(done.stdout)
    replies = []
    while (reply := _runner.read_message(stream)) is not None:
        replies.append(reply)
    assert replies, f"the runner answered nothing:\n{done.stderr.decode(errors='replace')}"
    # Its idle line, then the answer to `load`: the ready line or the
    # refusal of the package.
    assert replies[0].get("idle") is True or replies[0]["ok"] is False, replies[0]
    return replies[1:] if replies[0].get("idle") is True else replies


def step_json(step: delta.Step, dataset: str = "values") -> dict[str, Any]:
    return {
        "dataset": dataset,
        "body": step.body(),
        "outputs": [[name, o.dtype, list(o.shape)] for name, o in step.specs()],
    }


LEAKY = """\
import os

import numpy as np

import delta


class Leaky(delta.MapReduce):
    dataset = "values"

    def start(self):
        return delta.Step("n", {"n": 1})

    def map(self, step, df):
        return {"n": np.array([len(os.listdir("/"))])}

    def reduce(self, step, sums, members):
        return delta.Done(sums["n"][0])
"""


def test_a_task_the_static_check_refuses_fails_with_the_checks_message(tmp_path: Path) -> None:
    (tmp_path / "leaky.py").write_text(LEAKY)
    leaky = import_class(tmp_path / "leaky.py", "Leaky")
    with pytest.raises(delta.TaskRejected) as refused:
        delta.debug(leaky(), {"values": frames(3)})
    with pytest.raises(delta.TaskRejected) as holder:
        check_or_raise({"leaky.py": LEAKY})
    assert str(refused.value) == str(holder.value)
    assert "leaky.py:1:8: import of 'os' is not allowed" in str(refused.value)

    # A package made by hand, past package_task's check, meets the holder's.
    good = delta.package_task(Moments)
    entry = good.manifest["entrypoint"]["file"]
    digest = hashlib.sha256(LEAKY.encode()).hexdigest()
    forged = TaskPackage(manifest={**good.manifest, "files": {entry: digest}}, files={entry: LEAKY})
    with pytest.raises(delta.TaskRejected) as loaded:
        delta.debug(forged, {"values": frames(3)})
    (reply,) = worker_runner(tmp_path, forged, [])
    assert reply["ok"] is False and reply["kind"] == "package"
    assert str(loaded.value) == reply["error"]
    assert f"{entry}:1:8: import of 'os' is not allowed" in reply["error"]


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (Broken, "step 'mean': output 'sum' has 1 values, expected 2"),
        (Words, "could not convert string to float: 'low'"),
    ],
    ids=["wrong length", "not numbers"],
)
def test_map_outputs_the_runner_refuses_fail_with_its_message(
    tmp_path: Path, task: type[delta.MapReduce], message: str
) -> None:
    parts = frames(3)
    report: dict[str, Any] = {}
    with pytest.raises(delta.TaskFailed, match="fewer than the threshold"):
        delta.debug(task(), {"values": parts}, report=report)
    first = Moments().start()
    replies = worker_runner(
        tmp_path,
        delta.package_task(task),
        [{"op": "map", "step": step_json(first)}],
        frame=parts[0],
    )
    assert replies[0] == {"ok": True, "ready": True, "protocol": PROTOCOL}
    refused = replies[1]
    assert refused["ok"] is False and refused["kind"] == "task" and message in refused["error"]
    worker_says = f"{refused['kind']}: {refused['error']}"
    for member in report["member_failures"]:
        assert any(worker_says in failure for failure in member), member


def test_a_result_the_wire_refuses_fails_with_its_message(tmp_path: Path) -> None:
    with pytest.raises(delta.TaskFailed) as failed:
        delta.debug(Unsendable(), {"values": frames(3)})
    first = Moments().start()
    sums = np.zeros(3, dtype="<f8").tobytes()
    replies = worker_runner(
        tmp_path,
        delta.package_task(Unsendable),
        [{"op": "start"}, {"op": "reduce", "step": step_json(first), "sums": sums, "members": 3}],
    )
    refused = replies[2]
    assert refused["ok"] is False and refused["kind"] == "task"
    assert refused["error"] == (
        "the result cannot be sent: TypeError: a task result cannot hold a value of type set"
    )
    assert f"task: {refused['error']}" in failed.value.reason


def test_only_the_class_travels() -> None:
    """Every process creates its own instance with no arguments, as on a
    worker: state given to this instance does not reach them."""
    with pytest.raises(delta.TaskFailed, match="package: the task failed while loading") as no:
        delta.debug(Configured(["a", "b"]), {"values": frames(2)})
    assert "missing 1 required positional argument: 'columns'" in no.value.reason


def test_class_instance_and_package_give_the_same_answer() -> None:
    parts = frames(3)
    report: dict[str, Any] = {}
    answers = [
        delta.debug(Moments(), {"values": parts}, report=report),
        delta.debug(Moments, {"values": parts}),
        delta.debug(delta.package_task(Moments), {"values": parts}),
    ]
    for answer in answers[1:]:
        assert answer["var"].tobytes() == answers[0]["var"].tobytes()
        assert answer["n"] == answers[0]["n"] and answer["members"] == 3
    # The members' view of each step: decoded from the body JSON.
    names = [step.name for step in report["steps"]]
    assert names == ["mean", "var"]
    assert report["steps"][1].params["mean"] == pytest.approx(
        pd.concat(parts)[["a", "b"]].mean().tolist(), rel=1e-9
    )
    assert not [m for m in sys.modules if m.startswith("delta_task_")]


def test_the_worker_loads_the_runner_once(tmp_path: Path) -> None:
    """debug uses the runner, but importing `delta` must not import it:
    `python -m delta._runner` imports `delta` first and would load the
    runner's module twice (a RuntimeWarning in every task log)."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "delta._runner", "prepare"]
        + ["--spec", str(tmp_path / "missing.json"), "--out", str(tmp_path / "out.parquet")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": SDK},
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert json.loads(done.stdout)["ok"] is False
