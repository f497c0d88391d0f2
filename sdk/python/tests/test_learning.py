"""Horizontal learning through `delta.debug` (the production path:
packaged task, holders' runner, the engine's secure aggregation): FedAvg
weighted by examples equals central gradient descent on the pooled rows,
for NumPy and torch models; the server strategies follow their published
update rules; robust aggregators are refused with the reason; a private
task reports ε and stops at its budget; models leave as safetensors."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import learning_tasks as lt
import numpy as np
import pandas as pd
import pytest
import safetensors.numpy
import torch
from sklearn.datasets import load_digits

import delta
from delta import _native
from delta.learning import (
    FedAdagrad,
    FedAdam,
    FedAvg,
    FedAvgM,
    FedMedian,
    FedYogi,
    Krum,
    LearningResult,
    StrategyRefused,
    read_safetensors,
)

# Σ nᵢΔᵢ is fixed-point with 24 fractional bits: at most 2^-25 per member
# per weight per round, divided by N; a few rounds stay far below this.
EXACT = 1e-7


def points(seed: int = 1, rows: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x1": rng.normal(size=rows), "x2": rng.normal(size=rows)})
    df["y"] = 2.0 * df.x1 - df.x2 + 0.5 + 0.1 * rng.normal(size=rows)
    return df


def uneven(df: pd.DataFrame) -> list[pd.DataFrame]:
    """Three members of 10, 35 and 55 rows: unweighted averaging would be wrong."""
    return [df.iloc[:10], df.iloc[10:45], df.iloc[45:]]


def test_numpy_fedavg_equals_central_gradient_descent() -> None:
    df = points()
    result = delta.debug(lt.NumpyLinear, data={"points": uneven(df)})
    model = {"w": np.zeros(2), "b": np.zeros(1)}
    x, y = df[["x1", "x2"]].to_numpy(), df["y"].to_numpy()
    losses = [lt.linear_gd_step(model, x, y) for _ in range(lt.ROUNDS)]
    assert isinstance(result, LearningResult)
    assert np.abs(result.model["w"] - model["w"]).max() < EXACT
    assert np.abs(result.model["b"] - model["b"]).max() < EXACT
    h = result.history
    assert list(h["round"]) == [1, 2, 3, 4, 5]
    assert list(h["members"]) == [3] * 5 and list(h["examples"]) == [100] * 5
    # The example-weighted train loss is the pooled loss before each step.
    assert np.abs(h["train_loss"].to_numpy() - losses).max() < 1e-6
    # eval_mse of round r is the model after round r: round r+1's loss.
    assert np.abs(h["eval_mse"].to_numpy()[:-1] - losses[1:]).max() < 1e-6
    final = float(np.mean((x @ model["w"] + model["b"][0] - y) ** 2))
    assert abs(h["eval_mse"].iloc[-1] - final) < 1e-6
    assert result.stopped == "rounds" and result.rounds == 5 and result.epsilon is None
    assert result.strategy == "FedAvg(server_learning_rate=1.0)"
    assert (h["upload_bytes"] > 0).all() and (h["download_bytes"] > 0).all()
    assert (h["seconds"] >= h["member_seconds"]).all()


def test_torch_fedavg_equals_central_gradient_descent() -> None:
    df = points(2)
    result = delta.debug(lt.TorchMLP, data={"points": uneven(df)})
    central = lt.torch_mlp()
    x, y = torch.tensor(df[["x1", "x2"]].to_numpy()), torch.tensor(df["y"].to_numpy())
    for _ in range(lt.ROUNDS):
        lt.torch_gd_step(central, x, y)
    expected = {k: v.detach().numpy() for k, v in central.state_dict().items()}
    assert set(result.model) == set(expected)
    for name, values in expected.items():
        assert result.model[name].dtype == np.float64
        assert np.abs(result.model[name] - values).max() < EXACT, name
    # The trained weights load back into the module the task defined.
    module = result.load_into(lt.torch_mlp())
    assert torch.allclose(module(x), central(x), atol=1e-6)


def test_fedprox_sends_mu_and_its_term_pulls_members_back() -> None:
    df = points(3)
    plain = delta.debug(lt.TorchMLP, data={"points": uneven(df)}, report=(report := {}))
    assert "proximal_mu" not in report["steps"][0].params["config"]
    prox = delta.debug(lt.TorchMLPProx, data={"points": uneven(df)}, report=(report := {}))
    config = report["steps"][0].params["config"]
    assert config["proximal_mu"] == 10.0 and config["round"] == 1
    assert prox.strategy == "FedProx(server_learning_rate=1.0, proximal_mu=10.0)"
    # Three local steps against μ = 10 move the weights less than FedAvg's
    # task moves them in five plain steps from the same start.
    start = {k: v.detach().numpy() for k, v in lt.torch_mlp().state_dict().items()}
    moved = sum(float(np.abs(prox.model[k] - start[k]).sum()) for k in start)
    free = sum(float(np.abs(plain.model[k] - start[k]).sum()) for k in start)
    assert 0 < moved < free


def probe_frames() -> tuple[list[pd.DataFrame], float]:
    frames = [pd.DataFrame({"g": [0.1 * (i + 1)] * (5 + 7 * i)}) for i in range(3)]
    pooled = float(pd.concat(frames)["g"].mean())
    return frames, pooled


VECTOR = np.array([1.0, 2.0, -1.0])
START = np.array([1.0, -2.0, 0.5])


def test_fedadam_follows_its_update_rule_with_bias_correction() -> None:
    frames, pooled = probe_frames()
    result = delta.debug(lt.ShiftBy, data={"probe": frames})
    w, m, v = START.copy(), np.zeros(3), np.zeros(3)
    eta, b1, b2, tau = 0.1, 0.9, 0.99, 1e-3
    for t in (1, 2, 3):
        d = pooled * VECTOR * t
        m = b1 * m + (1 - b1) * d
        v = b2 * v + (1 - b2) * d * d
        w = w + eta * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + tau)
    assert np.abs(result.model["w"] - w).max() < 1e-6


def test_fedavgm_keeps_server_momentum_between_rounds() -> None:
    frames, pooled = probe_frames()
    result = delta.debug(lt.ShiftByMomentum, data={"probe": frames})
    w, momentum = START.copy(), None
    for t in (1, 2, 3):
        gradient = -pooled * VECTOR * t
        momentum = gradient if momentum is None else 0.9 * momentum + gradient
        w = w - 0.5 * momentum
    assert np.abs(result.model["w"] - w).max() < 1e-6


@pytest.mark.parametrize(
    "strategy, second, eta, b1, tau, corrected",
    [
        (FedAdagrad(), "adagrad", 0.1, 0.0, 1e-9, False),
        (FedYogi(), "yogi", 0.01, 0.9, 1e-3, False),
        (FedAdam(eta=0.05, tau=1e-2), "adam", 0.05, 0.9, 1e-2, True),
    ],
)
def test_adaptive_strategies_match_reference_formulas(
    strategy: Any, second: str, eta: float, b1: float, tau: float, corrected: bool
) -> None:
    rng = np.random.default_rng(5)
    weights = {"a": rng.normal(size=(2, 3)), "b": rng.normal(size=4)}
    expected = {k: v.copy() for k, v in weights.items()}
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in weights.items()}
    state: dict[str, np.ndarray] = {}
    b2 = 0.99
    for t in range(1, 5):
        update = {k: rng.normal(size=v.shape) for k, v in weights.items()}
        strategy.apply(weights, update, state, t)
        for k, d in update.items():
            m, v = moments[k]
            m = b1 * m + (1 - b1) * d
            if second == "adagrad":
                v = v + d * d
            elif second == "yogi":
                v = v - (1 - b2) * d * d * np.sign(v - d * d)
            else:
                v = b2 * v + (1 - b2) * d * d
            moments[k] = (m, v)
            step = eta * math.sqrt(1 - b2**t) / (1 - b1**t) if corrected else eta
            expected[k] = expected[k] + step * m / (np.sqrt(v) + tau)
    for k in weights:
        assert np.abs(weights[k] - expected[k]).max() < 1e-12


@pytest.mark.parametrize("refused", [FedMedian, Krum])
def test_robust_aggregators_are_refused_with_the_reason(refused: type) -> None:
    with pytest.raises(StrategyRefused, match="only their sum"):
        refused()


def test_bad_settings_are_refused_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match="rounds must be an integer"):
        type("Bad", (lt.NumpyLinear,), {"rounds": 0})
    with pytest.raises(TypeError, match="strategy must be"):
        type("Bad", (lt.NumpyLinear,), {"strategy": "fedavg"})
    with pytest.raises(TypeError, match="set privacy too"):
        type("Bad", (lt.NumpyLinear,), {"epsilon": 1.0})
    with pytest.raises(TypeError, match="holdout"):
        type("Bad", (lt.NumpyLinear,), {"holdout": 1.0})
    with pytest.raises(ValueError, match="server_momentum"):
        FedAvgM(server_momentum=1.5)


def test_undeclared_metrics_fail_the_task_with_the_members_reason() -> None:
    with pytest.raises(delta.TaskFailed) as failed:
        delta.debug(lt.WrongMetrics, data={"points": uneven(points())})
    reasons = " ".join(" ".join(m) for m in failed.value.member_failures)
    assert "train must return {metric: value} for ['loss']" in reasons


def test_a_private_task_reports_epsilon_and_stops_at_its_budget() -> None:
    task = lt.PrivateLinear
    assert task.privacy is not None and task.epsilon is not None
    z, d = task.privacy.noise_multiplier, task.privacy.delta
    affordable = max(r for r in range(1, 41) if _native.gaussian_epsilon(z, r, d) <= task.epsilon)
    report: dict[str, Any] = {}
    result = delta.debug(task, data={"points": uneven(points())}, report=report)
    assert result.stopped == "budget" and result.rounds == affordable < task.rounds
    assert result.delta == d
    assert result.epsilon == pytest.approx(_native.gaussian_epsilon(z, affordable, d))
    assert result.epsilon <= task.epsilon
    # The engine charged the same rounds; our ε is never below its own.
    assert len(report["privacy"]["rounds"]) == affordable
    assert result.epsilon >= report["privacy"]["epsilon"] - 1e-9
    h = result.history
    assert h["examples"].isna().all() and h["train_loss"].isna().all()
    assert h["epsilon"].is_monotonic_increasing and h["epsilon"].iloc[-1] == result.epsilon
    # Only the update travelled, clipped and noised by each member's engine.
    for step in report["steps"]:
        assert step.privacy == task.privacy
        assert set(step.outputs) == {"update/w", "update/b"}


def zero_sums(step: delta.Step) -> dict[str, np.ndarray]:
    return {name: np.zeros(spec.shape) for name, spec in step.specs()}


def test_rounds_lost_to_a_restart_count_against_the_privacy_budget() -> None:
    """A private task resumed after its requester lost two rounds: the
    members noised and sent those updates, so ε counts them, and the
    budget ends training that much earlier."""
    task = lt.PrivateLinear()
    assert task.privacy is not None and task.epsilon is not None
    z, d = task.privacy.noise_multiplier, task.privacy.delta
    step = task.start()
    for _ in range(3):
        step = task.reduce(step, zero_sums(step), members=2)
    checkpoint = task.checkpoint()
    resumed = lt.PrivateLinear()
    # Three rounds reduced, then two more started on the ledger and lost.
    again = resumed.resume(checkpoint, rounds_started=5)
    assert again.body() == step.body(), "the step that was next, issued again"
    after = resumed.reduce(again, zero_sums(again), members=2)
    assert isinstance(after, delta.Step)
    row = resumed._rows[-1]
    assert row["round"] == 4
    assert row["epsilon"] == pytest.approx(_native.gaussian_epsilon(z, 4 + 2, d))
    with pytest.raises(ValueError, match="rounds"):
        # More rounds started than the ledger could have: a stale ledger
        # or another task's checkpoint, refused.
        lt.PrivateLinear().resume(checkpoint, rounds_started=2)
    # So many lost rounds that the next would overspend: refused, named.
    affordable = max(r for r in range(1, 41) if _native.gaussian_epsilon(z, r, d) <= task.epsilon)
    with pytest.raises(ValueError, match="lost to restarts"):
        lt.PrivateLinear().resume(checkpoint, rounds_started=affordable + 1)


def test_a_resumed_task_needs_a_checkpoint_of_its_own_kind() -> None:
    task = lt.NumpyLinear()
    step = task.start()
    step = task.reduce(step, {**zero_sums(step), "examples": np.int64(10)}, members=2)
    checkpoint = task.checkpoint()
    with pytest.raises(ValueError, match="written by another task"):
        lt.PrivateLinear().resume(checkpoint, rounds_started=1)
    with pytest.raises(ValueError, match="not a safetensors file"):
        lt.NumpyLinear().resume(b"junk", rounds_started=1)
    assert lt.NumpyLinear().resume(checkpoint, rounds_started=1).body() == step.body()


def test_digits_mlp_reaches_central_accuracy_within_one_point() -> None:
    digits = load_digits()
    frame = pd.DataFrame(digits.data / 16.0, columns=[f"p{i}" for i in range(64)])
    frame["digit"] = digits.target
    frames = [frame.iloc[:500], frame.iloc[500:1100], frame.iloc[1100:]]
    result = delta.debug(lt.Digits, data={"digits": frames})
    # Central training: the same model and local work on the pooled
    # training rows, measured on the pooled held-out rows.
    train_parts, test_parts = [], []
    for part in frames:
        order = np.random.default_rng(0).permutation(len(part))
        kept = round(0.2 * len(part))
        test_parts.append(part.iloc[np.sort(order[:kept])])
        train_parts.append(part.iloc[np.sort(order[kept:])])

    def tensors(parts: list[pd.DataFrame]) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = pd.concat(parts)
        x = torch.tensor(pooled[[f"p{i}" for i in range(64)]].to_numpy(np.float32))
        return x, torch.tensor(pooled["digit"].to_numpy(np.int64))

    (x, y), (xt, yt) = tensors(train_parts), tensors(test_parts)
    central = lt.digits_mlp()
    for epoch in range(1, lt.Digits.rounds + 1):
        lt.sgd_epochs(central, x, y, lt.Digits.config, seed=epoch)
    with torch.no_grad():
        central_accuracy = float((central(xt).argmax(1) == yt).double().mean())
        federated = result.load_into(lt.digits_mlp())
        federated_accuracy = float((federated(xt).argmax(1) == yt).double().mean())
    reported = result.history["eval_accuracy"].iloc[-1]
    # The members' example-weighted accuracy is the pooled accuracy.
    assert reported == pytest.approx(federated_accuracy, abs=1e-9)
    assert central_accuracy > 0.9
    assert federated_accuracy >= central_accuracy - 0.01
    assert result.history["eval_accuracy"].notna().all()
    assert result.model["0.weight"].dtype == np.float32


def test_models_save_as_safetensors_and_npz(tmp_path: Path) -> None:
    result = delta.debug(lt.TorchMLP, data={"points": uneven(points())})
    path = result.save(tmp_path / "model.safetensors")
    loaded = safetensors.numpy.load_file(str(path))
    assert set(loaded) == set(result.model)
    for name, values in result.model.items():
        assert np.array_equal(loaded[name], values)
        assert np.array_equal(read_safetensors(path)[name], values)
    archive = np.load(result.save(tmp_path / "model.npz"), allow_pickle=False)
    assert all(np.array_equal(archive[k], v) for k, v in result.model.items())
    with pytest.raises(ValueError, match="save as .safetensors or .npz"):
        result.save(tmp_path / "model.pt")


def test_strategies_describe_their_settings() -> None:
    assert FedAvg(0.5).describe() == "FedAvg(server_learning_rate=0.5)"
    assert "beta_2=0.99" in FedAdam().describe()
