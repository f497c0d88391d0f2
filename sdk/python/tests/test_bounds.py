"""Declared output bounds: the precision and ring they choose, the bytes
they save, and the member's refusal of a value past one, through
`delta.debug` and the runner protocol."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from bounds_tasks import AllBounded, BoundedWeights, PastTheBound, Unbounded

import delta
from delta import _runner


def frames(count: int = 3, rows: int = 50) -> list[pd.DataFrame]:
    rng = np.random.default_rng(11)
    return [pd.DataFrame({"a": rng.normal(0, 40, rows + i)}) for i in range(count)]


def expected_weights(parts: list[pd.DataFrame], width: int) -> np.ndarray:
    return sum(
        np.resize(p["a"].to_numpy(dtype=float) / 100.0, width).clip(-1, 1).astype(np.float32)
        for p in parts
    ).astype(float)


@pytest.mark.parametrize("bound", [0, -1.0, math.inf, math.nan, True, "1"])
def test_a_bound_must_be_a_positive_finite_number(bound: object) -> None:
    with pytest.raises(ValueError, match="output bound"):
        delta.Output((3,), "float32", bound=bound)  # type: ignore[arg-type]


def test_a_bound_travels_as_the_outputs_fourth_element() -> None:
    bounded = delta.Output((2, 3), "float32", bound=1)
    assert bounded.bound == 1.0 and isinstance(bounded.bound, float)
    assert _runner._output_json("w", bounded) == ["w", "float32", [2, 3], 1.0]
    assert _runner._output_json("n", delta.Output((1,))) == ["n", "float64", [1]]
    body = delta.Step("s", {"w": bounded}).body()
    step = {
        "dataset": "d",
        "body": body,
        "outputs": [["w", "float32", [2, 3], 1.0], ["n", "float64", [1], None]],
    }
    _, outputs, privacy = _runner._step_parts(step)
    assert outputs == {"w": bounded, "n": delta.Output((1,))} and privacy is None
    # A private step's privacy reaches the Step a member's map sees.
    noised = {**step, "privacy": {"clip": 2.0, "noise_multiplier": 1.5, "delta": 1e-6}}
    assert _runner.step_from_wire(noised).privacy == delta.Privacy(2.0, 1.5, 1e-6)
    for wrong in ({"clip": 2.0}, {"clip": -1.0, "noise_multiplier": 1.5, "delta": 1e-6}):
        with pytest.raises(ValueError, match="privacy"):
            _runner.step_from_wire({**step, "privacy": wrong})
    for bad in (["w", "float32", [1], -2.0], ["w", "float32", [1], 1.0, 5]):
        with pytest.raises(_runner._ProtocolError):
            _runner._step_parts({**step, "outputs": [bad]})


def test_bounded_weights_are_exact_in_half_the_bytes() -> None:
    parts = frames()
    width = BoundedWeights.width
    expected = expected_weights(parts, width)
    reports: dict[str, dict[str, object]] = {}
    for name, task in (("64", Unbounded), ("mixed", BoundedWeights), ("32", AllBounded)):
        report: dict[str, object] = {}
        out = delta.debug(task, {"values": parts}, report=report)
        np.testing.assert_allclose(out["w"], expected, atol=1e-5)
        assert out["n"] == sum(len(p) for p in parts)
        reports[name] = report
    progress = [str(line) for line in reports["32"]["progress"]]  # type: ignore[attr-defined]
    assert any("in the 32-bit ring" in line for line in progress), progress
    # One unbounded output keeps the whole step in the 64-bit ring.
    mixed = [str(line) for line in reports["mixed"]["progress"]]  # type: ignore[attr-defined]
    assert any("in the 64-bit ring" in line for line in mixed), mixed
    ratio = float(reports["32"]["bytes"]) / float(reports["64"]["bytes"])  # type: ignore[arg-type]
    assert ratio < 0.6, ratio


def test_a_member_past_the_bound_declines_and_the_others_are_summed() -> None:
    parts = frames(4)
    report: dict[str, object] = {}
    out = delta.debug(PastTheBound, {"values": parts}, report=report)
    assert out == {"w": [1.5, -0.75], "members": 3}
    failures = report["member_failures"]
    assert isinstance(failures, list)
    said = " ".join(str(f) for f in failures[1])
    assert "value 7 at index 1 is outside ±1" in said, failures
    progress = " ".join(str(line) for line in report["progress"])  # type: ignore[attr-defined]
    assert "declined" in progress and "range of ±1" in progress, progress
