"""`delta._runner` as the worker runs it: a real subprocess speaking the
line protocol, one per member and one for the requester.

The worker starts `python3 -I -m delta._runner` with the installed SDK;
`-I` ignores PYTHONPATH, so these tests start `python3 -m delta._runner`
with PYTHONPATH pointing at the source tree instead.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.util
import io
import json
import os
import selectors
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from task_files import import_class

import delta
from delta import _runner, _wire
from delta._runner import PROTOCOL
from delta.mapreduce import Step
from delta.package import FORMAT, SDK_VERSION, TaskPackage, package_task

SDK = str(Path(delta.__file__).resolve().parent.parent)
TIMEOUT = 60.0

SUM_TASK = '''\
"""Sums two columns and counts rows; its map can also try things the
sandbox refuses, as the step's params say."""

import numpy as np
import pandas as pd

from delta import Done, MapReduce, PolicyRefusal, Step

from .helpers import columns


class SumTask(MapReduce):
    dataset = "patients"
    max_rounds = 3

    def start(self):
        return Step("sums", {"n": 1, "s": 2}, {"attempt": None})

    def map(self, step, df):
        attempt = step.params.get("attempt")
        print("mapping", len(df), "rows")
        if attempt == "socket":
            pd.Series([1]).agg("to_" + "csv", path_or_buf="http://127.0.0.1:9/x.csv")
        elif attempt == "read":
            pd.Series([1]).agg("to_" + "csv", path_or_buf="/etc/passwd", mode="r")
        elif attempt == "write":
            try:
                pd.Series([1]).agg("to_" + "csv", path_or_buf=step.params["path"])
            except AssertionError:  # agg wants a value back; the file is written
                pass
        elif attempt == "spawn":
            pd.show_versions()
        elif attempt == "policy":
            raise PolicyRefusal("this member refuses: fewer than 1000 rows")
        elif attempt == "crash":
            return {"n": [1 / 0], "s": [0, 0]}
        elif attempt == "recursion":
            return self.deep(0)
        elif attempt == "memory":
            raise MemoryError()
        return {"n": [len(df)], "s": df[columns()].sum().to_numpy()}

    def deep(self, n):
        return self.deep(n + 1)

    def reduce(self, step, sums, members):
        return Done(
            {"n": int(sums["n"][0]), "sums": sums["s"], "members": members, "name": step.name}
        )
