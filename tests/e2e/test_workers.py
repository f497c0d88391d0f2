"""Three real `delta-worker` processes on loopback, on both ledgers (a
`delta-chain --dev` node and a `delta-coordinator`), driven through the
SDK's `delta.Client` exactly as a requester would: answers equal pandas on
the pooled (cleaned) data, a member killed mid-round leaves the survivors'
exact answer, restarts keep finished results and fail interrupted tasks
cleanly, a holder's policy declines with a reason the requester sees,
sandbox escapes fail without hurting the workers, and the API refuses
callers without the token."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import websocket
import worker_tasks
from workers import Worker, patients, start_ledger, worker_binary

import delta
from coordinator import Coordinator
from devnet import Node

LEDGERS = ["coordinator", "chain"]
ROWS = [240, 300, 360]
PHASE_TIMEOUT_S = 10
BLOCK_MS = 500


def cleaned(frame: pd.DataFrame) -> pd.DataFrame:
    """What the workers' cleaning rules leave (see workers.PATIENT_COLUMNS)."""
    kept = frame[(frame["age"] >= 0) & (frame["age"] <= 120) & frame["bmi"].notna()]
    return kept.reset_index(drop=True)


@dataclass
class Network:
    kind: str
    workers: list[Worker]
    frames: list[pd.DataFrame]
    ledger: Node | Coordinator
    url: str

    def client(self, i: int = 0) -> delta.Client:
        return delta.Client(self.workers[i].api, self.workers[i].token)

    def pooled(self, members: list[int]) -> pd.DataFrame:
        return pd.concat([cleaned(self.frames[i]) for i in members], ignore_index=True)


@pytest.fixture(scope="module", params=LEDGERS)
def network(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Network]:
    kind: str = request.param
    root = tmp_path_factory.mktemp(f"workers-{kind}")
    frames = [patients(i, rows) for i, rows in enumerate(ROWS)]
    with ExitStack() as stack:
        # Blocks at most every half second, however many transactions the
        # workers send (five tasks at once, below).
        ledger, url, suris = start_ledger(kind, root, stack, BLOCK_MS, "workers")
        workers = []
        for i in range(3):
            w = Worker(
                root / f"w{i}",
                f"holder-{i}",
                kind,
                url,
                frames[i],
                suri=suris[i],
                block_ms=BLOCK_MS,
            )
            config = (
                (w.folder / "worker.toml")
                .read_text()
                .replace("memory_mb = 4096", "memory_mb = 2048")
            )
            if i == 2:
                # This holder allows shorter tasks than the others.
                config = config.replace("max_rounds = 64", "max_rounds = 8")
            (w.folder / "worker.toml").write_text(config)
            workers.append(stack.enter_context(w))
        yield Network(kind, workers, frames, ledger, url)


def close(a: float, b: float) -> bool:
    # Fixed-point encoding with 24 fractional bits: ~6e-8 per summand.
    return bool(np.isclose(a, b, rtol=1e-7, atol=1e-6))


def test_a_query_through_three_workers_equals_pandas_on_the_pooled_data(network: Network) -> None:
    started = time.monotonic()
    handle = network.client().submit(worker_tasks.Summary)
    result = handle.wait(timeout=120, progress=False)
    elapsed = time.monotonic() - started
    pooled = network.pooled([0, 1, 2])
    assert result["n"] == len(pooled)
    assert close(result["age"], pooled["age"].mean())
    assert close(result["bmi"], pooled["bmi"].mean())
    assert close(result["sbp_var"], pooled["sbp"].var())
    status = handle.status()
    assert status.state == "done" and status.ledger_task is not None
    assert any("3 members joined" in line for line in status.progress), status.progress
    # The result is also what the API returns later, from the state database.
    assert network.client().task(handle.id).result() == result
    print(f"{network.kind}: submit to result {elapsed:.2f} s")


def test_typed_outputs_arrive_with_their_types_and_shapes(network: Network) -> None:
    result = network.client().submit(worker_tasks.TypedSums).wait(timeout=120, progress=False)
    pooled = network.pooled([0, 1, 2])
    assert result["n"] == len(pooled) and result["n_type"] == "int64"
    expected = [[pooled["age"].sum(), pooled["bmi"].sum()]]
    # float32 at each member, summed in fixed point.
    np.testing.assert_allclose(result["s"], expected, rtol=1e-6)


def ring_of(handle: delta.TaskHandle) -> list[int]:
    return [e["ring_bits"] for e in handle.events() if e["event"] == "round_started"]


