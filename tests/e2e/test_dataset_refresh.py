"""A dataset's snapshot refreshed while the worker runs, through real
workers on a coordinator: `delta-worker datasets refresh` during a
two-round task leaves that task's counts unchanged and the next task sees
the new rows; each snapshot has a version, row count and hash in
`delta_datasets`; a refresh that fails keeps the previous snapshot and
says why; `refresh_interval_s` refreshes on a schedule."""

from __future__ import annotations

import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pytest
import worker_tasks
from workers import Worker, patients, worker_binary

import delta
from coordinator import Coordinator


def cleaned(frame: pd.DataFrame) -> pd.DataFrame:
    """What the sample workers' cleaning rules keep."""
    return frame[(frame["age"] >= 0) & (frame["age"] <= 120) & frame["bmi"].notna()]


def refresh(worker: Worker, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            worker_binary(),
            "datasets",
            "refresh",
            *names,
            "--config",
            str(worker.folder / "worker.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def offered(worker: Worker) -> dict:
    (patients_info,) = delta.Client(worker.api, worker.token).datasets()
    return patients_info


def test_a_refresh_during_a_task_keeps_its_snapshot_and_the_next_task_sees_new_rows(
    tmp_path: Path,
) -> None:
    old = [patients(i, 150 + 30 * i) for i in range(2)]
    new = [pd.concat([f, patients(10 + i, 40)], ignore_index=True) for i, f in enumerate(old)]
    with ExitStack() as stack:
        coordinator = stack.enter_context(Coordinator(tmp_path / "coordinator.sqlite"))
        workers = [
            stack.enter_context(
                Worker(tmp_path / f"w{i}", f"r{i}", "coordinator", coordinator.url, old[i])
            )
            for i in range(2)
        ]
        first = offered(workers[0])
        assert first["version"] == 1 and first["rows"] == len(cleaned(old[0]))
        client = delta.Client(workers[0].api, workers[0].token)
        handle = client.submit(worker_tasks.CountTwice)
        deadline = time.monotonic() + 60
        while not any(e["event"] == "members_joined" for e in handle.events()):
            assert time.monotonic() < deadline, handle.status().progress
            time.sleep(0.1)
        # Both members are inside the first round's map: the holders get new rows.
        for worker, frame in zip(workers, new, strict=True):
            frame.to_csv(worker.folder / "patients.csv", index=False)
            done = refresh(worker)
            assert done.returncode == 0, done.stderr
            assert f"patients: snapshot 2, {len(cleaned(frame))} rows, sha256 " in done.stdout
        counts = handle.wait(timeout=120, progress=False)
        before = sum(len(cleaned(f)) for f in old)
        assert counts == {"first": before, "second": before}
        after = client.submit(worker_tasks.Summary).wait(timeout=120, progress=False)
        assert after["n"] == sum(len(cleaned(f)) for f in new)
        second = offered(workers[0])
        assert second["version"] == 2 and second["rows"] == len(cleaned(new[0]))
        assert second["sha256"] != first["sha256"] and len(second["sha256"]) == 64
        assert second["columns"] == first["columns"]

        # A file that breaks its rules: the refresh fails, snapshot 2 stays.
        new[0].drop(columns=["bmi"]).to_csv(workers[0].folder / "patients.csv", index=False)
        failed = refresh(workers[0], "patients")
        assert failed.returncode == 1
        assert "patients: refresh failed (snapshot 2 kept): " in failed.stdout
        assert "column 'bmi' is declared but not in patients.csv" in failed.stdout
        assert offered(workers[0])["version"] == 2
        again = client.submit(worker_tasks.Summary).wait(timeout=120, progress=False)
        assert again["n"] == after["n"]
        unknown = refresh(workers[0], "nothing")
        assert unknown.returncode == 1 and 'no dataset "nothing" in worker.toml' in unknown.stdout


def test_a_dataset_with_a_refresh_interval_is_prepared_again_on_its_schedule(
    tmp_path: Path,
) -> None:
    frame = patients(3, 120)
    with ExitStack() as stack:
        coordinator = stack.enter_context(Coordinator(tmp_path / "coordinator.sqlite"))
        worker = Worker(
            tmp_path / "w",
            "scheduled",
            "coordinator",
            coordinator.url,
            frame,
            extra_config="",
        )
        config = worker.folder / "worker.toml"
        text = config.read_text().replace(
            '[datasets.patients]\npath = "patients.csv"\n',
            '[datasets.patients]\npath = "patients.csv"\nrefresh_interval_s = 1\n',
        )
        assert "refresh_interval_s = 1" in text
        config.write_text(text)
        stack.enter_context(worker)
        assert offered(worker)["rows"] == len(cleaned(frame))
        grown = pd.concat([frame, patients(4, 25)], ignore_index=True)
        grown.to_csv(worker.folder / "patients.csv", index=False)
        deadline = time.monotonic() + 30
        while offered(worker)["rows"] != len(cleaned(grown)):
            if time.monotonic() > deadline:
                pytest.fail(f"not refreshed in 30 s: {offered(worker)}")
            time.sleep(0.2)
        assert offered(worker)["version"] >= 2
