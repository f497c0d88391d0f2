"""Learning tasks for test_learning.py, on the sample hospitals' patients
(age, bmi, sbp after cleaning): predict systolic blood pressure."""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import torch

from delta import HorizontalLearning

# Fixed standardisation, so members need no statistics of their own.
X_MEAN = (50.0, 26.0)
X_SCALE = (12.0, 4.0)
Y_MEAN, Y_SCALE = 130.0, 10.0
LEARNING_RATE = 0.2


def standardised(x: Any, y: Any) -> tuple[Any, Any]:
    if isinstance(x, np.ndarray):
        return (x - np.array(X_MEAN)) / np.array(X_SCALE), (y - Y_MEAN) / Y_SCALE
    return (x - torch.tensor(X_MEAN, dtype=x.dtype)) / torch.tensor(X_SCALE, dtype=x.dtype), (
        y - Y_MEAN
    ) / Y_SCALE


def sbp_mlp() -> torch.nn.Module:
    torch.manual_seed(3)
    return torch.nn.Sequential(
        torch.nn.Linear(2, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)
    ).double()


def torch_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """One full-batch SGD step on the mean squared error, in place."""
    x, y = standardised(x, y)
    optimiser = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    optimiser.zero_grad()
    loss = ((model(x).squeeze(1) - y) ** 2).mean()
    loss.backward()
    optimiser.step()
    return loss.item()


def numpy_step(model: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """One full-batch gradient step of least squares, in place."""
    x, y = standardised(x, y)
    err = x @ model["w"] + model["b"][0] - y
    model["w"] -= LEARNING_RATE * 2.0 * x.T @ err / len(y)
    model["b"] -= LEARNING_RATE * 2.0 * np.array([err.mean()])
    return float(np.mean(err**2))


class TorchSbp(HorizontalLearning):
    """A float64 MLP by full-batch gradient descent, one local step per
    round: FedAvg weighted by examples is central gradient descent."""

    dataset = "patients"
    rounds = 3
    features = ("age", "bmi")
    label = "sbp"
    eval_metrics = ("mse",)

    def model(self) -> torch.nn.Module:
        return sbp_mlp()

    def train(self, model: Any, data: Any, config: Any) -> dict[str, float]:
        x, y = data
        return {"loss": torch_step(model, x, y)}

    def evaluate(self, model: Any, data: Any) -> dict[str, float]:
        x, y = standardised(*data)
        return {"mse": float(((model(x).squeeze(1) - y) ** 2).mean())}


class NumpySbp(HorizontalLearning):
    """Least squares as a NumPy model, the same way."""

    dataset = "patients"
    rounds = 3
    features = ("age", "bmi")
    label = "sbp"

    def model(self) -> dict[str, np.ndarray]:
        return {"w": np.zeros(2), "b": np.zeros(1)}

    def train(self, model: Any, data: Any, config: Any) -> dict[str, float]:
        x, y = data
        return {"loss": numpy_step(model, x, y)}


class SlowSecondRound(TorchSbp):
    """TorchSbp whose second round's training waits `seconds` on the clock
    at every member, so a test can kill one while it trains."""

    rounds = 4
    # Longer than the key exchange on a chain of 500 ms blocks, which runs
    # beside the training.
    config = {"slow_round": 2, "seconds": 6.0}

    def train(self, model: Any, data: Any, config: Any) -> dict[str, float]:
        if config["round"] == config["slow_round"]:
            until = datetime.datetime.now() + datetime.timedelta(seconds=config["seconds"])
            while datetime.datetime.now() < until:
                pass
        return super().train(model, data, config)


class SlowThirdRound(SlowSecondRound):
    """SlowSecondRound slow in its third round instead, so a test can kill
    the requester's worker with two rounds' checkpoints behind it."""

    config = {"slow_round": 3, "seconds": 4.0}


def scan_cnn() -> torch.nn.Module:
    """A small float64 CNN for the holders' 8x8 grey digit scans."""
    torch.manual_seed(5)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(3 * 6 * 6, 10),
    ).double()


def scan_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """One full-batch SGD step on the cross-entropy, in place."""
    optimiser = torch.optim.SGD(model.parameters(), lr=0.5)
    optimiser.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimiser.step()
    return loss.item()


class ScanCnn(HorizontalLearning):
    """A CNN on each holder's image folder (one sub-folder per digit)."""

    dataset = "scans"
    rounds = 3
    features = ("image",)
    label = "label"

    def model(self) -> torch.nn.Module:
        return scan_cnn()

    def train(self, model: Any, data: Any, config: Any) -> dict[str, float]:
        x, y = data
        return {"loss": scan_step(model, x, y)}
