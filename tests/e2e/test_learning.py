"""Horizontal learning through three real workers, on both ledgers, driven
by `delta.Client` as a data scientist would: a torch and a NumPy model
trained by FedAvg equal central gradient descent on the pooled (cleaned)
rows, with example counts and metrics securely summed; a member killed
while it trains leaves training going on the survivors, each later round
exactly a step of gradient descent on their rows; and the requester's
worker killed mid-training resumes from its checkpoint when it starts
again, ending with the model an uninterrupted run makes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import worker_learning_tasks as tasks
from PIL import Image
from sklearn.datasets import load_digits
from workers import Holders, start_holders

from delta.learning import LearningResult

BLOCK_MS = 500
# Σ nᵢΔᵢ in fixed point (24 fractional bits), divided by N: ~1e-9 a round.
EXACT = 1e-7


@pytest.fixture(scope="module", params=["coordinator", "chain"])
def holders(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Holders]:
    kind: str = request.param
    root = tmp_path_factory.mktemp(f"learning-{kind}")
    configs = []
    for i, (begin, end) in enumerate(SCAN_ROWS):
        folder = root / f"scans-{i}"
        for row in range(begin, end):
            digit = int(DIGITS.target[row])
            write_png(folder / str(digit) / f"{row:05d}.png", scan_pixels(row))
        configs.append(
            f'\n[datasets.scans]\npath = "{folder}"\nformat = "images"\nimage_mode = "L"\n'
        )
    with start_holders(kind, root, "learning", BLOCK_MS, configs) as holders:
        yield holders


# Each holder's image folder: scikit-learn's digits as 8x8 grey PNGs,
# one sub-folder per digit, rows [begin, end) of the bundled data.
DIGITS = load_digits()
SCAN_ROWS = [(0, 50), (50, 170), (170, 260)]


def scan_pixels(row: int) -> np.ndarray:
    return np.round(DIGITS.images[row] * (255 / 16)).astype(np.uint8)


def write_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode="L").save(path)


def tensors(frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.tensor(frame[["age", "bmi"]].to_numpy(np.float64))
    return x, torch.tensor(frame["sbp"].to_numpy(np.float64))


def assert_weights(result: LearningResult, central: torch.nn.Module) -> None:
    expected = {k: v.detach().numpy() for k, v in central.state_dict().items()}
    assert set(result.model) == set(expected)
    for name, values in expected.items():
        assert np.abs(result.model[name] - values).max() < EXACT, name


def test_torch_fedavg_through_workers_equals_central_gradient_descent(holders: Holders) -> None:
    handle = holders.client().submit(tasks.TorchSbp)
    result = handle.wait(timeout=300, progress=False)
    assert isinstance(result, LearningResult)
    pooled = holders.pooled()
    central = tasks.sbp_mlp()
    x, y = tensors(pooled)
    losses = [tasks.torch_step(central, x, y) for _ in range(tasks.TorchSbp.rounds)]
    assert_weights(result, central)
    h = result.history
    assert list(h["members"]) == [3, 3, 3] and list(h["examples"]) == [len(pooled)] * 3
    assert np.abs(h["train_loss"].to_numpy() - losses).max() < 1e-6
    # The final model's evaluation (the last step) is the pooled error.
    xs, ys = tasks.standardised(x, y)
    with torch.no_grad():
        final = float(((central(xs).squeeze(1) - ys) ** 2).mean())
    assert abs(h["eval_mse"].iloc[-1] - final) < 1e-6
    # Three training rounds and the evaluation: four rounds on the ledger
    # (counted from 0), of the seven declared (three spare for restarts).
    assert handle.status().round == 3 and handle.status().rounds == 7
    assert (h["upload_bytes"] > 0).all() and (h["member_seconds"] > 0).all()


def test_numpy_fedavg_through_workers_equals_central_gradient_descent(holders: Holders) -> None:
    result = holders.client().submit(tasks.NumpySbp).wait(timeout=300, progress=False)
    pooled = holders.pooled()
    model = {"w": np.zeros(2), "b": np.zeros(1)}
    x, y = pooled[["age", "bmi"]].to_numpy(), pooled["sbp"].to_numpy()
    for _ in range(tasks.NumpySbp.rounds):
        tasks.numpy_step(model, x, y)
    assert np.abs(result.model["w"] - model["w"]).max() < EXACT
    assert np.abs(result.model["b"] - model["b"]).max() < EXACT
    assert result.stopped == "rounds" and result.rounds == 3


def wait_for_log_count(
    holders: Holders, i: int, text: str, since: int, count: int, timeout: float
) -> None:
    """Waits until worker `i` has logged `text` `count` times since line `since`."""
    worker = holders.workers[i]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(text in line for line in worker.log[since:]) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(
        f"not {count} x {text!r} in {worker.name}'s log: {''.join(worker.log[since:])}"
    )


def test_a_member_killed_while_training_leaves_training_going_on_the_survivors(
    holders: Holders,
) -> None:
    victim = 2
    seen = len(holders.workers[victim].log)
    handle = holders.client().submit(
        tasks.SlowSecondRound, min_members=2, phase_timeout_s=10, compute_timeout_s=30
    )
    # Killed on events: its second round's training has started, that is
    # its second map (one per round) since the submit, and its keys for
    # that round are with it (a worker trains while keys are exchanged), so
    # it drops out of round 1 after sharing. Counted from before the
    # submit, since the map may start before the test sees the round.
    deadline = time.monotonic() + 120
    while not any(e["event"] == "round_started" and e["round"] == 1 for e in handle.events()):
        assert time.monotonic() < deadline, handle.status().progress
        time.sleep(0.05)
    wait_for_log_count(holders, victim, "map started", seen, 2, 60)
    wait_for_log_count(holders, victim, "keys shared", seen, 2, 60)
    holders.workers[victim].kill()
    try:
        result = handle.wait(timeout=300, progress=False)
    finally:
        holders.workers[victim].start()
    h = result.history
    assert list(h["members"]) == [3, 2, 2, 2], h
    everyone, survivors = holders.pooled(), holders.pooled([0, 1])
    assert list(h["examples"]) == [len(everyone)] + [len(survivors)] * 3
    # Round 1 is a step on everyone's rows; rounds 2 to 4 on the survivors'.
    central = tasks.sbp_mlp()
    tasks.torch_step(central, *tensors(everyone))
    for _ in range(3):
        tasks.torch_step(central, *tensors(survivors))
    assert_weights(result, central)
    dropped = [e for e in handle.events() if e["event"] == "dropped"]
    assert [e["round"] for e in dropped][:1] == [1], dropped


def test_a_requester_killed_mid_training_resumes_from_its_checkpoint(holders: Holders) -> None:
    requester = holders.workers[0]
    seen = len(requester.log)
    handle = holders.client().submit(tasks.SlowThirdRound, phase_timeout_s=10, compute_timeout_s=30)
    # Killed (SIGKILL) while the third round trains (its third map since
    # the submit): two rounds are behind it, checkpointed; the third is
    # lost with the requester's secrets.
    deadline = time.monotonic() + 120
    while not any(e["event"] == "round_started" and e["round"] == 2 for e in handle.events()):
        assert time.monotonic() < deadline, handle.status().progress
        time.sleep(0.05)
    wait_for_log_count(holders, 0, "map started", seen, 3, 60)
    requester.kill()
    requester.start()
    # The same handle waits on: the restarted worker answers for the task.
    result = handle.wait(timeout=300, progress=False)
    h = result.history
    assert list(h["round"]) == [1, 2, 3, 4] and list(h["members"]) == [3, 3, 3, 3], h
    assert result.stopped == "rounds" and result.rounds == 4
    # Every round is a step on everyone's rows: the lost one was redone
    # from the checkpoint, as if nothing had happened.
    central = tasks.sbp_mlp()
    for _ in range(4):
        tasks.torch_step(central, *tensors(holders.pooled()))
    assert_weights(result, central)
    logs = "\n".join(holders.client().task(handle.id).logs())
    assert "resumed from its last checkpoint: ledger round 3 runs next" in logs, logs
    # Ledger rounds 0, 1, the lost 2, then 3, 4 and the evaluation, 5.
    status = handle.status()
    assert status.state == "done" and status.round == 5 and status.rounds == 8
    # The checkpoint went with the task's end.
    assert list((requester.folder / "checkpoints").iterdir()) == []


def test_a_cnn_on_the_holders_image_folders_equals_central_gradient_descent(
    holders: Holders,
) -> None:
    client = holders.client()
    scans = next(d for d in client.datasets() if d["name"] == "scans")
    # What a requester needs to write the model, and no pixel.
    assert scans["columns"] == [
        {"name": "image", "type": "image", "shape": [8, 8, 1]},
        {"name": "label", "type": "category", "levels": [str(d) for d in range(10)]},
    ]
    result = client.submit(tasks.ScanCnn).wait(timeout=300, progress=False)
    assert isinstance(result, LearningResult)
    # Central training on the pooled images; the order of rows does not
    # change a full-batch gradient.
    rows = [r for begin, end in SCAN_ROWS for r in range(begin, end)]
    x = torch.from_numpy(np.stack([scan_pixels(r) for r in rows])[:, None] / 255.0)
    y = torch.from_numpy(DIGITS.target[rows].astype(np.int64))
    central = tasks.scan_cnn()
    losses = [tasks.scan_step(central, x, y) for _ in range(tasks.ScanCnn.rounds)]
    assert_weights(result, central)
    assert list(result.history["examples"]) == [len(rows)] * tasks.ScanCnn.rounds
    assert np.abs(result.history["train_loss"].to_numpy() - losses).max() < 1e-6
