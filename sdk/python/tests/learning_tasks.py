"""Learning tasks for test_learning.py (a task travels as its file)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from delta import HorizontalLearning, Privacy
from delta.learning import FedAdam, FedAvgM, FedProx

LEARNING_RATE = 0.1
ROUNDS = 5


def linear_gd_step(model: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """One full-batch gradient step of least squares, in place."""
    err = x @ model["w"] + model["b"][0] - y
    model["w"] -= LEARNING_RATE * 2.0 * x.T @ err / len(y)
    model["b"] -= LEARNING_RATE * 2.0 * np.array([err.mean()])
    return float(np.mean(err**2))


class NumpyLinear(HorizontalLearning):
    """Least squares by full-batch gradient descent, one local step."""

    dataset = "points"
    rounds = ROUNDS
    features = ("x1", "x2")
    label = "y"
    eval_metrics = ("mse",)

    def model(self) -> dict[str, np.ndarray]:
        return {"w": np.zeros(2), "b": np.zeros(1)}

    def train(self, model: Any, data: Any, config: Any) -> dict[str, float]:
        x, y = data
        return {"loss": linear_gd_step(model, x, y)}

    def evaluate(self, model: Any, data: Any) -> dict[str, float]:
        x, y = data
        return {"mse": float(np.mean((x @ model["w"] + model["b"][0] - y) ** 2))}


def torch_mlp(dtype: torch.dtype = torch.float64, hidden: int = 8) -> torch.nn.Module:
    torch.manual_seed(7)
    return torch.nn.Sequential(
        torch.nn.Linear(2, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1)
    ).to(dtype)


def torch_gd_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """One full-batch SGD step on the mean squared error, in place."""
    optimiser = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    optimiser.zero_grad()
    loss = ((model(x).squeeze(1) - y) ** 2).mean()
    loss.backward()
    optimiser.step()
    return loss.item()


class TorchMLP(HorizontalLearning):
    """A small float64 MLP by full-batch gradient descent, one local step."""

    dataset = "points"
    rounds = ROUNDS
    features = ("x1", "x2")
    label = "y"

    def model(self) -> torch.nn.Module:
        return torch_mlp()

    def train(self, model: Any, data: Any, config: Any) -> dict[str, float]:
        x, y = data
        return {"loss": torch_gd_step(model, x, y)}


class TorchMLPAdam(TorchMLP):
    """FedAdam at the requester and an evaluation: a checkpoint must carry
    the optimiser's moments and the history for a resumed run to match."""

    strategy = FedAdam(eta=0.05)
    eval_metrics = ("mse",)

    def evaluate(self, model: Any, data: Any) -> dict[str, float]:
        x, y = data
        with torch.no_grad():
            return {"mse": float(((model(x).squeeze(1) - y) ** 2).mean())}


class TorchMLPProx(TorchMLP):
    """FedProx with a large μ: the proximal term is in the gradient."""

    strategy = FedProx(proximal_mu=10.0)
    rounds = 2

    def train(self, model: Any, data: Any, config: Any) -> dict[str, float]:
        x, y = data
        optimiser = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
        for _ in range(3):
            optimiser.zero_grad()
            loss = ((model(x).squeeze(1) - y) ** 2).mean()
            (loss + self.proximal_term(model, config)).backward()
            optimiser.step()
        return {"loss": loss.item()}


class ShiftBy(HorizontalLearning):
    """Each member moves every weight by its rows' mean of `g`, so the
    mean update is known exactly: a probe of the server strategies."""

    dataset = "probe"
    rounds = 3
    strategy = FedAdam()

    def model(self) -> dict[str, np.ndarray]:
        return {"w": np.array([1.0, -2.0, 0.5])}

    def train(self, model: Any, data: Any, config: Any) -> dict[str, float]:
        model["w"] += data["g"].mean() * np.array([1.0, 2.0, -1.0]) * config["round"]
        return {"loss": 0.0}


class ShiftByMomentum(ShiftBy):
    strategy = FedAvgM(server_learning_rate=0.5, server_momentum=0.9)


class WrongMetrics(NumpyLinear):
    """`train` returns a metric it did not declare."""

    def train(self, model: Any, data: Any, config: Any) -> dict[str, float]:
        x, y = data
        return {"loss": linear_gd_step(model, x, y), "accuracy": 1.0}


class PrivateLinear(NumpyLinear):
    """Client-level DP with a task budget that ends training early."""

    rounds = 60
    privacy = Privacy(clip=1.0, noise_multiplier=2.0, delta=1e-5)
    epsilon = 8.0  # eight rounds at this noise, of sixty asked for


class Digits(HorizontalLearning):
    """An MLP on scikit-learn's digits: local epochs of minibatch SGD,
    evaluated on each member's held-out fifth."""

    dataset = "digits"
    rounds = 60
    features = tuple(f"p{i}" for i in range(64))
    label = "digit"
    holdout = 0.2
    eval_metrics = ("accuracy", "loss")
    config = {"lr": 0.1, "batch": 32, "epochs": 3}

    def model(self) -> torch.nn.Module:
        return digits_mlp()

    def train(self, model: Any, data: Any, config: Any) -> dict[str, float]:
        x, y = data
        return {"loss": sgd_epochs(model, x, y, config, seed=int(config["round"]))}

    def evaluate(self, model: Any, data: Any) -> dict[str, float]:
        x, y = data
        logits = model(x)
        return {
            "accuracy": float((logits.argmax(1) == y).double().mean()),
            "loss": float(torch.nn.functional.cross_entropy(logits, y)),
        }


def digits_mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def sgd_epochs(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, config: Any, seed: int
) -> float:
    """`config["epochs"]` epochs of minibatch SGD on cross-entropy; the mean
    loss of the batches."""
    optimiser = torch.optim.SGD(model.parameters(), lr=config["lr"])
    generator = torch.Generator().manual_seed(seed)
    total, batches = 0.0, 0
    for _ in range(int(config["epochs"])):
        order = torch.randperm(len(y), generator=generator)
        for at in range(0, len(y), int(config["batch"])):
            rows = order[at : at + int(config["batch"])]
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[rows]), y[rows])
            loss.backward()
            optimiser.step()
            total += loss.item()
            batches += 1
    return total / max(batches, 1)


def digit_cnn() -> torch.nn.Module:
    """A small convolutional net for 8x8 grey digits, in float64 so that
    its federated training can be compared with central training exactly."""
    torch.manual_seed(3)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 10),
    ).double()


def cnn_gd_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """One full-batch SGD step on the cross-entropy, in place."""
    optimiser = torch.optim.SGD(model.parameters(), lr=0.5)
    optimiser.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimiser.step()
    return loss.item()


class DigitImages(HorizontalLearning):
    """A CNN on an image folder of digits (one sub-folder per digit):
    full-batch gradient descent, one local step per round."""

    dataset = "scans"
    rounds = 4
    features = ("image",)
    label = "label"
    eval_metrics = ("accuracy",)

    def model(self) -> torch.nn.Module:
        return digit_cnn()

    def train(self, model: Any, data: Any, config: Any) -> dict[str, float]:
        x, y = data
        return {"loss": cnn_gd_step(model, x, y)}

    def evaluate(self, model: Any, data: Any) -> dict[str, float]:
        x, y = data
        return {"accuracy": float((model(x).argmax(1) == y).double().mean())}
