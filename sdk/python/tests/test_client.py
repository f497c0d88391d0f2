"""`delta.Client` against a small in-test worker API (http.server in a
thread) that serves canned answers and checks what the client sends."""

from __future__ import annotations

import base64
import io
import json
import math
import socket
import sys
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from task_files import import_class

import delta
from delta import _wire
from delta.client import TaskStatus, _Progress
from delta.learning import PROGRESS_PREFIX, parse_progress, progress_line
from delta.package import load_package

TOKEN = "s3cret-token"

TASK = """\
import delta


class MeanAge(delta.Analytics):
    dataset = "patients"

    def execute(self, df):
        return {"mean": df["age"].mean(), "std": df["age"].std()}
"""
"""A query of two rounds (the standard deviation is taken around the mean
of the first), declaring the default 32 at most."""

RESULT = {
    "mean": np.float64(41.5),
    "table": pd.DataFrame(
        {"coef": [1.0, math.nan]}, index=pd.Index(["Intercept", "age"], name="term")
    ),
}


class FakeWorker:
    """The worker's API state: tasks advance one round per status call and
    end in their last one (`round` counts from 0, as the worker's does)."""

    def __init__(self) -> None:
        self.submitted: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.headers: list[str | None] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, list[str]] = {}
        self.outcome = "done"  # what a submitted task ends as
        self.rounds = 32  # the task's max_rounds, which the worker reports
        self.runs = 3  # the rounds a task takes here
        self.columns: list[dict[str, Any]] = [{"name": "age", "type": "float"}]
        self.lock = threading.Lock()

    def status(self, task_id: str) -> dict[str, Any]:
        task = self.tasks[task_id]
        return {
            "id": task_id,
            "state": task["state"],
            "ledger_task": 7,
            "round": task["round"],
            "rounds": self.rounds,
            "progress": list(task["progress"]),
            "error": task["error"],
            "created_ms": 1000,
            "finished_ms": 2000 if task["state"] != "running" else None,
        }

    def advance(self, task_id: str) -> None:
        task = self.tasks[task_id]
        if task["state"] != "running" or self.outcome == "stuck":
            return
        if task["round"] + 1 < self.runs:
            task["round"] += 1
            self.logs[task_id].append(f"round {task['round']} started")
            task["progress"].append(f"round {task['round']}")
        else:
            if self.outcome == "done":
                task["state"] = "done"
            else:
                task["state"] = "failed"
                task["error"] = "too few members joined round 2 (1 of 2)"

    def handle(self, method: str, params: dict[str, Any]) -> Any:
        self.calls.append(method)
        if method == "delta_submit":
            self.submitted.append(params)
            task_id = f"t{len(self.submitted)}"
            self.tasks[task_id] = {"state": "running", "round": 0, "progress": [], "error": None}
            self.logs[task_id] = ["announced"]
            return {"id": task_id}
        if method == "delta_list":
            return [self.status(t) for t in self.tasks]
        if method == "delta_datasets":
            return [{"name": "patients", "columns": self.columns}]
        if method not in ("delta_status", "delta_logs", "delta_result"):
            raise RpcError(-32601, "Method not found")
        task_id = params.get("id")
        if task_id not in self.tasks:
            raise RpcError(-32004, "unknown task")
        if method == "delta_status":
            self.advance(task_id)
            return self.status(task_id)
        if method == "delta_logs":
            start = params["from"]
            lines = self.logs[task_id][start:]
            return {
                "lines": [
                    {"seq": start + i, "ms": 1000 + i, "line": line} for i, line in enumerate(lines)
                ],
                "next": start + len(lines),
            }
        if method == "delta_result":
            task = self.tasks[task_id]
            if task["state"] == "running":
                raise RpcError(-32010, "not finished")
            if task["state"] == "failed":
                raise RpcError(-32011, f"failed: {task['error']}")
            return {"result": _wire.encode(RESULT)}
        raise AssertionError(method)


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def make_handler(worker: FakeWorker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            auth = self.headers.get("Authorization")
            worker.headers.append(auth)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if auth != f"Bearer {TOKEN}":
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            request = json.loads(body)
            assert request["jsonrpc"] == "2.0" and isinstance(request["params"], dict)
            with worker.lock:
                try:
                    answer = {"jsonrpc": "2.0", "id": request["id"]}
                    answer["result"] = worker.handle(request["method"], request["params"])
                except RpcError as exc:
                    answer["error"] = {"code": exc.code, "message": exc.message}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeWorker, str]]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    state = FakeWorker()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def task_class(tmp_path: Path) -> type:
    path = tmp_path / "mean_age.py"
    path.write_text(TASK)
    return import_class(path, "MeanAge")