def test_bounded_outputs_use_the_32_bit_ring_and_the_encoding_is_set_at_submit(
    network: Network,
) -> None:
    client = network.client()
    pooled = network.pooled([0, 1, 2])
    expected = [pooled["age"].sum(), pooled["bmi"].sum()]
    handle = client.submit(worker_tasks.BoundedSums)
    result = handle.wait(timeout=120, progress=False)
    assert result["n"] == len(pooled)
    # float32 at each member (about 7 digits), 20+ fractional bits in the ring.
    np.testing.assert_allclose(result["s"], expected, rtol=1e-5)
    assert ring_of(handle) == [32]
    # The task's own encoding, as delta.debug takes it.
    wide = client.submit(worker_tasks.TypedSums, ring_bits=128, fractional_bits=40)
    typed = wide.wait(timeout=120, progress=False)
    assert typed["n"] == len(pooled)
    np.testing.assert_allclose(typed["s"], [expected], rtol=1e-6)
    assert ring_of(wide) == [128]
    # The worker refuses an encoding that cannot hold the sums, saying why.
    package = delta.package_task(worker_tasks.TypedSums).to_bytes()
    with pytest.raises(delta.ClientError, match="leaves no room for 3 members"):
        client.call(
            "delta_submit",
            {"package": base64.b64encode(package).decode("ascii"), "fractional_bits": 63},
        )
    with pytest.raises(delta.ClientError, match="ring_bits must be 32, 64 or 128, not 48"):
        client.call(
            "delta_submit",
            {"package": base64.b64encode(package).decode("ascii"), "ring_bits": 48},
        )