'''

HELPERS = """\
def columns():
    return ["age", "bmi"]
"""

MEAN_TASK = """\
import delta


class Means(delta.Analytics):
    dataset = "patients"
    levels = {"sex": ["F", "M"]}

    def execute(self, df):
        return {
            "mean_age": df["age"].mean(),
            "by_sex": df.groupby("sex")["bmi"].mean(),
            "std_bmi": df["bmi"].std(),
        }
"""


def package_source(
    folder: Path, source: str, class_name: str, helpers: str | None = None
) -> TaskPackage:
    folder.mkdir(parents=True, exist_ok=True)
    extra = []
    if helpers is not None:
        (folder / "__init__.py").write_text("")
        (folder / "helpers.py").write_text(helpers)
        extra = ["helpers.py"]
    path = folder / "task.py"
    path.write_text(source)
    if helpers is not None:
        # A package folder, so that the task's relative import works here too.
        package_name = f"runner_pkg_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(
            package_name, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[package_name] = module
        spec.loader.exec_module(module)
        task_module = importlib.import_module(f"{package_name}.task")
        cls = getattr(task_module, class_name)
    else:
        cls = import_class(path, class_name)
    return package_task(cls, extra_files=extra)


def load_request(package: TaskPackage, digest: str | None = None) -> dict[str, Any]:
    """The `load` request a worker sends an idle runner."""
    return {
        "op": "load",
        "package": base64.b64encode(package.to_bytes()).decode("ascii"),
        "digest": digest or package.hexdigest(),
    }


class Runner:
    """One `delta._runner serve` process."""

    def __init__(
        self,
        tmp: Path,
        package: TaskPackage,
        dataset: Path | None = None,
        digest: str | None = None,
        address_space: tuple[int, int] | None = None,
    ) -> None:
        self.scratch = tmp / f"scratch-{uuid.uuid4().hex[:8]}"
        self.scratch.mkdir()
        self.log = tmp / f"stderr-{uuid.uuid4().hex[:8]}.log"
        args = [sys.executable, "-m", "delta._runner", "serve", "--scratch", str(self.scratch)]
        if dataset is not None:
            args += ["--dataset", str(dataset)]
        self.stderr = self.log.open("wb")
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            cwd=self.scratch,
            # As the worker sets them: temporary files go to the scratch
            # folder. torch, imported in this process by other tests, sets
            # its cache folders in os.environ; the worker clears them.
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith(("TORCH", "TRITON"))},
                "PYTHONPATH": SDK,
                "OMP_NUM_THREADS": "1",
                "TMPDIR": str(self.scratch),
            },
            # The worker's memory limit is RLIMIT_AS, set before exec.
            preexec_fn=None if address_space is None else (lambda: limit_as(*address_space)),
        )
        # The runner starts idle, as a worker keeps it, and is then sent
        # its package; `first` is the answer to that (or the refusal of
        # the dataset before it).
        self.idle = self.read()
        self.first = self.idle
        if self.idle.get("idle") is True:
            self.first = self.request(load_request(package, digest))

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        ready = selector.select(TIMEOUT)
        selector.close()
        assert ready, f"no answer within {TIMEOUT} s; stderr:\n{self.log.read_text()}"
        reply = _runner.read_message(self.process.stdout)
        assert reply is not None, f"the runner closed its stdout; stderr:\n{self.log.read_text()}"
        return reply

    def send_raw(self, line: bytes, attached: bytes = b"") -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(line + b"\n" + attached)
        self.process.stdin.flush()
        return self.read()

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Sends `message` as a worker does, its bytes values attached."""
        assert self.process.stdin is not None
        self.process.stdin.write(_runner.encode_message(message))
        self.process.stdin.flush()
        return self.read()

    def close(self) -> int:
        if self.process.stdin is not None:
            self.process.stdin.close()
        code = self.process.wait(TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.stderr.close()
        return code


def limit_as(soft: int, hard: int) -> None:
    """The worker's address-space limit: `memory_mb` soft, and
    `learning_memory_mb` hard."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.fixture
def runners() -> Iterator[list[Runner]]:
    started: list[Runner] = []
    yield started
    for runner in started:
        if runner.process.poll() is None:
            runner.process.kill()
            runner.process.wait()
        runner.stderr.close()
        for stream in (runner.process.stdin, runner.process.stdout):
            if stream is not None:
                stream.close()


def member_frames() -> list[pd.DataFrame]:
    frames = []
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        rows = 40 + 10 * seed
        frames.append(
            pd.DataFrame(
                {
                    "age": rng.integers(18, 90, rows).astype(float),
                    "bmi": np.round(rng.normal(25, 4, rows), 2),
                    "sex": rng.choice(["F", "M"], rows),
                }
            )
        )
    return frames


def write_frames(tmp: Path) -> list[Path]:
    paths = []
    for i, frame in enumerate(member_frames()):
        path = tmp / f"member{i}.parquet"
        frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


def values(reply: dict[str, Any]) -> np.ndarray:
    assert reply["ok"], reply
    assert isinstance(reply["values"], bytes), "values arrive as an attachment"
    return np.frombuffer(reply["values"], dtype="<f8")


def sums_of(vectors: list[np.ndarray]) -> bytes:
    return np.sum(vectors, axis=0).astype("<f8").tobytes()


def step_message(step: Step, dataset: str = "patients") -> dict[str, Any]:
    return {
        "dataset": dataset,
        "body": step.body(),
        "outputs": [[name, o.dtype, list(o.shape)] for name, o in step.specs()],
    }


def test_digest_mismatch_is_refused(tmp_path: Path, runners: list[Runner]) -> None:
    package = package_source(tmp_path / "t", SUM_TASK, "SumTask", HELPERS)
    runner = Runner(tmp_path, package, digest="00" * 32)
    runners.append(runner)
    assert runner.first == {
        "ok": False,
        "kind": "package",
        "error": "the package does not match its commitment",
    }
    assert runner.close() == 3


def test_bad_digest_text_is_refused(tmp_path: Path, runners: list[Runner]) -> None:
    package = package_source(tmp_path / "t", SUM_TASK, "SumTask", HELPERS)
    runner = Runner(tmp_path, package, digest="xyz")
    runners.append(runner)
    assert runner.first["kind"] == "package" and "64 digits" in runner.first["error"]
    assert runner.close() == 3


def test_an_idle_runner_takes_only_a_load_first(tmp_path: Path, runners: list[Runner]) -> None:
    package = package_source(tmp_path / "t", SUM_TASK, "SumTask", HELPERS)
    # Started as a worker keeps it: dataset read, imports done, no task.
    idle = Runner(tmp_path, package, dataset=write_frames(tmp_path)[0])
    runners.append(idle)
    assert idle.idle == {"ok": True, "idle": True, "protocol": PROTOCOL}
    assert idle.first == {"ok": True, "ready": True, "protocol": PROTOCOL}

    # Any other first request is refused and the runner ends: it never
    # serves without a package it checked.
    scratch = tmp_path / "other"
    scratch.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "delta._runner", "serve", "--scratch", str(scratch)],
        input=json.dumps({"op": "map", "step": {}}) + "\n",
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONPATH": SDK},
    )
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    assert replies[0] == {"ok": True, "idle": True, "protocol": PROTOCOL}
    assert replies[1]["kind"] == "package" and '"op": "load"' in replies[1]["error"]
    assert done.returncode == 3

    # A runner whose worker goes away while it is idle ends quietly.
    done = subprocess.run(
        [sys.executable, "-m", "delta._runner", "serve", "--scratch", str(scratch)],
        input="",
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONPATH": SDK},
    )
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1


def test_map_reduce_over_two_members(tmp_path: Path, runners: list[Runner]) -> None:
    package = package_source(tmp_path / "t", SUM_TASK, "SumTask", HELPERS)
    paths = write_frames(tmp_path)
    requester = Runner(tmp_path, package)
    members = [Runner(tmp_path, package, dataset=p) for p in paths]
    runners.extend([requester, *members])
    for runner in (requester, *members):
        assert runner.first == {"ok": True, "ready": True, "protocol": PROTOCOL}

    info = requester.request({"op": "info"})
    assert info == {
        "ok": True,
        "dataset": "patients",
        "max_rounds": 3,
        "kind": "statistics",
        "entrypoint": "task.py:SumTask",
        # A plain MapReduce keeps no checkpoints: its requester cannot resume it.
        "resumable": False,
    }
    started = requester.request({"op": "start"})
    assert started["ok"], started
    step = started["step"]
    assert step["dataset"] == "patients"
    assert step["outputs"] == [["n", "float64", [1]], ["s", "float64", [2]]]
    assert json.loads(step["body"]) == {
        "name": "sums",
        "params": {"attempt": None},
    }
    vectors = [values(m.request({"op": "map", "step": step})) for m in members]
    reply = requester.request(
        {"op": "reduce", "step": step, "sums": sums_of(vectors), "members": 2}
    )
    assert reply["ok"] and "done" in reply, reply
    result = _wire.decode(reply["done"])
    frames = member_frames()
    expected = np.sum([f[["age", "bmi"]].sum().to_numpy() for f in frames], axis=0)
    assert result["n"] == sum(len(f) for f in frames)
    assert result["members"] == 2 and result["name"] == "sums"
    np.testing.assert_array_equal(result["sums"], expected)

    # print() in map went to the task log, not into the protocol.
    for member in members:
        assert member.close() == 0
        assert "mapping" in member.log.read_text()
    assert requester.close() == 0


def test_analytics_loop_matches_pandas(tmp_path: Path, runners: list[Runner]) -> None:
    package = package_source(tmp_path / "a", MEAN_TASK, "Means")
    paths = write_frames(tmp_path)
    requester = Runner(tmp_path, package)
    members = [Runner(tmp_path, package, dataset=p) for p in paths]
    runners.extend([requester, *members])
    reply = requester.request({"op": "start"})
    rounds = 0
    while True:
        assert reply["ok"], reply
        if "done" in reply:
            break
        step = reply["step"]
        vectors = [values(m.request({"op": "map", "step": step})) for m in members]
        reply = requester.request(
            {"op": "reduce", "step": step, "sums": sums_of(vectors), "members": len(members)}
        )
        rounds += 1
        assert rounds < 10
    result = _wire.decode(reply["done"])
    pooled = pd.concat(member_frames(), ignore_index=True)
    assert result["mean_age"] == pytest.approx(pooled["age"].mean(), rel=1e-12)
    assert result["std_bmi"] == pytest.approx(pooled["bmi"].std(), rel=1e-12)
    expected = pooled.groupby("sex")["bmi"].mean()
    pdt.assert_series_equal(
        result["by_sex"], expected, check_index_type=False, check_exact=False, rtol=1e-12
    )


@pytest.mark.parametrize(
    ("attempt", "message"),
    [
        ("socket", "sandbox: network access is not allowed (urllib.Request)"),
        ("read", "sandbox: reading /etc/passwd is not allowed (open)"),
        ("write", "is not allowed (open): tasks change files only in their scratch folder"),
        ("spawn", "sandbox: starting processes is not allowed (subprocess.Popen)"),
    ],
)
def test_sandbox_refusals_keep_the_runner_answering(
    tmp_path: Path, runners: list[Runner], attempt: str, message: str
) -> None:
    """Each attempt passes the static check (the method name is built at
    run time and pandas looks it up by name) and is stopped by the audit
    hook; the runner answers the next request normally."""
    package = package_source(tmp_path / "t", SUM_TASK, "SumTask", HELPERS)
    [path, _] = write_frames(tmp_path)
    member = Runner(tmp_path, package, dataset=path)
    runners.append(member)
    outside = tmp_path / "outside.csv"
    step = Step("sums", {"n": 1, "s": 2}, {"attempt": attempt, "path": str(outside)})
    reply = member.request({"op": "map", "step": step_message(step)})
    assert reply["ok"] is False and reply["kind"] == "sandbox", reply
    assert reply["error"].startswith("sandbox: ")
    assert message in reply["error"]
    assert "task.py:" in reply["error"]  # the task's own line
    assert not outside.exists()
    # Still serving.
    normal = Step("sums", {"n": 1, "s": 2}, {"attempt": None})
    assert values(member.request({"op": "map", "step": step_message(normal)}))[0] == 50
    assert member.close() == 0
    assert "delta-runner: refused: sandbox:" in member.log.read_text()


def test_writing_inside_scratch_is_allowed(tmp_path: Path, runners: list[Runner]) -> None:
    package = package_source(tmp_path / "t", SUM_TASK, "SumTask", HELPERS)
    [path, _] = write_frames(tmp_path)
    member = Runner(tmp_path, package, dataset=path)
    runners.append(member)
    step = Step("sums", {"n": 1, "s": 2}, {"attempt": "write", "path": "inside.csv"})
    assert values(member.request({"op": "map", "step": step_message(step)}))[0] == 50
    assert (member.scratch / "inside.csv").exists()


@pytest.mark.parametrize(
    ("attempt", "kind", "message"),
    [
        ("policy", "policy", "this member refuses: fewer than 1000 rows (at task.py:"),
        ("crash", "task", "ZeroDivisionError: division by zero (at task.py:"),
        ("recursion", "resources", "RecursionError: maximum recursion depth exceeded"),
        ("memory", "resources", "MemoryError: out of memory (at task.py:"),
    ],
)
def test_failures_have_kinds(
    tmp_path: Path, runners: list[Runner], attempt: str, kind: str, message: str
) -> None:
    package = package_source(tmp_path / "t", SUM_TASK, "SumTask", HELPERS)
    [path, _] = write_frames(tmp_path)
    member = Runner(tmp_path, package, dataset=path)
    runners.append(member)
    step = Step("sums", {"n": 1, "s": 2}, {"attempt": attempt})
    reply = member.request({"op": "map", "step": step_message(step)})
    assert reply["ok"] is False and reply["kind"] == kind, reply
    assert message in reply["error"]
    if attempt == "crash":
        assert 'return {"n": [1 / 0], "s": [0, 0]}' in reply["error"]
    normal = Step("sums", {"n": 1, "s": 2}, {"attempt": None})
    assert values(member.request({"op": "map", "step": step_message(normal)}))[0] == 50


def test_protocol_errors(tmp_path: Path, runners: list[Runner]) -> None:
    package = package_source(tmp_path / "t", SUM_TASK, "SumTask", HELPERS)
    requester = Runner(tmp_path, package)
    runners.append(requester)
    started = requester.request({"op": "start"})["step"]
    # Binary fields may also come as base64 text, as here inside raw lines.
    step = {**started, "body": base64.b64encode(started["body"]).decode()}
    zeros = base64.b64encode(sums_of([np.zeros(3)])).decode()
    cases: list[tuple[bytes, str]] = [
        (b"not json", "not JSON"),
        (b"[1]", "a request is a JSON object"),
        (b'{"op": "fly"}', "unknown op 'fly'"),
        (json.dumps({"op": "map", "step": step}).encode(), "no dataset"),
        (json.dumps({"op": "reduce", "step": {"body": "x"}}).encode(), "has no dataset, outputs"),
        (
            json.dumps({"op": "reduce", "step": step, "sums": "AAAA", "members": 1}).encode(),
            "'sums' holds 3 bytes",
        ),
        (
            json.dumps({"op": "reduce", "step": step, "sums": "!", "members": 1}).encode(),
            "not base64",
        ),
        (
            json.dumps({"op": "reduce", "step": step, "sums": zeros, "members": 0}).encode(),
            "'members' must be a positive integer",
        ),
        (
            json.dumps(
                {"op": "reduce", "step": {**step, "body": "e30="}, "sums": "", "members": 1}
            ).encode(),
            'the step\'s body must be {"name": str, "params": object}',
        ),
        (
            json.dumps(
                {"op": "reduce", "step": {**step, "outputs": [["n", -1]]}, "sums": "", "members": 1}
            ).encode(),
            "list of [name, dtype, shape]",
        ),
        (
            json.dumps(
                {"op": "start", "resume": {"rounds_started": 1, "checkpoint": False}}
            ).encode(),
            "keeps no checkpoints: it cannot resume",
        ),
    ]
    for line, message in cases:
        reply = requester.send_raw(line)
        assert reply["ok"] is False and reply["kind"] == "protocol", (line, reply)
        assert message in reply["error"], (line, reply)
    assert requester.request({"op": "info"})["ok"]


def test_attachments_are_checked_and_a_lost_framing_ends_the_runner(
    tmp_path: Path, runners: list[Runner]
) -> None:
    package = package_source(tmp_path / "t", SUM_TASK, "SumTask", HELPERS)
    requester = Runner(tmp_path, package)
    runners.append(requester)
    started = requester.request({"op": "start"})["step"]
    assert isinstance(started["body"], bytes), "the step's body arrives as an attachment"
    step = {**started, "body": {"blob": 0}}
    zeros = sums_of([np.zeros(3)])
    blobs = [len(started["body"]), len(zeros)]
    reduce = {"op": "reduce", "step": step, "sums": {"blob": 2}, "members": 1, "blobs": blobs}
    missing = requester.send_raw(json.dumps(reduce).encode(), started["body"] + zeros)
    assert missing["ok"] is False and missing["kind"] == "protocol", missing
    assert "attachment 2 is not one of the 2 sent" in missing["error"]
    # The framing held: the runner serves on, and the same request with the
    # right attachment is answered.
    right = {**reduce, "sums": {"blob": 1}}
    done = requester.send_raw(json.dumps(right).encode(), started["body"] + zeros)
    assert done["ok"] and "done" in done, done
    lost = requester.send_raw(json.dumps({"op": "info", "blobs": "many"}).encode())
    assert lost["ok"] is False and "'blobs' must list the byte lengths" in lost["error"]
    # Where the next message starts is unknown now: the runner ends.
    assert requester.close() == 0


def raw_package(files: dict[str, str], entry: str) -> TaskPackage:
    """A package built by hand, for sources that cannot run here."""
    manifest = {
        "format": FORMAT,
        "kind": "statistics",
        "entrypoint": {"file": "task.py", "class": entry},
        "dataset": "patients",
        "max_rounds": 3,
        "sdk": SDK_VERSION,
        "files": {name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()},
    }
    return TaskPackage(manifest=manifest, files=dict(sorted(files.items())))


def test_task_failing_at_import_is_a_package_error(tmp_path: Path, runners: list[Runner]) -> None:
    source = SUM_TASK + "\nVALUE = 1 / 0\n"
    package = raw_package({"task.py": source, "helpers.py": HELPERS}, "SumTask")
    runner = Runner(tmp_path, package)
    runners.append(runner)
    assert runner.first["ok"] is False and runner.first["kind"] == "package"
    assert "ZeroDivisionError" in runner.first["error"]
    assert "task.py:" in runner.first["error"]
    assert runner.close() == 3


def test_result_that_cannot_be_encoded(tmp_path: Path, runners: list[Runner]) -> None:
    source = SUM_TASK.replace('"name": step.name}', '"name": {step.name}}')
    package = package_source(tmp_path / "t", source, "SumTask", HELPERS)
    requester = Runner(tmp_path, package)
    runners.append(requester)
    step = requester.request({"op": "start"})["step"]
    reply = requester.request(
        {"op": "reduce", "step": step, "sums": sums_of([np.zeros(3)]), "members": 1}
    )
    assert reply == {
        "ok": False,
        "kind": "task",
        "error": "the result cannot be sent: TypeError: a task result cannot hold a value of "
        "type set",
    }


def test_prepare_command(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("age,sex\n30,F\n,M\n200,F\n")
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "name": "patients",
                "path": str(data),
                "columns": {"age": {"type": "float", "max": 120}},
            }
        )
    )
    out = tmp_path / "clean.parquet"
    env = {**os.environ, "PYTHONPATH": SDK}
    command = [sys.executable, "-m", "delta._runner", "prepare", "--spec", str(spec)]
    done = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, env=env, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "ok": True,
        "rows": 1,
        "columns": [{"name": "age", "type": "float", "max": 120}],
        "dropped_rows": 2,
        "filled": {},
        "clipped": {},
    }
    assert pd.read_parquet(out)["age"].tolist() == [30.0]

    spec.write_text(json.dumps({"name": "patients", "path": str(tmp_path / "absent.csv")}))
    done = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, env=env, timeout=TIMEOUT
    )
    assert done.returncode == 0
    reply = json.loads(done.stdout)
    assert reply["ok"] is False and "does not exist" in reply["error"]


def test_sandbox_rules_in_process(tmp_path: Path) -> None:
    """The hook's decisions, without installing it (hooks cannot be removed)."""
    from delta._runner import Sandbox

    sandbox = Sandbox(tmp_path, ["/usr/lib/python3"], protected_fds={0, 7})
    decide = sandbox._refusal
    assert decide("open", (str(tmp_path / "x"), "w", 0)) is None
    assert decide("open", ("/usr/lib/python3/os.py", "r", 0)) is None
    assert decide("open", ("/dev/null", None, os.O_RDWR)) is None
    assert decide("open", (5, "r", 0)) is None
    refused = [
        (("open", ("/etc/passwd", "r", os.O_RDONLY)), "reading /etc/passwd"),
        (("open", ("/usr/lib/python3/x", "w", os.O_WRONLY)), "writing /usr/lib/python3/x"),
        (("open", ("/tmp/../etc/shadow", None, os.O_RDONLY)), "reading /etc/shadow"),
        (("open", (7, "w", 0)), "file descriptor 7"),
        (("socket.connect", (None, ("1.2.3.4", 80))), "network access"),
        (("socket.getaddrinfo", ("example.com", 80)), "network access"),
        (("subprocess.Popen", ("ls", ["ls"], None, None)), "starting processes"),
        (("os.system", (b"ls",)), "starting processes"),
        (("os.exec", ("/bin/sh", ["sh"], None)), "starting processes"),
        (("os.posix_spawn", ("/bin/sh", ["sh"], None)), "starting processes"),
        (("os.fork", ()), "starting processes"),
        (("os.forkpty", ()), "starting processes"),
        (("os.kill", (1, 9)), "sending signals"),
        (("ctypes.dlopen", ("libc.so.6",)), "native code"),
        (("os.chdir", ("/",)), "changing directory to /"),
        (("os.remove", ("/tmp/x", -1)), "removing /tmp/x"),
        (("os.rename", (str(tmp_path / "a"), "/tmp/b", -1, -1)), "renaming /tmp/b"),
        (("os.mkdir", ("/tmp/d", 0o777, -1)), "creating /tmp/d"),
        (("os.rmdir", ("/tmp/d", -1)), "removing /tmp/d"),
        (("os.symlink", ("/etc/passwd", str(tmp_path / "l"), -1)), "linking to /etc/passwd"),
        (("pickle.find_class", ("os", "system")), "unpickling"),
    ]
    for (event, args), text in refused:
        refusal = decide(event, args)
        assert refusal is not None and text in refusal[1], (event, refusal)
    assert decide("os.chdir", (str(tmp_path),)) is None
    assert decide("os.mkdir", (str(tmp_path / "d"), 0o777, -1)) is None
    assert decide("os.listdir", (str(tmp_path),)) is None
    assert decide("import", ("json", None, [], [], [])) is None
    assert decide("exec", (None,)) is None


def test_entrypoint_must_be_a_task(tmp_path: Path, runners: list[Runner]) -> None:
    package = raw_package({"task.py": "class NotATask:\n    pass\n"}, "NotATask")
    runner = Runner(tmp_path, package)
    runners.append(runner)
    assert runner.first["kind"] == "package"
    assert "is not a delta.MapReduce or delta.Analytics subclass" in runner.first["error"]
    assert runner.close() == 3


def test_unreadable_dataset_is_reported(tmp_path: Path, runners: list[Runner]) -> None:
    package = package_source(tmp_path / "t", SUM_TASK, "SumTask", HELPERS)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    runner = Runner(tmp_path, package, dataset=broken)
    runners.append(runner)
    assert runner.first["ok"] is False and runner.first["kind"] == "dataset"
    assert "cannot read the dataset" in runner.first["error"]
    assert runner.close() == 4


def test_message_parts_read_back_in_one_process_as_through_a_pipe() -> None:
    weights = np.arange(1000, dtype="<f8").tobytes()
    message = {"op": "reduce", "step": {"body": b"\x00\n\x01", "dataset": "d"}, "sums": weights}
    parts = _runner.message_parts(message)
    assert parts[0].endswith(b"\n") and parts[1:] == [weights, b"\x00\n\x01"]
    piped = _runner.read_message(io.BytesIO(_runner.encode_message(message)))
    reader = _runner.PartsReader(parts)
    direct = _runner.read_message(reader)
    assert direct == piped == message
    assert direct is not None and direct["sums"] is weights, "the attachment is not copied"
    assert _runner.read_message(reader) is None
    # A reader fed odd pieces still reads the same bytes.
    whole = _runner.encode_message(message)
    pieces = [whole[i : i + 7] for i in range(0, len(whole), 7)]
    assert _runner.read_message(_runner.PartsReader(pieces)) == message
    # An attachment cut short is a lost framing, as on a pipe.
    with pytest.raises(_runner._ProtocolError, match="ended inside an attachment") as lost:
        _runner.read_message(_runner.PartsReader(parts[:-1]))
    assert lost.value.lost


MANY_ROUNDS_TASK = """\
from delta import Done, MapReduce, Step


class ManyRounds(MapReduce):
    dataset = "patients"
    max_rounds = 20

    def start(self):
        return Step("count", {"n": 1}, {"round": 0}, data=bytes(100_000))

    def map(self, step, df):
        return {"n": [len(df)]}

    def reduce(self, step, sums, members):
        following = step.params["round"] + 1
        if following == 12:
            return Done(following)
        return Step("count", {"n": 1}, {"round": following}, data=bytes(100_000))
"""


def test_a_requester_keeps_only_the_step_it_issued_last(tmp_path: Path) -> None:
    # Each step holds its data (a model's weights, here 100 kB): a runner
    # that kept every step would grow by a model a round.
    package = package_source(tmp_path / "many", MANY_ROUNDS_TASK, "ManyRounds")
    task = import_class(tmp_path / "many" / "task.py", "ManyRounds")()
    server = _runner.Server(task, package, None, None)
    reply = server.handle({"op": "start"})
    rounds = 0
    while "done" not in reply:
        assert reply["ok"], reply
        issued = reply["step"]
        reply = server.handle(
            {"op": "reduce", "step": issued, "sums": sums_of([np.ones(1)]), "members": 1}
        )
        rounds += 1
        assert len(server.steps) == 1
    assert _wire.decode(reply["done"]) == 12 and rounds == 12