def test_submit_wait_and_result(
    worker: tuple[FakeWorker, str], task_class: type, capsys: pytest.CaptureFixture[str]
) -> None:
    state, url = worker
    state.runs = 2
    client = delta.Client(url, token=TOKEN)
    handle = client.submit(
        task_class,
        min_members=2,
        members=["5Grw", "5FHn"],
        threshold=2,
        phase_timeout_s=9,
        compute_timeout_s=40,
    )
    assert isinstance(handle, delta.TaskHandle) and handle.id == "t1"
    assert handle.planned_rounds == 2

    params = state.submitted[0]
    assert params["min_members"] == 2 and params["members"] == ["5Grw", "5FHn"]
    assert params["threshold"] == 2 and params["phase_timeout_s"] == 9
    assert params["compute_timeout_s"] == 40
    package = load_package(base64.b64decode(params["package"]))
    assert package.manifest["entrypoint"] == {"file": "mean_age.py", "class": "MeanAge"}
    assert package.manifest["dataset"] == "patients"
    assert all(h == f"Bearer {TOKEN}" for h in state.headers)

    result = handle.wait(interval=0.01)
    assert result["mean"] == 41.5 and isinstance(result["mean"], np.float64)
    pdt.assert_frame_equal(result["table"], RESULT["table"])
    err = capsys.readouterr().err
    # Not a terminal here: plain lines, the log and each change of round,
    # counted against the two rounds planned, not the 32 declared.
    assert "announced\n" in err and "round 1 started\n" in err
    assert "task t1: [############............] round 2 of 2, running\n" in err
    assert "task t1: [########################] round 2 of 2, done\n" in err
    assert handle.result() is result  # cached