def test_the_api_refuses_callers_without_the_token(network: Network) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "delta_list", "params": {}}).encode()
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": network.workers[0].token},
    ):
        request = urllib.request.Request(
            network.workers[0].api,
            data=body,
            headers={"Content-Type": "application/json", **headers},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401
    with pytest.raises(delta.ClientError, match="token"):
        delta.Client(network.workers[0].api, "not-the-token").tasks()
    # The right token works, and datasets show schemas (types, levels,
    # declared bounds), never values.
    (dataset,) = network.client().datasets()
    assert dataset["name"] == "patients"
    assert dataset["columns"] == [
        {"name": "age", "type": "float", "min": 0, "max": 120},
        {"name": "bmi", "type": "float"},
        {"name": "sbp", "type": "float"},
        {"name": "sex", "type": "category", "levels": ["f", "m"]},
    ]
    # The snapshot the worker prepared at start, and how many rows it kept.
    assert dataset["version"] == 1 and dataset["rows"] == len(network.pooled([0]))
    assert len(dataset["sha256"]) == 64 and dataset["prepared_ms"] > 0


def test_a_holder_declines_a_task_its_policy_refuses_and_the_requester_sees_why(
    network: Network,
) -> None:
    handle = network.client().submit(
        worker_tasks.LongSummary, min_members=2, phase_timeout_s=PHASE_TIMEOUT_S
    )
    result = handle.wait(timeout=120, progress=False)
    pooled = network.pooled([0, 1])
    assert result["n"] == len(pooled)
    assert close(result["age"], pooled["age"].mean())
    reasons = [line for line in handle.status().progress if "declined" in line]
    assert reasons and all(network.workers[2].account in line for line in reasons), reasons
    assert "the task may run 20 rounds; this holder allows at most 8" in reasons[0]


@pytest.mark.parametrize(
    ("task", "kind", "holder_log"),
    [
        (worker_tasks.Escape, "sandbox violation", "sandbox: network"),
        (worker_tasks.EscapeRead, "sandbox violation", "sandbox:"),
        (worker_tasks.EscapeWrite, "sandbox violation", "sandbox:"),
        (worker_tasks.EscapeSpawn, "sandbox violation", "sandbox:"),
        (worker_tasks.EscapeMemory, "resource limit", "MemoryError"),
    ],
)
def test_sandbox_escapes_fail_and_the_workers_stay_healthy(
    network: Network, task: type, kind: str, holder_log: str
) -> None:
    escaped = Path("/tmp/delta-escape.csv")
    escaped.unlink(missing_ok=True)
    before = [len(w.log) for w in network.workers]
    handle = network.client().submit(task, phase_timeout_s=PHASE_TIMEOUT_S)
    with pytest.raises(delta.TaskFailed) as failed:
        handle.wait(timeout=120, progress=False)
    assert f"task code failed ({kind})" in failed.value.reason, failed.value.reason
    # The requester learns the kind; the detail stays in each holder's log.
    assert "/etc/passwd" not in failed.value.reason
    # The round may fail while another member's map still runs (its line
    # is waited for) or before a late member's map began (it never maps).
    for w, seen in mapping_workers(network, before):
        wait_for_log(w, holder_log, seen, 60)
    for w in network.workers:
        assert w.alive(), f"{w.name} died"
    assert not escaped.exists()


def wait_for_line(handle: delta.TaskHandle, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in handle.status().progress):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in {handle.status().progress}")


def mapping_workers(network: Network, seen: list[int]) -> list[tuple[Worker, int]]:
    """The workers that started a map since their log's `seen` lines, with
    that position; at least one."""
    mapped = [
        (w, since)
        for w, since in zip(network.workers, seen, strict=True)
        if any("map started" in line for line in w.log[since:])
    ]
    assert mapped, "no member started its map"
    return mapped


def wait_for_log(worker: Worker, text: str, since: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in worker.log[since:]):
            return
        time.sleep(0.02)
    raise AssertionError(f"no {text!r} in {worker.name}'s log: {''.join(worker.log[since:])}")


def test_a_member_killed_during_a_round_leaves_the_survivors_exact_answer(network: Network) -> None:
    victim = network.workers[2]
    seen = len(victim.log)
    # The map takes 8 s of wall-clock time from the member's join; the
    # Compute phase allows 20.
    handle = network.client().submit(
        worker_tasks.SlowerMean,
        min_members=2,
        phase_timeout_s=PHASE_TIMEOUT_S,
        compute_timeout_s=20,
    )
    # Killed on events: the victim runs its map on its data, and its keys
    # are with the round, so the survivors' reveals must cancel its masks.
    wait_for_log(victim, "map started", seen, 60)
    wait_for_log(victim, "keys shared", seen, 60)
    victim.kill()
    result = handle.wait(timeout=120, progress=False)
    pooled = network.pooled([0, 1])
    assert result["n"] == len(pooled) and result["members"] == 2
    assert close(result["mean"], pooled["age"].mean())
    events = handle.events()
    dropped = [e for e in events if e["event"] == "dropped"]
    assert [(e["round"], e["member"]) for e in dropped] == [(0, victim.account)], events
    assert [e["event"] for e in events][-2:] == ["unmasked", "done"], events
    progress = handle.status().progress
    assert any(
        f"{victim.account} dropped: no masked input by the end of the Compute phase" in line
        for line in progress
    ), progress
    # Restarted on the same folder, it takes part again.
    victim.start()
    again = network.client().submit(worker_tasks.Summary).wait(timeout=120, progress=False)
    assert again["n"] == len(network.pooled([0, 1, 2]))


def test_maps_that_outlast_the_compute_phase_fail_the_round_with_the_remedy(
    network: Network,
) -> None:
    # Every member's map takes 8 s from its join; the key exchange and the
    # Compute phase allow less (2 s for the phase).
    seen = [len(w.log) for w in network.workers]
    handle = network.client().submit(
        worker_tasks.SlowerMean, phase_timeout_s=PHASE_TIMEOUT_S, compute_timeout_s=2
    )
    with pytest.raises(delta.TaskFailed) as failed:
        handle.wait(timeout=120, progress=False)
    reason = failed.value.reason
    assert "TooFewMasked" in reason, reason
    last = handle.events()[-1]
    assert (last["event"], last["kind"]) == ("failed", "compute_deadline"), last
    assert "no masked input before the Compute deadline from" in reason, reason
    assert "compute_timeout_s" in reason, reason
    # A holder whose map ran says so in its own log once the map has ended
    # (a holder whose delivery came after the round failed never maps).
    for w, since in mapping_workers(network, seen):
        wait_for_log(w, "Compute phase had ended", since, 30)


def test_tasks_submitted_together_run_together_and_each_is_exact(network: Network) -> None:
    client = network.client()
    handles = [client.submit(worker_tasks.Summary) for _ in range(5)]
    pooled = network.pooled([0, 1, 2])
    results = [h.wait(timeout=180, progress=False) for h in handles]
    for result in results:
        assert result["n"] == len(pooled)
        assert close(result["age"], pooled["age"].mean())
        assert close(result["sbp_var"], pooled["sbp"].var())
    # Each has its own task on the ledger.
    ledger_tasks = {h.status().ledger_task for h in handles}
    assert len(ledger_tasks) == 5 and None not in ledger_tasks


def test_a_long_map_does_not_delay_another_task(network: Network) -> None:
    members = [w.account for w in network.workers[1:]]
    seen = [len(w.log) for w in network.workers]
    long = network.client().submit(
        worker_tasks.LongMean,
        members=members,
        min_members=2,
        threshold=2,
        phase_timeout_s=PHASE_TIMEOUT_S,
        compute_timeout_s=180,
    )
    for w, since in zip(network.workers[1:], seen[1:], strict=True):
        wait_for_log(w, "map started", since, 60)
    # While both members are inside the minute-long map, another task runs
    # through every worker from submission to its answer.
    quick = network.client().submit(worker_tasks.Summary).wait(timeout=120, progress=False)
    assert quick["n"] == len(network.pooled([0, 1, 2]))
    assert long.status().state == "running", long.status().progress
    result = long.wait(timeout=240, progress=False)
    pooled = network.pooled([1, 2])
    assert result["n"] == len(pooled) and result["members"] == 2
    assert close(result["mean"], pooled["age"].mean())


def test_a_restarted_requester_keeps_finished_results_and_fails_interrupted_tasks(
    network: Network,
) -> None:
    requester = network.workers[0]
    client = network.client()
    finished = client.submit(worker_tasks.Summary)
    first = finished.wait(timeout=120, progress=False)
    interrupted = client.submit(
        worker_tasks.SlowMean, phase_timeout_s=PHASE_TIMEOUT_S, compute_timeout_s=20
    )
    # Killed while the members' 4 s maps run, so the task cannot have ended.
    seen = len(network.workers[1].log)
    wait_for_line(interrupted, "3 members joined", 60)
    wait_for_log(network.workers[1], "map started", seen, 60)
    requester.kill()
    requester.start()
    client = network.client()
    assert client.task(finished.id).result() == first
    status = client.task(interrupted.id).status()
    assert status.state == "failed"
    assert (
        status.error is not None and "the worker stopped while the task was running" in status.error
    )
    with pytest.raises(delta.TaskFailed):
        client.task(interrupted.id).result()
    # The network carries on: a new task through the restarted worker.
    again = client.submit(worker_tasks.Summary).wait(timeout=120, progress=False)
    assert again == first


def test_workers_carry_on_after_the_ledger_restarts(network: Network) -> None:
    before = network.client().submit(worker_tasks.Summary).wait(timeout=120, progress=False)
    if isinstance(network.ledger, Node):
        network.ledger.stop(keep_data=True)
    else:
        network.ledger.stop()
    network.ledger.start()
    after = network.client().submit(worker_tasks.Summary).wait(timeout=180, progress=False)
    assert after == before
    assert all(w.alive() for w in network.workers)


def test_the_log_subscription_streams_a_task_log_to_token_holders_only(network: Network) -> None:
    handle = network.client().submit(worker_tasks.Summary)
    handle.wait(timeout=120, progress=False)
    url = network.workers[0].api.replace("http://", "ws://")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(url, timeout=10)
    assert refused.value.status_code == 401
    ws = websocket.create_connection(
        url, timeout=10, header=[f"Authorization: Bearer {network.workers[0].token}"]
    )
    try:
        ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "delta_subscribeLogs",
                    "params": {"id": handle.id},
                }
            )
        )
        subscription = json.loads(ws.recv())["result"]
        lines = []
        while len(lines) < len(handle.status().progress):
            message = json.loads(ws.recv())
            assert message["params"]["subscription"] == subscription
            lines.append(message["params"]["result"]["line"])
    finally:
        ws.close()
    assert lines == handle.status().progress
    assert lines[-1] == "done"


def test_a_worker_that_leaves_is_no_longer_a_member(network: Network, tmp_path: Path) -> None:
    suri = "//Dave" if network.kind == "chain" else None
    extra = Worker(
        tmp_path / "w3",
        "holder-3",
        network.kind,
        network.url,
        patients(3, 60),
        suri=suri,
        block_ms=BLOCK_MS,
    )
    with extra:
        account = extra.account
    members = [network.workers[0].account, account]
    # Registered while it ran: a task may name it.
    handle = network.client().submit(worker_tasks.Summary, members=members, phase_timeout_s=3)
    with pytest.raises(delta.TaskFailed):
        handle.wait(timeout=120, progress=False)
    left = subprocess.run(
        [worker_binary(), "leave", "--config", str(tmp_path / "w3" / "worker.toml")],
        capture_output=True,
        text=True,
        env={**os.environ, **({"DELTA_SURI": suri} if suri else {})},
        check=True,
    )
    assert f"{account} left the member list" in left.stdout
    with pytest.raises(delta.ClientError, match="not a registered member"):
        network.client().submit(worker_tasks.Summary, members=members)
