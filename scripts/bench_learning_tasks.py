"""Delta's learning tasks for bench_learning.py, and the local training both
systems run.

A task travels as its file, so the model and the training loop live here;
bench_learning.py's Flower clients import `mlp` and `sgd_epoch` from this
file too (with a stand-in for `delta`, so Flower's processes do not load
Delta), so both systems run exactly the same local work: one epoch of
minibatch SGD on cross-entropy, the batch order seeded by the round.
"""

from __future__ import annotations

from typing import Any

import torch

from delta import HorizontalLearning

ROUNDS = 20
"""Rounds of every task here; bench_learning.py runs a copy of this file
with another value for `--rounds`."""

LEARNING_RATE = 0.1
BATCH = 32

DIGITS_SIZES = (64, 32, 10)
"""The digits MLP: 2,410 float32 weights."""

MILLION_SIZES = (64, 1024, 896, 10)
"""An MLP of 993,930 float32 weights, on the same data."""

FEATURES = tuple(f"p{i}" for i in range(64))
LABEL = "digit"


def mlp(sizes: tuple[int, ...]) -> torch.nn.Module:
    """A ReLU MLP of float32 weights, the same start everywhere."""
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    for at in range(len(sizes) - 1):
        if at:
            layers.append(torch.nn.ReLU())
        layers.append(torch.nn.Linear(sizes[at], sizes[at + 1]))
    return torch.nn.Sequential(*layers)


def sgd_epoch(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, batch: int, seed: int
) -> float:
    """One epoch of minibatch SGD on cross-entropy, in place; the mean loss
    of the batches."""
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    total, batches = 0.0, 0
    for at in range(0, len(y), batch):
        rows = order[at : at + batch]
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[rows]), y[rows])
        loss.backward()
        optimiser.step()
        total += loss.item()
        batches += 1
    return total / max(batches, 1)


class DigitsMLP(HorizontalLearning):
    """The digits MLP 64-32-10, FedAvg, one local epoch per round."""

    dataset = "digits"
    rounds = ROUNDS
    features = FEATURES
    label = LABEL
    config = {"lr": LEARNING_RATE, "batch": BATCH}

    def model(self) -> torch.nn.Module:
        return mlp(DIGITS_SIZES)

    def train(self, model: Any, data: Any, config: Any) -> dict[str, float]:
        x, y = data
        loss = sgd_epoch(model, x, y, config["lr"], config["batch"], int(config["round"]))
        return {"loss": loss}


class MillionMLP(DigitsMLP):
    """The same with an MLP of about 1M weights, 64-1024-896-10."""

    def model(self) -> torch.nn.Module:
        return mlp(MILLION_SIZES)
