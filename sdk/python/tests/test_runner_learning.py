"""A torch learning task in real `delta._runner serve` processes, as a
worker runs them: the audit hook installed before the package arrives,
torch imported by the runner itself for a "horizontal_learning" package
(its ctypes loading refused to task code), training under the worker's
default address-space limits (4 GiB, raised to 8 GiB for learning)
with one thread."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import learning_tasks as lt
import numpy as np
import pandas as pd
from test_runner import Runner, runners  # noqa: F401 - the fixture

from delta import _wire
from delta._runner import PROTOCOL
from delta.learning import LearningResult
from delta.package import package_task

# The worker's defaults: memory_mb 4096 (soft), learning_memory_mb 8192 (hard).
LIMITS = (4 << 30, 8 << 30)


def write_members(tmp: Path) -> tuple[list[Path], pd.DataFrame]:
    rng = np.random.default_rng(4)
    pooled = pd.DataFrame({"x1": rng.normal(size=60), "x2": rng.normal(size=60)})
    pooled["y"] = pooled.x1 - 2.0 * pooled.x2
    paths = []
    for i, part in enumerate((pooled.iloc[:20], pooled.iloc[20:])):
        path = tmp / f"points{i}.parquet"
        part.to_parquet(path, index=False)
        paths.append(path)
    return paths, pooled


def test_torch_training_runs_under_the_hook_and_the_memory_limit(
    tmp_path: Path,
    runners: list[Runner],  # noqa: F811 - the fixture
) -> None:
    package = package_task(lt.TorchMLP)
    assert package.manifest["kind"] == "horizontal_learning"
    paths, pooled = write_members(tmp_path)
    requester = Runner(tmp_path, package, address_space=LIMITS)
    members = [Runner(tmp_path, package, dataset=p, address_space=LIMITS) for p in paths]
    runners.extend([requester, *members])
    for runner in (requester, *members):
        assert runner.first == {"ok": True, "ready": True, "protocol": PROTOCOL}, (
            runner.log.read_text()
        )
    info = requester.request({"op": "info"})
    assert info["kind"] == "horizontal_learning" and info["max_rounds"] == lt.ROUNDS + 1 + 3
    reply = requester.request({"op": "start"})
    for _ in range(lt.ROUNDS):
        assert reply["ok"], reply
        step = reply["step"]
        values = [m.request({"op": "map", "step": step}) for m in members]
        # Outputs are float64 but for the int64 example count: summed per
        # output, each in its own type, as the worker's engine does.
        reply = requester.request(
            {
                "op": "reduce",
                "step": step,
                "sums": summed(step, values),
                "members": len(members),
            }
        )
    assert reply["ok"] and "done" in reply, reply
    result = _wire.decode(reply["done"])
    assert isinstance(result, LearningResult)
    assert list(result.history["examples"]) == [60] * lt.ROUNDS
    central = lt.torch_mlp()
    import torch

    x = torch.tensor(pooled[["x1", "x2"]].to_numpy())
    y = torch.tensor(pooled["y"].to_numpy())
    for _ in range(lt.ROUNDS):
        lt.torch_gd_step(central, x, y)
    for name, values_ in central.state_dict().items():
        assert np.abs(result.model[name] - values_.detach().numpy()).max() < 1e-12
    for runner in (requester, *members):
        assert runner.close() == 0
        assert "refused" not in runner.log.read_text()


def summed(step: dict[str, object], replies: list[dict[str, object]]) -> bytes:
    """The sums a worker hands `reduce`: each output summed in its own type
    (float64 for floats, int64 for int64), little-endian, in step order."""
    parts = []
    raws = []
    for reply in replies:
        assert reply["ok"], reply
        assert isinstance(reply["values"], bytes), "values arrive as an attachment"
        raws.append(reply["values"])
    at = 0
    outputs = step["outputs"]
    assert isinstance(outputs, list)
    for _name, dtype, shape, *_ in outputs:
        count = int(np.prod(shape)) if shape else 1
        kind = "<i8" if dtype == "int64" else ("<f4" if dtype == "float32" else "<f8")
        size = count * np.dtype(kind).itemsize
        total = sum(
            np.frombuffer(raw[at : at + size], dtype=kind).astype(kind[:2] + "8") for raw in raws
        )
        parts.append(np.asarray(total).tobytes())
        at += size
    return b"".join(parts)


def test_the_step_body_names_the_round_and_carries_the_weights(
    tmp_path: Path,
    runners: list[Runner],  # noqa: F811 - the fixture
) -> None:
    requester = Runner(tmp_path, package_task(lt.NumpyLinear))
    runners.append(requester)
    step = requester.request({"op": "start"})["step"]
    # The params as JSON, then a NUL byte and the weights' bytes as they are.
    head, nul, weights = step["body"].partition(b"\0")
    body = json.loads(head)
    assert body["name"] == "train" and body["params"]["round"] == 1
    assert body["params"]["layout"] == [["w", "float64", [2]], ["b", "float64", [1]]]
    assert nul == b"\0" and weights == bytes(24)
    assert requester.close() == 0


def run_rounds(
    requester: Runner, members: list[Runner], reply: dict[str, object], rounds: int
) -> tuple[dict[str, object], list[dict[str, object]]]:
    """Runs `rounds` steps from `reply` (a reply holding a step); returns
    the last reply and every step issued."""
    steps = []
    for _ in range(rounds):
        assert reply["ok"], reply
        step = reply["step"]
        assert isinstance(step, dict)
        steps.append(step)
        values = [m.request({"op": "map", "step": step}) for m in members]
        reply = requester.request(
            {"op": "reduce", "step": step, "sums": summed(step, values), "members": len(members)}
        )
    return reply, steps


def checkpoint_of(requester: Runner) -> bytes:
    first = requester.request({"op": "checkpoint", "part": 0})
    assert first["ok"] and first["parts"] >= 1, first
    parts = [first["data"]]
    for part in range(1, int(first["parts"])):
        reply = requester.request({"op": "checkpoint", "part": part})
        parts.append(reply["data"])
    assert all(isinstance(p, bytes) for p in parts), "checkpoints arrive as attachments"
    return b"".join(parts)


def test_a_restarted_requester_resumes_from_its_checkpoint_and_trains_the_same_model(
    tmp_path: Path,
    runners: list[Runner],  # noqa: F811 - the fixture
) -> None:
    """Three rounds, a checkpoint, the requester's process gone and one
    round lost with it; a new process resumes from the checkpoint: it
    issues the lost round's step again, byte for byte, and the result is
    the uninterrupted run's (weights, FedAdam's moments, history)."""
    package = package_task(lt.TorchMLPAdam)
    paths, _ = write_members(tmp_path)
    members = [Runner(tmp_path, package, dataset=p, address_space=LIMITS) for p in paths]
    whole = Runner(tmp_path, package, address_space=LIMITS)
    runners.extend([whole, *members])
    assert whole.request({"op": "info"})["resumable"] is True
    # One step per round and the final evaluation.
    done, uninterrupted = run_rounds(whole, members, whole.request({"op": "start"}), lt.ROUNDS + 1)
    assert done["ok"] and "done" in done, done
    expected = _wire.decode(done["done"])

    first = Runner(tmp_path, package, address_space=LIMITS)
    runners.append(first)
    reply, _ = run_rounds(first, members, first.request({"op": "start"}), 3)
    checkpoint = checkpoint_of(first)
    # The fourth round starts on the ledger; the requester dies in it.
    assert first.close() == 0

    second = Runner(tmp_path, package, address_space=LIMITS)
    runners.append(second)
    at = 0
    while at < len(checkpoint):
        chunk = checkpoint[at : at + 1000]
        assert second.request({"op": "restore", "data": chunk})["ok"]
        at += 1000
    resumed = second.request({"op": "start", "resume": {"rounds_started": 4, "checkpoint": True}})
    assert resumed["ok"], resumed
    assert resumed["step"] == uninterrupted[3], "the lost round's step, again"
    done, _ = run_rounds(second, members, resumed, lt.ROUNDS + 1 - 3)
    result = _wire.decode(done["done"])
    assert isinstance(result, LearningResult) and isinstance(expected, LearningResult)
    for name, weights in expected.model.items():
        assert np.array_equal(result.model[name], weights), name
    same = ["round", "members", "examples", "train_loss", "eval_mse"]
    pd.testing.assert_frame_equal(result.history[same], expected.history[same])

    # A checkpoint from another task is refused with the reason, in a
    # fresh process (and a resume without one starts over, losing nothing).
    other = Runner(tmp_path, package_task(lt.TorchMLP), address_space=LIMITS)
    runners.append(other)
    other.request({"op": "restore", "data": base64.b64encode(checkpoint).decode()})
    refused = other.request({"op": "start", "resume": {"rounds_started": 4, "checkpoint": True}})
    assert not refused["ok"] and "written by another task" in refused["error"], refused
    fresh = other.request({"op": "start", "resume": {"rounds_started": 1, "checkpoint": False}})
    assert fresh["ok"], fresh
    head = fresh["step"]["body"].partition(b"\0")[0]
    assert json.loads(head)["params"]["round"] == 1
    bad = other.request({"op": "start", "resume": {"rounds_started": -1, "checkpoint": False}})
    assert bad["kind"] == "protocol", bad