def test_submit_instance_and_package(worker: tuple[FakeWorker, str], task_class: type) -> None:
    state, url = worker
    client = delta.Client(url, token=TOKEN)
    client.submit(task_class())
    package = delta.package_task(task_class)
    client.submit(package)
    assert [p["package"] for p in state.submitted] == [
        base64.b64encode(package.to_bytes()).decode()
    ] * 2
    assert state.submitted[0]["members"] is None and state.submitted[0]["min_members"] is None
    with pytest.raises(TypeError, match="not str"):
        client.submit("MeanAge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="members must be a list"):
        client.submit(package, members="5Grw")
    with pytest.raises(ValueError, match="min_members must be a positive integer"):
        client.submit(package, min_members=0)


GROUPED = """\
import delta


class AgeBySex(delta.Analytics):
    dataset = "patients"
    levels = {"ward": ["north", "south"]}

    def execute(self, df):
        return df.groupby(["sex", "ward"])["age"].mean()
"""


def test_an_analytics_task_carries_the_levels_its_worker_publishes(
    worker: tuple[FakeWorker, str], tmp_path: Path
) -> None:
    state, url = worker
    state.columns = [
        {"name": "age", "type": "float"},
        {"name": "sex", "type": "category", "levels": ["f", "m"]},
        {"name": "ward", "type": "category", "levels": ["east"]},
    ]
    path = tmp_path / "grouped.py"
    path.write_text(GROUPED)
    task = import_class(path, "AgeBySex")
    handle = delta.Client(url, token=TOKEN).submit(task)
    sent = load_package(base64.b64decode(state.submitted[0]["package"]))
    # Only what the task does not declare itself; its own ward levels stay.
    assert sent.manifest["levels"] == {"sex": ["f", "m"]}
    assert handle.planned_rounds == 1
    # Nothing published: the package is the class's own.
    state.submitted.clear()
    state.columns = [{"name": "age", "type": "float"}]
    delta.Client(url, token=TOKEN).submit(task)
    sent = load_package(base64.b64decode(state.submitted[0]["package"]))
    assert "levels" not in sent.manifest and sent == delta.package_task(task)


def test_status_logs_tasks_and_datasets(worker: tuple[FakeWorker, str], task_class: type) -> None:
    state, url = worker
    client = delta.Client(url, token=TOKEN)
    handle = client.submit(task_class)
    assert handle.logs() == ["announced"]
    assert handle.logs() == []
    status = handle.status()
    assert isinstance(status, TaskStatus)
    assert (status.state, status.round, status.rounds, status.ledger_task) == ("running", 1, 32, 7)
    assert handle.logs() == ["round 1 started"]
    assert [s.id for s in client.tasks()] == ["t1"]
    assert client.task("t1").status().round == 2
    assert client.datasets() == [
        {"name": "patients", "columns": [{"name": "age", "type": "float"}]}
    ]


def test_failure_raises_task_failed(worker: tuple[FakeWorker, str], task_class: type) -> None:
    state, url = worker
    state.outcome = "failed"
    client = delta.Client(url, token=TOKEN)
    handle = client.submit(task_class)
    with pytest.raises(delta.TaskFailed) as failed:
        handle.wait(progress=False, interval=0.01)
    assert failed.value.reason == "too few members joined round 2 (1 of 2)"
    assert failed.value.progress == ["round 1", "round 2"]
    with pytest.raises(delta.TaskFailed, match="too few members"):
        handle.result()


def test_timeout(worker: tuple[FakeWorker, str], task_class: type) -> None:
    state, url = worker
    state.outcome = "stuck"
    handle = delta.Client(url, token=TOKEN).submit(task_class)
    with pytest.raises(TimeoutError, match="did not finish within 0.2 s"):
        handle.wait(timeout=0.2, progress=False, interval=0.01)
    with pytest.raises(delta.ClientError, match="has not finished") as error:
        handle.result()
    assert error.value.code == -32010


def test_wrong_token_is_refused(worker: tuple[FakeWorker, str]) -> None:
    _, url = worker
    client = delta.Client(url, token="wrong")
    with pytest.raises(delta.ClientError, match="the worker refused the token") as error:
        client.datasets()
    assert error.value.code == 401


def test_token_from_environment(
    worker: tuple[FakeWorker, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = worker
    monkeypatch.delenv("DELTA_TOKEN", raising=False)
    with pytest.raises(delta.ClientError, match="no API token.*DELTA_TOKEN"):
        delta.Client(url)
    monkeypatch.setenv("DELTA_TOKEN", TOKEN)
    client = delta.Client(url)
    assert client.datasets()[0]["name"] == "patients"
    assert TOKEN not in repr(client)


def test_address_and_token_from_environment(
    worker: tuple[FakeWorker, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = worker
    monkeypatch.delenv("DELTA_URL", raising=False)
    monkeypatch.setenv("DELTA_TOKEN", TOKEN)
    with pytest.raises(delta.ClientError, match="no API address.*DELTA_URL"):
        delta.Client()
    monkeypatch.setenv("DELTA_URL", url)
    client = delta.Client()
    assert client.url == url
    assert client.datasets()[0]["name"] == "patients"


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = delta.Client(f"http://127.0.0.1:{port}", token=TOKEN, timeout=5)
    with pytest.raises(delta.ClientError, match=f"no worker API at http://127.0.0.1:{port}"):
        client.tasks()


def test_bad_url() -> None:
    with pytest.raises(delta.ClientError, match="not a worker API address"):
        delta.Client("127.0.0.1:9955", token=TOKEN)


def test_json_rpc_errors(worker: tuple[FakeWorker, str]) -> None:
    _, url = worker
    client = delta.Client(url, token=TOKEN)
    with pytest.raises(delta.ClientError, match="the worker has no task nope") as error:
        client.task("nope").result()
    assert error.value.code == -32004
    with pytest.raises(delta.ClientError, match="Method not found.*delta-worker API") as error:
        client.call("delta_frobnicate")
    assert error.value.code == -32601


def status(round_: int, state: str = "running", rounds: int = 32) -> TaskStatus:
    return TaskStatus("t9", state, None, round_, rounds, [], None, 0, None)


def test_progress_counts_the_rounds_planned() -> None:
    """A two-round query: "round 2 of 2", never "round 2 of 32" (its
    max_rounds); rounds are shown from 1, the worker counts them from 0."""
    display = _Progress("t9", io.StringIO(), planned_rounds=2)
    assert display.text(status(0)) == "task t9: [........................] round 1 of 2, running"
    assert display.text(status(1)) == "task t9: [############............] round 2 of 2, running"
    assert display.text(status(1, "done")) == (
        "task t9: [########################] round 2 of 2, done"
    )
    assert display.text(status(1, "failed")) == (
        "task t9: [############............] round 2 of 2, failed"
    )


def test_progress_without_a_plan_names_the_maximum_as_a_bound() -> None:
    unknown = _Progress("t9", io.StringIO())
    assert (
        unknown.text(status(1))
        == "task t9: [#.......................] round 2 (at most 32), running"
    )
    # Finished, the count is known: the rounds it took.
    assert unknown.text(status(6, "done")) == (
        "task t9: [########################] round 7 of 7, done"
    )
    # Past its plan (members dropped and the analysis started over): no
    # fraction above one, the bound instead.
    past = _Progress("t9", io.StringIO(), planned_rounds=2)
    assert (
        past.text(status(2)) == "task t9: [##......................] round 3 (at most 32), running"
    )
    assert _Progress("t9", io.StringIO()).text(status(0, rounds=0)) == (
        "task t9: [........................] round 1, running"
    )


def test_planned_rounds_of_tasks(tmp_path: Path) -> None:
    path = tmp_path / "mean_age.py"
    path.write_text(TASK)
    assert import_class(path, "MeanAge")().planned_rounds() == 2

    class Explicit(delta.MapReduce):
        dataset = "patients"

        def start(self) -> delta.Step:
            return delta.Step("s", {"n": 1})

        def map(self, step: delta.Step, df: pd.DataFrame) -> dict[str, Any]:
            return {"n": [len(df)]}

        def reduce(self, step: delta.Step, sums: Any, members: int) -> delta.Done:
            return delta.Done(sums["n"][0])

    assert Explicit().planned_rounds() is None


def test_timeout_names_the_round(worker: tuple[FakeWorker, str], task_class: type) -> None:
    state, url = worker
    state.outcome = "stuck"
    handle = delta.Client(url, token=TOKEN).submit(task_class)
    with pytest.raises(TimeoutError, match=r"within 0.1 s \(round 1 of 2, running\)"):
        handle.wait(timeout=0.1, progress=False, interval=0.01)
    later = delta.Client(url, token=TOKEN).task(handle.id)
    assert later.planned_rounds is None
    with pytest.raises(TimeoutError, match=r"\(round 1 \(at most 32\), running\)"):
        later.wait(timeout=0.1, progress=False, interval=0.01)


def test_terminal_progress_is_one_updating_line() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    display = _Progress("t9", stream, planned_rounds=4)
    assert display.mode == "terminal"
    display.update(status(1))
    display.log("a log line")
    display.update(status(2))
    display.update(status(2))  # unchanged: nothing written
    display.close()
    out = stream.getvalue()
    assert out.count("round 3 of 4") == 1
    assert "\r\x1b[Ktask t9: [######..................] round 2 of 4, running" in out
    assert "\r\x1b[Ka log line\n" in out
    assert out.endswith("\n")


def test_jupyter_progress_updates_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[Any] = []

    class Handle:
        def update(self, obj: Any) -> None:
            shown.append(("update", obj))

    fake = types.ModuleType("IPython.display")
    fake.HTML = lambda text: ("html", text)  # type: ignore[attr-defined]

    def display(obj: Any, display_id: bool = False) -> Handle:
        shown.append(("display", obj))
        return Handle()

    fake.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "IPython.display", fake)
    progress = _Progress("t9", io.StringIO(), planned_rounds=4)
    assert progress.mode == "jupyter"
    progress.update(status(1))
    progress.update(status(3, "done"))
    assert [kind for kind, _ in shown] == ["display", "update"]
    assert "<progress value='1' max='4'" in shown[0][1][1]
    assert "<progress value='4' max='4'" in shown[1][1][1]
    assert "round 4 of 4, done" in shown[1][1][1]


def learning_lines() -> list[str]:
    """What a learning task's requester logs: each round's row, and the
    row again once its evaluation arrives (with the next round)."""
    rows = [
        {"round": 1, "members": 3, "train_loss": 0.9, "eval_acc": math.nan, "seconds": 1.5},
        {"round": 1, "members": 3, "train_loss": 0.9, "eval_acc": 0.7, "seconds": 1.5},
        {"round": 2, "members": 2, "train_loss": 0.5, "eval_acc": math.nan, "seconds": 1.25},
    ]
    return ["task output: " + progress_line(row, planned=2) for row in rows]


def test_a_learning_tasks_rounds_show_as_lines_and_a_live_history(
    worker: tuple[FakeWorker, str], task_class: type, capsys: pytest.CaptureFixture[str]
) -> None:
    state, url = worker
    state.runs = 2
    handle = delta.Client(url, token=TOKEN).submit(task_class)
    state.logs[handle.id].extend(learning_lines())
    history = handle.history()
    assert list(history["round"]) == [1, 2]
    # The later line for round 1 (with its evaluation) replaced the first.
    assert history["eval_acc"].iloc[0] == 0.7 and math.isnan(history["eval_acc"].iloc[1])
    assert list(history["members"]) == [3, 2] and "planned" not in history.columns
    handle._next_log = 0  # wait() reads the log from the start again
    handle.wait(interval=0.01)
    err = capsys.readouterr().err
    assert "round 1/2: train_loss 0.9, 3 members, 1.50 s\n" in err
    assert "round 1/2: train_loss 0.9, eval_acc 0.7, 3 members, 1.50 s\n" in err
    assert "round 2/2: train_loss 0.5, 2 members, 1.25 s\n" in err
    assert "delta.learning" not in err  # the raw lines are not shown


def test_progress_lines_carry_nan_as_null_and_ignore_other_lines() -> None:
    line = progress_line({"round": 3, "train_loss": math.nan, "examples": 10}, planned=5)
    assert "NaN" not in line and '"train_loss": null' in line
    row = parse_progress("task output: " + line)
    assert row is not None and row["round"] == 3 and math.isnan(row["train_loss"])
    assert row["planned"] == 5 and row["examples"] == 10
    assert parse_progress("task output: round 3 started") is None
    assert parse_progress("task output: " + PROGRESS_PREFIX + "{not json") is None


def test_jupyter_shows_a_learning_table_and_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[Any] = []

    class Handle:
        def update(self, obj: Any) -> None:
            shown.append(("update", obj))

    fake = types.ModuleType("IPython.display")
    fake.HTML = lambda text: ("html", text)  # type: ignore[attr-defined]

    def display(obj: Any, display_id: bool = False) -> Handle:
        shown.append(("display", obj))
        return Handle()

    fake.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "IPython.display", fake)
    progress = _Progress("t9", io.StringIO(), planned_rounds=2)
    rounds: dict[int, dict[str, Any]] = {}
    for line in learning_lines():
        row = parse_progress(line)
        assert row is not None
        rounds[row["round"]] = row
        progress.learning(row, rounds)
    assert [kind for kind, _ in shown] == ["display", "update", "update"]
    markup = shown[-1][1][1]
    assert "<th>train_loss</th>" in markup and "<th>eval_acc</th>" in markup
    assert "<td>0.7</td>" in markup and "<td>0.5</td>" in markup
    # One plot per metric: the loss over two rounds, the accuracy over one.
    assert markup.count("<svg") == 2 and "train_loss: 0.5" in markup


def test_wait_rides_out_a_restarting_worker_and_gives_up_on_a_gone_one(
    worker: tuple[FakeWorker, str],
    task_class: type,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A worker restarting (a learning task resumes from its checkpoint)
    answers nothing for a while: `wait` polls on and returns the result
    once it is back; one that never comes back fails with the connection
    error after the grace."""
    state, url = worker
    task_id = delta.Client(url, token=TOKEN).submit(task_class).id
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    later: list[ThreadingHTTPServer] = []

    def come_back() -> None:
        server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(state))
        later.append(server)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    timer = threading.Timer(1.5, come_back)
    timer.start()
    try:
        handle = delta.Client(f"http://127.0.0.1:{port}", token=TOKEN).task(task_id)
        result = handle.wait(timeout=30, progress=True, interval=0.05)
        assert result["mean"] == RESULT["mean"]
        pdt.assert_frame_equal(result["table"], RESULT["table"])
    finally:
        timer.join()
        for server in later:
            server.shutdown()
            server.server_close()
    assert "polling on (a restarting worker resumes)" in capsys.readouterr().err

    monkeypatch.setattr(delta.client, "UNREACHABLE_GRACE", 1.0)
    gone = delta.Client(f"http://127.0.0.1:{port}", token=TOKEN).task(task_id)
    with pytest.raises(delta.ClientError, match="no worker API"):
        gone.wait(timeout=30, progress=False, interval=0.05)
