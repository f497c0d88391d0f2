"""Distributed differential privacy through `delta.debug` (the production
path: packaged task, holders' runner, the engine's members clipping and
noising in the ring before masking, the requester decoding and
accounting): the noise has the calibrated variance and no bias, dropouts
down to the threshold keep the promised noise and ε, members clip what
task code returns, and the accountant is dp-accounting's on the Gaussian
mechanism."""

from __future__ import annotations

from typing import Any

import dp_accounting
import numpy as np
import pandas as pd
import privacy_tasks
import pytest
from privacy_tasks import CLIP, DELTA, NOISE

import delta
from delta import _native


def frames(n: int) -> list[pd.DataFrame]:
    return [pd.DataFrame({"age": [40.0 + i] * (10 + i)}) for i in range(n)]


def run(task: Any, members: int, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    report: dict[str, Any] = {}
    result = delta.debug(task, data={"patients": frames(members)}, report=report, **kwargs)
    return result, report


def noise_of(result: dict[str, Any], contributors: int) -> np.ndarray:
    x = np.asarray(result["x"])
    return x - contributors * privacy_tasks.NoisySum.value


def test_the_noise_has_the_calibrated_variance_and_no_bias() -> None:
    result, report = run(privacy_tasks.NoisySum(), 3, threshold=3)
    assert result["members"] == 3
    noise = noise_of(result, 3)
    sigma = report["privacy"]["rounds"][0]["std"]
    # The sum's noise is at least noise multiplier × clip, and only the
    # rounding onto the lattice more.
    assert NOISE * CLIP <= sigma < NOISE * CLIP * (1 + 1e-5), sigma
    d = noise.size
    # 20 000 independent draws: the variance within five standard errors
    # (σ²·√(2/d), 1 %), the mean within five (σ/√d).
    assert abs(noise.var(ddof=1) / sigma**2 - 1) < 5 * np.sqrt(2 / d), noise.var()
    assert abs(noise.mean()) < 5 * sigma / np.sqrt(d), noise.mean()
    # The integer output is noised too, and rounded.
    assert isinstance(result["n"], int)
    privacy = report["privacy"]
    assert privacy["delta"] == DELTA
    assert privacy["epsilon"] == pytest.approx(_native.gaussian_epsilon(NOISE, 1, DELTA), rel=1e-6)


def test_dropouts_down_to_the_threshold_keep_the_promised_noise_and_epsilon() -> None:
    full, full_report = run(privacy_tasks.NoisySum(), 4, threshold=2)
    # Two of four drop before sending their masked inputs: the sum holds
    # the threshold's two.
    drop = {2: (0, "before_masked"), 3: (0, "before_masked")}
    fewer, fewer_report = run(privacy_tasks.NoisySum(), 4, threshold=2, drop=drop)
    assert (full["members"], fewer["members"]) == (4, 2)
    promised = NOISE * CLIP
    for result, report, contributors in ((full, full_report, 4), (fewer, fewer_report, 2)):
        noise = noise_of(result, contributors)
        sigma = report["privacy"]["rounds"][0]["std"]
        # Each member adds 1/threshold of the promised variance.
        assert sigma == pytest.approx(promised * np.sqrt(contributors / 2), rel=1e-5)
        assert abs(noise.var(ddof=1) / sigma**2 - 1) < 5 * np.sqrt(2 / noise.size)
    # ε is stated for the threshold: the same whoever survives.
    assert fewer_report["privacy"]["epsilon"] == full_report["privacy"]["epsilon"]


def test_members_clip_what_task_code_returns() -> None:
    result, report = run(privacy_tasks.Oversized(), 3, threshold=3)
    noise_sigma = report["privacy"]["rounds"][0]["std"]
    # 1e6 per coordinate was asked; each member's whole vector was scaled
    # to norm CLIP, i.e. CLIP/√D per coordinate.
    x = np.asarray(result["x"])
    clipped = 3 * CLIP / np.sqrt(privacy_tasks.D)
    assert abs(x.mean() - clipped) < 5 * noise_sigma / np.sqrt(x.size), x.mean()


def test_epsilon_composes_over_private_steps() -> None:
    _, report = run(privacy_tasks.TwoNoisySteps(), 3, threshold=3)
    rounds = report["privacy"]["rounds"]
    assert [r["round"] for r in rounds] == [0, 1]
    twice = _native.gaussian_epsilon(NOISE, 2, DELTA)
    assert rounds[1]["epsilon"] == pytest.approx(twice, rel=1e-6)
    assert rounds[1]["epsilon"] > rounds[0]["epsilon"]


def test_without_privacy_sums_stay_exact_and_nothing_is_reported() -> None:
    result, report = run(privacy_tasks.Exact(), 3)
    assert result == [3.0, 6.0, 33.0]
    assert report["privacy"] is None


@pytest.mark.parametrize(
    ("noise_multiplier", "steps", "delta_"),
    [(1.0, 1, 1e-5), (0.7, 50, 1e-6), (4.0, 1000, 1e-8), (25.0, 3, 1e-3)],
)
def test_the_accountant_is_dp_accountings_on_the_gaussian_mechanism(
    noise_multiplier: float, steps: int, delta_: float
) -> None:
    theirs = dp_accounting.rdp.RdpAccountant()
    theirs.compose(dp_accounting.GaussianDpEvent(noise_multiplier), steps)
    ours = _native.gaussian_epsilon(noise_multiplier, steps, delta_)
    assert ours == pytest.approx(theirs.get_epsilon(delta_), rel=1e-9)


def test_a_budget_gives_the_noise_that_spends_it() -> None:
    p = delta.Privacy.for_budget(1.0, clip=2.0, steps=10, delta=1e-6)
    assert p.clip == 2.0 and p.delta == 1e-6
    theirs = dp_accounting.rdp.RdpAccountant()
    theirs.compose(dp_accounting.GaussianDpEvent(p.noise_multiplier), 10)
    assert 0.999 < theirs.get_epsilon(1e-6) <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"clip": 0.0, "noise_multiplier": 1.0}, "clip"),
        ({"clip": 1.0, "noise_multiplier": 0.0}, "noise_multiplier"),
        ({"clip": 1.0, "noise_multiplier": 1.0, "delta": 1.0}, "delta"),
        ({"clip": float("nan"), "noise_multiplier": 1.0}, "clip"),
    ],
)
def test_parameters_no_member_can_honour_are_refused(
    kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        delta.Privacy(**kwargs)
    with pytest.raises(ValueError, match="steps"):
        delta.Privacy.for_budget(1.0, clip=1.0, steps=0)
