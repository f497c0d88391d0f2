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
    assert info["kind"] == "horizontal_learning" and info["max_rounds"] == lt.ROUNDS + 1
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


def summed(step: dict[str, object], replies: list[dict[str, object]]) -> str:
    """The sums a worker hands `reduce`: each output summed in its own type
    (float64 for floats, int64 for int64), little-endian, in step order."""
    parts = []
    raws = []
    for reply in replies:
        assert reply["ok"], reply
        raws.append(base64.b64decode(str(reply["values"])))
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
    return base64.b64encode(b"".join(parts)).decode()


def test_the_step_body_names_the_round_and_carries_the_weights(
    tmp_path: Path,
    runners: list[Runner],  # noqa: F811 - the fixture
) -> None:
    requester = Runner(tmp_path, package_task(lt.NumpyLinear))
    runners.append(requester)
    step = requester.request({"op": "start"})["step"]
    body = json.loads(base64.b64decode(step["body"]))
    assert body["name"] == "train" and body["params"]["round"] == 1
    assert body["params"]["layout"] == [["w", "float64", [2]], ["b", "float64", [1]]]
    assert base64.b64decode(body["params"]["weights"]) == bytes(24)
    assert requester.close() == 0
