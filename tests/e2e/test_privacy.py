"""Distributed differential privacy through three real workers, on both
ledgers, whose dataset requires it (`[datasets.patients.privacy]`,
`max_epsilon = 3`): a task without noise is declined by every holder
with the reason; a noised task runs, its result within the noise of the
truth, and `TaskHandle.privacy()` states the ε spent; a task whose second
round would take a holder's ε past its limit is declined there; and the
ledger keeps each holder's charges per requester (`budget = 6`), so a
requester's later task past that budget is declined, and the spending is
readable through `delta.Client` and `delta-worker privacy`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import worker_tasks
from workers import Holders, start_holders

import delta
from delta import _native

BLOCK_MS = 500
MAX_EPSILON = 3.0
BUDGET = 6.0
PRIVACY = f"""
[datasets.patients.privacy]
max_epsilon = {MAX_EPSILON}
max_delta = 1e-5
budget = {BUDGET}
"""


@pytest.fixture(scope="module", params=["coordinator", "chain"])
def holders(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Holders]:
    kind: str = request.param
    root = tmp_path_factory.mktemp(f"privacy-{kind}")
    with start_holders(kind, root, "privacy", BLOCK_MS, extra_config=PRIVACY) as holders:
        yield holders


def test_a_task_without_noise_is_declined_by_every_holder(holders: Holders) -> None:
    handle = holders.client().submit(worker_tasks.Summary)
    with pytest.raises(delta.TaskFailed) as failed:
        handle.wait(timeout=120, progress=False)
    # The round is abandoned once two of three have declined.
    declines = [line for line in handle.status().progress if line.startswith("round 0: ")]
    declines = [line for line in declines if " declined: " in line]
    assert len(declines) >= 2, handle.status().progress
    assert all("requires differential privacy" in line for line in declines), declines
    assert "requires differential privacy" in failed.value.reason


def test_a_noised_task_runs_and_states_the_epsilon_it_spent(holders: Holders) -> None:
    handle = holders.client().submit(worker_tasks.NoisyCount)
    result = handle.wait(timeout=120, progress=False)
    pooled = holders.pooled()
    privacy = handle.privacy()
    assert privacy is not None
    sigma = privacy["rounds"][0]["std"]
    task = worker_tasks.NoisyCount
    # Each of the three adds half the promised variance (the default
    # threshold of 2 of 3 is what the noise is provisioned for).
    assert sigma == pytest.approx(task.NOISE * task.CLIP * (3 / 2) ** 0.5, rel=1e-4)
    # Within six standard deviations of the truth (a chance of 2e-9).
    assert abs(result["n"] - len(pooled)) < 6 * sigma
    assert abs(result["age"] - pooled["age"].sum()) < 6 * sigma
    assert result["members"] == 3
    # ε is stated for the threshold's noise: the noise multiplier asked.
    once = _native.gaussian_epsilon(task.NOISE, 1, 1e-6)
    assert privacy["epsilon"] == pytest.approx(once, rel=1e-6)
    assert privacy["delta"] == 1e-6
    assert any("noised for differential privacy" in line for line in handle.status().progress)


def test_a_round_past_a_holders_epsilon_is_declined_with_the_figures(holders: Holders) -> None:
    handle = holders.client().submit(worker_tasks.TwoNoisyCounts)
    with pytest.raises(delta.TaskFailed):
        handle.wait(timeout=120, progress=False)
    declines = [line for line in handle.status().progress if line.startswith("round 1: ")]
    declines = [line for line in declines if " declined: " in line]
    assert len(declines) >= 2, handle.status().progress
    two = _native.gaussian_epsilon(worker_tasks.NoisyCount.NOISE, 2, 1e-6)
    assert two > MAX_EPSILON
    assert all(f"bring the task's ε to {two:.3f}" in line for line in declines), declines
    # The first round's sum was released, and only it.
    privacy = handle.privacy()
    assert privacy is not None and len(privacy["rounds"]) == 1


def test_a_requesters_budget_spans_its_tasks_and_the_ledger_keeps_each_charge(
    holders: Holders,
) -> None:
    client = holders.client()
    requester = holders.workers[0].account
    once = _native.gaussian_epsilon(worker_tasks.NoisyCount.NOISE, 1, 1e-6)
    # So far each holder charged two private rounds (one task, and the
    # first round of the two-round task); the refused round charged nothing.
    for w in holders.workers:
        spent = client.privacy_spent("patients", holder=w.account)
        assert spent == pytest.approx(2 * once, abs=1e-5), (w.name, spent)
    other = holders.workers[1].account
    assert client.privacy_spent("patients", holder=requester, requester=other) == 0
    handle = client.submit(worker_tasks.NoisyCount)
    with pytest.raises(delta.TaskFailed):
        handle.wait(timeout=120, progress=False)
    declines = [line for line in handle.status().progress if line.startswith("round 0: ")]
    declines = [line for line in declines if " declined: " in line]
    assert len(declines) >= 2, handle.status().progress
    expected = f"has spent ε = {2 * once:.3f} of this holder's budget of {BUDGET:g} for it"
    assert all(expected in line for line in declines), declines
    for w in holders.workers:
        after = client.privacy_spent("patients", holder=w.account)
        assert after == pytest.approx(2 * once, abs=1e-5), "a refused round charges nothing"
    # The holder's own view, from the ledger.
    shown = holders.cli(1, "privacy", "--requester", requester)
    assert shown.returncode == 0, shown.stderr
    assert f"patients: ε = {2 * once:.3f} spent by {requester}" in shown.stdout, shown.stdout
    assert f"budget {BUDGET:g}" in shown.stdout, shown.stdout
