"""Whose code runs on a holder's data, through three real workers that
keep the default policy (`code_requesters = []`), on both ledgers: an
analytics task runs without consent and a requester's own `map` changes
nothing there; task code runs only as a package the holders approved
(`delta-worker approve`), and a revoked approval is a named decline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import worker_tasks
from workers import Holders, start_holders

import delta

BLOCK_MS = 500


@pytest.fixture(scope="module", params=["coordinator", "chain"])
def holders(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Holders]:
    kind: str = request.param
    root = tmp_path_factory.mktemp(f"consent-{kind}")
    with start_holders(kind, root, "consent", BLOCK_MS, code_from_anyone=False) as holders:
        yield holders


def test_analytics_needs_no_consent_and_a_requesters_map_changes_nothing(holders: Holders) -> None:
    client = holders.client()
    honest = client.submit(worker_tasks.Summary).wait(timeout=120, progress=False)
    hostile = client.submit(worker_tasks.SinglesOut).wait(timeout=120, progress=False)
    pooled = holders.pooled([0, 1, 2])
    assert honest["n"] == len(pooled)
    assert honest["age"] == pytest.approx(pooled["age"].mean(), rel=1e-12)
    assert hostile == honest, "members evaluated the plan, not the requester's map"
    alone = holders.pooled([0])
    assert hostile["age"] != pytest.approx(alone["age"].mean(), rel=1e-9)


def test_task_code_runs_only_as_an_approved_package_and_a_revoked_one_is_declined(
    holders: Holders,
) -> None:
    client = holders.client()
    digest = delta.package_task(worker_tasks.TypedSums).hexdigest()
    with pytest.raises(delta.TaskFailed) as refused:
        client.submit(worker_tasks.TypedSums).wait(timeout=120, progress=False)
    assert f"only with its consent: package {digest} is not approved here" in str(refused.value)

    for i in range(3):
        approved = holders.cli(i, "approve", digest, "--note", "reviewed")
        assert approved.returncode == 0, approved.stderr
    listed = holders.cli(0, "approvals")
    assert listed.returncode == 0 and digest in listed.stdout and "reviewed" in listed.stdout
    result = client.submit(worker_tasks.TypedSums).wait(timeout=120, progress=False)
    assert result["n"] == len(holders.pooled([0, 1, 2]))

    revoked = holders.cli(2, "revoke", digest)
    assert revoked.returncode == 0, revoked.stderr
    handle = client.submit(worker_tasks.TypedSums)
    partial = handle.wait(timeout=120, progress=False)
    assert partial["n"] == len(holders.pooled([0, 1]))
    declines = [line for line in handle.status().progress if "declined" in line]
    assert declines and all("not approved here" in line for line in declines), declines

    again = holders.cli(2, "revoke", digest)
    assert again.returncode != 0 and "was not approved" in again.stderr
    bad = holders.cli(0, "approve", "not-a-hash")
    assert bad.returncode != 0 and "is not a package hash" in bad.stderr


def test_each_holder_withholds_cells_of_fewer_rows_than_its_min_cell_rows(holders: Holders) -> None:
    # The workers keep init's min_cell_rows = 5.
    assert "min_cell_rows = 5" in (holders.workers[0].folder / "worker.toml").read_text()
    old = [int((holders.pooled([i])["age"] > 80).sum()) for i in range(3)]
    assert any(0 < c < 5 for c in old), f"the data must hold a small cell: {old}"
    expected = sum(c for c in old if c >= 5)
    result = holders.client().submit(worker_tasks.OldCount).wait(timeout=120, progress=False)
    assert result["old"] == expected
    assert result["n"] == len(holders.pooled([0, 1, 2]))


def test_a_holder_caps_the_values_a_step_may_ask_per_row(holders: Holders) -> None:
    client = holders.client()
    digest = delta.package_task(worker_tasks.TypedSums).hexdigest()
    for i in range(3):
        assert holders.cli(i, "approve", digest).returncode == 0
    capped = holders.workers[1]
    config = capped.folder / "worker.toml"
    original = config.read_text()
    # TypedSums asks for 3 values; holder 1 has about 300 rows.
    config.write_text(original.replace("rows_per_value = 0", "rows_per_value = 200"))
    capped.stop()
    capped.start()
    try:
        handle = client.submit(worker_tasks.TypedSums)
        result = handle.wait(timeout=120, progress=False)
        assert result["n"] == len(holders.pooled([0, 2]))
        declines = [line for line in handle.status().progress if "declined" in line]
        assert len(declines) == 1 and "at most one value per 200 rows" in declines[0], declines
    finally:
        config.write_text(original)
        capped.stop()
        capped.start()
